/** Shared test helpers: reference cases, float64 re-computations, random matrices. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ReferenceCase } from '../lib/reference.ts';
import { type Matrix, fromArray } from '../lib/matrix.ts';
import { Rng } from '../lib/rng.ts';
import type { Dataset } from '../lib/data.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { type Topology, defineTopology } from '../lib/topology.ts';

/** The reference cases the repository holds (checked against ../shared/reference, where that exists, by tests/reference-drift.test.ts). */
export const REFERENCE_DIR = join(import.meta.dirname, '..', 'reference');

/** The kinds of reference case: dense chains (no `config.kind`), graphs and recurrent cores. */
export type CaseKind = 'chain' | 'graph' | 'rnn';

export function caseKind(json: { config?: { kind?: unknown } }): CaseKind {
  const k = json.config?.kind;
  return k === 'graph' || k === 'rnn' ? k : 'chain';
}

/** Every reference case of `kind` (default: the dense chains), by name. */
export function referenceCases(kind: CaseKind = 'chain'): { name: string; json: ReferenceCase }[] {
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ name: f.slice(0, -5), json: JSON.parse(readFileSync(join(REFERENCE_DIR, f), 'utf8')) as ReferenceCase }))
    .filter((c) => caseKind(c.json) === kind);
}

export function randomMatrix(rng: Rng, rows: number, cols: number, scale = 1): Matrix {
  return fromArray(
    rows,
    cols,
    Array.from({ length: rows * cols }, () => rng.uniform(-scale, scale)),
  );
}

/** Naive float64 product of op(A)·op(B) from row-major arrays. */
export function naiveMatmul(a: Matrix, b: Matrix, ta = false, tb = false): Float64Array {
  const m = ta ? a.cols : a.rows,
    k = ta ? a.rows : a.cols,
    n = tb ? b.rows : b.cols;
  const A = (i: number, p: number) => (ta ? a.data[p * a.cols + i] : a.data[i * a.cols + p]);
  const B = (p: number, j: number) => (tb ? b.data[j * b.cols + p] : b.data[p * b.cols + j]);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += A(i, p) * B(p, j);
      out[i * n + j] = s;
    }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Central finite difference of f at x[i] (x a plain float64 array, restored afterwards). */
export function numericGradient(f: () => number, x: Float64Array, eps = 1e-6): Float64Array {
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + eps;
    const up = f();
    x[i] = v - eps;
    const down = f();
    x[i] = v;
    g[i] = (up - down) / (2 * eps);
  }
  return g;
}

/** What `f` throws, or null when it returns: for a test that reads the error as well as its class. */
export function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return null;
}

/** The stage-pool tests' small seed-shaped network (24-32-16-12, DNI at delay 1) and its 200 rows of binary addition. */
export function smallPoolNetwork(): { topology: Topology; data: Dataset } {
  return {
    topology: defineTopology({
      inputs: 24,
      batch: 10,
      lr: 0.5,
      synthesizer: { lr: 0.01, delay: 1 },
      layers: [{ units: 32, decoupled: true }, { units: 16, decoupled: true }, { units: 12 }],
    }),
    data: binaryAddition(200, 12, 2),
  };
}
