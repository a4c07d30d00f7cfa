import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';
import type { TrainingMetrics } from '../../actors/trainer/metrics.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { buildNetwork } from '../../lib/network.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const load = (name: string) => loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, `${name}.json`), 'utf8')) as ReferenceCase);

/** float64 cosine written out independently of lib/gradient-quality.ts */
function naiveCosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    aa += a[i] ** 2;
    bb += b[i] ** 2;
  }
  return aa && bb ? dot / Math.sqrt(aa) / Math.sqrt(bb) : 0;
}

/**
 * The cosine between each prediction and its target for synthesizer `layer`, seen from the bare
 * sequential loop (no actors, no streams): copies of g_hat taken when predicted, compared with
 * the target when it arrives.
 */
function sequentialCosines(name: string, steps: number, layer: number): number[] {
  const c = load(name);
  const net = buildNetwork(c.topology, c.initial);
  const s = net.synthesizers[layer];
  const predicted = new Map<number, Float32Array>();
  const cosines: number[] = [];
  const predict = s.predict.bind(s),
    target = s.target.bind(s);
  s.predict = (t: number, h: Matrix, y: Matrix | null) => {
    const g = predict(t, h, y);
    predicted.set(t, g.data.slice());
    return g;
  };
  s.target = (t: number, g: Matrix) => {
    cosines[t] = naiveCosine(predicted.get(t)!, g.data);
    return target(t, g);
  };
  trainSequential(net, c.data, steps);
  return cosines;
}

async function actorMetrics(name: string, steps: number, scheduler: 'queue' | 'async' | 'worker' = 'queue'): Promise<TrainingMetrics[]> {
  const c = load(name);
  const training = createTraining({ topology: c.topology, data: c.data, params: c.initial, steps, scheduler });
  // the stream completes with the training
  const all = lastValueFrom(training.metrics$.pipe(toArray()));
  await training.run();
  return all;
}

describe('metrics$', () => {
  it('gives the cosine between g_hat and the true gradient for the topmost interface, batch by batch', async () => {
    const steps = 40;
    const metrics = await actorMetrics('dni', steps); // interfaces after layers 0 and 1; layer 2 by backprop
    const expected = sequentialCosines('dni', steps, 1);
    expect(metrics.map((m) => m.batch)).toEqual(Array.from({ length: steps }, (_, t) => t));
    for (const m of metrics) {
      expect(Object.keys(m.cosine)).toEqual(['1']); // layer 0's target is bootstrapped: no true gradient there
      expect(m.cosine[1]).toBeCloseTo(expected[m.batch], 12);
    }
    expect(metrics[0].cosine[1]).toBe(0); // the zero-initialised synthesizer's first prediction
  });

  it('shows a conditioned synthesizer learning the true gradient', async () => {
    const metrics = await actorMetrics('cdni', 100);
    const mean = (ms: TrainingMetrics[]) => ms.reduce((s, m) => s + m.cosine[1], 0) / ms.length;
    expect(mean(metrics.slice(0, 10))).toBeLessThan(0.5);
    expect(mean(metrics.slice(80))).toBeGreaterThan(0.8);
  });

  it('takes the cosine from the head for a decoupled last layer, and under a refit delay', async () => {
    const all = await actorMetrics('dni-all', 12);
    const expectedAll = sequentialCosines('dni-all', 12, 2);
    for (const m of all) {
      expect(Object.keys(m.cosine)).toEqual(['2']);
      expect(m.cosine[2]).toBeCloseTo(expectedAll[m.batch], 12);
    }
    const delayed = await actorMetrics('dni-delay2', 12);
    const expectedDelayed = sequentialCosines('dni-delay2', 12, 1);
    for (const m of delayed) expect(m.cosine[1]).toBeCloseTo(expectedDelayed[m.batch], 12);
  });

  it('are the same under every scheduler, the cosine included (worker stages measure it where the gradients are)', async () => {
    const steps = 16;
    const view = (ms: TrainingMetrics[]) =>
      ms.map(({ batch, loss, accuracy, synthesizerLoss, cosine }) => ({ batch, loss, accuracy, synthesizerLoss, cosine }));
    const queue = view(await actorMetrics('dni-all', steps, 'queue'));
    expect(queue.every((m) => Object.keys(m.cosine).join() === '2')).toBe(true);
    expect(view(await actorMetrics('dni-all', steps, 'async'))).toEqual(queue);
    expect(view(await actorMetrics('dni-all', steps, 'worker'))).toEqual(queue);
  });

  it('has no cosine without an interface, and a positive, finite steps per second', async () => {
    const metrics = await actorMetrics('backprop', 5);
    expect(metrics).toHaveLength(5);
    for (const m of metrics) {
      expect(m.cosine).toEqual({});
      expect(Number.isFinite(m.stepsPerSecond) && m.stepsPerSecond > 0).toBe(true);
      expect(m.loss).toBeGreaterThan(0);
    }
  });

  it('measures no cosine when nobody subscribed before the training started', async () => {
    const c = load('dni');
    const cosineOf = vi.spyOn(Synthesizer.prototype, 'cosineOf');
    try {
      await createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 5 }).run();
      expect(cosineOf).not.toHaveBeenCalled();
      const watched = createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 5 });
      watched.metrics$.subscribe();
      await watched.run();
      expect(cosineOf).toHaveBeenCalledTimes(5); // layer 1's synthesizer, once a batch
    } finally {
      cosineOf.mockRestore();
    }
  });

  it('reads nothing of the stages: subscribing taps no edge (the cosine comes with the losses)', () => {
    const c = load('dni');
    const training = createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 3 });
    // the stage connects its edges on START: before that nothing observes them
    const edges = training.actor.getSnapshot().context.stages[0].getSnapshot().context.edges as ReadonlyMap<string, { observed: boolean }>;
    const target = edges.get('REFIT>synthesizer:1')!,
      prediction = edges.get('SYNTHETIC_GRADIENT>layer:1')!;
    const a = training.metrics$.subscribe();
    expect([target.observed, prediction.observed]).toEqual([false, false]);
    a.unsubscribe();
  });
});
