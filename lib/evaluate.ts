/**
 * Evaluation without side effects: a forward pass of a parameter set over a whole data set, on
 * buffers of its own, through the topology's head. It reads the parameters and writes nothing
 * that a training holds (no parameter, optimiser, synthesizer or ring buffer).
 */
import { type Dataset } from './data.ts';
import { DataError, TopologyError } from './errors.ts';
import { createHead } from './head.ts';
import { backend } from './kernels.ts';
import { type Matrix, release, rowsView, shapeOf, zeros } from './matrix.ts';
import type { ParameterSet } from './params.ts';
import type { Topology } from './topology.ts';

export interface Evaluation {
  /** the head's loss, averaged over every row */
  readonly loss: number;
  /** the head's accuracy over every row (softmax cross-entropy: argmax agrees with the label's) */
  readonly accuracy: number;
  readonly rows: number;
}

export interface EvaluateOptions {
  /** rows per forward pass (bounds the buffers). Default 256. */
  chunk?: number;
}

/**
 * Loss and accuracy of `params` on `data` (every row, the last chunk may be short).
 *
 * @example
 * const { accuracy } = evaluate(result.params, topology, testSet);
 */
export function evaluate(params: ParameterSet, topology: Topology, data: Dataset, options: EvaluateOptions = {}): Evaluation {
  const { x, y } = data;
  if (x.cols !== topology.inputs) throw new DataError(`evaluate: x is ${shapeOf(x)} but layer 0 takes ${topology.inputs} inputs`);
  if (y.cols !== topology.labels) throw new DataError(`evaluate: y is ${shapeOf(y)} but the head takes labels of width ${topology.labels}`);
  if (x.rows !== y.rows) throw new DataError(`evaluate: x has ${x.rows} rows but y has ${y.rows}`);
  if (x.rows === 0) throw new DataError('evaluate: the data set has no rows');
  const weights = topology.layers.map((l) => {
    const W = params[`layer${l.index}.W`], b = params[`layer${l.index}.b`];
    if (!W || W.rows !== l.inputs || W.cols !== l.units) {
      throw new TopologyError(`evaluate: 'layer${l.index}.W' is ${W ? shapeOf(W) : 'missing'}, the topology needs ${l.inputs}x${l.units}`);
    }
    if (!b || b.data.length !== l.units) throw new TopologyError(`evaluate: 'layer${l.index}.b' needs ${l.units} values`);
    return { W, b: { rows: 1, cols: l.units, data: b.data } };
  });
  const chunk = options.chunk ?? 256;
  if (!Number.isInteger(chunk) || chunk <= 0) throw new RangeError(`evaluate: chunk must be a positive integer, got ${chunk}`);

  const k = backend();
  const passes = new Map<number, { outputs: Matrix[]; head: ReturnType<typeof createHead> }>();
  const passFor = (rows: number) => {
    let p = passes.get(rows);
    if (!p) {
      const outputs = topology.layers.map((l) => zeros(rows, l.units));
      p = { outputs, head: createHead('evaluate', { ...topology, batch: rows }, 1) };
      passes.set(rows, p);
    }
    return p;
  };
  let loss = 0, accuracy = 0;
  try {
    for (let start = 0; start < x.rows; start += chunk) {
      const rows = Math.min(chunk, x.rows - start), { outputs, head } = passFor(rows);
      let a = rowsView(x, start, rows);
      topology.layers.forEach((l, i) => {
        const h = outputs[i];
        k.matmul(a, weights[i].W, h);
        k.addRowVector(h, weights[i].b);
        k.activate(l.activation, h);
        a = h;
      });
      const r = head.evaluate(0, a, rowsView(y, start, rows));
      loss += r.loss * rows;
      accuracy += r.accuracy * rows;
    }
  } finally {
    // the buffers are this call's alone: give them back (the wasm arena never grows)
    for (const p of passes.values()) {
      for (const m of p.outputs) release(m, k);
      p.head.dispose();
    }
  }
  return { loss: loss / x.rows, accuracy: accuracy / x.rows, rows: x.rows };
}
