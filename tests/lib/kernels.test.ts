import { describe, expect, it } from 'vitest';
import { typescriptBackend as k } from '../../lib/kernels/kernels.ts';
import { fromArray, zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { maxAbsDiff, naiveMatmul, randomMatrix } from '../helpers.ts';

const shapes = [
  [1, 1, 1],
  [3, 7, 5],
  [10, 24, 128],
  [10, 128, 64],
  [13, 17, 33],
];

describe('typescript kernels', () => {
  const rng = new Rng(7);
  // float32 products of k terms in [-1, 1]: error grows like k * 2^-24; 1e-5 covers k <= 128
  const tol = 1e-5;

  it.each(shapes)('matmul, matmulTA, matmulTB agree with a float64 product (%i x %i x %i)', (m, kk, n) => {
    const a = randomMatrix(rng, m, kk),
      b = randomMatrix(rng, kk, n);
    expect(maxAbsDiff(k.matmul(a, b, zeros(m, n)).data, naiveMatmul(a, b))).toBeLessThan(tol);
    const at = randomMatrix(rng, kk, m);
    expect(maxAbsDiff(k.matmulTA(at, b, zeros(m, n)).data, naiveMatmul(at, b, true))).toBeLessThan(tol);
    const bt = randomMatrix(rng, n, kk);
    expect(maxAbsDiff(k.matmulTB(a, bt, zeros(m, n)).data, naiveMatmul(a, bt, false, true))).toBeLessThan(tol);
  });

  it('computes out = alpha op(A)op(B) + beta out', () => {
    const a = randomMatrix(rng, 4, 6),
      b = randomMatrix(rng, 6, 5),
      c0 = randomMatrix(rng, 4, 5);
    const out = fromArray(4, 5, c0.data);
    k.matmul(a, b, out, -0.5, 2);
    const ab = naiveMatmul(a, b);
    expect(
      maxAbsDiff(
        out.data,
        ab.map((v, i) => -0.5 * v + 2 * c0.data[i]),
      ),
    ).toBeLessThan(1e-5);
  });

  it('adds a row vector and takes scaled row means', () => {
    const m = fromArray(2, 3, [1, 2, 3, 4, 5, 6]);
    k.addRowVector(m, fromArray(1, 3, [10, 20, 30]));
    expect(Array.from(m.data)).toEqual([11, 22, 33, 14, 25, 36]);
    const out = fromArray(1, 3, [1, 1, 1]);
    k.meanRows(m, out, -2, 1);
    expect(Array.from(out.data)).toEqual([1 - 25, 1 - 47, 1 - 69]);
  });

  it('subtracts, and sums squared differences and values in float64', () => {
    const a = fromArray(1, 3, [1.5, -2, 3]),
      b = fromArray(1, 3, [0.5, 1, -1]);
    expect(Array.from(k.subtract(a, b, zeros(1, 3)).data)).toEqual([1, -3, 4]);
    expect(k.squaredDistance(a, b)).toBe(1 + 9 + 16);
    expect(k.sum(a)).toBe(2.5);
    expect(k.sum(fromArray(1, 2, [Math.fround(3e38), Math.fround(3e38)]))).toBe(2 * Math.fround(3e38)); // no float32 overflow
    expect(() => k.subtract(a, zeros(1, 2), zeros(1, 3))).toThrow(/subtract: arrays of 3, 2, 3 values/);
  });

  it('refuses shapes that do not chain, naming them', () => {
    expect(() => k.matmul(zeros(2, 3), zeros(4, 5), zeros(2, 5))).toThrow(/inner sizes 3 and 4/);
    expect(() => k.matmulTB(zeros(2, 3), zeros(5, 3), zeros(2, 4))).toThrow(/expected 2x5/);
  });
});
