import { describe, expect, it } from 'vitest';
import { fromArray } from '../../lib/matrix.ts';
import { cosine, trueGradientInterfaces } from '../../lib/gradient-quality.ts';
import { defineGraph } from '../../lib/graph.ts';
import { defineTopology } from '../../lib/topology.ts';

describe('cosine', () => {
  it('is <a, b> / (|a| |b|) over the whole matrix, in float64', () => {
    expect(cosine(fromArray(1, 2, [1, 0]), fromArray(1, 2, [1, 1]))).toBeCloseTo(Math.SQRT1_2, 15);
    // rows are not compared one by one: [[1, 0], [0, 1]] against [[1, 0], [0, 3]] is (1 + 3) / (√2 · √10)
    expect(cosine(fromArray(2, 2, [1, 0, 0, 1]), fromArray(2, 2, [1, 0, 0, 3]))).toBeCloseTo(4 / Math.sqrt(20), 15);
    expect(cosine(fromArray(1, 3, [1, 2, 3]), fromArray(1, 3, [2, 4, 6]))).toBeCloseTo(1, 15);
    expect(cosine(fromArray(1, 3, [1, 2, 3]), fromArray(1, 3, [-1, -2, -3]))).toBeCloseTo(-1, 15);
    expect(cosine(fromArray(1, 2, [3, 0]), fromArray(1, 2, [0, -7]))).toBe(0);
  });

  it('is 0 when either side is all zeros (a zero-initialised synthesizer has no direction yet)', () => {
    expect(cosine(fromArray(1, 2, [0, 0]), fromArray(1, 2, [1, 2]))).toBe(0);
    expect(cosine(fromArray(1, 2, [1, 2]), fromArray(1, 2, [0, 0]))).toBe(0);
  });

  it('refuses different shapes', () => {
    expect(() => cosine(fromArray(1, 4, [1, 2, 3, 4]), fromArray(2, 2, [1, 2, 3, 4]))).toThrow(/1x4 and 2x2/);
  });
});

describe('trueGradientInterfaces', () => {
  const topology = (decoupled: boolean[]) =>
    defineTopology({ inputs: 4, batch: 2, layers: decoupled.map((d) => ({ units: 3, decoupled: d })) });

  const names = (t: ReturnType<typeof topology> | ReturnType<typeof defineGraph>) => trueGradientInterfaces(t).map((s) => s.name);

  it('in a chain, is the topmost interface: its target comes from the head through backprop only', () => {
    expect(names(topology([true, true, false]))).toEqual(['1']);
    expect(names(topology([true, false, false]))).toEqual(['0']);
    expect(names(topology([true, true, true]))).toEqual(['2']);
    expect(names(topology([false, false, false]))).toEqual([]);
  });

  it('in a graph, is every interface whose consumer is a head or learns from heads through backprop only', () => {
    const g = defineGraph({
      inputs: 4,
      batch: 2,
      nodes: [
        { id: 'trunk', units: 5, inputs: ['input'] },
        { id: 'a', units: 3, inputs: ['trunk'] },
        { id: 'b', units: 3, inputs: ['trunk'] },
        { id: 'c', units: 2, inputs: ['b'] },
      ],
      heads: [
        { id: 'ha', node: 'a' },
        { id: 'hc', node: 'c' },
      ],
      interfaces: [
        { from: 'trunk', to: 'a', kind: 'dni' }, // a learns from its head by backprop: a true target
        { from: 'trunk', to: 'b', kind: 'dni' }, // b's own gradient is synthetic (b > c is decoupled): bootstrapped
        { from: 'b', to: 'c', kind: 'dni' },
        { from: 'c', to: 'hc', kind: 'dni' }, // straight from a head
      ],
    });
    expect(names(g)).toEqual(['trunk>a', 'c>hc']);
  });
});
