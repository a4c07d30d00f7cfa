/**
 * The softmax cross-entropy head: loss and accuracy against a float64 re-computation, its
 * gradient against central differences, and the topology and data rules that come with it.
 */
import { describe, expect, it } from 'vitest';
import { classesOf, oneHot, validateDataset } from '../../lib/data.ts';
import { DivergenceError, TopologyError } from '../../lib/errors.ts';
import { SoftmaxCrossEntropyHead, createHead } from '../../lib/head.ts';
import { fromArray, fromNested, zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology } from '../../lib/topology.ts';
import { maxAbsDiff, numericGradient, randomMatrix } from '../helpers.ts';

const classifier = (batch: number, classes: number) =>
  defineTopology({ inputs: 3, batch, loss: 'softmax-cross-entropy', layers: [{ units: 5, activation: 'relu' }, { units: classes }] });

/** float64: -mean_rows(sum_cols(y log softmax(z))) */
function crossEntropy64(z: Float64Array, y: ArrayLike<number>, rows: number, cols: number): number {
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(z[r * cols + j]);
    for (let j = 0; j < cols; j++) total -= y[r * cols + j] * Math.log(Math.exp(z[r * cols + j]) / sum);
  }
  return total / rows;
}

describe('softmax cross-entropy head', () => {
  const rng = new Rng(11);

  it('the per-example gradient p - y is B times the gradient of the batch loss (finite differences)', () => {
    const B = 6,
      n = 4;
    const z = randomMatrix(rng, B, n, 3);
    const y = oneHot(
      Array.from({ length: B }, (_, i) => (i * 3) % n),
      n,
    );
    const z64 = Float64Array.from(z.data);
    const { loss, gradient } = new SoftmaxCrossEntropyHead('head', classifier(B, n).heads[0], B, 3).evaluate(0, z, y);
    expect(Math.abs(loss - crossEntropy64(z64, y.data, B, n))).toBeLessThan(1e-6);
    const numeric = numericGradient(() => crossEntropy64(z64, y.data, B, n), z64);
    const scaled = gradient.data.map((v) => v / B);
    expect(maxAbsDiff(scaled, numeric) / Math.max(...Array.from(numeric, Math.abs))).toBeLessThan(1e-5);
    // each row of p - y sums to 0 (softmax sums to 1, the label row too)
    for (let r = 0; r < B; r++) expect(Math.abs(gradient.data.subarray(r * n, r * n + n).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
  });

  it('also takes probability rows as labels (soft targets), with the same gradient rule', () => {
    const B = 3,
      n = 3;
    const z = randomMatrix(rng, B, n),
      y = fromNested([
        [0.2, 0.5, 0.3],
        [1, 0, 0],
        [0, 0.25, 0.75],
      ]);
    const z64 = Float64Array.from(z.data);
    const { gradient } = new SoftmaxCrossEntropyHead('head', classifier(B, n).heads[0], B, 1).evaluate(0, z, y);
    const numeric = numericGradient(() => crossEntropy64(z64, y.data, B, n), z64);
    expect(
      maxAbsDiff(
        gradient.data.map((v) => v / B),
        numeric,
      ),
    ).toBeLessThan(1e-6);
  });

  it('counts a row as correct when its largest logit is at the label', () => {
    const z = fromNested([
      [2, 1, 0],
      [0, 3, 1],
      [5, 0, 6],
      [0, 0, 1],
    ]);
    const y = oneHot([0, 1, 0, 2], 3);
    expect(new SoftmaxCrossEntropyHead('head', classifier(4, 3).heads[0], 4, 1).evaluate(0, z, y).accuracy).toBe(0.75);
  });

  it('stays finite for huge logits (the max is subtracted) and stops on a non-finite one by name', () => {
    const head = new SoftmaxCrossEntropyHead('head', classifier(2, 3).heads[0], 2, 1);
    const { loss, gradient } = head.evaluate(
      0,
      fromNested([
        [1000, -1000, 0],
        [-500, 500, 499],
      ]),
      oneHot([0, 2], 3),
    );
    expect(loss).toBeCloseTo(0.5 * (0 + (1 + Math.log(1 + Math.exp(-1) + Math.exp(-1000)))), 5);
    expect(Array.from(gradient.data).every(Number.isFinite)).toBe(true);
    expect(() =>
      head.evaluate(
        7,
        fromNested([
          [NaN, 0, 0],
          [0, 0, 0],
        ]),
        oneHot([0, 1], 3),
      ),
    ).toThrow(DivergenceError);
    expect(() =>
      head.evaluate(
        7,
        fromNested([
          [NaN, 0, 0],
          [0, 0, 0],
        ]),
        oneHot([0, 1], 3),
      ),
    ).toThrow(/head: non-finite loss at batch 7/);
    expect(() => head.evaluate(0, zeros(2, 3), zeros(2, 4))).toThrow(/logits 2x3 and labels 2x4 differ at batch 0/);
  });

  it('is the head a softmax-cross-entropy topology builds', () => {
    expect(createHead('head', classifier(2, 3).heads[0], 2, 1)).toBeInstanceOf(SoftmaxCrossEntropyHead);
  });
});

describe('classification topologies', () => {
  it("default the last layer to 'linear' and refuse any other activation there, by name", () => {
    expect(classifier(4, 10).nodes[1].activation).toBe('linear');
    const spec = {
      inputs: 3,
      batch: 2,
      loss: 'softmax-cross-entropy' as const,
      layers: [
        { units: 4, activation: 'relu' as const },
        { units: 10, activation: 'sigmoid' as const },
      ],
    };
    expect(() => defineTopology(spec)).toThrow(TopologyError);
    expect(() => defineTopology(spec)).toThrow(
      new RegExp(
        /layer 1: the softmax-cross-entropy head applies the softmax itself, /.source +
          /so the last layer must be 'linear' \(its logits\), got 'sigmoid'/.source,
      ),
    );
  });

  it('need one-hot labels as wide as the last layer', () => {
    expect(() => defineTopology({ inputs: 3, batch: 2, loss: 'softmax-cross-entropy', labels: 9, layers: [{ units: 10 }] })).toThrow(
      /softmax-cross-entropy head needs one-hot labels of width 10 \(the last layer's units\), got labels of width 9/,
    );
    expect(() => defineTopology({ inputs: 3, batch: 2, loss: 'hinge' as never, layers: [{ units: 10 }] })).toThrow(
      /unknown loss 'hinge' \(expected one of mse, softmax-cross-entropy\)/,
    );
  });

  it('refuse label rows that are not one-hot (or probabilities), naming the row and the helper', () => {
    const t = classifier(2, 3);
    const x = zeros(3, 3);
    expect(() => validateDataset({ x, y: oneHot([0, 2, 1], 3) }, t)).not.toThrow();
    expect(() =>
      validateDataset(
        {
          x,
          y: fromNested([
            [1, 0, 0],
            [0, 0, 0],
            [0, 1, 0],
          ]),
        },
        t,
      ),
    ).toThrow(/y row 1 sums to 0; .*oneHot\(classes, 3\)/);
    expect(() =>
      validateDataset(
        {
          x,
          y: fromNested([
            [1, 0, 0],
            [0, 1, 0],
            [2, -1, 0],
          ]),
        },
        t,
      ),
    ).toThrow(/y row 2 has a negative entry/);
  });
});

describe('one-hot labels', () => {
  it('round-trip through classesOf and refuse a label outside the classes', () => {
    const y = oneHot([3, 0, 9, 9], 10);
    expect(y.rows).toBe(4);
    expect(Array.from(y.data.subarray(0, 10))).toEqual([0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(classesOf(y))).toEqual([3, 0, 9, 9]);
    expect(() => oneHot([1, 10], 10)).toThrow(/label 1 is 10, expected an integer in \[0, 10\)/);
    expect(() => oneHot([1.5], 10)).toThrow(/label 0 is 1.5/);
    expect(classesOf(fromArray(1, 3, [0.1, 0.7, 0.2]))[0]).toBe(1);
  });
});
