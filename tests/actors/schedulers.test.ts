/**
 * A scheduler changes when things run, never what is computed: for every reference case and
 * delays 0, 1 and 2, queue, async and worker give bit-identical parameters and losses.
 */
import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { defaultStagePool } from '../../actors/stage/stagePool.ts';
import { createTraining, train, type TrainingResult } from '../../actors/trainer/training.ts';
import { DivergenceError, StageError } from '../../lib/errors.ts';
import { fromArray } from '../../lib/matrix.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { referenceCases } from '../helpers.ts';

const STEPS = 120;

function withDelay(json: ReferenceCase, delay: number) {
  return loadCase({ ...json, config: { ...json.config, delay } });
}

function expectSameBits(a: TrainingResult, b: TrainingResult, what: string) {
  expect(Array.from(b.losses), `${what}: losses`).toEqual(Array.from(a.losses));
  expect(Array.from(b.synthesizerLosses), `${what}: synthesizer losses`).toEqual(Array.from(a.synthesizerLosses));
  expect(Object.keys(b.params).sort()).toEqual(Object.keys(a.params).sort());
  for (const k of Object.keys(a.params)) expect(b.params[k].data, `${what}: ${k}`).toEqual(a.params[k].data);
}

describe.each(referenceCases())('$name: every scheduler, same bits', ({ name, json }) => {
  it.each([0, 1, 2])('delay %i', async (delay) => {
    const c = withDelay(json, delay);
    const run = (scheduler: 'queue' | 'async' | 'worker') =>
      train({ topology: c.topology, data: c.data, params: c.initial, steps: STEPS, scheduler });
    const queue = await run('queue');
    expectSameBits(queue, await run('async'), `${name} delay ${delay} async`);
    expectSameBits(queue, await run('worker'), `${name} delay ${delay} worker`);
  });
});

describe('worker scheduler', () => {
  const dni = referenceCases().find((c) => c.name === 'dni')!.json;

  it('takes any number of stages or an explicit plan, with the same bits', async () => {
    const c = withDelay(dni, 1);
    const base = { topology: c.topology, data: c.data, params: c.initial, steps: 40 };
    const queue = await train({ ...base, scheduler: 'queue' });
    for (const stages of [1, 3, 5])
      expectSameBits(queue, await train({ ...base, scheduler: { name: 'worker', stages } }), `${stages} stages`);
    const plan = [['layer:0'], ['synthesizer:0', 'layer:1', 'synthesizer:1'], ['layer:2', 'head']];
    expectSameBits(queue, await train({ ...base, scheduler: { name: 'worker', stages: plan } }), 'explicit plan');
    expect(() => createTraining({ ...base, scheduler: { name: 'worker', stages: [['layer:1'], ['layer:0']] } })).toThrow(
      /a plan must place every actor once; synthesizer:0, synthesizer:1, layer:2, head are on no stage/,
    );
    // by node ids: each brings its synthesizers and heads
    expectSameBits(
      queue,
      await train({ ...base, scheduler: { name: 'worker', stages: [['layer0', 'layer2'], ['layer1']] } }),
      'plan by node ids',
    );
  });

  it('fails promptly, naming the stage and its thread, when a worker dies mid-run; the pool replaces the thread', async () => {
    const c = withDelay(dni, 1);
    const pool = defaultStagePool();
    const t = createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 1_000_000, scheduler: 'worker' });
    const workers: Worker[] = t.actor.getSnapshot().context.workers;
    let killedAt = 0;
    const replacedBefore = pool.stats().replaced;
    t.metrics$.subscribe((m) => {
      if (m.batch === 50) {
        killedAt = performance.now();
        void workers[1].terminate();
      }
    });
    await t.run().then(
      () => expect.unreachable('a training whose worker died must fail'),
      (e: unknown) => {
        expect(e).toBeInstanceOf(StageError);
        expect((e as StageError).stage).toBe(1);
        expect((e as Error).message).toMatch(/^stage:1 \(.*head\): its worker \(pool thread \d+\) exited with code 1/);
      },
    );
    expect(performance.now() - killedAt).toBeLessThan(2000);
    expect(t.actor.getSnapshot().value).toBe('failed');
    await pool.idle();
    expect(pool.stats().replaced).toBe(replacedBefore + 1);
    // the killed thread is gone; its peer lives on in the pool, for the next training
    const live = workers.filter((w) => w.threadId >= 0);
    expect(live).toHaveLength(1);
  });

  it('reports a divergence inside a worker with the actor, batch and tensor', async () => {
    const x = fromArray(8, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const y = fromArray(8, 1, [1, -1, 1, -1, 1, -1, 1, -1]);
    const topology = {
      inputs: 2,
      batch: 2,
      lr: 1e6,
      layers: [
        { units: 4, activation: 'linear' as const, decoupled: true },
        { units: 1, activation: 'linear' as const },
      ],
      synthesizer: { lr: 1e6 },
    };
    const queueError = await train({ topology, data: { x, y }, steps: 200 }).catch((e: unknown) => e);
    const workerError = await train({ topology, data: { x, y }, steps: 200, scheduler: 'worker' }).catch((e: unknown) => e);
    expect(workerError).toBeInstanceOf(DivergenceError);
    expect((workerError as Error).message).toBe((queueError as Error).message);
  });
});

describe('optimiser state under every scheduler', () => {
  it('Adam, momentum, softmax head and an MLP synthesizer: same bits, and a second training continues the first', async () => {
    const { zeros } = await import('../../lib/matrix.ts');
    const { Rng } = await import('../../lib/rng.ts');
    const rng = new Rng(4),
      rows = 96,
      x = zeros(rows, 20),
      y = zeros(rows, 5);
    for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
    for (let r = 0; r < rows; r++) y.data[r * 5 + (rng.nextUint32() % 5)] = 1;
    const topology = {
      inputs: 20,
      batch: 8,
      loss: 'softmax-cross-entropy' as const,
      optimizer: { kind: 'adam' as const, lr: 1e-2 },
      synthesizer: { optimizer: { kind: 'sgd' as const, lr: 1e-2, momentum: 0.9 }, delay: 1 },
      layers: [
        { units: 16, activation: 'relu' as const, decoupled: true, synthesizer: { hidden: [12], conditioned: true } },
        { units: 12, activation: 'tanh' as const, decoupled: true },
        { units: 5 },
      ],
    };
    const twice = async (scheduler: 'queue' | 'async' | 'worker') => {
      const first = await train({ topology, data: { x, y }, steps: 30, seed: 3, scheduler });
      return train({ topology, data: { x, y }, steps: 30, params: first.params, optimizerState: first.optimizerState, scheduler });
    };
    const queue = await twice('queue');
    expect(Object.values(queue.optimizerState).every((s) => s.step === 60)).toBe(true);
    for (const scheduler of ['async', 'worker'] as const) {
      const other = await twice(scheduler);
      expectSameBits(queue, other, scheduler);
      for (const [id, s] of Object.entries(queue.optimizerState)) {
        expect(other.optimizerState[id].step, `${scheduler}: ${id} step`).toBe(s.step);
        s.moments.forEach((m, i) => expect(other.optimizerState[id].moments[i], `${scheduler}: ${id} moment ${i}`).toEqual(m));
      }
    }
  });
});
