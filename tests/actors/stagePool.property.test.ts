/**
 * Nothing leaks between trainings on a stage pool: 56 trainings in a row on one pool (random
 * dense chains, graphs and recurrent networks, random delays, random stage plans; some stopped
 * mid-run, some failing by divergence or by a user callback that throws) each give the bits the
 * same training gives under `queue` on its own, and after each one every thread of the pool holds
 * no stage and none of the kernels' memory beyond the backend's own scratch (so no parameter, ring
 * or buffer of a training outlives it there: before the threads freed their copy of the
 * parameters, this grew by the network's size with every training).
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStagePool } from '../../actors/stage/stagePool.ts';
import { type TrainingOptions, type TrainingResult, createTraining, train } from '../../actors/trainer/training.ts';
import { defineGraph } from '../../lib/graph.ts';
import { zeros } from '../../lib/matrix.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { Rng } from '../../lib/rng.ts';
import { dataOf, graphOf, rawGraph } from '../graphs/_arbitraries.ts';

const pool = createStagePool({ threads: 3, capacity: 2 });
const dir = mkdtempSync(join(tmpdir(), 'dni-pool-'));
afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

type Fate = 'finish' | 'stop' | 'diverge' | 'throw';

const dense = fc.record({
  kind: fc.constant('dense' as const),
  units: fc.array(fc.integer({ min: 2, max: 6 }), { minLength: 2, maxLength: 3 }),
  decoupled: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  delay: fc.integer({ min: 0, max: 2 }),
  seed: fc.integer({ min: 1, max: 100_000 }),
});
const graph = fc.record({ kind: fc.constant('graph' as const), raw: rawGraph });
const recurrent = fc.record({
  kind: fc.constant('recurrent' as const),
  hidden: fc.integer({ min: 3, max: 8 }),
  truncation: fc.integer({ min: 2, max: 3 }),
  delay: fc.integer({ min: 0, max: 2 }),
  seed: fc.integer({ min: 1, max: 100_000 }),
});
const trainingArb = fc.record({
  net: fc.oneof(dense, graph, recurrent),
  fate: fc.constantFrom<Fate>('finish', 'finish', 'finish', 'stop', 'diverge', 'throw'),
  /** a stage count (1-3), or 0: an explicit random plan */
  stages: fc.integer({ min: 0, max: 3 }),
  steps: fc.integer({ min: 6, max: 16 }),
  planSeed: fc.integer({ min: 1, max: 1_000_000 }),
});
type Drawn = typeof trainingArb extends fc.Arbitrary<infer T> ? T : never;

/** The training a draw describes (its topology, data and steps), and the plan it runs on the pool. */
function optionsOf(d: Drawn): { base: Pick<TrainingOptions, 'topology' | 'data' | 'steps' | 'seed'>; stages: number | string[][] } {
  const lr = d.fate === 'diverge' ? 1e6 : 0.1;
  const n = d.net;
  if (n.kind === 'dense') {
    const rng = new Rng(n.seed),
      x = zeros(16, 4),
      y = zeros(16, 2);
    for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
    for (let i = 0; i < y.data.length; i++) y.data[i] = rng.next();
    const units = [...n.units, 2];
    const layers = units.map((u, i) => ({
      units: u,
      decoupled: n.decoupled[i],
      activation: d.fate === 'diverge' ? ('linear' as const) : ('tanh' as const),
    }));
    const topology = { inputs: 4, batch: 4, lr, synthesizer: { lr: d.fate === 'diverge' ? 1e6 : 0.01, delay: n.delay }, layers };
    // an explicit plan by node ids: the layers split in two non-empty stages
    const rng2 = new Rng(d.planSeed),
      ids = units.map((_, i) => `layer${i}`),
      cut = 1 + (rng2.nextUint32() % (ids.length - 1));
    return { base: { topology, data: { x, y }, steps: d.steps, seed: n.seed }, stages: d.stages || [ids.slice(0, cut), ids.slice(cut)] };
  }
  if (n.kind === 'graph') {
    const drawn = graphOf(n.raw, { interfaces: true, lr });
    return {
      base: { topology: defineGraph(drawn.spec), data: dataOf(drawn, n.raw.seed), steps: d.steps, seed: n.raw.seed },
      stages: d.stages || 2,
    };
  }
  const topology = {
    cell: 'tanh' as const,
    inputs: 9,
    hidden: n.hidden,
    outputs: 8,
    truncation: n.truncation,
    batch: 4,
    lr: d.fate === 'diverge' ? 1e6 : 0.1,
    dni: { synthesizer: { delay: n.delay } },
  };
  return {
    base: { topology, data: copyTask({ sequences: 8, length: 3, width: 8, seed: n.seed }), steps: d.steps, seed: n.seed },
    stages: Math.min(2, d.stages || 2),
  };
}

interface Outcome {
  error?: string;
  losses?: number[];
  params?: Record<string, number[]>;
}

const outcomeOf = (r: TrainingResult): Outcome => ({
  losses: Array.from(r.losses),
  params: Object.fromEntries(Object.entries(r.params).map(([k, m]) => [k, Array.from(m.data)])),
});
const failureOf = (e: unknown): Outcome => ({ error: `${(e as Error).name}: ${(e as Error).message}` });

/** Run `options`, failing it from a metrics$ subscriber at step `throwAt` (when given). */
function run(options: TrainingOptions, throwAt?: number): Promise<Outcome> {
  const t = createTraining(options);
  if (throwAt !== undefined)
    t.metrics$.subscribe((m) => {
      if (m.batch === throwAt) throw new Error(`a user callback threw at step ${throwAt}`);
    });
  return t.run().then(outcomeOf, failureOf);
}

describe('a stage pool, many trainings in a row', () => {
  it('gives every training the bits of the same training under queue, and keeps nothing of it', async () => {
    const fates = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(trainingArb, async (d) => {
        const { base, stages } = optionsOf(d);
        const scheduler = { name: 'worker' as const, pool, stages };
        const throwAt = d.fate === 'throw' ? Math.floor(d.steps / 2) : undefined;
        const queue = await run({ ...base }, throwAt);
        if (d.fate === 'stop') {
          // stopped mid-run at a cut, saved there: resuming it (under queue) gives the unbroken run's bits
          const path = join(dir, `stop-${d.planSeed}.ckpt`);
          const controller = new AbortController();
          const t = createTraining({ ...base, scheduler, signal: controller.signal, checkpoint: { path } });
          t.metrics$.subscribe((m) => m.batch === 2 && controller.abort());
          const stopped = await t.run().then(outcomeOf, (e: unknown) => e as Error);
          if (stopped instanceof Error) {
            expect(stopped.name).toBe('AbortError');
            expect(await train({ ...base, resume: path }).then(outcomeOf, failureOf)).toEqual(queue);
          } else expect(stopped).toEqual(queue);
        } else {
          const worker = await run({ ...base, scheduler }, throwAt);
          // a pipeline may see a divergence first in another actor (a decoupled layer runs ahead): both diverge
          if (d.fate === 'diverge' && queue.error?.startsWith('DivergenceError')) expect(worker.error).toMatch(/^DivergenceError: /);
          else expect(worker).toEqual(queue);
        }
        const kind = queue.error ? queue.error.split(':')[0] : 'finished';
        fates.set(`${d.net.kind} ${d.fate} ${kind}`, (fates.get(`${d.net.kind} ${d.fate} ${kind}`) ?? 0) + 1);
        // every thread is back, holding no stage and the kernel memory it held after the first training
        await pool.idle();
        const { residues, threads, replaced } = pool.stats();
        expect(replaced).toBe(0);
        expect(residues.every((r) => r === null || r.stages === 0)).toBe(true);
        expect(residues.filter((r) => r !== null).map((r) => r.usedBytes)).toEqual(residues.filter((r) => r !== null).map(() => 0));
        expect(threads).toBe(3);
      }),
      { numRuns: 56, seed: 20_2026 },
    );
    const seen = [...fates.keys()].join(', ');
    for (const kind of ['dense', 'graph', 'recurrent']) expect(seen, seen).toContain(`${kind} finish finished`);
    expect(seen, seen).toMatch(/stop finished/);
    expect(seen, seen).toMatch(/diverge DivergenceError/);
    expect(seen, seen).toMatch(/throw TrainingOptionsError/);
    // the pool started its threads once, for all of them
    expect(pool.stats().started).toBe(3);
  });
});
