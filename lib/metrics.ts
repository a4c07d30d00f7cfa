/**
 * How good a synthetic gradient is: its cosine with the true gradient, and which interfaces
 * have a true gradient to compare with at all. Plain maths, no streams.
 */
import type { Matrix } from './matrix.ts';
import type { Topology } from './topology.ts';

/**
 * Cosine between two same-shaped matrices taken as flat vectors (the whole batch at once):
 * `<a, b> / (|a| |b|)`, accumulated in float64. 0 when either is all zeros (a zero-initialised
 * synthesizer's first prediction has no direction).
 *
 * @example
 * cosine(fromArray(1, 2, [1, 0]), fromArray(1, 2, [1, 1])); // ≈ 0.7071
 */
export function cosine(a: Matrix, b: Matrix): number {
  if (a.rows !== b.rows || a.cols !== b.cols) {
    throw new RangeError(`cosine: shapes ${a.rows}x${a.cols} and ${b.rows}x${b.cols} differ`);
  }
  const A = a.data, B = b.data;
  let dot = 0, aa = 0, bb = 0;
  for (let i = 0; i < A.length; i++) {
    const x = A[i], y = B[i];
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

/**
 * The layers whose synthesizer is refitted toward the *true* gradient `dl/dh`: those with no
 * interface above them, so the target comes from the head through plain backprop only (for a
 * decoupled last layer, straight from the head). A synthesizer with another interface above it
 * is refitted toward a bootstrapped target (derived from that interface's synthetic gradient),
 * and the true gradient at its layer is never computed.
 *
 * @example
 * // 24-128-64-12 with interfaces after layers 0 and 1: only layer 1's target is the true gradient
 * trueGradientInterfaces(topology); // [1]
 */
export function trueGradientInterfaces(t: Topology): number[] {
  const out: number[] = [];
  for (let i = t.layers.length - 1; i >= 0; i--) {
    if (t.layers[i].synthesizer) {
      out.push(i);
      break;
    }
  }
  return out;
}
