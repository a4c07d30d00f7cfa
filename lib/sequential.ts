/**
 * The maths of docs/maths.md in a bare loop, without actors or streams: the seed's sequential
 * order, on any graph. It is the baseline that shows what the actors cost, and a second,
 * independent driver of the same maths objects (the actors must match it bit for bit).
 *
 * Per batch: every node's forward pass in topological order (each decoupled edge's synthesizer
 * predicting right after its node), every head, then every node's update in reverse order (its
 * consumers have all sent their share back by then), each share going to its source node or, on
 * a decoupled edge, to that edge's synthesizer as its target.
 */
import { type Dataset, batchSource } from './data.ts';
import type { Matrix } from './matrix.ts';
import type { Network } from './network.ts';
import { History } from './history.ts';

export interface TrainingHistory {
  /** the weighted sum of the heads' losses on each batch's forward pass */
  losses: Float64Array;
  /** the first head's accuracy on each batch's forward pass */
  accuracies: Float64Array;
  /** sum over synthesizers of each batch's synthesizer loss */
  synthesizerLosses: Float64Array;
}

/** Train `net` in place for `steps` batches and drain the pending refits. */
export function trainSequential(net: Network, data: Dataset, steps: number): TrainingHistory {
  const { layers, synthesizers, heads, topology: g } = net;
  const history = new History(steps, g.heads.map((h) => h.weight), g.synthesizers.length);
  const source = batchSource(data, g);
  const contexts = g.synthesizers.map((s) => (s.contextLabels ? source.labels(s.contextLabels) : null));
  const headLabels = g.heads.map((h) => source.labels(h.labels));
  // each edge's place among its node's outputs, and what each node has received for this batch
  const outputSlot = new Int32Array(g.edges.length);
  for (const n of g.nodes) n.outputs.forEach((e, k) => (outputSlot[e] = k));
  const gradients: Matrix[][] = g.nodes.map((n) => new Array<Matrix>(n.outputs.length));
  const outputs: Matrix[] = new Array<Matrix>(g.nodes.length);
  const inputs: Matrix[][] = g.nodes.map((n) => new Array<Matrix>(n.sources.length));

  // the gradient flowing back along edge e: the edge's synthesizer's target, or its source's share
  const deliver = (t: number, e: number, grad: Matrix): void => {
    const edge = g.edges[e];
    if (edge.synthesizer >= 0) {
      // in this order a batch is always predicted before its target arrives, so the loss is known
      const loss = synthesizers[edge.synthesizer].target(t, grad);
      if (loss === null) throw new Error(`${synthesizers[edge.synthesizer].id}: target of batch ${t} before its prediction`);
      history.recordSynthesizerLoss(edge.synthesizer, t, loss);
    } else gradients[edge.from][outputSlot[e]] = grad;
  };

  for (let t = 0; t < steps; t++) {
    const x = source.x(t);
    for (const n of g.nodes) {
      const xs = inputs[n.index];
      n.sources.forEach((s, k) => (xs[k] = s.node < 0 ? x : outputs[s.node]));
      const h = layers[n.index].forward(t, xs);
      outputs[n.index] = h;
      n.outputs.forEach((e, k) => {
        const s = g.edges[e].synthesizer;
        if (s >= 0) gradients[n.index][k] = synthesizers[s].predict(t, h, contexts[s]?.(t) ?? null);
      });
    }
    for (const h of g.heads) {
      const r = heads[h.index].evaluate(t, outputs[h.node], headLabels[h.index](t));
      history.recordHeadLoss(h.index, t, r.loss, r.accuracy);
      deliver(t, h.edge, r.gradient);
    }
    for (let i = g.nodes.length - 1; i >= 0; i--) {
      const n = g.nodes[i];
      const shares = layers[i].update(t, gradients[i]);
      n.sources.forEach((s, k) => s.node >= 0 && deliver(t, s.edge, shares[k]!));
    }
    history.finish(t);
  }
  for (const s of synthesizers) s.drain();
  return { losses: history.losses, accuracies: history.accuracies, synthesizerLosses: history.synthesizerLosses() };
}
