/**
 * Worker stages hand events over in shared memory (stageLink.ts), wait on a doorbell
 * (stageDriver.ts) and report losses and finished steps in batches: the link delivers each
 * peer's events in order with their tensors, refuses to overrun a ring by name; the spin policy
 * adapts; the trainer hears of a training's steps in a handful of messages; the main thread stays
 * free; and when a training ends or fails, no thread is left, let alone spinning.
 */
import { describe, expect, it } from 'vitest';
import type { Worker } from 'node:worker_threads';
import { routesOf } from '../../actors/machines/events.ts';
import { SpinPolicy } from '../../actors/stage/stageDriver.ts';
import {
  type Arrival,
  BELL,
  SharedMemoryLink,
  type StageLinkInit,
  createDoorbell,
  createSharedChannel,
  createSharedRing,
} from '../../actors/stage/stageLink.ts';
import { createStartBarrier } from '../../actors/stage/startBarrier.ts';
import { LOSS_FIELDS, LOSS_KINDS, ProgressBatch } from '../../actors/stage/stageProtocol.ts';
import { type StagePool, createStagePool } from '../../actors/stage/stagePool.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { StageError, TrainingAbortedError } from '../../lib/errors.ts';
import { fromArray } from '../../lib/matrix.ts';
import { defineTopology } from '../../lib/topology.ts';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 0.5,
  synthesizer: { lr: 0.01, delay: 1 },
  layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
});
const data = binaryAddition(400, 12, 2);

/** Two stages' links in this thread: stage 0 holds layer:0 and synthesizer:0, stage 1 the rest. */
function linkedPair(depth = 3) {
  const routes = routesOf(topology).filter((r) => r.source !== 'data');
  const stageOf = (id: string) => (id === 'layer:0' || id === 'synthesizer:0' ? 0 : 1);
  const crossing = routes.filter((r) => stageOf(r.source) !== stageOf(r.target));
  const rings = Object.fromEntries(crossing.map((r) => [r.key, { route: r, ring: createSharedRing(depth, r.rows, r.cols) }]));
  const keys = (from: number) => crossing.filter((r) => stageOf(r.source) === from).map((r) => r.key);
  const channels = [createSharedChannel(0, 1, keys(0), keys(0).length * depth), createSharedChannel(1, 0, keys(1), keys(1).length * depth)];
  const bells = [createDoorbell(), createDoorbell()],
    start = createStartBarrier();
  const init = (stage: number): StageLinkInit => ({ stage, bells, channels, rings, start, stages: 2 });
  return { links: [new SharedMemoryLink(init(0)), new SharedMemoryLink(init(1))], crossing };
}

describe('the shared-memory stage link', () => {
  it('delivers each event with its batch and tensor, in the order sent, and rings the receiver', () => {
    const { links, crossing } = linkedPair();
    const forward = crossing.find((r) => r.key === 'FORWARD>layer:1')!;
    const got: Arrival[] = [];
    links[1].incoming.subscribe((a) =>
      got.push({
        ...a,
        event: {
          ...a.event,
          x: {
            ...(a.event as { x: { rows: number; cols: number; data: Float32Array } }).x,
            data: (a.event as { x: { data: Float32Array } }).x.data.slice(),
          },
        } as never,
      }),
    );
    const bell = links[1].bell,
      rung = Atomics.load(bell, BELL);
    expect(links[1].pending()).toBe(false);
    for (const batch of [4, 5])
      links[0].send(forward, {
        type: 'FORWARD',
        batch,
        slot: 0,
        x: fromArray(
          10,
          128,
          Array.from({ length: 1280 }, (_, i) => batch * 10_000 + i),
        ),
      });
    expect(Atomics.load(bell, BELL)).toBe(rung + 2);
    expect(links[1].pending()).toBe(true);
    expect(links[1].poll()).toBe(2);
    expect(links[1].pending()).toBe(false);
    expect(got.map((a) => [a.route.key, a.event.batch, a.queued])).toEqual([
      ['FORWARD>layer:1', 4, 2],
      ['FORWARD>layer:1', 5, 1],
    ]);
    expect(Array.from((got[1].event as unknown as { x: { data: Float32Array } }).x.data.subarray(0, 3))).toEqual([50_000, 50_001, 50_002]);
    expect(links[1].poll()).toBe(0);
  });

  it('refuses, by name, to write over an event its target has not taken', () => {
    const { links, crossing } = linkedPair(2);
    const forward = crossing.find((r) => r.key === 'FORWARD>layer:1')!;
    const x = fromArray(10, 128, new Array(1280).fill(0));
    links[0].send(forward, { type: 'FORWARD', batch: 0, slot: 0, x });
    links[0].send(forward, { type: 'FORWARD', batch: 1, slot: 0, x });
    expect(() => links[0].send(forward, { type: 'FORWARD', batch: 2, slot: 0, x })).toThrow(
      /stage link: FORWARD>layer:1 holds 2 batches its target has not taken \(ring of 2 overrun at batch 2\)/,
    );
  });
});

describe('the spin policy', () => {
  it('keeps spinning while spins find work, halves to nothing when they do not, and tries again now and then', () => {
    const p = new SpinPolicy(0.05, 0.002, 4);
    expect(p.next()).toBe(0.05);
    p.spun(true, 0.01);
    expect(p.next()).toBe(0.05);
    // as the driver does: a spin with nothing to find halves the budget, until it is below 0.002 ms
    const budgets: number[] = [];
    for (let b = p.next(); b > 0; b = p.next()) (budgets.push(b), p.spun(false, b));
    expect(budgets).toEqual([0.05, 0.025, 0.0125, 0.00625, 0.003125]);
    // then it sleeps at once, but for one full spin in every 4 waits
    expect([p.next(), p.next(), p.next(), p.next(), p.next()]).toEqual([0, 0, 0.05, 0, 0]);
    p.spun(true, 0.004); // a probe found work: spin again, at least twice that long
    expect(p.next()).toBeGreaterThanOrEqual(0.008);
  });
});

describe('progress in batches', () => {
  it('packs losses (the trainer reads them in place) and the last finished batch', () => {
    const b = new ProgressBatch(1, 10);
    expect(b.take()).toBeNull();
    for (let t = 10; t < 400; t++) {
      b.loss({ type: 'LOSS', kind: 'head', index: 0, batch: t, loss: t / 7, accuracy: 0.5 });
      b.loss({ type: 'LOSS', kind: 'synthesizer', index: 1, batch: t, loss: t / 3, accuracy: NaN });
    }
    b.stepFinished(399);
    const p = b.take()!;
    expect(p.losses.length).toBe(2 * 390 * LOSS_FIELDS);
    expect(b.take()).toBeNull();
    const loss = (i: number) => {
      const l = p.losses.subarray(i * LOSS_FIELDS, (i + 1) * LOSS_FIELDS);
      return { kind: LOSS_KINDS[l[0]], index: l[1], batch: l[2], loss: l[3], accuracy: l[4] };
    };
    expect(loss(0)).toEqual({ kind: 'head', index: 0, batch: 10, loss: 10 / 7, accuracy: 0.5 });
    expect(loss(779)).toEqual({ kind: 'synthesizer', index: 1, batch: 399, loss: 133, accuracy: NaN });
    expect([p.stage, p.finished]).toEqual([1, 399]);
  });
});

/** The process's CPU time (ms) over `ms` of wall time. */
async function cpuOver(ms: number): Promise<number> {
  const before = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
}

describe('worker stages and the main thread', () => {
  it('the trainer hears of thousands of steps in batches, at most one a stage every 2 ms, and the main thread stays free', async () => {
    const steps = 3000;
    const t = createTraining({ topology, data, steps, scheduler: 'worker' });
    const workers: Worker[] = t.actor.getSnapshot().context.workers;
    let messages = 0,
      finished = 0,
      gap = 0,
      last = performance.now();
    const count = () => messages++;
    // the threads are the pool's, leased when the training starts: count from its first step on
    let from = 0;
    t.metrics$.subscribe(() => finished++ === 0 && ((from = performance.now()), workers.forEach((w) => w.on('message', count))));
    const tick = setInterval(() => {
      const now = performance.now();
      gap = Math.max(gap, now - last);
      last = now;
    }, 1);
    const result = await t.run().finally(() => clearInterval(tick));
    const wallMs = performance.now() - from;
    for (const w of workers) w.off('message', count);
    expect(finished).toBe(steps);
    expect(workers).toHaveLength(2);
    expect(messages).toBeGreaterThan(0);
    expect(result.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
    // a stage posts its finished steps and losses at most every FLUSH_MS = 2 ms while busy (actors/stage/stageHost.ts),
    // plus once at the end: a message per step's losses and per step's end would be ≥ 4 per step (12,000 here)
    expect(messages).toBeLessThan(workers.length * (wallMs / 2 + 10));
    expect(messages).toBeLessThan(2 * steps);
    // a timer on the main thread kept running (on a busy machine a pause of a few hundred ms can happen)
    expect(gap).toBeLessThan(500);
  });

  it('after a training ends its threads stay in the pool, idle: no CPU, and they do not hold the process', async () => {
    const pool = createStagePool({ threads: 2 });
    try {
      const t = createTraining({ topology, data, steps: 2000, scheduler: { name: 'worker', pool } });
      const workers: Worker[] = t.actor.getSnapshot().context.workers;
      await t.run();
      await pool.idle();
      expect(workers.every((w) => w.threadId > 0)).toBe(true);
      expect(pool.stats()).toMatchObject({ threads: 2, started: 2, leased: 0 });
      // nothing runs any more: the process takes (almost) no CPU time
      expect(await cpuOver(300)).toBeLessThan(60);
    } finally {
      await pool.close();
    }
  });

  it(
    'after a training fails its surviving thread frees the stage and idles (its peer did not spin on); ' + 'the dead one is replaced',
    async () => {
      const pool = createStagePool({ threads: 2 });
      try {
        const t = createTraining({ topology, data, steps: 1_000_000, scheduler: { name: 'worker', pool } });
        const workers: Worker[] = t.actor.getSnapshot().context.workers;
        t.metrics$.subscribe((m) => m.batch === 200 && void workers[0].terminate());
        const error = await t.run().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(StageError);
        await pool.idle();
        const stats = pool.stats();
        expect(stats).toMatchObject({ threads: 2, started: 3, replaced: 1, leased: 0 });
        expect(await cpuOver(300)).toBeLessThan(60);
      } finally {
        await pool.close();
      }
    },
  );

  it('a stage waiting at a cut parks: no CPU while the trainer holds the stages', async () => {
    // fit-like: an epoch plan whose end keeps the stages waiting for a while
    const { trainingInEpochs } = await import('../../actors/trainer/training.ts');
    let cpu = -1;
    const t = trainingInEpochs(
      { topology, data, steps: 80, scheduler: 'worker' },
      {
        length: 40,
        lrFactor: 1,
        end: async () => {
          await new Promise((r) => setTimeout(r, 100)); // the stages settle and park
          cpu = await cpuOver(300);
          return 1;
        },
      },
    );
    await t.run();
    expect(cpu).toBeLessThan(60);
  });
});

describe("a default plan on a machine that gives one core's worth", () => {
  // a pool's capacity option stands for the probe's reading
  const pretend = async <T>(capacity: number, f: (scheduler: { name: 'worker'; pool: StagePool }) => Promise<T>): Promise<T> => {
    const pool = createStagePool({ capacity });
    try {
      return await f({ name: 'worker', pool });
    } finally {
      await pool.close();
    }
  };

  it('runs as one thread (stage 0 hosts every actor, the others none), with the same bits, cuts, epochs and stops', async () => {
    const { train } = await import('../../actors/trainer/training.ts');
    const { fit } = await import('../../actors/trainer/fit.ts');
    const queue = await train({ topology, data, steps: 300 });
    const one = await pretend(1, (scheduler) => train({ topology, data, steps: 300, scheduler }));
    for (const k of Object.keys(queue.params)) expect(Array.from(one.params[k].data), k).toEqual(Array.from(queue.params[k].data));
    expect(Array.from(one.losses)).toEqual(Array.from(queue.losses));
    // stage 0 did the work; stage 1 had nothing to do
    expect(one.stageUtilization[0]).toBeGreaterThan(0);
    expect(one.stageUtilization[1]).toBe(0);
    const kept = await pretend(2, (scheduler) => train({ topology, data, steps: 300, scheduler }));
    expect(kept.stageUtilization[1]).toBeGreaterThan(0);
    // epochs (END_EPOCH, ALLOW with learning rates) and a stop (HALT) through an empty stage
    const fitted = await fit({ topology, train: data, epochs: 3, lrSchedule: (e) => 1 / e });
    const fittedOne = await pretend(1, (scheduler) => fit({ topology, train: data, epochs: 3, lrSchedule: (e) => 1 / e, scheduler }));
    for (const k of Object.keys(fitted.params)) expect(Array.from(fittedOne.params[k].data), k).toEqual(Array.from(fitted.params[k].data));
    const controller = new AbortController();
    const stopped = await pretend(1, (scheduler) => {
      const t = createTraining({ topology, data, steps: 100_000, scheduler, signal: controller.signal });
      t.metrics$.subscribe((m) => m.batch === 100 && controller.abort());
      return t.run().catch((e: unknown) => e);
    });
    expect((stopped as Error).name).toBe('AbortError');
    // a stage that hosts every actor runs the whole pipeline in one call unless it gives its thread turns: it heard the stop at once
    expect((stopped as TrainingAbortedError).step).toBeLessThan(5000);
  });
});
