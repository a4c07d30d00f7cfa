import { describe, expect, it } from 'vitest';
import { validateDataset } from '../../lib/data.ts';
import { TopologyError } from '../../lib/errors.ts';
import { zeros, fromArray } from '../../lib/matrix.ts';
import { initParameters, parameterShapes, parametersFromJSON, parametersToJSON } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology, describeSizes } from '../../lib/topology.ts';

const seed = { inputs: 24, batch: 10, layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }] };

describe('defineTopology', () => {
  it('fills defaults and chains the sizes', () => {
    const t = defineTopology({ ...seed, lr: 0.5, synthesizer: { lr: 0.02, delay: 1 } });
    expect(describeSizes(t)).toBe('24-128-64-12');
    expect(t.nodes.map((l) => [l.id, l.actor, l.inputs, l.units, l.activation, l.lr])).toEqual([
      ['layer0', 'layer:0', 24, 128, 'sigmoid', 0.5],
      ['layer1', 'layer:1', 128, 64, 'sigmoid', 0.5],
      ['layer2', 'layer:2', 64, 12, 'sigmoid', 0.5],
    ]);
    // a chain is a graph: an edge per layer, the last into the head, an interface after each decoupled layer
    expect(t.edges.map((e) => e.name)).toEqual(['layer0>layer1', 'layer1>layer2', 'layer2>head']);
    expect(t.synthesizers[1]).toEqual({
      index: 1,
      edge: 1,
      name: '1',
      actor: 'synthesizer:1',
      key: 'synth1',
      forward: false,
      from: 1,
      units: 64,
      inputs: 64,
      conditioned: false,
      context: null,
      contextLabels: null,
      labels: 0,
      delay: 1,
      lr: 0.02,
    });
    expect(t.synthesizers).toHaveLength(2);
    expect(t.heads).toEqual([{ index: 0, id: 'head', actor: 'head', node: 2, loss: 'mse', labels: 'y', width: 12, weight: 1, edge: 2 }]);
    expect(Object.isFrozen(t)).toBe(true);
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
  });

  it('lets each interface override the defaults', () => {
    const t = defineTopology({
      ...seed,
      synthesizer: { delay: 2 },
      layers: [
        { units: 8, decoupled: true, synthesizer: { conditioned: true, delay: 0, lr: 0.3 } },
        { units: 12, decoupled: true },
      ],
    });
    expect(t.synthesizers[0]).toMatchObject({ conditioned: true, context: 'head', contextLabels: 'y', labels: 12, delay: 0, lr: 0.3 });
    expect(t.synthesizers[1]).toMatchObject({ conditioned: false, delay: 2, edge: 1, name: '1' });
  });

  it('accepts readonly (as const) specs, and refuses what it does not know rather than coerce it', () => {
    const spec = { inputs: 4, batch: 2, layers: [{ units: 3, decoupled: true }, { units: 2 }] } as const;
    expect(defineTopology(spec).synthesizers).toHaveLength(1);
    expect(() => defineTopology({ ...seed, layers: [{ units: 3, decoupled: 'false' }, { units: 12 }] } as never)).toThrow(
      /layer 0: decoupled must be true or false, got 'false'/,
    );
    expect(() => defineTopology({ ...seed, layer: [] } as never)).toThrow(/topology: unknown option 'layer'/);
    expect(() =>
      defineTopology({ ...seed, layers: [{ units: 3, decoupled: true, synthesizer: { dealy: 1 } }, { units: 12 }] } as never),
    ).toThrow(/layer 0: synthesizer: unknown option 'dealy'/);
  });

  it.each([
    [{ ...seed, inputs: 0 }, /inputs must be a positive integer, got 0/],
    [{ ...seed, batch: 2.5 }, /batch must be a positive integer, got 2.5/],
    [{ ...seed, layers: [] }, /layers must be a non-empty array/],
    [{ ...seed, layers: [{ units: 8 }, { units: -3 }] }, /layer 1: units must be a positive integer, got -3/],
    [{ ...seed, layers: [{ units: 12, activation: 'softplus' }] }, /layer 0: unknown activation 'softplus'/],
    [
      { ...seed, layers: [{ units: 12, decoupled: true, synthesizer: { delay: -1 } }] },
      /layer 0: synthesizer delay must be an integer >= 0, got -1/,
    ],
    [{ ...seed, layers: [{ units: 12, lr: -0.1 }] }, /layer 0: lr must be a finite number >= 0, got -0.1/],
    [{ ...seed, layers: [{ units: 12, synthesizer: { delay: 1 } }] }, /layer 0: synthesizer options given but the layer is not decoupled/],
    [{ ...seed, labels: 10 }, /last layer's 12 outputs with labels of width 10/],
  ])('refuses a bad spec by name (%#)', (spec, message) => {
    expect(() => defineTopology(spec as never)).toThrow(TopologyError);
    expect(() => defineTopology(spec as never)).toThrow(message);
  });
});

describe('parameters', () => {
  const t = defineTopology({ ...seed, layers: [{ units: 16, decoupled: true, synthesizer: { conditioned: true } }, { units: 12 }] });

  it('uses the reference key format and shapes', () => {
    expect(parameterShapes(t).map((s) => `${s.key}:${s.rows}x${s.cols}`)).toEqual([
      'layer0.W:24x16',
      'layer0.b:1x16',
      'layer1.W:16x12',
      'layer1.b:1x12',
      'synth0.M:16x16',
      'synth0.c:1x16',
      'synth0.N:12x16',
    ]);
  });

  it('initialises layers from the seed and synthesizers at zero', () => {
    const a = initParameters(t, 5),
      b = initParameters(t, 5),
      c = initParameters(t, 6);
    expect(a['layer0.W'].data).toEqual(b['layer0.W'].data);
    expect(a['layer0.W'].data).not.toEqual(c['layer0.W'].data);
    expect(a['synth0.M'].data.every((v) => v === 0)).toBe(true);
    const bound = Math.sqrt(6 / (24 + 16));
    expect(a['layer0.W'].data.every((v) => Math.abs(v) <= bound)).toBe(true);
  });

  it('round-trips through JSON', () => {
    const p = initParameters(t, 2);
    const back = parametersFromJSON(JSON.parse(JSON.stringify(parametersToJSON(p, t))), t);
    for (const k of Object.keys(p)) expect(back[k].data).toEqual(p[k].data);
  });

  it('refuses missing keys, wrong shapes and non-finite values by name', () => {
    const json = parametersToJSON(initParameters(t, 2), t);
    const { ['synth0.N']: _, ...missing } = json;
    expect(() => parametersFromJSON(missing, t)).toThrow(/'synth0.N' is missing \(the topology needs 12x16\)/);
    expect(() => parametersFromJSON({ ...json, 'layer1.W': (json['layer1.W'] as number[][]).slice(1) }, t)).toThrow(
      /'layer1.W' is 15x12, the topology needs 16x12/,
    );
    const bad = (json['layer0.b'] as number[]).slice();
    bad[3] = NaN;
    expect(() => parametersFromJSON({ ...json, 'layer0.b': bad }, t)).toThrow(/'layer0.b' holds NaN at element 3/);
  });
});

describe('datasets', () => {
  const t = defineTopology(seed);
  it.each([
    [{ x: zeros(0, 24), y: zeros(0, 12) }, /x has no rows/],
    [{ x: zeros(20, 23), y: zeros(20, 12) }, /x is 20x23 but layer 0 takes 24 inputs/],
    [{ x: zeros(20, 24), y: zeros(20, 11) }, /y is 20x11 but the head takes labels of width 12/],
    [{ x: zeros(20, 24), y: zeros(19, 12) }, /x has 20 rows but y has 19/],
    [{ x: zeros(5, 24), y: zeros(5, 12) }, /batch 10 is larger than the 5 rows of data/],
    [
      {
        x: fromArray(
          10,
          24,
          new Array(240).fill(0).map((_, i) => (i === 30 ? Infinity : 0)),
        ),
        y: zeros(10, 12),
      },
      /x\[1, 6\] is Infinity/,
    ],
  ])('refuses data that cannot feed the topology (%#)', (data, message) => {
    expect(() => validateDataset(data, t)).toThrow(message);
  });
});

describe('Rng', () => {
  it('is deterministic and restores its state exactly', () => {
    const a = new Rng(42);
    a.normal();
    const state = a.getState();
    const next = [a.next(), a.normal(), a.nextUint32()];
    const b = new Rng(1);
    b.setState(state);
    expect([b.next(), b.normal(), b.nextUint32()]).toEqual(next);
    expect(new Rng(42).next()).not.toBe(new Rng(43).next());
  });

  it('draws uniform values in [0, 1) with the right mean', () => {
    const r = new Rng(9);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const v = r.next();
      expect(v >= 0 && v < 1).toBe(true);
      s += v;
    }
    expect(Math.abs(s / 20000 - 0.5)).toBeLessThan(0.01);
  });
});
