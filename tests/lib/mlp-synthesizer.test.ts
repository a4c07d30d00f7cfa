/**
 * MLP synthesizers: the refit step is the gradient of the refit loss (finite differences through
 * the hidden layers, conditioned and not), the output layer starts at zero, the delay semantics
 * are the linear synthesizer's, and the parameter keys and their initial values are documented ones.
 */
import { describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { TopologyError } from '../../lib/errors.ts';
import { type Matrix, clone, zeros } from '../../lib/matrix.ts';
import { buildNetwork } from '../../lib/network.ts';
import { initParameters, parameterShapes } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import type { GraphSynthesizer } from '../../lib/graph.ts';
import { defineTopology } from '../../lib/topology.ts';
import { maxAbsDiff, numericGradient, randomMatrix } from '../helpers.ts';

const relErr = (got: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(got, want) / Math.max(1e-12, ...Array.from(want, Math.abs));

function mlpSpec(conditioned: boolean, hidden: number[], lr: number, delay = 0): GraphSynthesizer {
  return defineTopology({
    inputs: 2,
    batch: 3,
    labels: 2,
    synthesizer: { lr, hidden, activation: 'tanh', conditioned, delay },
    layers: [{ units: 4, decoupled: true }, { units: 2 }],
  }).synthesizers[0];
}

describe('MLP synthesizer', () => {
  const rng = new Rng(8);

  it.each([false, true])(
    'conditioned %s: the refit step on every parameter is the gradient of 0.5 |g_hat - target|² (finite differences)',
    (conditioned) => {
      const B = 3,
        u = 4,
        labels = 2,
        widths = [5, 3],
        lr = 0.05;
      const spec = mlpSpec(conditioned, widths, lr);
      const layers = [
        { W: randomMatrix(rng, u, 5, 0.8), b: randomMatrix(rng, 1, 5, 0.3), N: conditioned ? randomMatrix(rng, labels, 5, 0.8) : null },
        { W: randomMatrix(rng, 5, 3, 0.8), b: randomMatrix(rng, 1, 3, 0.3), N: null },
      ];
      const M = randomMatrix(rng, 3, u),
        c = randomMatrix(rng, 1, u);
      const h = randomMatrix(rng, B, u),
        y = randomMatrix(rng, B, labels),
        target = randomMatrix(rng, B, u);
      // float64 copies of every parameter, in one list, and the objective computed from them alone
      const named: [string, Matrix][] = [
        ['W0', layers[0].W],
        ['b0', layers[0].b],
        ['W1', layers[1].W],
        ['b1', layers[1].b],
        ['M', M],
        ['c', c],
      ];
      if (conditioned) named.push(['N0', layers[0].N!]);
      const p64 = Object.fromEntries(named.map(([k, m]) => [k, Float64Array.from(m.data)]));
      const dense = (a: Float64Array, rows: number, n: number, W: Float64Array, b: Float64Array, k: number) => {
        const out = new Float64Array(rows * k);
        for (let i = 0; i < rows; i++)
          for (let j = 0; j < k; j++) {
            let v = b[j];
            for (let q = 0; q < n; q++) v += a[i * n + q] * W[q * k + j];
            out[i * k + j] = v;
          }
        return out;
      };
      const objective = () => {
        let z0 = dense(Float64Array.from(h.data), B, u, p64.W0, p64.b0, 5);
        if (conditioned) {
          const yN = dense(Float64Array.from(y.data), B, labels, p64.N0, new Float64Array(5), 5);
          z0 = z0.map((v, i) => v + yN[i]);
        }
        const a0 = z0.map(Math.tanh),
          a1 = dense(a0, B, 5, p64.W1, p64.b1, 3).map(Math.tanh);
        const g = dense(a1, B, 3, p64.M, p64.c, u);
        return g.reduce((s, v, i) => s + 0.5 * (v - target.data[i]) ** 2, 0);
      };
      const s = new Synthesizer(
        'synthesizer:0',
        spec,
        clone(M),
        clone(c),
        null,
        B,
        layers.map((l) => ({ W: clone(l.W), b: clone(l.b), N: l.N && clone(l.N) })),
      );
      s.predict(0, h, y);
      s.target(0, target);
      s.drain();
      const after: Record<string, Matrix> = { W0: s.hidden[0].W, b0: s.hidden[0].b, W1: s.hidden[1].W, b1: s.hidden[1].b, M: s.M, c: s.c };
      if (conditioned) after.N0 = s.hidden[0].N!;
      for (const [k, before] of named) {
        const step = before.data.map((v, i) => (v - after[k].data[i]) / (lr / B));
        expect(relErr(step, numericGradient(objective, p64[k])), k).toBeLessThan(2e-4);
      }
    },
  );

  it('predicts zero until its first refit (zero-initialised output layer), then sees refits as the delay allows', () => {
    const B = 3,
      u = 4;
    const topology = defineTopology({
      inputs: 2,
      batch: B,
      synthesizer: { lr: 0.5, hidden: [6], delay: 1 },
      layers: [{ units: u, decoupled: true }, { units: 2 }],
    });
    const make = (delay: number) => {
      const net = buildNetwork(
        defineTopology({ ...topologySpec(topology), synthesizer: { lr: 0.5, hidden: [6], delay } }),
        initParameters(topology, 4),
      );
      return net.synthesizers[0];
    };
    const h = randomMatrix(rng, B, u),
      g = randomMatrix(rng, B, u);
    const s = make(1);
    expect(Array.from(s.predict(0, h, null).data)).toEqual(new Array(B * u).fill(0));
    s.target(0, g);
    expect(Array.from(s.predict(1, h, null).data)).toEqual(new Array(B * u).fill(0));
    s.target(1, g);
    const d0 = make(0);
    d0.predict(0, h, null);
    d0.target(0, g);
    const once = Array.from(d0.predict(1, h, null).data);
    expect(once.some((v) => v !== 0)).toBe(true);
    expect(Array.from(s.predict(2, h, null).data)).toEqual(once);
  });

  it('refuses hidden layers that do not match its topology, by name', () => {
    const spec = mlpSpec(true, [5], 0.1);
    const ok = { W: zeros(4, 5), b: zeros(1, 5), N: zeros(2, 5) };
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(5, 4), zeros(1, 4), null, 3, [ok])).not.toThrow();
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(5, 4), zeros(1, 4), null, 3, [])).toThrow(
      /synthesizer:0: 0 hidden layers given, the topology has 1/,
    );
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(5, 4), zeros(1, 4), null, 3, [{ ...ok, W: zeros(4, 4) }])).toThrow(
      /hidden layer 0: W is 4x4, the topology needs 4x5/,
    );
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(5, 4), zeros(1, 4), null, 3, [{ ...ok, N: null }])).toThrow(
      /a conditioned synthesizer needs N of 2x5, got none/,
    );
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(4, 4), zeros(1, 4), null, 3, [ok])).toThrow(
      /M is 4x4, the topology needs 5x4/,
    );
    expect(() => new Synthesizer('synthesizer:0', spec, zeros(5, 4), zeros(1, 4), zeros(2, 4), 3, [ok])).toThrow(
      /takes its labels in hidden layer 0/,
    );
  });
});

function topologySpec(t: ReturnType<typeof defineTopology>) {
  return {
    inputs: t.inputs,
    batch: t.batch,
    labels: t.labels[0].width,
    layers: t.nodes.map((l) => ({ units: l.units, activation: l.activation, decoupled: l.decoupled })),
  };
}

describe('MLP synthesizers in a topology', () => {
  const spec = {
    inputs: 6,
    batch: 4,
    layers: [
      { units: 8, activation: 'relu' as const, decoupled: true, synthesizer: { hidden: [10, 7], conditioned: true } },
      { units: 5, decoupled: true },
      { units: 3 },
    ],
  };

  it('keeps synth{i}.M/c(/N) for linear ones and adds synth{i}.hidden{j}.W/b (and hidden0.N) for MLP ones, after every other key', () => {
    const t = defineTopology(spec);
    expect(t.synthesizers[0]).toMatchObject({ hidden: [10, 7], activation: 'relu', conditioned: true });
    expect(t.synthesizers[1].hidden).toBeUndefined();
    expect(parameterShapes(t).map((s) => `${s.key}:${s.rows}x${s.cols}`)).toEqual([
      'layer0.W:6x8',
      'layer0.b:1x8',
      'layer1.W:8x5',
      'layer1.b:1x5',
      'layer2.W:5x3',
      'layer2.b:1x3',
      'synth0.M:7x8',
      'synth0.c:1x8',
      'synth1.M:5x5',
      'synth1.c:1x5',
      'synth0.hidden0.W:8x10',
      'synth0.hidden0.b:1x10',
      'synth0.hidden0.N:3x10',
      'synth0.hidden1.W:10x7',
      'synth0.hidden1.b:1x7',
    ]);
  });

  it('initialises hidden layers (He-uniform for relu) and leaves the output layer and every layer weight as in a linear topology', () => {
    const t = defineTopology(spec);
    const p = initParameters(t, 9);
    const linear = initParameters(defineTopology({ ...spec, layers: spec.layers.map((l) => ({ ...l, synthesizer: undefined })) }), 9);
    for (const k of ['layer0.W', 'layer1.W', 'layer2.W']) expect(Array.from(p[k].data), k).toEqual(Array.from(linear[k].data));
    expect(p['synth0.M'].data.every((v) => v === 0)).toBe(true);
    const bound = Math.sqrt(6 / (8 + 3));
    const w = p['synth0.hidden0.W'].data;
    expect(w.some((v) => v !== 0) && w.every((v) => Math.abs(v) <= bound)).toBe(true);
    expect(p['synth0.hidden0.N'].data.some((v) => v !== 0)).toBe(true);
  });

  it.each([
    [{ hidden: 5 }, /layer 0: synthesizer hidden must be an array of widths, got 5/],
    [{ hidden: [4, 0] }, /layer 0: synthesizer hidden\[1\] must be a positive integer, got 0/],
    [{ hidden: [4], activation: 'softplus' }, /layer 0: synthesizer activation: unknown activation 'softplus'/],
    [{ activation: 'tanh' }, /layer 0: synthesizer activation 'tanh' given but the synthesizer is linear \(no hidden layers\)/],
  ])('refuses bad MLP options by layer and value (%#)', (synthesizer, message) => {
    const bad = { inputs: 2, batch: 2, layers: [{ units: 3, decoupled: true, synthesizer }, { units: 2 }] };
    expect(() => defineTopology(bad as never)).toThrow(TopologyError);
    expect(() => defineTopology(bad as never)).toThrow(message);
  });

  it('train the same through the actors as in the bare sequential loop, bit for bit (adam, conditioned, delay 1)', async () => {
    const rng = new Rng(12);
    const t = defineTopology({
      ...spec,
      optimizer: { kind: 'adam', lr: 0.01 },
      synthesizer: { optimizer: { kind: 'adam', lr: 0.003 }, delay: 1 },
    });
    const data = { x: randomMatrix(rng, 20, 6), y: randomMatrix(rng, 20, 3) };
    const params = initParameters(t, 2);
    const actors = await train({ topology: t, data, params, steps: 12 });
    const net = buildNetwork(t, params);
    const bare = trainSequential(net, data, 12);
    for (const key of Object.keys(net.params)) expect(Array.from(actors.params[key].data), key).toEqual(Array.from(net.params[key].data));
    expect(Array.from(actors.losses)).toEqual(Array.from(bare.losses));
    expect(actors.params['synth0.M'].data.some((v) => v !== 0)).toBe(true);
  });
});
