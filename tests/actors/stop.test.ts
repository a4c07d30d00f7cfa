/**
 * Nothing wrong may look like success: a training can be stopped (an AbortSignal, stop()) at a
 * consistent cut, saving a checkpoint there, and run() rejects with an AbortError; divergence in
 * the final steps and refits is caught; throwing subscribers and observers fail the training
 * rather than the process; a stray message to a worker fails its stage; a topology that cannot
 * fit is refused before anything is allocated.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TrainingResult, createTraining, train } from '../../actors/trainer/training.ts';
import { defaultStagePool } from '../../actors/stage/stagePool.ts';
import { readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { DivergenceError, StageError, TopologyError, TrainingAbortedError, TrainingOptionsError } from '../../lib/errors.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { zeros } from '../../lib/matrix.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'dni-stop-'));
const json = JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase;
const c = loadCase({ ...json, config: { ...json.config, delay: 1 } });
const base = { topology: c.topology, data: c.data, params: c.initial };

function expectSame(a: TrainingResult, b: TrainingResult) {
  expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
  expect(Array.from(b.synthesizerLosses)).toEqual(Array.from(a.synthesizerLosses));
  for (const k of Object.keys(a.params)) expect(b.params[k].data, k).toEqual(a.params[k].data);
}

describe('stopping a training', () => {
  it.each(['queue', 'async', 'worker'] as const)(
    '%s: an AbortSignal stops it at a consistent cut, saved there; resuming equals never stopping',
    async (scheduler) => {
      const steps = 400;
      const unbroken = await train({ ...base, steps, scheduler });
      const path = join(dir, `stop-${scheduler}.ckpt`);
      const controller = new AbortController();
      const training = createTraining({ ...base, steps, scheduler, signal: controller.signal, checkpoint: { path } });
      training.metrics$.subscribe((m) => m.batch === 120 && controller.abort(new Error('enough')));
      const error = await training.run().then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TrainingAbortedError);
      const stopped = error as TrainingAbortedError;
      expect(stopped.name).toBe('AbortError');
      expect((stopped.cause as Error).message).toBe('enough');
      expect(stopped.step).toBeGreaterThan(120);
      expect(stopped.step).toBeLessThan(steps);
      expect(stopped.checkpoint).toBe(path);
      expect(stopped.message).toContain(`training stopped before step ${stopped.step}; the state at that step is saved in ${path}`);
      expect(readCheckpoint(path).step).toBe(stopped.step);
      expect(training.actor.getSnapshot().value).toBe('stopped');
      expectSame(unbroken, await train({ topology: c.topology, data: c.data, steps, scheduler, resume: path }));
    },
  );

  it('queue gives the event loop a turn: a timer can stop a long training', async () => {
    const controller = new AbortController();
    const training = createTraining({ ...base, steps: 1_000_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    const t0 = performance.now();
    await expect(training.run()).rejects.toMatchObject({ name: 'AbortError', checkpoint: null });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('stop() before run, and stop() without saving', async () => {
    const early = createTraining({ ...base, steps: 50 });
    early.stop();
    await expect(early.run()).rejects.toMatchObject({ name: 'AbortError', step: 0 });
    const path = join(dir, 'nosave.ckpt');
    const training = createTraining({ ...base, steps: 500, scheduler: 'async', checkpoint: { path } });
    training.metrics$.subscribe((m) => m.batch === 10 && training.stop({ checkpoint: false }));
    const error = (await training.run().catch((e: unknown) => e)) as TrainingAbortedError;
    expect(error).toMatchObject({ name: 'AbortError', checkpoint: null });
    expect(existsSync(path)).toBe(false);
  });

  it('an aborted signal before run() trains nothing and takes no thread from the pool', async () => {
    const controller = new AbortController();
    controller.abort();
    const training = createTraining({ ...base, steps: 50, scheduler: 'worker', signal: controller.signal });
    let steps = 0;
    training.metrics$.subscribe(() => steps++);
    await expect(training.run()).rejects.toMatchObject({ name: 'AbortError', step: 0 });
    expect(steps).toBe(0);
    // the threads are leased when a training starts: this one never did
    expect(training.actor.getSnapshot().context.workers).toEqual([]);
    expect(defaultStagePool().stats()).toMatchObject({ leased: 0, waiting: 0 });
  });
});

describe('divergence on the last step or in the final drain', () => {
  it.each(['queue', 'async', 'worker'] as const)(
    '%s: lr_synthesizer 1e6 for 6 steps is a DivergenceError naming a parameter, never a result',
    async (scheduler) => {
      const big = loadCase({ ...json, config: { ...json.config, lr_synthesizer: 1e6, steps: 6 } });
      const error = await train({ topology: big.topology, data: big.data, params: big.initial, steps: 6, scheduler }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DivergenceError);
      expect((error as DivergenceError).message).toMatch(/^(synthesizer:\d|layer:\d): non-finite/);
    },
  );
});

describe('what watches a training cannot take the process down', () => {
  it('a metrics$ subscriber that throws fails the training, by name', async () => {
    const training = createTraining({ ...base, steps: 200 });
    training.metrics$.subscribe((m) => {
      if (m.batch === 5) throw new Error('subscriber bug');
    });
    const error = await training.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingOptionsError);
    expect((error as Error).message).toBe("training: a metrics$ subscriber's next threw Error: subscriber bug; training stopped");
  });

  it('an inspection observer that throws fails the training, by name', async () => {
    let seen = 0;
    const training = createTraining({
      ...base,
      steps: 50,
      inspect: () => {
        if (++seen === 40) throw new Error('observer bug');
      },
    });
    await expect(training.run()).rejects.toThrow('training: the inspection observer threw Error: observer bug; training stopped');
  });

  it("a relay callback that throws (worker-hosted actors' events) fails the training, by name, not the process", async () => {
    let seen = 0;
    const training = createTraining({
      ...base,
      steps: 200,
      scheduler: 'worker',
      inspect: () => {},
      relay: () => {
        if (++seen === 40) throw new Error('relay bug');
      },
    });
    const error = await training.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingOptionsError);
    expect((error as Error).message).toBe('training: the relay callback threw Error: relay bug; training stopped');
    expect(seen).toBe(40); // not called again
  });

  it('a stray message to a worker stage fails that stage, by name, instead of hanging', async () => {
    const training = createTraining({ ...base, steps: 100_000, scheduler: 'worker' });
    training.metrics$.subscribe((m) => m.batch === 20 && training.actor.getSnapshot().context.workers[0].postMessage({ hello: 'there' }));
    const error = await training.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageError);
    expect((error as Error).message).toMatch(/^stage:0 \(.*\): Error: a stray message reached the stage: \{"hello":"there"\}/);
  });
});

describe('sizes are checked before anything is allocated', () => {
  const data = { x: zeros(20, 4), y: zeros(20, 2) };
  it.each([
    [
      { inputs: 4, batch: 5, layers: [{ units: 1e8 }, { units: 2 }] },
      /training: the topology would need .* GiB .*, above .*; layer:\d alone takes/,
    ],
    [
      { inputs: 4, batch: 5, layers: [{ units: 3, decoupled: true, synthesizer: { delay: 1e9 } }, { units: 2 }] },
      /synthesizer:0 alone takes .* \(delay 1000000000: 1000000002 pending refits of 5x3\)/,
    ],
  ])('%#', (topology, message) => {
    const t0 = performance.now();
    expect(() => createTraining({ topology, data, steps: 1 })).toThrow(TopologyError);
    expect(() => createTraining({ topology, data, steps: 1 })).toThrow(message);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('a history longer than memory allows is a TrainingOptionsError naming the steps', () => {
    expect(() => createTraining({ topology: { inputs: 4, batch: 5, layers: [{ units: 2 }] }, data, steps: 2 ** 40 })).toThrow(
      /training: 1099511627776 steps would need/,
    );
  });
});
