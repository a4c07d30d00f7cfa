/**
 * Finite-difference checks of the recurrent maths against an independent float64 re-computation:
 * the window objective `J = (1/B) Σ_b [ Σ_t m_tb ℓ_tb + ĝ_b · s_last,b + weight · 0.5 |h_0,b A + a - ĝ_b|² ]`
 * (readout loss, the synthetic gradient's linear term at the boundary, the aux loss). With plain SGD
 * at lr = 1 a parameter's step is ∂J/∂θ, and δ_in is B ∂J/∂s_in (per-example gradients). Central
 * differences with eps = 1e-6 on float64 copies; the float32 maths agree to ~1e-6 relative to the
 * largest gradient (float32 rounding of p - step), so 1e-4 leaves room without hiding an error (a
 * wrong term is off by O(1)).
 */
import { describe, expect, it } from 'vitest';
import { RecurrentCore } from '../../lib/recurrent/core.ts';
import { type RecurrentParameters, initRecurrentParameters } from '../../lib/recurrent/params.ts';
import { RecurrentHead } from '../../lib/recurrent/head.ts';
import { RecurrentSynthesizer } from '../../lib/recurrent/synthesizer.ts';
import { type Cell, type RecurrentLoss, type RecurrentTopology, defineRecurrent } from '../../lib/recurrent/topology.ts';
import { type Matrix, clone, fromArray } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { maxAbsDiff, numericGradient, randomMatrix } from '../helpers.ts';

const relErr = (got: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(got, want) / Math.max(1e-12, ...Array.from(want, Math.abs));
const sig = (z: number) => 1 / (1 + Math.exp(-z));

interface Window {
  n: number;
  x: Float64Array; // n·B × in, step-major
  y: Float64Array;
  m: Float64Array;
}

/** J of one window in float64, for stacked layers of one cell, from per-layer input states and ĝ. */
function objective(
  t: RecurrentTopology,
  P: Record<string, Float64Array>,
  w: Window,
  sIn: Float64Array[],
  gHat: (Float64Array | null)[],
): number {
  const B = t.batch,
    lstm = t.cell === 'lstm';
  let input = w.x,
    inW = t.inputs,
    J = 0;
  const tops: Float64Array[] = [];
  t.layers.forEach((l, li) => {
    const H = l.units,
      G = lstm ? 4 * H : H,
      S = l.state,
      Wx = P[`${l.key}.Wx`],
      Wh = P[`${l.key}.Wh`],
      b = P[`${l.key}.b`];
    const out = new Float64Array(w.n * B * H);
    const h = new Float64Array(B * H),
      c = new Float64Array(B * H);
    for (let e = 0; e < B; e++)
      for (let j = 0; j < H; j++) ((h[e * H + j] = sIn[li][e * S + j]), (c[e * H + j] = lstm ? sIn[li][e * S + H + j] : 0));
    for (let tau = 0; tau < w.n; tau++) {
      const hn = new Float64Array(B * H);
      for (let e = 0; e < B; e++) {
        const z = new Float64Array(G);
        for (let g = 0; g < G; g++) {
          let v = b[g];
          for (let p = 0; p < inW; p++) v += input[(tau * B + e) * inW + p] * Wx[p * G + g];
          for (let p = 0; p < H; p++) v += h[e * H + p] * Wh[p * G + g];
          z[g] = v;
        }
        for (let j = 0; j < H; j++) {
          if (!lstm) hn[e * H + j] = Math.tanh(z[j]);
          else {
            const cn = sig(z[H + j]) * c[e * H + j] + sig(z[j]) * Math.tanh(z[3 * H + j]);
            c[e * H + j] = cn;
            hn[e * H + j] = sig(z[2 * H + j]) * Math.tanh(cn);
          }
        }
      }
      h.set(hn);
      out.set(hn, tau * B * H);
    }
    const gh = gHat[li];
    if (gh)
      for (let e = 0; e < B; e++)
        for (let j = 0; j < H; j++) J += (gh[e * S + j] * h[e * H + j] + (lstm ? gh[e * S + H + j] * c[e * H + j] : 0)) / B;
    if (gh && l.aux) {
      const A = P[`${li === 0 ? 'aux' : `aux${li}`}.W`],
        a = P[`${li === 0 ? 'aux' : `aux${li}`}.b`];
      for (let e = 0; e < B; e++)
        for (let s = 0; s < S; s++) {
          let v = a[s] - gh[e * S + s];
          for (let p = 0; p < H; p++) v += out[e * H + p] * A[p * S + s];
          J += (l.aux.weight * 0.5 * v * v) / B;
        }
    }
    tops.push(out);
    input = out;
    inW = H;
  });
  const top = tops[tops.length - 1],
    H = t.layers[t.layers.length - 1].units,
    O = t.outputs,
    Wy = P['readout.W'],
    by = P['readout.b'];
  for (let r = 0; r < w.n * B; r++) {
    const o = new Float64Array(O);
    for (let q = 0; q < O; q++) {
      let v = by[q];
      for (let p = 0; p < H; p++) v += top[r * H + p] * Wy[p * O + q];
      o[q] = v;
    }
    let l = 0;
    if (t.loss === 'sigmoid-cross-entropy')
      for (let q = 0; q < O; q++) l += Math.max(o[q], 0) - o[q] * w.y[r * O + q] + Math.log1p(Math.exp(-Math.abs(o[q])));
    else if (t.loss === 'mse') for (let q = 0; q < O; q++) l += 0.5 * (o[q] - w.y[r * O + q]) ** 2;
    else {
      const mx = Math.max(...o),
        lse = Math.log(o.reduce((s, v) => s + Math.exp(v - mx), 0)) + mx;
      for (let q = 0; q < O; q++) l -= w.y[r * O + q] * (o[q] - lse);
    }
    J += (w.m[r] * l) / B;
  }
  return J;
}

function randomWindow(rng: Rng, t: RecurrentTopology, n: number, loss: RecurrentLoss): Window {
  const B = t.batch,
    O = t.outputs;
  const y = new Float64Array(n * B * O);
  for (let r = 0; r < n * B; r++) {
    if (loss === 'softmax-cross-entropy') y[r * O + Math.floor(rng.next() * O)] = 1;
    else for (let q = 0; q < O; q++) y[r * O + q] = loss === 'mse' ? rng.uniform(-1, 1) : rng.next() < 0.5 ? 0 : 1;
  }
  return {
    n,
    x: Float64Array.from({ length: n * B * t.inputs }, () => rng.uniform(-1, 1)),
    y,
    m: Float64Array.from({ length: n * B }, () => (rng.next() < 0.7 ? 1 : 0)),
  };
}

/** Run one window through the float32 objects (plain SGD at lr 1); returns the steps and δ_in per layer. */
function runWindow(t: RecurrentTopology, params: RecurrentParameters, w: Window, sIn: Float64Array[], gHat: (Float64Array | null)[]) {
  const own: RecurrentParameters = Object.fromEntries(Object.entries(params).map(([k, m]) => [k, clone(m)]));
  const layers = t.layers.map((l) => new RecurrentCore(t, l, own));
  const readout = new RecurrentHead(t, own);
  const B = t.batch;
  // step 0 primes the carried state with sIn: run a throwaway window, then overwrite the carried state
  layers.forEach((layer, i) => layer.restore({ ...layer.snapshot(), carried: Float32Array.from(sIn[i]), step: 1 }));
  const outs: Matrix[] = [];
  let input = fromArray(w.n * B, t.inputs, w.x);
  for (const layer of layers) {
    outs.push(layer.forwardWindow(1, input, false));
    input = outs[outs.length - 1];
  }
  readout.forward(1, outs[outs.length - 1], fromArray(w.n * B, t.outputs, w.y), Float32Array.from(w.m));
  let above: Matrix = readout.backward(1);
  const deltas: Float32Array[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const g = gHat[i] ? fromArray(B, t.layers[i].state, gHat[i]!) : null;
    deltas[i] = layers[i].backwardWindow(1, g, above).data.slice();
    if (i > 0) above = clone(layers[i].inputGradient());
  }
  layers.forEach((l) => l.updateParameters(1));
  readout.updateParameters(1);
  const steps: Record<string, Float64Array> = {};
  for (const k of Object.keys(params)) steps[k] = Float64Array.from(params[k].data, (v, i) => v - own[k].data[i]);
  return { steps, deltas };
}

function check(cell: Cell, hidden: number[], opts: { loss?: RecurrentLoss; aux?: boolean; n?: number; seed?: number } = {}) {
  const rng = new Rng(opts.seed ?? 5),
    n = opts.n ?? 4;
  const t = defineRecurrent({
    cell,
    inputs: 3,
    hidden,
    outputs: 3,
    truncation: n,
    batch: 3,
    lr: 1,
    loss: opts.loss ?? 'sigmoid-cross-entropy',
    dni: opts.aux ? { aux: { weight: 0.7 } } : false,
  });
  const params = initRecurrentParameters(t, 2);
  // non-zero biases and aux heads, so every term is exercised
  for (const [k, m] of Object.entries(params))
    if (/\.(b|c)$|^aux/.test(k)) for (let i = 0; i < m.data.length; i++) m.data[i] += rng.uniform(-0.3, 0.3);
  const w = randomWindow(rng, t, n, t.loss);
  const sIn = t.layers.map((l) => Float64Array.from({ length: t.batch * l.state }, () => rng.uniform(-0.8, 0.8)));
  const gHat = t.layers.map((l) => Float64Array.from({ length: t.batch * l.state }, () => rng.uniform(-0.5, 0.5)));
  const { steps, deltas } = runWindow(t, params, w, sIn, gHat);
  const P = Object.fromEntries(Object.entries(params).map(([k, m]) => [k, Float64Array.from(m.data)]));
  const J = () => objective(t, P, w, sIn, gHat);
  const keys = Object.keys(params).filter((k) => !/^synth/.test(k));
  for (const k of keys) expect(relErr(steps[k], numericGradient(J, P[k])), k).toBeLessThan(1e-4);
  t.layers.forEach((_, i) => {
    const numeric = numericGradient(J, sIn[i]).map((v) => v * t.batch);
    expect(relErr(deltas[i], numeric), `δ_in of layer ${i}`).toBeLessThan(1e-4);
  });
  return keys;
}

describe('recurrent gradient checks (finite differences, float64 re-computation)', () => {
  it('tanh cell: Wx, Wh, b, readout and δ_in, with ĝ entering at h_last', () => {
    expect(check('tanh', [5])).toEqual(['core.Wx', 'core.Wh', 'core.b', 'readout.W', 'readout.b']);
  });

  it('LSTM cell: every gate block, the readout, and δ_in = [dh | dc], with ĝ on h and c', () => {
    check('lstm', [4]);
  });

  it('stacked layers (tanh and LSTM): each layer and the gradient passed between them', () => {
    expect(check('tanh', [4, 3])).toContain('core1.Wh');
    check('lstm', [3, 4], { seed: 9 });
  });

  it('one-step windows and the other readout losses (mse, softmax cross-entropy)', () => {
    check('tanh', [4], { n: 1 });
    check('lstm', [3], { loss: 'mse' });
    check('tanh', [4], { loss: 'softmax-cross-entropy' });
  });

  it('aux head: its own step and its gradient into the core at h_0', () => {
    expect(check('lstm', [4], { aux: true })).toEqual(expect.arrayContaining(['aux.W', 'aux.b']));
    check('tanh', [3, 4], { aux: true, seed: 11 });
  });

  it.each(['tanh', 'lstm'] as const)(
    '%s: a discount other than the scale: the core steps with scale · ĝ, δ_in carries discount · ĝ',
    (cell) => {
      const rng = new Rng(8),
        n = 3,
        s = 0.1,
        d = 0.7;
      const make = (synthesizer: { scale: number; discount?: number }) =>
        defineRecurrent({ cell, inputs: 3, hidden: 4, outputs: 3, truncation: n, batch: 3, lr: 1, dni: { synthesizer } });
      const [ts, td, tsd] = [make({ scale: s }), make({ scale: d }), make({ scale: s, discount: d })];
      expect(tsd.layers[0].synthesizer).toMatchObject({ scale: s, discount: d });
      expect(ts.layers[0].synthesizer!.discount).toBe(s);
      const params = initRecurrentParameters(ts, 3);
      const w = randomWindow(rng, ts, n, ts.loss);
      const sIn = [Float64Array.from({ length: 3 * ts.layers[0].state }, () => rng.uniform(-0.8, 0.8))];
      const gHat = [Float64Array.from({ length: 3 * ts.layers[0].state }, () => rng.uniform(-2, 2))];
      const [a, b, c] = [ts, td, tsd].map((t) => runWindow(t, params, w, sIn, gHat));
      for (const k of ['core.Wx', 'core.Wh', 'core.b', 'readout.W']) expect(relErr(c.steps[k], a.steps[k]), k).toBeLessThan(1e-6);
      expect(relErr(c.deltas[0], b.deltas[0])).toBeLessThan(1e-5);
      expect(relErr(c.deltas[0], a.deltas[0])).toBeGreaterThan(1e-2);
    },
  );

  it.each([[[]], [[6]], [[5, 4]]])('synthesizer refit (hidden %j): the step is the gradient of 0.5 mean_rows |ĝ - target|²', (hidden) => {
    const rng = new Rng(4),
      R = 5,
      S = 4,
      lr = 1;
    const spec = {
      units: S,
      optimizer: { kind: 'sgd' as const, lr, momentum: 0 },
      hidden,
      activation: 'tanh' as const,
      clip: null,
      scale: 1,
      discount: 1,
      delay: 0,
    };
    const params: RecurrentParameters = {
      'synth.M': randomMatrix(rng, hidden.length ? hidden[hidden.length - 1] : S, S),
      'synth.c': randomMatrix(rng, 1, S),
    };
    hidden.forEach((wd, j) => {
      params[`synth.hidden${j}.W`] = randomMatrix(rng, j === 0 ? S : hidden[j - 1], wd);
      params[`synth.hidden${j}.b`] = randomMatrix(rng, 1, wd, 0.2);
    });
    const before = Object.fromEntries(Object.entries(params).map(([k, m]) => [k, clone(m)]));
    const input = randomMatrix(rng, R, S),
      target = randomMatrix(rng, R, S);
    const s = new RecurrentSynthesizer('synth', spec, params, R);
    let loss = NaN;
    s.onLoss = (_, l) => (loss = l);
    s.refit(3, input, target);
    const P = Object.fromEntries(Object.entries(before).map(([k, m]) => [k, Float64Array.from(m.data)]));
    const J = () => {
      let total = 0;
      for (let r = 0; r < R; r++) {
        let a = Array.from(input.data.subarray(r * S, (r + 1) * S));
        hidden.forEach((wd, j) => {
          const W = P[`synth.hidden${j}.W`],
            b = P[`synth.hidden${j}.b`];
          a = Array.from({ length: wd }, (_, q) => Math.tanh(a.reduce((acc, v, p) => acc + v * W[p * wd + q], b[q])));
        });
        for (let q = 0; q < S; q++) {
          const g = a.reduce((acc, v, p) => acc + v * P['synth.M'][p * S + q], P['synth.c'][q]) - target.data[r * S + q];
          total += 0.5 * g * g;
        }
      }
      return total / R;
    };
    expect(loss).toBeCloseTo(J(), 5);
    for (const k of Object.keys(params)) {
      const step = Float64Array.from(before[k].data, (v, i) => (v - params[k].data[i]) / lr);
      expect(relErr(step, numericGradient(J, P[k])), k).toBeLessThan(1e-4);
    }
  });
});
