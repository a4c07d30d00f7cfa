/**
 * Recurrent networks trained by the actors (a core per layer, its boundary synthesizer, the
 * synthesizers of decoupled interfaces, the readout) give the bare loop's bits
 * (trainRecurrentSequential, which reproduces reference/rnn-*.json) under every scheduler
 * and both interpreters, resume from checkpoints bit for bit, stop at a consistent cut, and refuse
 * bad input by name before any work.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCurriculum } from '../../actors/trainer/curriculum.ts';
import { type TrainingResult, createTraining } from '../../actors/trainer/training.ts';
import { isRecurrentState, readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { DataError, DivergenceError, TopologyError, TrainingAbortedError } from '../../lib/errors.ts';
import { runCurriculum } from '../../lib/recurrent/curriculum.ts';
import { recurrentSpecOf } from '../../lib/recurrent/owners.ts';
import { buildRecurrentNetwork } from '../../lib/recurrent/network.ts';
import { initRecurrentParameters } from '../../lib/recurrent/params.ts';
import { type RecurrentRun, trainRecurrentSequential } from '../../lib/recurrent/sequential.ts';
import { sequencesFromNested } from '../../lib/recurrent/sequences.ts';
import { type RecurrentSpec, defineRecurrent } from '../../lib/recurrent/topology.ts';
import { loadAnyCase } from '../../lib/reference.ts';
import { REFERENCE_DIR, referenceCases } from '../helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const data = copyTask({ sequences: 12, length: 4, width: 8, seed: 3 });
const STEPS = 36;

/**
 * Topologies that exercise every part: cells, stacks, decoupled interfaces, delays, aux, MLP synthesizers, Adam, clipping, one window
 * per sequence.
 */
const SPECS: Record<string, RecurrentSpec> = {
  'tanh, DNI': { cell: 'tanh', inputs: 9, hidden: 12, outputs: 8, truncation: 3, batch: 4, dni: true },
  'lstm, DNI + aux, Adam, delay 1': {
    cell: 'lstm',
    inputs: 9,
    hidden: 10,
    outputs: 8,
    truncation: 2,
    batch: 4,
    optimizer: { kind: 'adam', lr: 1e-2 },
    dni: { aux: true, synthesizer: { delay: 1 } },
  },
  'three layers, the lowest interface decoupled': {
    cell: 'tanh',
    inputs: 9,
    hidden: [{ units: 8, decoupled: true }, 10, 6],
    outputs: 8,
    truncation: 3,
    batch: 4,
    dni: true,
  },
  'lstm, plain truncated BPTT, clipped': { cell: 'lstm', inputs: 9, hidden: [8, 6], outputs: 8, truncation: 4, batch: 4, clip: 0.5 },
  'one window per sequence': { cell: 'tanh', inputs: 9, hidden: 8, outputs: 8, truncation: 20, batch: 4, dni: true },
  'decoupled interface with delay 2, MLP synthesizers': {
    cell: 'lstm',
    inputs: 9,
    hidden: [{ units: 8, decoupled: true, interface: { delay: 2, hidden: [6] } }, 6],
    outputs: 8,
    truncation: 2,
    batch: 4,
    dni: { synthesizer: { hidden: [5], optimizer: { kind: 'adam', lr: 1e-3 } }, aux: { weight: 0.5 } },
  },
};

function bare(spec: RecurrentSpec, steps = STEPS): { params: Record<string, Float32Array>; run: RecurrentRun } {
  const t = defineRecurrent(spec);
  const net = buildRecurrentNetwork(t, initRecurrentParameters(t, 2));
  const run = trainRecurrentSequential(net, data, steps);
  return { params: Object.fromEntries(Object.entries(net.params).map(([k, m]) => [k, m.data])), run };
}

function expectSameBits(got: TrainingResult, want: { params: Record<string, Float32Array>; run: RecurrentRun }): void {
  expect(Object.keys(got.params).sort()).toEqual(Object.keys(want.params).sort());
  for (const [k, m] of Object.entries(want.params))
    expect(
      Buffer.from(got.params[k].data.buffer, got.params[k].data.byteOffset, got.params[k].data.byteLength).equals(
        Buffer.from(m.buffer, m.byteOffset, m.byteLength),
      ),
      k,
    ).toBe(true);
  expect(Array.from(got.losses)).toEqual(Array.from(want.run.losses));
  expect(Array.from(got.auxLosses)).toEqual(Array.from(want.run.auxLosses));
  // the per-step sum over synthesizers may add in another order (with 3 or more in one step)
  got.synthesizerLosses.forEach((v, i) =>
    expect(Math.abs(v - want.run.synthesizerLosses[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(v))),
  );
}

describe('recurrent networks as actors: the bare loop, bit for bit', () => {
  const expected = new Map(Object.entries(SPECS).map(([name, spec]) => [name, bare(spec)]));

  it.each(Object.keys(SPECS).flatMap((name) => (['queue', 'async', 'worker'] as const).map((scheduler) => [name, scheduler] as const)))(
    '%s, %s scheduler',
    async (name, scheduler) => {
      const r = await createTraining({ topology: SPECS[name], data, steps: STEPS, seed: 2, scheduler }).run();
      expectSameBits(r, expected.get(name)!);
      expect(Object.keys(r.heads)).toEqual(['readout']);
      expect(r.heads.readout.losses).toEqual(r.losses);
    },
  );

  it('the xstate interpreter gives the same bits as the table interpreter', async () => {
    const name = 'decoupled interface with delay 2, MLP synthesizers';
    const r = await createTraining({ topology: SPECS[name], data, steps: STEPS, seed: 2, scheduler: 'async', interpreter: 'xstate' }).run();
    expectSameBits(r, expected.get(name)!);
  });

  it('an explicit plan puts the layers on either side of a decoupled interface on two threads: the same bits', async () => {
    const name = 'three layers, the lowest interface decoupled';
    const training = createTraining({
      topology: SPECS[name],
      data,
      steps: STEPS,
      seed: 2,
      scheduler: { name: 'worker', stages: [['core'], ['core1', 'core2']] },
    });
    const r = await training.run();
    expectSameBits(r, expected.get(name)!);
    expect(r.stageUtilization).toHaveLength(2);
  });

  it('aux losses are reported (and are not all zero) with an aux head', () => {
    expect(expected.get('lstm, DNI + aux, Adam, delay 1')!.run.auxLosses.some((v) => v > 0)).toBe(true);
  });

  it('the metrics stream gives every step its loss, and the readout its share of bits right', async () => {
    const training = createTraining({ topology: SPECS['tanh, DNI'], data, steps: 12, seed: 2 });
    const seen: { batch: number; loss: number; accuracy: number }[] = [];
    training.metrics$.subscribe((m) => seen.push({ batch: m.batch, loss: m.loss, accuracy: m.accuracy }));
    const r = await training.run();
    expect(seen.map((m) => m.batch)).toEqual([...Array(12).keys()]);
    expect(seen.map((m) => m.loss)).toEqual(Array.from(r.losses));
    // the share of the masked bits the readout gets right (p > 0.5), from the bare loop's outputs
    const shares: number[] = [];
    const t = defineRecurrent(SPECS['tanh, DNI']);
    trainRecurrentSequential(buildRecurrentNetwork(t, initRecurrentParameters(t, 2)), data, 12, {
      onStep: ({ outputs, y, mask }) => {
        let right = 0,
          counted = 0;
        mask.forEach((m, r) => {
          if (m === 0) return;
          for (let j = 0; j < y.cols; j++)
            ((right += Number(outputs.data[r * y.cols + j] > 0.5 === y.data[r * y.cols + j] > 0.5)), counted++);
        });
        shares.push(counted === 0 ? 1 : right / counted);
      },
    });
    expect(seen.map((m) => m.accuracy)).toEqual(shares);
    expect(new Set(shares).size).toBeGreaterThan(2); // not one value throughout
    // a copy task's first window scores nothing (only recall steps are masked in)
    expect(seen[0].loss).toBe(0);
    expect(seen[0].accuracy).toBe(1);
  });
});

describe('recurrent checkpoints', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dni-rnn-ckpt-'));
  const name = 'decoupled interface with delay 2, MLP synthesizers';

  it.each(['queue', 'worker'] as const)(
    'saved at step 17 (%s), resumed under each scheduler: the unbroken run, bit for bit',
    async (scheduler) => {
      const path = join(dir, `${scheduler}.ckpt`);
      const full = await createTraining({ topology: SPECS[name], data, steps: STEPS, seed: 2 }).run();
      await createTraining({ topology: SPECS[name], data, steps: STEPS, seed: 2, scheduler, checkpoint: { path, at: [17] } }).run();
      const state = readCheckpoint(path);
      expect(state.step).toBe(17);
      expect(isRecurrentState(state)).toBe(true);
      if (!isRecurrentState(state)) return;
      expect(Object.keys(state.layers).sort()).toEqual(['layer:core', 'layer:core1']);
      expect(Object.keys(state.optimizers).sort()).toEqual([
        'head:readout',
        'layer:core',
        'layer:core.aux',
        'layer:core1',
        'layer:core1.aux',
        'synthesizer:interface0',
        'synthesizer:synth',
        'synthesizer:synth1',
      ]);
      // the interface's refits lag by 2 steps: some are pending at the cut
      expect(state.synthesizers['synthesizer:interface0'].pending.length).toBeGreaterThan(0);
      for (const resumeScheduler of ['queue', 'async', 'worker'] as const) {
        const r = await createTraining({ topology: SPECS[name], data, steps: STEPS, scheduler: resumeScheduler, resume: path }).run();
        expectSameBits(r, {
          params: Object.fromEntries(Object.entries(full.params).map(([k, m]) => [k, m.data])),
          run: { ...full, steps: STEPS, next: { step: STEPS, batch: 0, window: 0 } },
        });
      }
    },
  );

  it(
    'a checkpoint written before the renames of issue 23 (link0, written by main at 0a33cd8) ' +
      'loads under the new names and resumes bit for bit',
    async () => {
      const path = join(root, 'tests', 'fixtures', 'rnn-checkpoint-before-words23.ckpt');
      expect(readFileSync(path, 'utf8')).toContain('"synthesizer:link0"');
      const state = readCheckpoint(path);
      expect(state.step).toBe(17);
      if (!isRecurrentState(state)) throw new Error('not recurrent');
      expect(Object.keys(state.synthesizers).sort()).toEqual(['synthesizer:interface0', 'synthesizer:synth', 'synthesizer:synth1']);
      expect(
        Object.keys(state.params)
          .filter((k) => k.startsWith('interface0.'))
          .sort(),
      ).toEqual(['interface0.M', 'interface0.c', 'interface0.hidden0.W', 'interface0.hidden0.b']);
      expect(state.topology.layers[0].interface?.delay).toBe(2);
      const full = await createTraining({ topology: SPECS[name], data, steps: STEPS, seed: 2 }).run();
      const r = await createTraining({ topology: SPECS[name], data, steps: STEPS, resume: path }).run();
      expectSameBits(r, {
        params: Object.fromEntries(Object.entries(full.params).map(([k, m]) => [k, m.data])),
        run: { ...full, steps: STEPS, next: { step: STEPS, batch: 0, window: 0 } },
      });
    },
  );

  it('the same training writes byte-identical checkpoint files under queue, async and worker', async () => {
    const texts = [];
    for (const scheduler of ['queue', 'async', 'worker'] as const) {
      const path = join(dir, `bytes-${scheduler}.ckpt`);
      await createTraining({ topology: SPECS[name], data, steps: 30, seed: 2, scheduler, checkpoint: { path, at: [13] } }).run();
      texts.push(readFileSync(path, 'utf8'));
    }
    expect(texts[1]).toBe(texts[0]);
    expect(texts[2]).toBe(texts[0]);
  });

  it('a stopped training saves its cut, and resuming from it ends where the unbroken run does', async () => {
    const path = join(dir, 'stopped.ckpt'),
      controller = new AbortController();
    const training = createTraining({
      topology: SPECS['lstm, DNI + aux, Adam, delay 1'],
      data,
      steps: 200,
      seed: 2,
      checkpoint: { path },
      signal: controller.signal,
    });
    training.metrics$.subscribe((m) => m.batch === 9 && controller.abort());
    const stopped = await training.run().catch((e) => e);
    expect(stopped).toBeInstanceOf(TrainingAbortedError);
    expect(readCheckpoint(path).step).toBe((stopped as TrainingAbortedError).step);
    const resumed = await createTraining({ topology: SPECS['lstm, DNI + aux, Adam, delay 1'], data, steps: 60, resume: path }).run();
    const full = await createTraining({ topology: SPECS['lstm, DNI + aux, Adam, delay 1'], data, steps: 60, seed: 2 }).run();
    for (const k of Object.keys(full.params)) expect(Array.from(resumed.params[k].data)).toEqual(Array.from(full.params[k].data));
  });

  it('a checkpoint re-validates its topology: every option survives the round trip through its spec', () => {
    const specs: RecurrentSpec[] = [
      ...Object.values(SPECS),
      {
        cell: 'lstm',
        inputs: 9,
        hidden: [{ units: 8, decoupled: true, interface: { delay: 2, hidden: [4], clip: 3 } }, 6],
        outputs: 8,
        truncation: 2,
        batch: 4,
        clip: 1,
        forgetBias: 0.5,
        readout: { lr: 0.3 },
        dni: { synthesizer: { delay: 1, scale: 0.1, discount: 0.5, optimizer: { kind: 'adam', lr: 1e-3 } }, aux: { weight: 0.2 } },
      },
      { cell: 'tanh', inputs: 3, hidden: 5, outputs: 2, truncation: 4, batch: 2, loss: 'mse' },
      {
        cell: 'tanh',
        inputs: 3,
        hidden: [{ units: 5, decoupled: true }, 4],
        outputs: 2,
        truncation: 4,
        batch: 2,
        loss: 'softmax-cross-entropy',
        dni: true,
        interfaces: { lr: 0.2 },
      },
    ];
    for (const spec of specs) {
      const t = defineRecurrent(spec);
      expect(JSON.stringify(defineRecurrent(recurrentSpecOf(t)))).toBe(JSON.stringify(t));
    }
  });

  it('refuses a checkpoint of another topology, and other sequences', async () => {
    const path = join(dir, 'other.ckpt');
    await createTraining({ topology: SPECS['tanh, DNI'], data, steps: 12, seed: 2, checkpoint: { path, at: [6] } }).run();
    expect(() => createTraining({ topology: { ...SPECS['tanh, DNI'], hidden: 13 }, data, steps: 12, resume: path })).toThrow(
      /made for another topology/,
    );
    const other = copyTask({ sequences: 12, length: 4, width: 8, seed: 4 });
    expect(() => createTraining({ topology: SPECS['tanh, DNI'], data: other, steps: 12, resume: path })).toThrow(/made with other data/);
  });
});

describe('recurrent training: bad input is refused by name, before any work, and nothing is written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dni-rnn-bad-'));
  const spec = SPECS['tanh, DNI'];

  it.each([
    [
      'rows given to a recurrent topology',
      () => ({ topology: spec, data: { x: data.x, y: data.y } }),
      DataError,
      /a recurrent topology takes sequences/,
    ],
    [
      'sequences given to a dense chain',
      () => ({ topology: { inputs: 9, batch: 4, lr: 0.1, layers: [{ units: 8 }] }, data }),
      DataError,
      /sequences .* given to a dense topology/,
    ],
    ['x_t of the wrong width', () => ({ topology: { ...spec, inputs: 7 }, data }), DataError, /inputs/],
    [
      'a NaN in x',
      () => ({ topology: spec, data: { ...data, x: { ...data.x, data: data.x.data.map((v, i) => (i === 5 ? NaN : v)) } } }),
      DataError,
      /NaN/,
    ],
    [
      'a mask of the wrong shape',
      () => ({
        topology: spec,
        data: {
          ...data,
          mask: { rows: data.mask.rows, cols: data.mask.cols - 1, data: data.mask.data.subarray(0, data.mask.rows * (data.mask.cols - 1)) },
        },
      }),
      DataError,
      /mask/,
    ],
    ['truncation 0', () => ({ topology: { ...spec, truncation: 0 }, data }), TopologyError, /truncation T must be an integer >= 1/],
  ] as const)('%s', (_, options, kind, message) => {
    const path = join(dir, 'never.ckpt');
    const o = options() as Parameters<typeof createTraining>[0];
    expect(() => createTraining({ ...o, steps: 10, checkpoint: { path, every: 2 } })).toThrow(kind);
    expect(() => createTraining({ ...o, steps: 10, checkpoint: { path, every: 2 } })).toThrow(message);
    expect(existsSync(path)).toBe(false);
  });

  const storage = (key: 'x' | 'y' | 'mask', length: number) => ({
    ...data,
    [key]: { ...data[key], data: new Float32Array(length).fill(key === 'mask' ? 1 : 0.5) },
  });
  it.each(
    (['queue', 'async', 'worker'] as const).flatMap(
      (scheduler) =>
        [
          [scheduler, 'x', 10, /^sequences: x\.data has 10 values, 12x81 needs 972$/],
          [scheduler, 'y', 1000, /^sequences: y\.data has 1000 values, 12x72 needs 864$/],
          [scheduler, 'mask', 5, /^sequences: mask\.data has 5 values, 12x9 needs 108$/],
        ] as const,
    ),
  )('%s: %s storage of %i values (not rows × cols) is a DataError before any work', async (scheduler, key, length, message) => {
    const path = join(dir, `short-${scheduler}-${key}.ckpt`);
    const build = () =>
      createTraining({ topology: spec, data: storage(key, length), steps: 10, scheduler, checkpoint: { path, every: 2 } });
    expect(build).toThrow(DataError);
    expect(build).toThrow(message);
    expect(existsSync(path)).toBe(false);
  });

  it('ragged sequences are refused where they are made', () => {
    expect(() => sequencesFromNested([[[1], [0]], [[1]]], [[[0], [1]], [[1]]], [[1, 1], [1]])).toThrow(/x\[1\]/);
  });

  it.each(['queue', 'worker'] as const)('a divergence names the part, the tensor and the step (%s)', async (scheduler) => {
    const r = createTraining({ topology: { ...spec, dni: { synthesizer: { lr: 1e20 } } }, data, steps: STEPS, seed: 2, scheduler }).run();
    await expect(r).rejects.toBeInstanceOf(DivergenceError);
    await expect(r).rejects.toThrow(/^synthesizer:synth: non-finite g_hat at batch 3/);
  });

  it.each(['queue', 'worker'] as const)('a divergence in a core names it by its actor, layer:core (%s)', async (scheduler) => {
    const topology = {
      cell: 'lstm',
      inputs: 9,
      hidden: 16,
      outputs: 8,
      truncation: 2,
      batch: 4,
      lr: 1e-3,
      dni: { synthesizer: { lr: 1e10 }, aux: { weight: 1e30 } },
    } as const;
    const r = createTraining({ topology, data, steps: 40, seed: 2, scheduler }).run();
    await expect(r).rejects.toBeInstanceOf(DivergenceError);
    await expect(r).rejects.toThrow(/^layer:core: non-finite h at batch 6 /);
  });
});

describe('npm run reference on the recurrent cases, under every scheduler', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dni-rnn-ref-'));
  it.each(referenceCases('rnn').flatMap(({ name }) => (['queue', 'async', 'worker'] as const).map((s) => [name, s] as const)))(
    '%s, %s',
    (name, scheduler) => {
      const casePath = join(REFERENCE_DIR, `${name}.json`),
        out = join(dir, `${name}-${scheduler}.json`);
      const run = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(root, 'bin', 'reference.ts'), casePath, '--out', out, '--scheduler', scheduler],
        { cwd: root, encoding: 'utf8' },
      );
      expect(run.status, run.stderr).toBe(0);
      const got = JSON.parse(readFileSync(out, 'utf8')) as {
        final: Record<string, number[] | number[][]>;
        losses: number[];
        synthesizer_losses: number[];
      };
      const json = JSON.parse(readFileSync(casePath, 'utf8'));
      const c = loadAnyCase(json, name);
      expect(c.kind).toBe('rnn');
      for (const [k, want] of Object.entries(json.final as Record<string, number[] | number[][]>)) {
        const a = got.final[k].flat(),
          b = want.flat();
        expect(a).toHaveLength(b.length);
        expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]))), k).toBeLessThan(1e-5);
      }
      const rel = (a: number[], b: number[]) =>
        Math.max(0, ...b.map((v, i) => (v === 0 && a[i] === 0 ? 0 : Math.abs(a[i] - v) / Math.abs(v))));
      expect(rel(got.losses, json.losses)).toBeLessThan(1e-5);
      expect(rel(got.synthesizer_losses, json.synthesizer_losses)).toBeLessThan(1e-5);
    },
  );
});

describe('the copy-task curriculum through the actors', () => {
  const t = defineRecurrent({
    cell: 'lstm',
    inputs: 9,
    hidden: 24,
    outputs: 8,
    truncation: 3,
    batch: 8,
    optimizer: { kind: 'adam', lr: 3e-3 },
    clip: 1,
    dni: { synthesizer: { optimizer: { kind: 'adam', lr: 1e-3 } }, aux: true },
  });
  const bareRun = runCurriculum(t, { budget: 1600, seed: 5 });

  it('lengthens the sequences as the bare loop does', () => {
    expect(bareRun.maxLength).toBeGreaterThanOrEqual(1);
  });

  it.each(['queue', 'async'] as const)("makes the bare loop's decisions at the same sequences (%s)", async (scheduler) => {
    const seen: [number, number, number][] = [];
    const r = await trainCurriculum(t, { budget: 1600, seed: 5, scheduler, onBatch: (s, l, e) => seen.push([s, l, e]) });
    expect({ maxLength: r.maxLength, sequences: r.sequences, steps: r.steps, curve: r.curve }).toEqual({
      maxLength: bareRun.maxLength,
      sequences: bareRun.sequences,
      steps: bareRun.steps,
      curve: bareRun.curve,
    });
    expect(seen).toHaveLength(1600 / 8);
  });

  it('hears a stop between its batches (they are short: it gives the event loop turns), and rejects with an AbortError', async () => {
    const controller = new AbortController();
    let batches = 0;
    setTimeout(() => controller.abort(new Error('stop')), 100);
    // threshold 0: the length stays 1, and every batch's training is one window (no yield within it)
    const r = trainCurriculum(t, { budget: 16_000, seed: 5, threshold: 0, signal: controller.signal, onBatch: () => batches++ });
    await expect(r).rejects.toBeInstanceOf(TrainingAbortedError);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(16_000 / 8);
  });

  it('runs its batches on worker threads too', async () => {
    const r = await trainCurriculum(t, { budget: 16, seed: 5, scheduler: 'worker' });
    expect(r.sequences).toBe(16);
  });
});
