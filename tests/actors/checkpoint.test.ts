/**
 * Checkpoints: resuming gives bit-identical results to never stopping, under every scheduler;
 * bad checkpoints are refused by name and nothing is overwritten.
 */
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import { readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { CheckpointError, DivergenceError } from '../../lib/errors.ts';
import { fromArray } from '../../lib/matrix.ts';
import { loadCase } from '../../lib/reference.ts';
import { referenceCases } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'dni-ckpt-'));
const cases = referenceCases();
const schedulers = ['queue', 'async', 'worker'] as const;

function expectSame(a: TrainingResult, b: TrainingResult, what: string) {
  expect(Array.from(b.losses), `${what}: losses`).toEqual(Array.from(a.losses));
  expect(Array.from(b.synthesizerLosses), `${what}: synthesizer losses`).toEqual(Array.from(a.synthesizerLosses));
  expect(Array.from(b.accuracies), `${what}: accuracies`).toEqual(Array.from(a.accuracies));
  for (const k of Object.keys(a.params)) expect(b.params[k].data, `${what}: ${k}`).toEqual(a.params[k].data);
  for (const [id, s] of Object.entries(a.optimizerState)) {
    expect(b.optimizerState[id].step, `${what}: ${id} optimiser step`).toBe(s.step);
    s.moments.forEach((m, i) => expect(b.optimizerState[id].moments[i], `${what}: ${id} moment ${i}`).toEqual(m));
  }
}

describe.each([
  ['cdni', 0],
  ['dni-all', 1],
  ['dni-delay2', 2],
] as const)('%s, delay %i: resuming equals never stopping', (name, delay) => {
  const json = cases.find((c) => c.name === name)!.json;
  const c = loadCase({ ...json, config: { ...json.config, delay } });
  const base = { topology: c.topology, data: c.data, steps: 90 };

  it.each(schedulers)('%s', async (scheduler) => {
    const path = join(dir, `${name}-${delay}-${scheduler}.ckpt`);
    const unbroken = await train({ ...base, params: c.initial, scheduler, checkpoint: { path, at: [37] } });
    expect(readCheckpoint(path).step).toBe(37);
    const resumed = await train({ ...base, resume: path, scheduler });
    expectSame(unbroken, resumed, `${scheduler}`);
    // and across schedulers: saved under one, resumed under another
    const other = schedulers[(schedulers.indexOf(scheduler) + 1) % 3];
    expectSame(unbroken, await train({ ...base, resume: path, scheduler: other }), `saved by ${scheduler}, resumed by ${other}`);
  });

  it('writes the same checkpoint file under every scheduler', async () => {
    const files = await Promise.all(
      schedulers.map(async (scheduler) => {
        const path = join(dir, `${name}-${delay}-same-${scheduler}.ckpt`);
        await train({ ...base, params: c.initial, scheduler, checkpoint: { path, every: 25 } });
        return readFileSync(path, 'utf8');
      }),
    );
    expect(readCheckpoint(join(dir, `${name}-${delay}-same-queue.ckpt`)).step).toBe(75);
    expect(files[1]).toBe(files[0]);
    expect(files[2]).toBe(files[0]);
  });
});

describe('an optimiser-heavy training resumes exactly', () => {
  it('Adam layers, momentum synthesizers, softmax head, MLP synthesizer', async () => {
    const { zeros } = await import('../../lib/matrix.ts');
    const { Rng } = await import('../../lib/rng.ts');
    const rng = new Rng(8),
      x = zeros(64, 12),
      y = zeros(64, 4);
    for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
    for (let r = 0; r < 64; r++) y.data[r * 4 + (rng.nextUint32() % 4)] = 1;
    const topology = {
      inputs: 12,
      batch: 8,
      loss: 'softmax-cross-entropy' as const,
      optimizer: { kind: 'adam' as const, lr: 1e-2 },
      synthesizer: { optimizer: { kind: 'sgd' as const, lr: 1e-2, momentum: 0.9 }, delay: 1, conditioned: true },
      layers: [
        { units: 10, activation: 'relu' as const, decoupled: true, synthesizer: { hidden: [6] } },
        { units: 4, decoupled: true },
      ],
    };
    const path = join(dir, 'adam.ckpt');
    const unbroken = await train({ topology, data: { x, y }, steps: 40, seed: 2, checkpoint: { path, at: [17] } });
    expectSame(unbroken, await train({ topology, data: { x, y }, steps: 40, resume: path, scheduler: 'worker' }), 'adam');
  });
});

describe('bad checkpoints are refused, and nothing is overwritten', () => {
  const json = cases.find((c) => c.name === 'dni')!.json;
  const c = loadCase(json);
  const base = { topology: c.topology, data: c.data, steps: 30 };
  const good = join(dir, 'good.ckpt');

  const refused = async (text: string, message: RegExp) => {
    const path = join(dir, `bad-${Math.random().toString(36).slice(2)}.ckpt`);
    writeFileSync(path, text);
    // resuming from it, while also asked to checkpoint to the same file: refused before any work (before it is even read)
    await expect(train({ ...base, resume: path, checkpoint: { path, at: [20] } })).rejects.toThrow(
      /are the same file: the first checkpoint would overwrite the one resumed from/,
    );
    await expect(train({ ...base, resume: path, checkpoint: { path: join(dir, 'other.ckpt'), at: [20] } })).rejects.toThrow(
      CheckpointError,
    );
    await expect(train({ ...base, resume: path })).rejects.toThrow(message);
    expect(readFileSync(path, 'utf8')).toBe(text);
  };

  it('corrupt, truncated, foreign, unknown version, missing', async () => {
    await train({ ...base, params: c.initial, checkpoint: { path: good, at: [10] } });
    const text = readFileSync(good, 'utf8');
    const at = text.indexOf('\n') + 500;
    await refused(
      text.slice(0, at) + (text[at] === 'A' ? 'B' : 'A') + text.slice(at + 1),
      /corrupt: the payload does not match its SHA-256/,
    );
    await refused(text.slice(0, text.length - 1000), /truncated or padded/);
    await refused('{"hello":"world"}\n{}', /not a checkpoint/);
    await refused(text.replace(/"version":\d+/, '"version":99'), /version 99 is not supported/);
    await expect(train({ ...base, resume: join(dir, 'nope.ckpt') })).rejects.toThrow(/cannot be read \(ENOENT: no such file/);
  });

  it('made for another topology', async () => {
    const other = loadCase({ ...json, config: { ...json.config, delay: 1 } });
    await expect(train({ ...base, topology: other.topology, resume: good })).rejects.toThrow(/made for another topology/);
  });

  it('a training that diverges after a checkpoint leaves that checkpoint intact', async () => {
    const x = fromArray(8, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const y = fromArray(8, 1, [1, -1, 1, -1, 1, -1, 1, -1]);
    const topology = {
      inputs: 2,
      batch: 2,
      lr: 0.001,
      layers: [
        { units: 4, activation: 'linear' as const, decoupled: true },
        { units: 1, activation: 'linear' as const },
      ],
      synthesizer: { lr: 0.001 },
    };
    const path = join(dir, 'before-divergence.ckpt');
    await train({ topology, data: { x, y }, steps: 12, checkpoint: { path, at: [5] } });
    const saved = readFileSync(path, 'utf8');
    const blowUp = { ...topology, lr: 1e6, synthesizer: { lr: 1e6 } };
    await expect(train({ topology: blowUp, data: { x, y }, steps: 200, checkpoint: { path, every: 1000 } })).rejects.toThrow(
      DivergenceError,
    );
    expect(readFileSync(path, 'utf8')).toBe(saved);
  });

  it('a checkpoint that cannot be written fails the training by name, and the old one stays', async () => {
    const folder = join(dir, 'a-folder.ckpt');
    mkdirSync(folder);
    await expect(train({ ...base, params: c.initial, checkpoint: { path: folder, at: [5] } })).rejects.toThrow(/a-folder\.ckpt/);
    for (const scheduler of ['async', 'worker'] as const) {
      await expect(train({ ...base, params: c.initial, scheduler, checkpoint: { path: folder, at: [5] } })).rejects.toThrow(
        /a-folder\.ckpt/,
      );
    }
  });
});

describe('restart from checkpoint', () => {
  it('a worker killed mid-run: the training resumes from its last checkpoint and ends as an unbroken run', async () => {
    const { trainWithRestarts } = await import('../../actors/trainer/training.ts');
    const json = cases.find((c) => c.name === 'dni-delay2')!.json;
    const c = loadCase(json);
    const base = { topology: c.topology, data: c.data, params: c.initial, steps: 300, scheduler: 'worker' as const };
    const unbroken = await train(base);
    const path = join(dir, 'restart.ckpt');
    const attempts: number[] = [];
    const saved: number[] = [];
    const result = await trainWithRestarts(
      { ...base, checkpoint: { path, every: 40, onSaved: (s) => saved.push(s) } },
      {
        onAttempt: (t, attempt) => {
          attempts.push(attempt);
          if (attempt > 0) return;
          const workers = t.actor.getSnapshot().context.workers;
          t.metrics$.subscribe((m) => m.batch === 130 && void workers[1].terminate());
        },
      },
    );
    expect(attempts).toEqual([0, 1]);
    // saved at 40, 80, 120 in the first attempt; the second resumed from 120 and saved on
    expect(saved.slice(0, 3)).toEqual([40, 80, 120]);
    expect(saved).toContain(280);
    expectSame(unbroken, result, 'restarted');
  });

  it('without restarts, the same kill fails fast and names the stage', async () => {
    const { trainWithRestarts } = await import('../../actors/trainer/training.ts');
    const c = loadCase(cases.find((c) => c.name === 'dni')!.json);
    const t0 = performance.now();
    let killed = 0;
    await expect(
      trainWithRestarts(
        {
          topology: c.topology,
          data: c.data,
          params: c.initial,
          steps: 1_000_000,
          scheduler: 'worker',
          checkpoint: { path: join(dir, 'norestart.ckpt'), every: 100 },
        },
        {
          attempts: 0,
          onAttempt: (t) => {
            const workers = t.actor.getSnapshot().context.workers;
            t.metrics$.subscribe((m) => m.batch === 50 && ((killed = performance.now()), void workers[0].terminate()));
          },
        },
      ),
    ).rejects.toThrow(/^stage:0 \(layer:0, synthesizer:0\): its worker \(pool thread \d+\) exited with code 1/);
    expect(performance.now() - killed).toBeLessThan(2000);
    expect(performance.now() - t0).toBeLessThan(30_000);
  });
});
