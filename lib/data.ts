/**
 * Data sets as two row-aligned matrices, and the batch order of DESIGN.md: batch t is rows
 * `[(t mod n) B, (t mod n) B + B)`, n = floor(rows / B), no shuffling. Batches are views.
 * Shuffling, where wanted, makes a new data set in a seeded order ({@link shuffleRows}).
 */
import { TopologyError } from './errors.ts';
import { type Matrix, firstNonFinite, matrixProblem, rowsView, shapeOf, zeros } from './matrix.ts';
import type { Rng } from './rng.ts';
import type { Topology } from './topology.ts';

export interface Dataset {
  /** inputs, one example a row */
  readonly x: Matrix;
  /** labels, one example a row */
  readonly y: Matrix;
}

export interface Batch {
  readonly index: number;
  readonly x: Matrix;
  readonly y: Matrix;
}

/** Number of whole batches in one pass over the data (a remainder shorter than a batch is not used). */
export function batchesPerEpoch(data: Dataset, batch: number): number {
  return Math.floor(data.x.rows / batch);
}

/** Batch t of the data (zero-copy views). */
export function batchAt(data: Dataset, batch: number, t: number): Batch {
  const start = (t % batchesPerEpoch(data, batch)) * batch;
  return { index: t, x: rowsView(data.x, start, batch), y: rowsView(data.y, start, batch) };
}

/** Every batch of one pass as views, made once: batch t is `views[t % views.length]`. */
export function batchViews(data: Dataset, batch: number): { x: Matrix; y: Matrix }[] {
  return Array.from({ length: batchesPerEpoch(data, batch) }, (_, i) => ({ x: rowsView(data.x, i * batch, batch), y: rowsView(data.y, i * batch, batch) }));
}

/**
 * Data sets whose owner has validated them for a topology and promises not to break them while
 * they are marked: fit() marks its own per-epoch copy (a permutation of rows it validated once), so
 * the training it builds each epoch does not scan every value again. See {@link trustDataset}.
 */
const trusted = new WeakMap<Dataset, Topology>();

/**
 * Mark `data` as valid for `topology` until {@link distrustDataset}: {@link validateDataset} then
 * returns at once for it and any topology of the same inputs, labels, batch and loss. Only for a data set the caller validated and alone writes to.
 */
export function trustDataset(data: Dataset, topology: Topology): void {
  trusted.set(data, topology);
}

export function distrustDataset(data: Dataset): void {
  trusted.delete(data);
}

/** Refuse, by name, a data set that cannot feed the topology. */
export function validateDataset(data: Dataset, topology: Topology): void {
  if (!data || typeof data !== 'object' || !data.x || !data.y) throw new TopologyError('data: expected { x, y } matrices');
  const t = trusted.get(data);
  // what validity depends on (a learning-rate schedule changes nothing here)
  if (t && t.inputs === topology.inputs && t.labels === topology.labels && t.batch === topology.batch && t.loss === topology.loss) return;
  const { x, y } = data;
  for (const [name, m] of [['x', x], ['y', y]] as const) {
    const problem = matrixProblem(m, name);
    if (problem) throw new TopologyError(`data: ${problem}`);
  }
  if (x.rows === 0) throw new TopologyError('data: x has no rows');
  if (x.cols !== topology.inputs) {
    throw new TopologyError(`data: x is ${shapeOf(x)} but layer 0 takes ${topology.inputs} inputs`);
  }
  if (y.cols !== topology.labels) {
    throw new TopologyError(`data: y is ${shapeOf(y)} but the head takes labels of width ${topology.labels}`);
  }
  if (x.rows !== y.rows) throw new TopologyError(`data: x has ${x.rows} rows but y has ${y.rows}`);
  if (topology.batch > x.rows) {
    throw new TopologyError(`data: batch ${topology.batch} is larger than the ${x.rows} rows of data`);
  }
  for (const [name, m] of [['x', x], ['y', y]] as const) {
    const at = firstNonFinite(m.data);
    if (at >= 0) throw new TopologyError(`data: ${name}[${Math.floor(at / m.cols)}, ${at % m.cols}] is ${m.data[at]}`);
  }
  if (topology.loss === 'softmax-cross-entropy') {
    for (let i = 0; i < y.rows; i++) {
      let sum = 0, negative = false;
      for (let j = 0; j < y.cols; j++) (sum += y.data[i * y.cols + j]), (negative ||= y.data[i * y.cols + j] < 0);
      if (negative || Math.abs(sum - 1) > 1e-4) {
        throw new TopologyError(
          `data: y row ${i} ${negative ? 'has a negative entry' : `sums to ${sum}`}; the softmax-cross-entropy head needs one-hot (or probability) rows: make them with oneHot(classes, ${y.cols})`,
        );
      }
    }
  }
}

/**
 * One-hot rows from integer class labels: row i has a 1 at column `classes[i]`.
 *
 * @example
 * oneHot([2, 0], 3); // rows [0, 0, 1] and [1, 0, 0]
 */
export function oneHot(classes: ArrayLike<number>, count: number): Matrix {
  const out = zeros(classes.length, count);
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    if (!Number.isInteger(c) || c < 0 || c >= count) throw new RangeError(`oneHot: label ${i} is ${c}, expected an integer in [0, ${count})`);
    out.data[i * count + c] = 1;
  }
  return out;
}

/** The class of each row: the column of its largest entry (the inverse of {@link oneHot}). */
export function classesOf(y: Matrix): Int32Array {
  const out = new Int32Array(y.rows);
  for (let i = 0; i < y.rows; i++) {
    let best = 0;
    for (let j = 1; j < y.cols; j++) if (y.data[i * y.cols + j] > y.data[i * y.cols + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** The rows of `data` at `order`, copied (order may repeat or leave out rows), into `into` when given. */
export function selectRows(data: Dataset, order: ArrayLike<number>, into?: Dataset): Dataset {
  const pick = (m: Matrix, target?: Matrix) => {
    if (target && (target.rows !== order.length || target.cols !== m.cols)) {
      throw new RangeError(`selectRows: ${order.length} rows of ${m.cols} do not fit ${shapeOf(target)}`);
    }
    const out = target ?? zeros(order.length, m.cols);
    for (let i = 0; i < order.length; i++) {
      const r = order[i];
      if (!Number.isInteger(r) || r < 0 || r >= m.rows) throw new RangeError(`selectRows: row ${r} (position ${i}) is outside ${m.rows} rows`);
      out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
    }
    return out;
  };
  return { x: pick(data.x, into?.x), y: pick(data.y, into?.y) };
}

/**
 * The rows in a random order drawn from `rng` (Fisher-Yates over 0..rows-1), copied (into `into`,
 * a data set of the same shape, when given): the same generator state gives the same order, so a
 * seeded training that shuffles every epoch repeats.
 */
export function shuffleRows(data: Dataset, rng: Rng, into?: Dataset): Dataset {
  return selectRows(data, rng.shuffle(Array.from({ length: data.x.rows }, (_, i) => i)), into);
}
