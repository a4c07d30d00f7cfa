/**
 * The maths of docs/maths.md in a bare loop, without actors or streams: the seed's sequential
 * order, on any graph. It is the baseline that shows what the actors cost, and a second,
 * independent driver of the same maths objects (the actors must match it bit for bit).
 *
 * Per batch: every forward synthesizer's prediction from the data, every node's forward pass in
 * topological order (each decoupled edge's synthesizer predicting right after its node, each
 * forward synthesizer on its edges getting the node's output as its target; a node whose source
 * sits behind a forward synthesizer reads its prediction instead), every head, then every node's
 * update in reverse order (its consumers have all sent their share back by then), each share
 * going to its source node or, on a decoupled edge, to that edge's synthesizer as its target (and
 * to the source too where the edge mixes the true gradient in at that step).
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
  const history = new History(
    steps,
    g.heads.map((h) => h.weight),
    g.synthesizers.length,
  );
  const source = batchSource(data, g);
  const contexts = g.synthesizers.map((s) => (s.contextLabels ? source.labels(s.contextLabels) : null));
  const headLabels = g.heads.map((h) => source.labels(h.labels));
  // each edge's place among its node's outputs, and what each node has received for this batch
  const outputSlot = new Int32Array(g.edges.length);
  for (const n of g.nodes) n.outputs.forEach((e, k) => (outputSlot[e] = k));
  const gradients: Matrix[][] = g.nodes.map((n) => new Array<Matrix>(n.outputs.length + n.mixed.length));
  // where a mixed edge's true gradient goes among its source's gradients
  const trueSlot = new Int32Array(g.edges.length).fill(-1);
  for (const n of g.nodes) n.mixed.forEach((m, j) => (trueSlot[n.outputs[m.slot]] = n.outputs.length + j));
  const forwards = g.synthesizers.filter((s) => s.forward);
  const synthetic: Matrix[] = new Array<Matrix>(g.edges.length);
  const outputs: Matrix[] = new Array<Matrix>(g.nodes.length);
  const inputs: Matrix[][] = g.nodes.map((n) => new Array<Matrix>(n.sources.length));

  // the gradient flowing back along edge e: the edge's synthesizer's target, or its source's share
  // in this order a batch is always predicted before its target arrives, so the loss is known
  const target = (t: number, s: number, value: Matrix): void => {
    const loss = synthesizers[s].target(t, value);
    if (loss === null) throw new Error(`${synthesizers[s].id}: target of batch ${t} before its prediction`);
    history.recordSynthesizerLoss(s, t, loss);
  };
  const deliver = (t: number, e: number, grad: Matrix): void => {
    const edge = g.edges[e];
    if (edge.synthesizer >= 0) {
      target(t, edge.synthesizer, grad);
      if (trueSlot[e] >= 0) gradients[edge.from][trueSlot[e]] = grad;
    } else gradients[edge.from][outputSlot[e]] = grad;
  };

  for (let t = 0; t < steps; t++) {
    const x = source.x(t);
    for (const f of forwards) synthetic[f.edge] = synthesizers[f.index].predict(t, x, null);
    for (const n of g.nodes) {
      const xs = inputs[n.index];
      n.sources.forEach((s, k) => (xs[k] = s.node < 0 ? x : g.edges[s.edge].forward >= 0 ? synthetic[s.edge] : outputs[s.node]));
      const h = layers[n.index].forward(t, xs);
      outputs[n.index] = h;
      n.outputs.forEach((e, k) => {
        const { synthesizer: s, forward: f } = g.edges[e];
        if (s >= 0) gradients[n.index][k] = synthesizers[s].predict(t, h, contexts[s]?.(t) ?? null);
        if (f >= 0) target(t, f, h);
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
