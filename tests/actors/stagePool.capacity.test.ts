/**
 * A stage pool's capacity reading: taken once when it is good; a low one is taken again at a later
 * default-plan lease, at most once every REPROBE_MS and only while no training runs on the pool; a
 * given capacity is never read. The probe and the clock are the test's (no timing asserts); the
 * pool's threads are real.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { REPROBE_MS } from '../../actors/stage/capacityProbe.ts';
import { type CapacityProbing, StagePool, type StageLease } from '../../actors/stage/stagePool.ts';
import { createTraining, train } from '../../actors/trainer/training.ts';
import { smallPoolNetwork } from '../helpers.ts';

const { topology, data } = smallPoolNetwork();

/** A probe that reads `readings` in turn (then 0.5: read more often than the test expects), on a clock the test moves. */
function scripted(...readings: number[]): CapacityProbing & { clock: number; calls: number } {
  const p = {
    clock: 0,
    calls: 0,
    now: () => p.clock,
    probe: async () => {
      p.calls++;
      return readings.shift() ?? 0.5;
    },
  };
  return p;
}

const pools: StagePool[] = [];
function poolWith(options: ConstructorParameters<typeof StagePool>[0], probing: CapacityProbing): StagePool {
  const pool = new StagePool(options, probing);
  pools.push(pool);
  return pool;
}
afterAll(() => Promise.all(pools.map((p) => p.close())));

/** A default-plan lease of two threads, given back at once: the capacity it was granted with. */
async function leaseOnce(pool: StagePool, probe = true): Promise<number | null> {
  const lease: StageLease = await pool.lease(2, { probe });
  lease.release(0);
  lease.release(1);
  return lease.capacity;
}

describe("a stage pool's capacity reading", () => {
  it('takes a low reading again REPROBE_MS after the latest, and a high one replaces it for good', async () => {
    const probing = scripted(1.07, 1.1, 1.9);
    const pool = poolWith({ threads: 2 }, probing);
    expect(pool.stats()).toMatchObject({ capacity: null, probes: 0 });
    expect(await leaseOnce(pool)).toBe(1.07);
    expect(pool.stats()).toMatchObject({ capacity: 1.07, probes: 1 });
    // not yet due
    probing.clock = REPROBE_MS - 1;
    expect(await leaseOnce(pool)).toBe(1.07);
    // due, but a lease with a plan of its own does not need the capacity
    probing.clock = REPROBE_MS;
    expect(await leaseOnce(pool, false)).toBe(1.07);
    expect(pool.stats().probes).toBe(1);
    // due: the next default-plan lease takes it again, and runs on the new reading (low again)
    expect(await leaseOnce(pool)).toBe(1.1);
    expect(pool.stats()).toMatchObject({ capacity: 1.1, probes: 2 });
    // due REPROBE_MS after that one
    probing.clock = 2 * REPROBE_MS - 1;
    expect(await leaseOnce(pool)).toBe(1.1);
    probing.clock = 2 * REPROBE_MS;
    expect(await leaseOnce(pool)).toBe(1.9);
    expect(pool.stats()).toMatchObject({ capacity: 1.9, probes: 3 });
    // a good reading stands for the pool's life
    for (const t of [3 * REPROBE_MS, 100 * REPROBE_MS]) {
      probing.clock = t;
      expect(await leaseOnce(pool)).toBe(1.9);
    }
    expect(pool.stats()).toMatchObject({ capacity: 1.9, probes: 3 });
    expect(probing.calls).toBe(3);
  });

  it('never takes it again while a training runs on the pool; the next training alone does, and runs on two threads', async () => {
    const probing = scripted(1.07, 1.9);
    const pool = poolWith({ threads: 4 }, probing);
    const queue = await train({ topology, data, steps: 200 });
    // the first reading: one core's worth, so the default plan runs as one thread
    const low = await train({ topology, data, steps: 200, scheduler: { name: 'worker', pool } });
    expect(pool.stats()).toMatchObject({ capacity: 1.07, probes: 1 });
    expect(low.stageUtilization[1]).toBe(0);
    probing.clock = REPROBE_MS;
    // due, but a training runs: a default-plan lease beside it keeps the low reading
    const controller = new AbortController();
    const running = createTraining({
      topology,
      data,
      steps: 1_000_000,
      scheduler: { name: 'worker', pool, stages: 2 },
      signal: controller.signal,
    });
    let beside: Promise<number | null> | null = null;
    running.metrics$.subscribe((m) => {
      if (m.batch !== 30) return;
      expect(pool.stats().leased).toBe(1);
      beside = leaseOnce(pool);
      controller.abort();
    });
    expect(((await running.run().catch((e: unknown) => e)) as Error).name).toBe('AbortError');
    expect(beside).not.toBeNull();
    expect(await beside).toBe(1.07);
    expect(pool.stats().probes).toBe(1);
    // alone on the pool: taken again, and the plan keeps its two threads, with the bits of queue
    const high = await train({ topology, data, steps: 200, scheduler: { name: 'worker', pool } });
    expect(pool.stats()).toMatchObject({ capacity: 1.9, probes: 2 });
    expect(high.stageUtilization[1]).toBeGreaterThan(0);
    for (const k of Object.keys(queue.params)) expect(Array.from(high.params[k].data), k).toEqual(Array.from(queue.params[k].data));
  });

  it('never reads a capacity that was given, high or low', async () => {
    for (const capacity of [1.5, 1]) {
      const probing = scripted();
      const pool = poolWith({ threads: 2, capacity }, probing);
      for (const t of [0, REPROBE_MS, 10 * REPROBE_MS]) {
        probing.clock = t;
        expect(await leaseOnce(pool)).toBe(capacity);
      }
      expect(pool.stats()).toMatchObject({ capacity, probes: 0 });
      expect(probing.calls).toBe(0);
    }
  });
});
