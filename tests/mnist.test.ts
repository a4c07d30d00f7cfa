/**
 * MNIST, small and fast: the seeded split of the `mnist` package's digits, and backprop, DNI and
 * cDNI each trained for one epoch on a few hundred digits through the actors, every one well above
 * chance (10%) on digits it never saw.
 */
import { describe, expect, it } from 'vitest';
import { fit } from '../actors/trainer/fit.ts';
import { classesOf } from '../lib/data.ts';
import { loadMnist, mnistDigits } from '../lib/datasets/mnist.ts';
import { evaluate } from '../lib/evaluate.ts';
import { initParameters } from '../lib/params.ts';
import { defineTopology } from '../lib/topology.ts';

/** a fingerprint of image row i (two weighted sums in float64: distinct images, distinct keys) */
const rowKey = (x: Float32Array, i: number) => {
  let a = 0,
    b = 0;
  for (let j = 0; j < 784; j++) ((a += x[i * 784 + j] * (j + 1)), (b += x[i * 784 + j] * x[i * 784 + j] * ((j % 13) + 1)));
  return `${a}:${b}`;
};
const same = (a: Float32Array, b: Float32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('the mnist package', () => {
  it('ships 10,000 distinct real digits offline, about 1,000 of each class, grey levels in [0, 1]', () => {
    const d = mnistDigits();
    expect(d.count).toBe(10_000);
    expect(new Set(Array.from({ length: d.count }, (_, i) => rowKey(d.images, i))).size).toBe(10_000);
    expect(d.images.length).toBe(10_000 * 784);
    const perClass = Array.from({ length: 10 }, (_, c) => d.labels.filter((l) => l === c).length);
    for (const n of perClass) expect(n).toBeGreaterThan(800);
    let lo = Infinity,
      hi = -Infinity;
    for (const v of d.images) ((lo = Math.min(lo, v)), (hi = Math.max(hi, v)));
    expect([lo, hi]).toEqual([0, 1]);
  });

  it('splits by one seeded permutation: the same seed the same split, train / validation / test disjoint', () => {
    const a = loadMnist({ train: 800, validation: 100, test: 200, seed: 3 });
    const b = loadMnist({ train: 800, validation: 100, test: 200, seed: 3 });
    const c = loadMnist({ train: 800, validation: 100, test: 200, seed: 4 });
    expect([a.train.x.rows, a.validation.x.rows, a.test.x.rows]).toEqual([700, 100, 200]);
    expect(same(a.train.x.data, b.train.x.data) && same(a.test.y.data, b.test.y.data)).toBe(true);
    expect(same(a.train.x.data, c.train.x.data)).toBe(false);
    const seen = new Set<string>();
    for (const part of [a.train, a.validation, a.test]) for (let i = 0; i < part.x.rows; i++) seen.add(rowKey(part.x.data, i));
    expect(seen.size).toBe(1000);
    // a bigger training split starts with the same rows
    const big = loadMnist({ train: 8000, validation: 1000, test: 2000, seed: 3 });
    expect(same(big.train.x.data.subarray(0, 700 * 784), a.train.x.data)).toBe(true);
    expect(Array.from(classesOf(a.test.y)).every((k) => k >= 0 && k < 10)).toBe(true);
  });

  it('refuses a split the package cannot fill', () => {
    expect(() => loadMnist({ train: 9000, test: 2000 })).toThrow(/train 9000 \+ test 2000 is more than the 10000 digits/);
    expect(() => loadMnist({ train: 100, validation: 100 })).toThrow(/validation 100 must be smaller than train 100/);
  });
});

describe('MNIST, one epoch on 500 digits (784-256-256-10 relu, Adam)', () => {
  const split = loadMnist({ train: 600, validation: 100, test: 500, seed: 1 });
  const topology = (decoupled: boolean, conditioned: boolean) =>
    defineTopology({
      inputs: 784,
      batch: 16,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-3 },
      synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, conditioned },
      layers: [{ units: 256, activation: 'relu', decoupled }, { units: 256, activation: 'relu', decoupled }, { units: 10 }],
    });
  const untrained = evaluate(initParameters(topology(false, false), 1), topology(false, false), split.test).accuracy;

  it.each([
    ['backprop', false, false, 0.6],
    ['DNI', true, false, 0.3],
    ['cDNI', true, true, 0.3],
  ] as const)('%s rises well above chance on held-out digits', async (_, decoupled, conditioned, least) => {
    const t = topology(decoupled, conditioned);
    const result = await fit({ topology: t, train: split.train, validation: split.validation, epochs: 1, seed: 1 });
    const test = evaluate(result.params, t, split.test);
    expect(untrained).toBeLessThan(0.2);
    expect(test.accuracy).toBeGreaterThan(least);
    expect(result.epochs[0].validation!.accuracy).toBeGreaterThan(least);
    expect(result.epochs[0].steps).toBe(31);
  });
});
