/**
 * Optimisers: plain SGD stays the fused update, momentum and Adam match float64 re-computations,
 * their state round-trips (a resumed training equals an uninterrupted one, bit for bit), and the
 * topology resolves and validates them per layer, per synthesizer and as defaults.
 */
import { describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { DenseLayer } from '../../lib/dense.ts';
import { TopologyError } from '../../lib/errors.ts';
import { backend } from '../../lib/kernels/kernels.ts';
import { type Matrix, clone, zeros } from '../../lib/matrix.ts';
import { Optimizer, type OptimizerConfig } from '../../lib/optimizers.ts';
import { initParameters } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology } from '../../lib/topology.ts';
import { randomMatrix } from '../helpers.ts';

const adam = (lr: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8): OptimizerConfig => ({ kind: 'adam', lr, beta1, beta2, eps });

/** Run `steps` optimiser steps on one parameter, the gradient of step s being xᵀ d_s / B. */
function runSteps(config: OptimizerConfig, W: Matrix, xs: Matrix[], ds: Matrix[]): Matrix {
  const p = clone(W),
    opt = new Optimizer(config, [p]);
  xs.forEach((x, s) => {
    opt.outer(0, x, ds[s]);
    opt.step();
  });
  return p;
}

/** float64: the gradients xᵀ d / B of each step */
function gradients64(xs: Matrix[], ds: Matrix[]): Float64Array[] {
  return xs.map((x, s) => {
    const d = ds[s],
      g = new Float64Array(x.cols * d.cols);
    for (let i = 0; i < x.cols; i++)
      for (let j = 0; j < d.cols; j++) {
        let v = 0;
        for (let r = 0; r < x.rows; r++) v += x.data[r * x.cols + i] * d.data[r * d.cols + j];
        g[i * d.cols + j] = v / x.rows;
      }
    return g;
  });
}

describe('optimizers', () => {
  const rng = new Rng(21);
  const B = 5,
    n = 4,
    m = 3,
    steps = 6;
  const W = randomMatrix(rng, n, m);
  const xs = Array.from({ length: steps }, () => randomMatrix(rng, B, n));
  const ds = Array.from({ length: steps }, () => randomMatrix(rng, B, m));

  it('plain SGD is the fused GEMM `W -= lr xᵀd / B`, bit for bit', () => {
    const fused = clone(W);
    for (let s = 0; s < steps; s++) backend().matmulTA(xs[s], ds[s], fused, -0.3 / B, 1);
    const p = runSteps({ kind: 'sgd', lr: 0.3, momentum: 0 }, W, xs, ds);
    expect(Array.from(p.data)).toEqual(Array.from(fused.data));
    expect(new Optimizer({ kind: 'sgd', lr: 0.3, momentum: 0 }, [W]).gradients).toHaveLength(0);
  });

  it('momentum: v = μ v + g, p -= lr v (float64 re-computation)', () => {
    const lr = 0.1,
      mu = 0.9;
    const p = runSteps({ kind: 'sgd', lr, momentum: mu }, W, xs, ds);
    const want = Float64Array.from(W.data),
      v = new Float64Array(want.length);
    for (const g of gradients64(xs, ds)) for (let i = 0; i < want.length; i++) want[i] -= lr * (v[i] = mu * v[i] + g[i]);
    for (let i = 0; i < want.length; i++) expect(Math.abs(p.data[i] - want[i])).toBeLessThan(1e-5);
  });

  it('adam: bias-corrected moments, p -= lr m̂ / (√v̂ + ε) (float64 re-computation)', () => {
    const c = adam(0.01, 0.8, 0.99, 1e-6);
    const p = runSteps(c, W, xs, ds);
    const want = Float64Array.from(W.data),
      mm = new Float64Array(want.length),
      vv = new Float64Array(want.length);
    gradients64(xs, ds).forEach((g, s) => {
      const t = s + 1;
      for (let i = 0; i < want.length; i++) {
        mm[i] = 0.8 * mm[i] + 0.2 * g[i];
        vv[i] = 0.99 * vv[i] + 0.01 * g[i] * g[i];
        want[i] -= (0.01 * (mm[i] / (1 - 0.8 ** t))) / (Math.sqrt(vv[i] / (1 - 0.99 ** t)) + 1e-6);
      }
    });
    for (let i = 0; i < want.length; i++) expect(Math.abs(p.data[i] - want[i])).toBeLessThan(1e-6);
  });

  it("adam's first step moves every parameter by lr against its gradient's sign", () => {
    const p = runSteps(adam(0.002), W, xs.slice(0, 1), ds.slice(0, 1));
    const g = gradients64(xs, ds)[0];
    for (let i = 0; i < g.length; i++) expect(W.data[i] - p.data[i]).toBeCloseTo(0.002 * Math.sign(g[i]), 6);
  });

  it('state() and setState() resume a run exactly', () => {
    const c = adam(0.01);
    const whole = runSteps(c, W, xs, ds);
    const p = clone(W),
      first = new Optimizer(c, [p]);
    for (let s = 0; s < 3; s++) (first.outer(0, xs[s], ds[s]), first.step());
    const state = first.state();
    expect(state).toMatchObject({ kind: 'adam', step: 3 });
    expect(state.moments).toHaveLength(2);
    const second = new Optimizer(c, [p]);
    second.setState(state);
    for (let s = 3; s < steps; s++) (second.outer(0, xs[s], ds[s]), second.step());
    expect(Array.from(p.data)).toEqual(Array.from(whole.data));
    expect(() => new Optimizer({ kind: 'sgd', lr: 1, momentum: 0.5 }, [p]).setState(state)).toThrow(
      /adam state with 2 moment buffers does not fit this sgd optimizer/,
    );
    expect(() => new Optimizer(c, [zeros(2, 2)]).setState(state)).toThrow(/moment 0 has 12 values, the parameter is 2x2/);
  });

  it('a dense layer with plain SGD still updates W and b by the fused rule (the reference path)', () => {
    const spec = defineTopology({ inputs: n, batch: B, lr: 0.25, layers: [{ units: m, activation: 'tanh' }] }).nodes[0];
    expect(spec.optimizer).toBeUndefined();
    const layer = new DenseLayer('layer:0', spec, clone(W), zeros(1, m), B, 3);
    const h = clone(layer.forward(0, [xs[0]]));
    layer.update(0, [ds[0]]);
    const d = zeros(B, m),
      wantW = clone(W),
      wantB = zeros(1, m);
    backend().activationGrad('tanh', h, ds[0], d);
    backend().matmulTA(xs[0], d, wantW, -0.25 / B, 1);
    backend().meanRows(d, wantB, -0.25, 1);
    expect(Array.from(layer.W.data)).toEqual(Array.from(wantW.data));
    expect(Array.from(layer.b.data)).toEqual(Array.from(wantB.data));
  });
});

describe('optimizers in a topology', () => {
  const base = { inputs: 4, batch: 2 };

  it('resolve per layer > topology default, per synthesizer > synthesizer default; lr alone is plain SGD', () => {
    const t = defineTopology({
      ...base,
      optimizer: { kind: 'adam', lr: 1e-3 },
      synthesizer: { optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9 } },
      layers: [
        { units: 3, decoupled: true },
        { units: 3, lr: 0.2, decoupled: true, synthesizer: { lr: 0.01 } },
        { units: 2, optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.5 } },
      ],
    });
    expect(t.nodes[0].optimizer).toEqual({ kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(t.nodes[0].lr).toBe(1e-3);
    expect(t.synthesizers[0].optimizer).toEqual({ kind: 'sgd', lr: 0.05, momentum: 0.9 });
    expect(t.nodes[1]).toMatchObject({ lr: 0.2 });
    expect(t.nodes[1].optimizer).toBeUndefined();
    expect(t.synthesizers[1]).toMatchObject({ units: 3, conditioned: false, delay: 0, lr: 0.01, labels: 0 });
    expect(t.synthesizers[1].optimizer).toBeUndefined();
    expect(t.nodes[2].optimizer).toEqual({ kind: 'sgd', lr: 0.1, momentum: 0.5 });
    // sgd without momentum is plain SGD: the topology reads as one given by lr alone
    expect(defineTopology({ ...base, optimizer: { kind: 'sgd', lr: 0.3 }, layers: [{ units: 2 }] }).nodes[0]).toEqual(
      defineTopology({ ...base, lr: 0.3, layers: [{ units: 2 }] }).nodes[0],
    );
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it.each([
    [
      { lr: 0.1, optimizer: { kind: 'adam', lr: 1e-3 } },
      /topology: give lr \(plain SGD\) or optimizer, not both \(got lr 0.1 and optimizer/,
    ],
    [{ layers: [{ units: 2, lr: 0.1, optimizer: { kind: 'adam', lr: 1 } }] }, /layer 0: give lr \(plain SGD\) or optimizer, not both/],
    [
      { optimizer: { kind: 'rmsprop', lr: 1 } },
      /topology: optimizer must be \{ kind: 'sgd' \| 'adam', lr, ... \}, got \{"kind":"rmsprop","lr":1\}/,
    ],
    [{ layers: [{ units: 2, optimizer: { kind: 'adam', lr: -1 } }] }, /layer 0: optimizer lr must be a finite number >= 0, got -1/],
    [
      { layers: [{ units: 2, optimizer: { kind: 'adam', lr: 1, beta1: 1 } }] },
      /layer 0: optimizer beta1 must be a number in \[0, 1\), got 1/,
    ],
    [{ layers: [{ units: 2, optimizer: { kind: 'adam', lr: 1, eps: 0 } }] }, /layer 0: optimizer eps must be a finite number > 0, got 0/],
    [
      { layers: [{ units: 2, optimizer: { kind: 'sgd', lr: 1, beta1: 0.9 } }] },
      /layer 0: optimizer sgd has no option 'beta1' \(it takes lr, momentum\)/,
    ],
    [
      { layers: [{ units: 2, decoupled: true, synthesizer: { optimizer: { kind: 'sgd', lr: 1, momentum: 1.5 } } }] },
      /layer 0: synthesizer: optimizer momentum must be a number in \[0, 1\), got 1.5/,
    ],
    [
      { synthesizer: { lr: 0.1, optimizer: { kind: 'adam', lr: 1 } } },
      /topology: synthesizer: give lr \(plain SGD\) or optimizer, not both/,
    ],
  ])('refuse a bad optimizer by where it is and its values (%#)', (patch, message) => {
    const spec = { ...base, layers: [{ units: 2 }], ...patch };
    expect(() => defineTopology(spec as never)).toThrow(TopologyError);
    expect(() => defineTopology(spec as never)).toThrow(message);
  });
});

describe('optimizer state through trainings', () => {
  // the worker scheduler trains copies on worker threads and does not hand their optimiser states back yet
  it.each(['queue', 'async'] as const)(
    '%s: two trainings of n steps, the second continuing the first (params and optimizer state), equal one of 2n steps',
    async (scheduler) => {
      const rng = new Rng(5);
      const topology = defineTopology({
        inputs: 6,
        batch: 4,
        optimizer: { kind: 'adam', lr: 0.01 },
        synthesizer: { optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9 }, conditioned: true },
        layers: [{ units: 8, activation: 'relu', decoupled: true }, { units: 5, activation: 'tanh', decoupled: true }, { units: 3 }],
      });
      const data = { x: randomMatrix(rng, 16, 6), y: randomMatrix(rng, 16, 3) };
      const params = initParameters(topology, 3);
      const whole = await train({ topology, data, params, steps: 8, scheduler });
      const first = await train({ topology, data, params, steps: 4, scheduler });
      expect(first.optimizerState['layer:0']).toMatchObject({ kind: 'adam', step: 4 });
      expect(first.optimizerState['synthesizer:1']).toMatchObject({ kind: 'sgd', step: 4 });
      const second = await train({ topology, data, params: first.params, optimizerState: first.optimizerState, steps: 4, scheduler });
      for (const key of Object.keys(whole.params))
        expect(Array.from(second.params[key].data), key).toEqual(Array.from(whole.params[key].data));
      expect(Array.from(second.losses)).toEqual(Array.from(whole.losses.subarray(4)));
      // without the state the second half differs (Adam restarts its moments and bias correction)
      const fresh = await train({ topology, data, params: first.params, steps: 4, scheduler });
      expect(Array.from(fresh.params['layer0.W'].data)).not.toEqual(Array.from(whole.params['layer0.W'].data));
      const { ['layer:1']: _, ...missing } = first.optimizerState;
      await expect(async () => train({ topology, data, params: first.params, optimizerState: missing, steps: 1 })).rejects.toThrow(
        /optimizer state: 'layer:1' is missing/,
      );
    },
  );
});
