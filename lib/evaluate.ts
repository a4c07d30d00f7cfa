/**
 * Evaluation without side effects: a forward pass of a parameter set over a whole data set, on
 * buffers of its own, through the topology's head. It reads the parameters and writes nothing
 * that a training holds (no parameter, optimiser, synthesizer or ring buffer).
 */
import { type Dataset, labelSet, validateDataset } from './data.ts';
import { TopologyError } from './errors.ts';
import { type Head, createHead } from './head.ts';
import { backend } from './kernels/kernels.ts';
import { type Matrix, release, rowsView, shapeOf, zeros } from './matrix.ts';
import type { ParameterSet } from './params.ts';
import type { Topology } from './topology.ts';

export interface Evaluation {
  /** the weighted sum of the heads' losses, averaged over every row */
  readonly loss: number;
  /** the first head's accuracy over every row (softmax cross-entropy: argmax agrees with the label's) */
  readonly accuracy: number;
  readonly rows: number;
  /** each head's own loss and accuracy, by head id */
  readonly heads: Readonly<Record<string, { readonly loss: number; readonly accuracy: number }>>;
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
  validateDataset({ x: data.x, y: data.y }, { ...topology, batch: 1 });
  const { x } = data;
  const weights = topology.nodes.map((n) => {
    const W = params[`${n.key}.W`],
      b = params[`${n.key}.b`];
    if (!W || W.rows !== n.inputs || W.cols !== n.units) {
      throw new TopologyError(`evaluate: '${n.key}.W' is ${W ? shapeOf(W) : 'missing'}, the topology needs ${n.inputs}x${n.units}`);
    }
    if (!b || b.data.length !== n.units) throw new TopologyError(`evaluate: '${n.key}.b' needs ${n.units} values`);
    return { W, b: { rows: 1, cols: n.units, data: b.data } };
  });
  const chunk = options.chunk ?? 256;
  if (!Number.isInteger(chunk) || chunk <= 0) throw new RangeError(`evaluate: chunk must be a positive integer, got ${chunk}`);

  const k = backend();
  const passes = new Map<number, { inputs: Matrix[]; outputs: Matrix[]; heads: Head[] }>();
  const passFor = (rows: number) => {
    let p = passes.get(rows);
    if (!p) {
      p = {
        inputs: topology.nodes.map((n) => zeros(rows, n.inputs)),
        outputs: topology.nodes.map((n) => zeros(rows, n.units)),
        heads: topology.heads.map((h) => createHead('evaluate', h, rows, 1)),
      };
      passes.set(rows, p);
    }
    return p;
  };
  const totals = topology.heads.map(() => ({ loss: 0, accuracy: 0 }));
  try {
    for (let start = 0; start < x.rows; start += chunk) {
      const rows = Math.min(chunk, x.rows - start),
        { inputs, outputs, heads } = passFor(rows);
      const xs = rowsView(x, start, rows);
      for (const n of topology.nodes) {
        const input = inputs[n.index],
          h = outputs[n.index];
        n.sources.forEach((s, j) => {
          const m = s.node < 0 ? xs : outputs[s.node];
          if (n.merge === 'sum' && j > 0) for (let i = 0; i < input.data.length; i++) input.data[i] += m.data[i];
          else if (n.merge === 'sum' || n.sources.length === 1) input.data.set(m.data);
          else for (let r = 0; r < rows; r++) input.data.set(m.data.subarray(r * s.width, (r + 1) * s.width), r * n.inputs + s.offset);
        });
        k.matmul(input, weights[n.index].W, h);
        k.addRowVector(h, weights[n.index].b);
        k.activate(n.activation, h);
      }
      for (const head of topology.heads) {
        const r = heads[head.index].evaluate(0, outputs[head.node], rowsView(labelSet(data, head.labels), start, rows));
        totals[head.index].loss += r.loss * rows;
        totals[head.index].accuracy += r.accuracy * rows;
      }
    }
  } finally {
    // the buffers are this call's alone: give them back (the wasm arena never grows)
    for (const p of passes.values()) {
      for (const m of [...p.inputs, ...p.outputs]) release(m, k);
      for (const h of p.heads) h.dispose();
    }
  }
  const perHead = totals.map((t) => ({ loss: t.loss / x.rows, accuracy: t.accuracy / x.rows }));
  let loss = 0;
  topology.heads.forEach((h, i) => (loss += h.weight * perHead[i].loss));
  return { loss, accuracy: perHead[0].accuracy, rows: x.rows, heads: Object.fromEntries(topology.heads.map((h, i) => [h.id, perHead[i]])) };
}
