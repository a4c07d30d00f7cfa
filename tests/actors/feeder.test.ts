/**
 * The stage's feeder: two layers on one stage that read the data, on independent branches, feed
 * as their own updates allow, but neither runs more than the stage's step window past the last
 * batch finished there (a stage counts that many batches at once: past it, a worker stage failed
 * with "batch 10 finished somewhere while batch 0 is not finished everywhere here"); and a torn-down
 * stage feeds nothing more.
 */
import { describe, expect, it } from 'vitest';
import { Feeder } from '../../actors/stageFeeder.ts';
import { createTraining } from '../../actors/training.ts';
import { copyTask } from '../../lib/recurrent/index.ts';

describe('Feeder', () => {
  it('keeps pipelined readers within the window of the last finished batch, and feeds on as batches finish', async () => {
    const fed: [number, number][] = [];
    let feeder: Feeder | null = null;
    // reader 0 applies its update at once; reader 1 never does (a slow branch)
    feeder = new Feeder(0, 100, true, 2, (k, t) => {
      fed.push([k, t]);
      if (k === 0) queueMicrotask(() => feeder!.readerUpdated(0, t));
    }, setImmediate, () => false, 3);
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
      const t = createTraining({ topology: { cell: 'tanh', inputs: 9, hidden: 4, outputs: 8, truncation: 2, batch: 4, dni: true }, data: copyTask({ sequences: 8, length: 3, width: 8, seed: 1 }), steps: 12 });
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
