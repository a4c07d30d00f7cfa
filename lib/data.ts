/**
 * Data sets: the inputs x and the labels, one example a row, and the batch order of docs/maths.md:
 * batch t is rows `[(t mod n) B, (t mod n) B + B)`, n = floor(rows / B), no shuffling. Batches are
 * views. A graph with several heads reads several label sets (`y: { sum, mod4 }`); a chain, or any
 * graph with one label set, takes `y` as one matrix. Shuffling, where wanted, makes a new data set
 * in a seeded order ({@link shuffleRows}).
 */
import { DataError } from './errors.ts';
import type { Graph } from './graph.ts';
import { type Matrix, firstNonFinite, matrixProblem, rowsView, shapeOf, zeros } from './matrix.ts';
import type { Rng } from './rng.ts';
import type { Topology } from './topology.ts';

/** One label matrix, or named label sets (a graph's heads each read one, by name). */
export type Labels = Matrix | Readonly<Record<string, Matrix>>;

export interface Dataset<Y extends Labels = Labels> {
  /** inputs, one example a row */
  readonly x: Matrix;
  /** labels, one example a row: one matrix, or named label sets */
  readonly y: Y;
}

/** Is `v` a matrix (rather than named label sets)? */
export function isMatrix(v: unknown): v is Matrix {
  const m = v as Partial<Matrix> | null;
  return m !== null && typeof m === 'object' && typeof m.rows === 'number' && typeof m.cols === 'number' && ArrayBuffer.isView(m.data);
}

/** The label set `name` of `data` (its one matrix when `y` is not named). */
export function labelSet(data: Dataset, name: string): Matrix {
  if (isMatrix(data.y)) return data.y;
  const m = (data.y as Record<string, Matrix>)[name];
  if (!m) throw new DataError(`data: y has no label set '${name}' (it has ${Object.keys(data.y).join(', ') || 'none'})`);
  return m;
}

/** Every label matrix of `data`, by name (`y` for a single matrix). */
export function labelSets(data: Dataset): [string, Matrix][] {
  return isMatrix(data.y) ? [['y', data.y]] : Object.entries(data.y);
}

/** Number of whole batches in one pass over the data (a remainder shorter than a batch is not used). */
export function batchesPerEpoch(data: Dataset, batch: number): number {
  return Math.floor(data.x.rows / batch);
}

/** Every batch of one pass as views of one matrix, made once: batch t is `views[t % views.length]`. */
export function matrixBatches(m: Matrix, batch: number): Matrix[] {
  return Array.from({ length: Math.floor(m.rows / batch) }, (_, i) => rowsView(m, i * batch, batch));
}

/**
 * The batches a training reads: x, and each label set a head or a conditioned synthesizer reads,
 * as views made once. `x(t)`, `labels(name)(t)`.
 */
export interface BatchSource {
  readonly x: (t: number) => Matrix;
  labels(name: string): (t: number) => Matrix;
}

export function batchSource(data: Dataset, topology: Graph): BatchSource {
  const B = topology.batch,
    xs = matrixBatches(data.x, B);
  const sets = new Map(topology.labels.map((l) => [l.name, matrixBatches(labelSet(data, l.name), B)]));
  return {
    x: (t) => xs[t % xs.length],
    labels(name) {
      const views = sets.get(name);
      if (!views) throw new Error(`data: the topology has no label set '${name}'`);
      return (t) => views[t % views.length];
    },
  };
}

/**
 * Data sets whose owner has validated them for a topology and promises not to break them while
 * they are marked: fit() marks its own per-epoch copy (a permutation of rows it validated once), so
 * the training it builds each epoch does not scan every value again. See {@link trustDataset}.
 */
const trusted = new WeakMap<Dataset, string>();

/** What a data set's validity depends on (a learning-rate schedule changes nothing here). */
function shapeKey(t: Topology): string {
  return JSON.stringify([t.inputs, t.batch, t.labels, t.heads.map((h) => [h.labels, h.loss])]);
}

/**
 * Mark `data` as valid for `topology` until {@link distrustDataset}: {@link validateDataset} then
 * returns at once for it and any topology of the same inputs, label sets, batch and losses. Only
 * for a data set the caller validated and alone writes to.
 */
export function trustDataset(data: Dataset, topology: Topology): void {
  trusted.set(data, shapeKey(topology));
}

export function distrustDataset(data: Dataset): void {
  trusted.delete(data);
}

/** Refuse, by name, a data set that cannot feed the topology. */
export function validateDataset(data: Dataset, topology: Topology): void {
  if (!data || typeof data !== 'object' || !data.y || typeof data.y !== 'object') throw new DataError('data: expected { x, y } matrices');
  if (trusted.get(data) === shapeKey(topology)) return;
  const { x } = data;
  checkMatrix(x, 'x');
  if (x.rows === 0) throw new DataError('data: x has no rows');
  if (x.cols !== topology.inputs) {
    const first = topology.nodes.find((n) => n.sources.some((s) => s.node < 0))!;
    throw new DataError(
      `data: x is ${shapeOf(x)} but ${topology.naming === 'chain' ? 'layer 0' : `node '${first.id}'`} takes ${topology.inputs} inputs`,
    );
  }
  if (isMatrix(data.y) && topology.labels.length !== 1) {
    throw new DataError(
      `data: y is one matrix, but the heads read ${topology.labels.length} label sets ` +
        `(${topology.labels.map((l) => l.name).join(', ')}): give y as { ${topology.labels.map((l) => `${l.name}: Matrix`).join(', ')} }`,
    );
  }
  if (!isMatrix(data.y)) {
    // label sets no head reads are allowed (a case file may carry more than its graph uses)
    for (const l of topology.labels) {
      if (!isMatrix((data.y as Record<string, unknown>)[l.name]))
        throw new DataError(`data: y has no label set '${l.name}' (a matrix), which ${headsReading(topology, l.name)} reads`);
    }
  }
  if (topology.batch > x.rows) {
    throw new DataError(`data: batch ${topology.batch} is larger than the ${x.rows} rows of data`);
  }
  const at = firstNonFinite(x.data);
  if (at >= 0) throw new DataError(`data: x[${Math.floor(at / x.cols)}, ${at % x.cols}] is ${x.data[at]}`);
  for (const set of topology.labels) {
    const y = labelSet(data, set.name);
    const name = isMatrix(data.y) ? 'y' : `y.${set.name}`;
    checkMatrix(y, name);
    const head = headsReading(topology, set.name);
    if (y.cols !== set.width) throw new DataError(`data: ${name} is ${shapeOf(y)} but ${head} takes labels of width ${set.width}`);
    if (x.rows !== y.rows) throw new DataError(`data: x has ${x.rows} rows but ${name} has ${y.rows}`);
    const bad = firstNonFinite(y.data);
    if (bad >= 0) throw new DataError(`data: ${name}[${Math.floor(bad / y.cols)}, ${bad % y.cols}] is ${y.data[bad]}`);
    if (topology.heads.some((h) => h.labels === set.name && h.loss === 'softmax-cross-entropy')) checkOneHot(y, name);
  }
}

function headsReading(t: Topology, set: string): string {
  return t.heads
    .filter((h) => h.labels === set)
    .map((h) => (t.naming === 'chain' ? 'the head' : `head '${h.id}'`))
    .join(' and ');
}

/** A matrix whose storage holds exactly rows × cols values. */
function checkMatrix(m: Matrix, name: string): void {
  const problem = matrixProblem(m, name);
  if (problem) throw new DataError(`data: ${problem}`);
}

function checkOneHot(y: Matrix, name: string): void {
  for (let i = 0; i < y.rows; i++) {
    let sum = 0,
      negative = false;
    for (let j = 0; j < y.cols; j++) ((sum += y.data[i * y.cols + j]), (negative ||= y.data[i * y.cols + j] < 0));
    if (negative || Math.abs(sum - 1) > 1e-4) {
      throw new DataError(
        `data: ${name} row ${i} ${negative ? 'has a negative entry' : `sums to ${sum}`}; the softmax-cross-entropy head needs one-hot ` +
          `(or probability) rows: make them with oneHot(classes, ${y.cols})`,
      );
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
    if (!Number.isInteger(c) || c < 0 || c >= count)
      throw new RangeError(`oneHot: label ${i} is ${c}, expected an integer in [0, ${count})`);
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
      if (!Number.isInteger(r) || r < 0 || r >= m.rows)
        throw new RangeError(`selectRows: row ${r} (position ${i}) is outside ${m.rows} rows`);
      out.data.set(m.data.subarray(r * m.cols, (r + 1) * m.cols), i * m.cols);
    }
    return out;
  };
  if (isMatrix(data.y)) return { x: pick(data.x, into?.x), y: pick(data.y, into && isMatrix(into.y) ? into.y : undefined) };
  const target = into && !isMatrix(into.y) ? (into.y as Record<string, Matrix>) : undefined;
  return { x: pick(data.x, into?.x), y: Object.fromEntries(Object.entries(data.y).map(([k, m]) => [k, pick(m, target?.[k])])) };
}

/** A data set of zeros shaped like `data` (x and every label set). */
export function zerosLike(data: Dataset): Dataset {
  const like = (m: Matrix) => zeros(m.rows, m.cols);
  return { x: like(data.x), y: isMatrix(data.y) ? like(data.y) : Object.fromEntries(Object.entries(data.y).map(([k, m]) => [k, like(m)])) };
}

/**
 * The rows in a random order drawn from `rng` (Fisher-Yates over 0..rows-1), copied (into `into`,
 * a data set of the same shape, when given): the same generator state gives the same order, so a
 * seeded training that shuffles every epoch repeats.
 */
export function shuffleRows(data: Dataset, rng: Rng, into?: Dataset): Dataset {
  return selectRows(data, rng.shuffle(Array.from({ length: data.x.rows }, (_, i) => i)), into);
}
