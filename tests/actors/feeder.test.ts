/**
 * The Feeder on its own: which batch enters next, per layer that reads the data (a reader). As far
 * as the trainer allows; pipelined, once that reader has applied its update for the batch before;
 * not pipelined, once the batch before is finished in the stage; with turns for the thread.
 */
import { describe, expect, it } from 'vitest';
import { Feeder } from '../../actors/stageMachine.ts';

/** `waiting`: the turns are kept for the test to run; else each is taken at once (a slow run passes its 10 ms slices) */
function feeder(o: { first?: number; steps?: number; pipelined: boolean; readers?: number; waiting?: () => boolean }) {
  const fed: [number, number][] = [], turns: (() => void)[] = [];
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
    expect(fed).toEqual([[0, 0], [0, 1], [0, 2]]);
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
    expect(fed).toEqual([[0, 0], [1, 0]]);
    f.stepFinished(0); // finishing does not feed a pipelined reader
    expect(fed).toHaveLength(2);
    f.readerUpdated(1, 0);
    f.readerUpdated(1, 1);
    expect(fed.slice(2)).toEqual([[1, 1], [1, 2]]);
    f.readerUpdated(0, 0);
    expect(fed.at(-1)).toEqual([0, 1]);
  });

  it('never feeds past the last step, and starts a resumed training at its first batch', async () => {
    const { f, fed } = feeder({ first: 7, steps: 9, pipelined: true });
    f.allow(100);
    await tick();
    f.readerUpdated(0, 7);
    f.readerUpdated(0, 8);
    expect(fed).toEqual([[0, 7], [0, 8]]);
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
    expect(fed).toEqual([[0, 0], [0, 1], [0, 2]]);
  });
});
