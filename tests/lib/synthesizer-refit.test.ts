/**
 * A refit reuses the prediction it refits when nothing changed since (delay 0: the refit of batch t
 * comes before any other refit): g_hat and the hidden activations are what a recomputation gives,
 * so the parameters are the same bits as when every refit recomputes them. With delay > 0 other
 * refits come between, and every refit recomputes.
 */
import { describe, expect, it } from 'vitest';
import { oneHot } from '../../lib/data.ts';
import type { KernelBackend } from '../../lib/kernels/kernels.ts';
import { fromArray } from '../../lib/matrix.ts';
import { type Network, buildNetwork } from '../../lib/network.ts';
import { initParameters } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { type SynthesizerSpec, defineTopology } from '../../lib/topology.ts';

interface Internals {
  kernels: KernelBackend;
  lastPrediction: { batch: number };
}

/**
 * Count g_hat evaluations (each multiplies by the output layer's M exactly once); with
 * `recompute`, forget every prediction so each refit recomputes.
 */
function instrument(net: Network, recompute: boolean): { evaluations: number } {
  const counter = { evaluations: 0 };
  for (const s of net.synthesizers) {
    const inner = s as unknown as Internals;
    const k = inner.kernels,
      counting = Object.create(k) as KernelBackend;
    counting.matmul = (a, b, out, alpha, beta) => {
      if (b === s.M) counter.evaluations++;
      return k.matmul(a, b, out, alpha, beta);
    };
    inner.kernels = counting;
    const predict = s.predict.bind(s);
    s.predict = (batch, h, y) => {
      const g = predict(batch, h, y);
      if (recompute) inner.lastPrediction.batch = -1;
      return g;
    };
  }
  return counter;
}

const CASES: [string, SynthesizerSpec][] = [
  ['linear', {}],
  ['conditioned', { conditioned: true }],
  ['MLP, conditioned', { conditioned: true, hidden: [6, 5] }],
  ['linear, delay 2', { delay: 2 }],
];

describe('refits reuse the prediction they refit', () => {
  const rng = new Rng(9),
    rows = 40,
    classes = Array.from({ length: rows }, () => Math.floor(rng.uniform(0, 3)));
  const data = {
    x: fromArray(
      rows,
      5,
      Array.from({ length: rows * 5 }, () => rng.uniform(-1, 1)),
    ),
    y: oneHot(classes, 3),
  };

  it.each(CASES)('%s: the same bits as recomputing, with fewer evaluations only at delay 0', (_, synthesizer) => {
    const topology = defineTopology({
      inputs: 5,
      batch: 8,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 0.01 },
      synthesizer: { ...synthesizer, optimizer: { kind: 'adam', lr: 0.01 } },
      layers: [{ units: 7, activation: 'tanh', decoupled: true }, { units: 6, activation: 'relu', decoupled: true }, { units: 3 }],
    });
    const initial = initParameters(topology, 4);
    const steps = 30,
      runs = [true, false].map((recompute) => {
        const net = buildNetwork(topology, initial),
          count = instrument(net, recompute);
        const history = trainSequential(net, data, steps);
        return { net, count, history };
      });
    const [recomputed, reused] = runs;
    for (const [k, m] of Object.entries(recomputed.net.params)) {
      expect(
        Buffer.from(reused.net.params[k].data.buffer, reused.net.params[k].data.byteOffset, m.data.byteLength).equals(
          Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength),
        ),
        k,
      ).toBe(true);
    }
    expect(Array.from(reused.history.synthesizerLosses)).toEqual(Array.from(recomputed.history.synthesizerLosses));
    // two synthesizers: a prediction per step each, and a refit per step each
    expect(recomputed.count.evaluations).toBe(2 * steps * 2);
    expect(reused.count.evaluations).toBe(synthesizer.delay ? 2 * steps * 2 : 2 * steps);
  });
});
