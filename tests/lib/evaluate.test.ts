/** evaluate(): a forward pass over a whole data set against a float64 re-computation, with no side effects. */
import { describe, expect, it } from 'vitest';
import { oneHot, shuffleRows, selectRows } from '../../lib/data.ts';
import { evaluate } from '../../lib/evaluate.ts';
import { buildNetwork, optimizerStates } from '../../lib/network.ts';
import { initParameters } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { defineTopology } from '../../lib/topology.ts';
import { randomMatrix } from '../helpers.ts';

describe('evaluate', () => {
  const rng = new Rng(31);
  const topology = defineTopology({
    inputs: 5,
    batch: 4,
    loss: 'softmax-cross-entropy',
    optimizer: { kind: 'adam', lr: 0.01 },
    synthesizer: { optimizer: { kind: 'adam', lr: 0.01 } },
    layers: [{ units: 7, activation: 'relu', decoupled: true }, { units: 6, activation: 'tanh', decoupled: true }, { units: 3 }],
  });
  const rows = 23;
  const labels = oneHot(
    Array.from({ length: rows }, () => rng.nextUint32() % 3),
    3,
  );
  const data = { x: randomMatrix(rng, rows, 5), y: labels };
  const params = initParameters(topology, 6);

  /** float64 forward pass, cross-entropy and accuracy */
  function reference() {
    let loss = 0,
      correct = 0;
    for (let r = 0; r < rows; r++) {
      let a = Array.from(data.x.data.subarray(r * 5, r * 5 + 5));
      for (const l of topology.nodes) {
        const W = params[`${l.key}.W`].data,
          b = params[`${l.key}.b`].data;
        a = Array.from({ length: l.units }, (_, j) => {
          const z = a.reduce((s, v, q) => s + v * W[q * l.units + j], b[j]);
          return l.activation === 'relu' ? Math.max(z, 0) : l.activation === 'tanh' ? Math.tanh(z) : z;
        });
      }
      const label = Array.from(labels.data.subarray(r * 3, r * 3 + 3)).indexOf(1);
      const logSum = Math.log(a.reduce((s, v) => s + Math.exp(v), 0));
      loss += logSum - a[label];
      if (a.indexOf(Math.max(...a)) === label) correct++;
    }
    return { loss: loss / rows, accuracy: correct / rows };
  }

  it.each([1, 4, 7, 256])('gives the loss and accuracy of every row (chunks of %i)', (chunk) => {
    const want = reference();
    const got = evaluate(params, topology, data, { chunk });
    expect(got.rows).toBe(rows);
    expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5);
    expect(got.accuracy).toBeCloseTo(want.accuracy, 12);
  });

  it('changes nothing: neither the parameters it reads nor the optimisers of the network that holds them', () => {
    const net = buildNetwork(topology, params);
    trainSequential(net, data, 3);
    const before = Object.fromEntries(Object.entries(net.params).map(([k, m]) => [k, Array.from(m.data)]));
    const states = JSON.stringify(optimizerStates(net), (_, v) => (v instanceof Float32Array ? Array.from(v) : v));
    const first = evaluate(net.params, topology, data);
    const again = evaluate(net.params, topology, data, { chunk: 3 });
    expect(again.accuracy).toBe(first.accuracy);
    for (const [k, v] of Object.entries(before)) expect(Array.from(net.params[k].data), k).toEqual(v);
    expect(JSON.stringify(optimizerStates(net), (_, v) => (v instanceof Float32Array ? Array.from(v) : v))).toBe(states);
  });

  it('refuses data that does not fit the topology, by name', () => {
    expect(() => evaluate(params, topology, { x: randomMatrix(rng, 3, 4), y: oneHot([0, 1, 2], 3) })).toThrow(
      /data: x is 3x4 but layer 0 takes 5 inputs/,
    );
    expect(() => evaluate(params, topology, { x: randomMatrix(rng, 3, 5), y: oneHot([0, 1], 3) })).toThrow(/x has 3 rows but y has 2/);
    const { ['layer1.W']: _, ...missing } = params;
    expect(() => evaluate(missing, topology, data)).toThrow(/'layer1.W' is missing, the topology needs 7x6/);
  });
});

describe('shuffled epochs', () => {
  it('shuffleRows draws a seeded permutation of the rows (the same seed, the same order) and can reuse a buffer', () => {
    const rng = new Rng(2);
    const data = { x: randomMatrix(rng, 10, 3), y: oneHot([0, 1, 2, 0, 1, 2, 0, 1, 2, 0], 3) };
    const a = shuffleRows(data, new Rng(7)),
      b = shuffleRows(data, new Rng(7)),
      c = shuffleRows(data, new Rng(8));
    expect(a.x.data).toEqual(b.x.data);
    expect(a.x.data).not.toEqual(c.x.data);
    const rowsOf = (m: typeof data.x) =>
      Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * 3, i * 3 + 3)).join()).sort();
    expect(rowsOf(a.x)).toEqual(rowsOf(data.x));
    // x and y rows move together
    const order = new Rng(7).shuffle(Array.from({ length: 10 }, (_, i) => i));
    expect(selectRows(data, order).y.data).toEqual(a.y.data);
    const into = { x: randomMatrix(rng, 10, 3), y: randomMatrix(rng, 10, 3) };
    expect(shuffleRows(data, new Rng(7), into).x).toBe(into.x);
    expect(into.x.data).toEqual(a.x.data);
  });
});
