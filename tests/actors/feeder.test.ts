/**
 * The Feeder on its own: which batch enters next, per layer that reads the data (a reader). As far
 * as the trainer allows; pipelined, once that reader has applied its update for the batch before;
 * not pipelined, once the batch before is finished in the stage; with turns for the thread. Two
 * layers on one stage that read the data, on independent branches, feed as their own updates
 * allow, but neither runs more than the stage's step window past the last batch finished there (a
 * stage counts that many batches at once: past it, a worker stage failed with "batch 10 finished
 * somewhere while batch 0 is not finished everywhere here"); and a torn-down stage feeds nothing more.
 */
import { describe, expect, it } from 'vitest';
import { Feeder } from '../../actors/stage/stageFeeder.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { copyTask } from '../../lib/datasets/copy.ts';

/** `waiting`: the turns are kept for the test to run; else each is taken at once (a slow run passes its 10 ms slices) */
function feeder(o: { first?: number; steps?: number; pipelined: boolean; readers?: number; waiting?: () => boolean }) {
  const fed: [number, number][] = [],
    turns: (() => void)[] = [];
  const defer = o.waiting ? (fn: () => void) => void turns.push(fn) : (fn: () => void) => fn();
  const f = new Feeder(o.first ?? 0, o.steps ?? 100, o.pipelined, o.readers ?? 1, (k, t) => void fed.push([k, t]), defer, o.waiting);
  return { f, fed, turns };
}
const tick = () => Promise.resolve();

describe('Feeder', () => {
  it('feeds nothing before ALLOW, and from a microtask after it, not within the call', async () => {
    const { f, fed } = feeder({ pipelined: true });
    f.allow(3);
    expect(fed).toEqual([]);
    await tick();
    expect(fed).toEqual([[0, 0]]);
  });

  it('not pipelined: batch t+1 enters once batch t is finished in the stage, up to the allowance', async () => {
    const { f, fed } = feeder({ pipelined: false });
    f.allow(2);
    await tick();
    f.readerUpdated(0, 0); // updates do not matter here
    expect(fed).toEqual([[0, 0]]);
    f.stepFinished(0);
    f.stepFinished(1);
    expect(fed).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);
    f.stepFinished(2);
    expect(fed).toHaveLength(3); // not past the allowance
    f.allow(5);
    await tick();
    expect(fed.at(-1)).toEqual([0, 3]);
  });

  it('pipelined: each reader gets batch t+1 once it applied its own update for batch t, whatever the others did', async () => {
    const { f, fed } = feeder({ pipelined: true, readers: 2 });
    f.allow(10);
    await tick();
    expect(fed).toEqual([
      [0, 0],
      [1, 0],
    ]);
    f.stepFinished(0); // finishing does not feed a pipelined reader
    expect(fed).toHaveLength(2);
    f.readerUpdated(1, 0);
    f.readerUpdated(1, 1);
    expect(fed.slice(2)).toEqual([
      [1, 1],
      [1, 2],
    ]);
    f.readerUpdated(0, 0);
    expect(fed.at(-1)).toEqual([0, 1]);
  });

  it('never feeds past the last step, and starts a resumed training at its first batch', async () => {
    const { f, fed } = feeder({ first: 7, steps: 9, pipelined: true });
    f.allow(100);
    await tick();
    f.readerUpdated(0, 7);
    f.readerUpdated(0, 8);
    expect(fed).toEqual([
      [0, 7],
      [0, 8],
    ]);
  });

  it('halt: feeds nothing past the last batch fed to any reader; a reader that lags still gets up to it', async () => {
    const { f, fed } = feeder({ pipelined: true, readers: 2 });
    f.allow(10);
    await tick();
    f.readerUpdated(0, 0);
    f.readerUpdated(0, 1);
    expect(f.halt()).toBe(2);
    f.readerUpdated(0, 2);
    f.readerUpdated(1, 0);
    f.readerUpdated(1, 1);
    f.readerUpdated(1, 2);
    expect(fed.filter(([k]) => k === 0).map(([, t]) => t)).toEqual([0, 1, 2]);
    expect(fed.filter(([k]) => k === 1).map(([, t]) => t)).toEqual([0, 1, 2]);
    expect(new Feeder(0, 5, true, 1, () => {}).halt()).toBe(-1); // nothing fed: first - 1
  });

  it('gives the thread a turn when something waits for one, then feeds every reader again', async () => {
    let waiting = false;
    const { f, fed, turns } = feeder({ pipelined: true, waiting: () => waiting });
    f.allow(10);
    await tick();
    waiting = true;
    f.readerUpdated(0, 0);
    expect(fed).toEqual([[0, 0]]);
    expect(turns).toHaveLength(1);
    f.readerUpdated(0, 1); // while paused: recorded, nothing enters, no second turn
    expect([fed.length, turns.length]).toEqual([1, 1]);
    waiting = false;
    turns[0]();
    expect(fed).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);
  });

  it('keeps pipelined readers within the window of the last finished batch, and feeds on as batches finish', async () => {
    const fed: [number, number][] = [];
    let feeder: Feeder | null = null;
    // reader 0 applies its update at once; reader 1 never does (a slow branch)
    feeder = new Feeder(
      0,
      100,
      true,
      2,
      (k, t) => {
        fed.push([k, t]);
        if (k === 0) queueMicrotask(() => feeder!.readerUpdated(0, t));
      },
      setImmediate,
      () => false,
      3,
    );
    feeder.allow(99);
    await new Promise((r) => setImmediate(r));
    // nothing finished yet (-1): reader 0 fed batches 0..2, reader 1 batch 0
    expect(fed.filter(([k]) => k === 0).map(([, t]) => t)).toEqual([0, 1, 2]);
    expect(fed.filter(([k]) => k === 1).map(([, t]) => t)).toEqual([0]);
    feeder.stepFinished(0);
    await new Promise((r) => setImmediate(r));
    expect(fed.filter(([k]) => k === 0).map(([, t]) => t)).toEqual([0, 1, 2, 3]);
  });

  it('feeds nothing once its stage is torn down from inside a batch (a recurrent training failed by a metrics$ subscriber)', async () => {
    // the trainer ends inside the step's delivery and frees the windows' buffers; the loop that fed
    // that step used to go on and read them ("Cannot read properties of undefined (reading 'step')", uncaught)
    const uncaught: unknown[] = [];
    const onError = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onError);
    try {
      const t = createTraining({
        topology: { cell: 'tanh', inputs: 9, hidden: 4, outputs: 8, truncation: 2, batch: 4, dni: true },
        data: copyTask({ sequences: 8, length: 3, width: 8, seed: 1 }),
        steps: 12,
      });
      t.metrics$.subscribe((m) => {
        if (m.batch === 3) throw new Error('boom');
      });
      await expect(t.run()).rejects.toThrow(/a metrics\$ subscriber's next threw Error: boom/);
      await new Promise((r) => setTimeout(r, 20));
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});
