/**
 * Sequence data sets: `x [N, L, in]`, `y [N, L, out]`, `mask [N, L]` (docs/maths.md), stored as
 * float32 matrices with one sequence per row: `x` is N × (L·in), step t of sequence n at
 * `x.data[n·L·in + t·in …]`; likewise `y` (N × L·out) and `mask` (N × L). Rows of one data set
 * share one length L (pad a ragged set and mask the padding out). Batch j is sequences
 * `[(j mod N/B) B, +B)`, no shuffling, as in docs/maths.md.
 */
import { DataError } from '../errors.ts';
import { type Matrix, describeValue, firstNonFinite, fromArray, matrixProblem } from '../matrix.ts';
import type { RecurrentTopology } from './topology.ts';

export interface Sequences {
  /** steps per sequence */
  readonly length: number;
  readonly inputs: number;
  readonly outputs: number;
  /** N × (length · inputs) */
  readonly x: Matrix;
  /** N × (length · outputs) */
  readonly y: Matrix;
  /** N × length: which steps count in the loss (1) and which do not (0) */
  readonly mask: Matrix;
}

/**
 * Sequences from nested arrays `x[n][t][i]`, `y[n][t][j]`, `mask[n][t]` (the case-file layout),
 * refused by name and position (a {@link DataError}) when ragged, non-numeric or non-finite:
 * `"1"`, `true`, `null`, `[1]` or `{}` are never coerced, and a mask holds one number per step.
 *
 * @example
 * const s = sequencesFromNested([[[1, 0], [0, 1]]], [[[0], [1]]], [[0, 1]]);
 * s.length; // 2
 */
export function sequencesFromNested(x: number[][][], y: number[][][], mask: number[][]): Sequences {
  if (!Array.isArray(x) || x.length === 0)
    throw new DataError(`sequences: x must be a non-empty array of sequences [N][L][in], got ${describeValue(x)}`);
  if (!Array.isArray(y) || y.length !== x.length)
    throw new DataError(`sequences: y has ${Array.isArray(y) ? y.length : 'no'} sequences, x has ${x.length}`);
  if (!Array.isArray(mask) || mask.length !== x.length)
    throw new DataError(`sequences: mask has ${Array.isArray(mask) ? mask.length : 'no'} rows, x has ${x.length} sequences`);
  const L = Array.isArray(x[0]) ? x[0].length : 0;
  const width = (v: unknown[]) => (Array.isArray(v[0]) && Array.isArray(v[0][0]) ? v[0][0].length : 0) || null;
  const nin = width(x),
    nout = width(y);
  if (!L || !nin || !nout)
    throw new DataError('sequences: the first sequence of x or y is empty (or not an array of steps, each an array of numbers)');
  const flat = (name: string, rows: unknown[], w: number | null) => {
    const out = new Float32Array(rows.length * L * (w ?? 1));
    rows.forEach((seq, n) => {
      if (!Array.isArray(seq) || seq.length !== L) {
        throw new DataError(
          `sequences: ${name}[${n}] ` +
            `${Array.isArray(seq) ? `has ${seq.length} steps` : `is ${describeValue(seq)}, not an array of steps`}, x[0] has ${L} ` +
            `(ragged lengths: pad and mask)`,
        );
      }
      seq.forEach((step: unknown, t: number) => {
        if (w === null) {
          out[n * L + t] = numberAt(step, `${name}[${n}][${t}]`);
          return;
        }
        if (!Array.isArray(step) || step.length !== w) {
          throw new DataError(
            `sequences: ${name}[${n}][${t}] ${Array.isArray(step) ? `has ${step.length} values` : `is ${describeValue(step)}`}, expected ` +
              `${w} numbers (as ${name}[0][0])`,
          );
        }
        for (let j = 0; j < w; j++) out[(n * L + t) * w + j] = numberAt(step[j], `${name}[${n}][${t}][${j}]`);
      });
    });
    return out;
  };
  const s: Sequences = {
    length: L,
    inputs: nin,
    outputs: nout,
    x: fromArray(x.length, L * nin, flat('x', x, nin)),
    y: fromArray(x.length, L * nout, flat('y', y, nout)),
    mask: fromArray(x.length, L, flat('mask', mask, null)),
  };
  validateSequences(s);
  return s;
}

function numberAt(v: unknown, where: string): number {
  if (typeof v !== 'number') throw new DataError(`sequences: ${where} is ${describeValue(v)}, expected a number`);
  return v;
}

/**
 * Refuse, by name (a {@link DataError}), sequences that are malformed or cannot feed `topology`
 * (when given): shapes that do not match their own `length`/`inputs`/`outputs`, storage that does
 * not hold exactly rows × cols values, a mask of the wrong shape or with values other than 0 and 1,
 * non-finite values, widths the topology does not take, fewer sequences than a batch.
 *
 * @example
 * validateSequences(copyTask({ sequences: 64, length: 5, width: 8, seed: 1 }), topology);
 */
export function validateSequences(s: Sequences, topology?: RecurrentTopology): void {
  if (!s || !s.x || !s.y || !s.mask) throw new DataError('sequences: expected { length, inputs, outputs, x, y, mask }');
  const { length: L, inputs, outputs, x, y, mask } = s;
  for (const [name, v] of [
    ['length', L],
    ['inputs', inputs],
    ['outputs', outputs],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new DataError(`sequences: ${name} must be a positive integer, got ${describeValue(v)}`);
  }
  for (const [name, m] of [
    ['x', x],
    ['y', y],
    ['mask', mask],
  ] as const) {
    const problem = matrixProblem(m, name);
    if (problem) throw new DataError(`sequences: ${problem}`);
  }
  const N = x.rows;
  if (N === 0) throw new DataError('sequences: x has no sequences');
  if (x.cols !== L * inputs)
    throw new DataError(`sequences: x is ${x.rows}x${x.cols}, expected N x ${L * inputs} (length ${L} · inputs ${inputs})`);
  if (y.rows !== N || y.cols !== L * outputs)
    throw new DataError(`sequences: y is ${y.rows}x${y.cols}, expected ${N}x${L * outputs} (length ${L} · outputs ${outputs})`);
  if (mask.rows !== N || mask.cols !== L)
    throw new DataError(`sequences: mask is ${mask.rows}x${mask.cols}, expected ${N}x${L} (one value per sequence and step)`);
  for (const [name, m, w] of [
    ['x', x, inputs],
    ['y', y, outputs],
    ['mask', mask, 1],
  ] as const) {
    const at = firstNonFinite(m.data);
    if (at >= 0) {
      const n = Math.floor(at / m.cols),
        r = at % m.cols;
      throw new DataError(`sequences: ${name}[${n}, ${Math.floor(r / w)}${w > 1 ? `, ${r % w}` : ''}] is ${m.data[at]}`);
    }
  }
  for (let i = 0; i < mask.data.length; i++) {
    const v = mask.data[i];
    if (v !== 0 && v !== 1) throw new DataError(`sequences: mask[${Math.floor(i / L)}, ${i % L}] is ${v}; a mask holds 0 or 1`);
  }
  if (!topology) return;
  if (inputs !== topology.inputs) throw new DataError(`sequences: x_t has ${inputs} values but the core takes ${topology.inputs} inputs`);
  if (outputs !== topology.outputs)
    throw new DataError(`sequences: y_t has ${outputs} values but the readout has ${topology.outputs} outputs`);
  if (N < topology.batch) throw new DataError(`sequences: ${N} sequences are fewer than one batch of ${topology.batch}`);
}

/** Batches in one pass: floor(N / B) (a remainder shorter than a batch is not used). */
export function sequenceBatches(s: Sequences, batch: number): number {
  return Math.floor(s.x.rows / batch);
}

/**
 * Copy steps `[t0, t0 + n)` of sequences `[first, first + B)` into time-major buffers: row
 * `τ·B + b` of `x` (n·B × in) is `x[first + b, t0 + τ]`, likewise `y`; `mask[τ·B + b]`.
 * One window's inputs, targets and mask, ready for a GEMM over all its steps at once.
 */
export function gatherWindow(
  s: Sequences,
  first: number,
  B: number,
  t0: number,
  n: number,
  x: Float32Array,
  y: Float32Array,
  mask: Float32Array,
): void {
  const { length: L, inputs: ni, outputs: no } = s,
    X = s.x.data,
    Y = s.y.data,
    Mk = s.mask.data;
  for (let tau = 0; tau < n; tau++) {
    const t = t0 + tau;
    for (let b = 0; b < B; b++) {
      const seq = first + b,
        row = tau * B + b;
      x.set(X.subarray((seq * L + t) * ni, (seq * L + t + 1) * ni), row * ni);
      y.set(Y.subarray((seq * L + t) * no, (seq * L + t + 1) * no), row * no);
      mask[row] = Mk[seq * L + t];
    }
  }
}
