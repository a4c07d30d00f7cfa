/**
 * A training trains on the data as they were when it was created, under every scheduler (issue
 * 24): the worker scheduler always copied them at the start while queue and async read them live,
 * so a caller who overwrote `x` mid-run got a DivergenceError under one and nothing under the
 * other. Now every scheduler copies once, at createTraining, and the run is a function of what was
 * passed: overwriting x, y or a mask mid-run gives the same bits as leaving them alone.
 */
import { describe, expect, it } from 'vitest';
import { type TrainingResult, createTraining } from '../../actors/trainer/training.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { loadCase } from '../../lib/reference.ts';
import { tinyCase } from '../../bench/fuzz/_cases.ts';

const SCHEDULERS = ['queue', 'async', 'worker'] as const;

function expectSameBits(a: TrainingResult, b: TrainingResult): void {
  expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
  for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].data), k).toEqual(Array.from(a.params[k].data));
}

describe('the data are copied once, at createTraining, under every scheduler', () => {
  const c = loadCase(tinyCase(4, { delay: 1, steps: 40 }));
  it.each(SCHEDULERS)('%s: overwriting x and y mid-run changes nothing', async (scheduler) => {
    const untouched = await createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 40, scheduler }).run();
    const data = {
      x: { ...c.data.x, data: c.data.x.data.slice() },
      y: { ...(c.data.y as typeof c.data.x), data: (c.data.y as typeof c.data.x).data.slice() },
    };
    const training = createTraining({ topology: c.topology, data, params: c.initial, steps: 40, scheduler });
    // before the run, and again during it
    data.x.data.fill(NaN);
    training.metrics$.subscribe((m) => m.batch === 3 && (data.x.data.fill(1e30), data.y.data.fill(NaN)));
    expectSameBits(untouched, await training.run());
  });

  it.each(SCHEDULERS)('%s: overwriting recurrent sequences (x, y and the mask) mid-run changes nothing', async (scheduler) => {
    const spec = { cell: 'tanh', inputs: 9, hidden: 6, outputs: 8, truncation: 3, batch: 4, dni: true } as const;
    const seqs = () => copyTask({ sequences: 8, length: 4, width: 8, seed: 5 });
    const untouched = await createTraining({ topology: spec, data: seqs(), steps: 12, seed: 3, scheduler }).run();
    const data = seqs();
    const training = createTraining({ topology: spec, data, steps: 12, seed: 3, scheduler });
    training.metrics$.subscribe((m) => m.batch === 2 && (data.x.data.fill(NaN), data.y.data.fill(0.5), data.mask.data.fill(0)));
    expectSameBits(untouched, await training.run());
  });
});
