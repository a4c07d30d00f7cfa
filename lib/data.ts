/**
 * Data sets as two row-aligned matrices, and the batch order of DESIGN.md: batch t is rows
 * `[(t mod n) B, (t mod n) B + B)`, n = floor(rows / B), no shuffling. Batches are views.
 */
import { TopologyError } from './errors.ts';
import { type Matrix, firstNonFinite, rowsView, shapeOf } from './matrix.ts';
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

/** Refuse, by name, a data set that cannot feed the topology. */
export function validateDataset(data: Dataset, topology: Topology): void {
  if (!data || !data.x || !data.y) throw new TopologyError('data: expected { x, y } matrices');
  const { x, y } = data;
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
}
