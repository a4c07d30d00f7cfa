/**
 * How good a synthetic gradient is: its cosine with the true gradient, and which interfaces
 * have a true gradient to compare with at all. Plain maths, no streams.
 */
import type { Matrix } from './matrix.ts';
import type { GraphEdge, GraphSynthesizer } from './graph.ts';
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
  const A = a.data,
    B = b.data;
  let dot = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < A.length; i++) {
    const x = A[i],
      y = B[i];
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return aa === 0 || bb === 0 ? 0 : dot / Math.sqrt(aa * bb);
}

/**
 * The synthesizers refitted toward the *true* gradient: their consumer is a head, or a node whose
 * own gradient is entirely true (every edge out of it is backprop, into heads or such nodes). The
 * others are refitted toward bootstrapped targets (derived from a synthetic gradient further up),
 * and the true gradient at their node is never computed.
 *
 * @example
 * // 24-128-64-12 with interfaces after layers 0 and 1: only layer 1's target is the true gradient
 * trueGradientInterfaces(topology).map((s) => s.name); // ['1']
 */
export function trueGradientInterfaces(t: Topology): GraphSynthesizer[] {
  const trueAt = new Array<boolean>(t.nodes.length).fill(false);
  const edgeTrue = (e: GraphEdge) => e.synthesizer < 0 && (e.toHead >= 0 || trueAt[e.toNode]);
  for (let i = t.nodes.length - 1; i >= 0; i--) trueAt[i] = t.nodes[i].outputs.every((e) => edgeTrue(t.edges[e]));
  return t.synthesizers.filter((s) => {
    if (s.forward) return false; // it predicts an input, not a gradient
    const e = t.edges[s.edge];
    return e.toHead >= 0 || trueAt[e.toNode];
  });
}
