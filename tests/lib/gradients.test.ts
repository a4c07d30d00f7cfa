/**
 * Finite-difference gradient checks: each analytic gradient in lib/ against central
 * differences of an independent float64 re-computation of the same function.
 */
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, type Activation, activationGrad } from '../../lib/activations.ts';
import { DenseLayer } from '../../lib/dense.ts';
import { MseHead } from '../../lib/head.ts';
import { type Matrix, clone, fromArray } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { defineTopology } from '../../lib/topology.ts';
import { maxAbsDiff, numericGradient, randomMatrix } from '../helpers.ts';

const f64: Record<Activation, (z: number) => number> = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  relu: (z) => Math.max(z, 0),
  linear: (z) => z,
};

/** Largest deviation relative to the size of the expected gradient. */
const relErr = (got: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(got, want) / Math.max(1e-12, ...Array.from(want, Math.abs));

describe('gradient checks', () => {
  const rng = new Rng(3);

  it.each(ACTIVATIONS)("%s: f'(z) written from the output h matches the numeric derivative", (kind) => {
    // keep z away from relu's kink, where the derivative is undefined
    const z = Float64Array.from({ length: 50 }, () => (rng.next() < 0.5 ? -1 : 1) * rng.uniform(0.05, 3));
    const h = Float32Array.from(z, f64[kind]);
    const d = new Float32Array(z.length);
    activationGrad(kind, h, new Float32Array(z.length).fill(1), d);
    const numeric = z.map((v) => (f64[kind](v + 1e-6) - f64[kind](v - 1e-6)) / 2e-6);
    expect(maxAbsDiff(d, numeric)).toBeLessThan(1e-6);
  });

  it.each(['sigmoid', 'tanh', 'linear'] as const)(
    '%s dense layer: the W, b step and the upstream g_x are the gradients of sum(g * h)',
    (activation) => {
      const B = 4,
        nIn = 5,
        nOut = 3,
        lr = 0.1;
      // the second node of a chain: its source is a node, so it sends g_x upstream
      const spec = defineTopology({ inputs: 2, batch: B, lr, layers: [{ units: nIn }, { units: nOut, activation }] }).nodes[1];
      const W = randomMatrix(rng, nIn, nOut),
        b = randomMatrix(rng, 1, nOut, 0.1);
      const x = randomMatrix(rng, B, nIn),
        g = randomMatrix(rng, B, nOut);
      const w64 = Float64Array.from(W.data),
        b64 = Float64Array.from(b.data),
        x64 = Float64Array.from(x.data);
      const objective = () => {
        let s = 0;
        for (let i = 0; i < B; i++)
          for (let j = 0; j < nOut; j++) {
            let z = b64[j];
            for (let p = 0; p < nIn; p++) z += x64[i * nIn + p] * w64[p * nOut + j];
            s += g.data[i * nOut + j] * f64[activation](z);
          }
        return s;
      };
      const layer = new DenseLayer('layer:1', spec, clone(W), clone(b), B, 3);
      layer.forward(0, [x]);
      const gx = layer.update(0, [g])[0]!;
      const stepW = W.data.map((v, i) => (v - layer.W.data[i]) / (lr / B));
      const stepB = b.data.map((v, i) => (v - layer.b.data[i]) / (lr / B));
      expect(relErr(stepW, numericGradient(objective, w64))).toBeLessThan(1e-4);
      expect(relErr(stepB, numericGradient(objective, b64))).toBeLessThan(1e-4);
      expect(relErr(gx.data, numericGradient(objective, x64))).toBeLessThan(1e-4);
    },
  );

  it('conditioned synthesizer: the refit step on M, c, N is the gradient of 0.5 |h M + c + y N - target|²', () => {
    const B = 3,
      u = 4,
      labels = 2,
      lr = 0.05;
    const spec = { units: u, conditioned: true, delay: 0, lr, labels };
    const M = randomMatrix(rng, u, u),
      c = randomMatrix(rng, 1, u),
      N = randomMatrix(rng, labels, u);
    const h = randomMatrix(rng, B, u),
      y = randomMatrix(rng, B, labels),
      target = randomMatrix(rng, B, u);
    const m64 = Float64Array.from(M.data),
      c64 = Float64Array.from(c.data),
      n64 = Float64Array.from(N.data);
    const objective = () => {
      let s = 0;
      for (let i = 0; i < B; i++)
        for (let j = 0; j < u; j++) {
          let v = c64[j] - target.data[i * u + j];
          for (let p = 0; p < u; p++) v += h.data[i * u + p] * m64[p * u + j];
          for (let p = 0; p < labels; p++) v += y.data[i * labels + p] * n64[p * u + j];
          s += 0.5 * v * v;
        }
      return s;
    };
    const s = new Synthesizer('synthesizer:0', spec, clone(M), clone(c), clone(N), B);
    s.predict(0, h, y);
    s.target(0, target);
    s.drain();
    const step = (before: Matrix, after: Matrix) => before.data.map((v, i) => (v - after.data[i]) / (lr / B));
    expect(relErr(step(M, s.M), numericGradient(objective, m64))).toBeLessThan(1e-4);
    expect(relErr(step(c, s.c), numericGradient(objective, c64))).toBeLessThan(1e-4);
    expect(relErr(step(N, s.N!), numericGradient(objective, n64))).toBeLessThan(1e-4);
  });

  it('mse head: the per-example gradient is B times the gradient of the batch loss', () => {
    const B = 5,
      n = 4;
    const yHat = randomMatrix(rng, B, n),
      y = randomMatrix(rng, B, n);
    const p64 = Float64Array.from(yHat.data);
    const objective = () => p64.reduce((s, v, i) => s + 0.5 * (v - y.data[i]) ** 2, 0) / B;
    const { loss, gradient } = new MseHead('head', { loss: 'mse', width: n, weight: 1 }, B, 3).evaluate(0, yHat, y);
    expect(loss).toBeCloseTo(objective(), 6);
    expect(
      relErr(
        gradient.data.map((v) => v / B),
        numericGradient(objective, p64),
      ),
    ).toBeLessThan(1e-5);
  });

  it('a synthesizer with delay d predicts batch t from exactly the refits of batches <= t-1-d', () => {
    const B = 2,
      u = 3;
    const make = (delay: number) =>
      new Synthesizer(
        'synthesizer:0',
        { units: u, conditioned: false, delay, lr: 0.5, labels: 0 },
        fromArray(u, u, new Float32Array(u * u)),
        fromArray(1, u, [0, 0, 0]),
        null,
        B,
      );
    const h = randomMatrix(rng, B, u),
      g = randomMatrix(rng, B, u);
    const s = make(2);
    expect(Array.from(s.predict(0, h, null).data)).toEqual(new Array(B * u).fill(0));
    s.target(0, g);
    // batches 1 and 2 may not see batch 0's refit yet
    expect(Array.from(s.predict(1, h, null).data)).toEqual(new Array(B * u).fill(0));
    expect(Array.from(s.predict(2, h, null).data)).toEqual(new Array(B * u).fill(0));
    expect(s.canPredict(3)).toBe(true);
    s.target(2, g);
    expect(s.canPredict(4)).toBe(false); // batch 1's target has not arrived
    s.target(1, g);
    expect(s.canPredict(4)).toBe(true);
    // batch 3 sees exactly one refit (batch 0's): the same as a delay-0 synthesizer's second prediction
    const d0 = make(0);
    d0.predict(0, h, null);
    d0.target(0, g);
    expect(Array.from(s.predict(3, h, null).data)).toEqual(Array.from(d0.predict(1, h, null).data));
  });
});
