/**
 * A training state holds exactly the refits its topology, delays and step leave pending (issue
 * 24, item 5): every real checkpoint (graph, chain, recurrent boundary and interface synthesizers,
 * delays 0-3, every early step) passes the rule; one with a pending refit dropped and its digest
 * resealed is refused by name, as a file and as a state in memory. A tampered state in memory is a
 * CheckpointError naming what is wrong (item 14), never a plain Error or RangeError, and no message
 * reads "checkpoint checkpoint:".
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTraining } from '../../actors/trainer/training.ts';
import { type TrainingState, decodeCheckpoint, readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { graphPendingBatches, recurrentPendingSteps } from '../../lib/checkpoint/checkpoint-refits.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { CheckpointError } from '../../lib/errors.ts';
import { loadCase } from '../../lib/reference.ts';
import type { RecurrentSpec } from '../../lib/recurrent/topology.ts';
import { tinyCase } from '../../bench/fuzz/_cases.ts';

const dir = mkdtempSync(join(tmpdir(), 'dni-ckpt-refits-'));
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Edit the payload, then recompute the header's length and SHA-256 so the file passes the checksum. */
function reseal(text: string, edit: (payload: any) => void): string {
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl)),
    payload = JSON.parse(text.slice(nl + 1));
  edit(payload);
  const body = JSON.stringify(payload);
  return `${JSON.stringify({ ...header, bytes: Buffer.byteLength(body), sha256: sha256(body) })}\n${body}\n`;
}

const sequences = copyTask({ sequences: 12, length: 4, width: 8, seed: 3 }); // L = 9
const RECURRENT: Record<string, RecurrentSpec> = {
  'boundary, delay 2, W = 3': {
    cell: 'tanh',
    inputs: 9,
    hidden: 6,
    outputs: 8,
    truncation: 3,
    batch: 4,
    dni: { synthesizer: { delay: 2 } },
  },
  'boundary delay 1 on two layers, interface delay 2, W = 3': {
    cell: 'lstm',
    inputs: 9,
    hidden: [{ units: 6, decoupled: true, interface: { delay: 2 } }, 5],
    outputs: 8,
    truncation: 4,
    batch: 4,
    dni: { synthesizer: { delay: 1 } },
  },
  'boundary delay 3, W = 2': {
    cell: 'tanh',
    inputs: 9,
    hidden: 6,
    outputs: 8,
    truncation: 5,
    batch: 4,
    dni: { synthesizer: { delay: 3 } },
  },
  'one window per sequence, delay 1': {
    cell: 'tanh',
    inputs: 9,
    hidden: 6,
    outputs: 8,
    truncation: 20,
    batch: 4,
    dni: { synthesizer: { delay: 1 } },
  },
};

async function recurrentCheckpoint(name: string, at: number): Promise<string> {
  const path = join(dir, `${name.replace(/\W+/g, '-')}-${at}.ckpt`);
  await createTraining({ topology: RECURRENT[name], data: sequences, steps: 12, seed: 2, checkpoint: { path, at: [at] } }).run();
  return path;
}

describe('the pending refits a state must hold', () => {
  it('graph: min(step, delay + 1), of the last batches', () => {
    expect(graphPendingBatches(0, 0)).toEqual({ first: 0, count: 0 });
    expect(graphPendingBatches(2, 1)).toEqual({ first: 0, count: 1 });
    expect(graphPendingBatches(2, 7)).toEqual({ first: 4, count: 3 });
  });

  it('recurrent: the steps that refit and are not yet applied (a boundary synthesizer skips each sequence first window)', () => {
    expect(recurrentPendingSteps(2, 4, null)).toEqual([2, 3]);
    expect(recurrentPendingSteps(2, 4, 3)).toEqual([1, 2]); // step 3 starts a sequence: no refit, and its prediction applies
    // through step 0 only
    expect(recurrentPendingSteps(2, 5, 3)).toEqual([4]);
    expect(recurrentPendingSteps(1, 9, 1)).toEqual([]);
  });

  it.each([0, 1, 2, 3])(
    'every real graph checkpoint with delay %i passes; one with a refit dropped and resealed is refused, as a file and in memory',
    async (delay) => {
      const c = loadCase(tinyCase(3, { conditioned: delay % 2 === 1, delay, steps: 10 }));
      for (const at of [1, 2, 3, 4, 5, 6]) {
        const path = join(dir, `graph-${delay}-${at}.ckpt`);
        await createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 10, checkpoint: { path, at: [at] } }).run();
        const text = readFileSync(path, 'utf8');
        const s = decodeCheckpoint(text, path);
        expect(s.synthesizers['synthesizer:0'].pending).toHaveLength(Math.min(at, delay + 1));
        const dropped = reseal(text, (p) => {
          const q = p.synthesizers['synthesizer:0'];
          q.pending.shift();
          q.nextRefit++;
        });
        const bad = join(dir, `graph-${delay}-${at}-dropped.ckpt`);
        writeFileSync(bad, dropped);
        const message = new RegExp(
          `synthesizer 'synthesizer:0' has ${Math.min(at, delay + 1) - 1} ` +
            `pending refits \\(from batch ${Math.max(0, at - 1 - delay) + 1}\\), ` +
            `delay ${delay} at step ${at} leaves exactly ${Math.min(at, delay + 1)}`,
        );
        expect(() => readCheckpoint(bad)).toThrow(CheckpointError);
        expect(() => readCheckpoint(bad)).toThrow(message);
        const inMemory = readCheckpoint(path) as any;
        inMemory.synthesizers['synthesizer:0'].pending.shift();
        inMemory.synthesizers['synthesizer:0'] = {
          ...inMemory.synthesizers['synthesizer:0'],
          nextRefit: inMemory.synthesizers['synthesizer:0'].nextRefit + 1,
        };
        const resume = () => createTraining({ topology: c.topology, data: c.data, steps: 10, resume: inMemory });
        expect(resume).toThrow(CheckpointError);
        expect(resume).toThrow(/^resume state \(in memory\): synthesizer 'synthesizer:0' has/);
      }
    },
  );

  it.each(Object.keys(RECURRENT))(
    'recurrent (%s): every real checkpoint resumes; one with a refit dropped and resealed is refused',
    async (name) => {
      let refused = 0;
      for (const at of [1, 2, 3, 4, 5, 6, 7]) {
        const path = await recurrentCheckpoint(name, at);
        const resumeFrom = (resume: string | TrainingState) =>
          createTraining({ topology: RECURRENT[name], data: sequences, steps: 12, resume });
        resumeFrom(path); // the rule holds on every file the library writes
        const text = readFileSync(path, 'utf8');
        for (const [actor, s] of Object.entries(
          JSON.parse(text.slice(text.indexOf('\n') + 1)).synthesizers as Record<string, { pending: unknown[] }>,
        )) {
          if (s.pending.length === 0) continue;
          refused++;
          const bad = join(dir, 'recurrent-dropped.ckpt');
          writeFileSync(
            bad,
            reseal(text, (p) => p.synthesizers[actor].pending.shift()),
          );
          const message = new RegExp(
            `synthesizer '${actor}' holds the refits of .*, delay \\d at step ${at}.* leaves exactly ${s.pending.length} `,
          );
          expect(() => resumeFrom(bad)).toThrow(CheckpointError);
          expect(() => resumeFrom(bad)).toThrow(message);
          const inMemory = readCheckpoint(path) as any;
          inMemory.synthesizers[actor].pending.pop();
          expect(() => resumeFrom(inMemory)).toThrow(message);
        }
      }
      if (name !== 'one window per sequence, delay 1') expect(refused).toBeGreaterThan(0);
    },
  );
});

describe('a tampered state in memory is a CheckpointError naming what is wrong', () => {
  const c = loadCase(tinyCase(5, { conditioned: true, delay: 1, steps: 10 }));
  const path = join(dir, 'tamper.ckpt');
  const fresh = async () => {
    await createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 10, checkpoint: { path, at: [4] } }).run();
    return readCheckpoint(path) as any;
  };
  const cases: [string, (s: any) => void, RegExp][] = [
    [
      'a parameter as a plain array',
      (s) => (s.params['layer0.W'].data = [1, 2, 3]),
      /parameter 'layer0\.W' data is \[1,2,3\], expected a Float32Array/,
    ],
    [
      'a parameter too short',
      (s) => (s.params['layer0.W'].data = new Float32Array(3)),
      /parameter 'layer0\.W' data has 3 values, expected 12 \(3x4\)/,
    ],
    ['a parameter holding NaN', (s) => (s.params['layer1.b'].data[1] = NaN), /parameter 'layer1\.b' data holds NaN at element 1/],
    [
      'a pending h too short',
      (s) => (s.synthesizers['synthesizer:0'].pending[0].h = new Float32Array(2)),
      /synthesizer 'synthesizer:0' pending\[0\] h has 2 values, expected 8/,
    ],
    [
      'pending as null',
      (s) => (s.synthesizers['synthesizer:0'].pending = null),
      /synthesizer 'synthesizer:0' pending is null, expected an array/,
    ],
    ['a step of -1', (s) => (s.step = -1), /step is -1, expected an integer >= 0/],
    [
      'a moment missing',
      (s) => (s.optimizers['layer:0'].moments = [new Float32Array(1)]),
      /optimizer 'layer:0' has 1 moment buffers, its topology needs 0/,
    ],
    ['a loss too few', (s) => s.history.losses.pop(), /history losses has 3 values, expected 4/],
    ['no history', (s) => delete s.history, /history/],
    ['a topology of another batch', (s) => (s.topology = { ...s.topology, batch: 4 }), /pending\[0\] h has 8 values, expected 16 \(4x4\)/],
    ['a topology of another kind', (s) => (s.topology = { kind: 'graph' }), /its topology is not usable/],
    ['optimizers missing', (s) => delete s.optimizers, /optimizers is missing \(undefined\), expected an object/],
    [
      'moments as null',
      (s) => (s.optimizers['synthesizer:0'].moments = null),
      /optimizer 'synthesizer:0' moments is null, expected an array/,
    ],
  ];
  it.each(cases)('%s', async (_, edit, message) => {
    const s = await fresh();
    edit(s);
    let error: unknown;
    try {
      createTraining({ topology: c.topology, data: c.data, steps: 10, resume: s });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CheckpointError);
    expect((error as Error).message).toMatch(/^resume state \(in memory\): /);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toMatch(/checkpoint checkpoint/);
  });

  it('null and a number are refused as not a training state', () => {
    for (const resume of [42, 'x'.repeat(0) || true]) {
      expect(() => createTraining({ topology: c.topology, data: c.data, steps: 10, resume: resume as any })).toThrow(CheckpointError);
    }
  });

  it('the untouched state resumes to the same bits as its file', async () => {
    const s = await fresh();
    const a = await createTraining({ topology: c.topology, data: c.data, steps: 10, resume: s }).run();
    const b = await createTraining({ topology: c.topology, data: c.data, steps: 10, resume: path }).run();
    for (const k of Object.keys(a.params)) expect(Array.from(a.params[k].data)).toEqual(Array.from(b.params[k].data));
  });
});
