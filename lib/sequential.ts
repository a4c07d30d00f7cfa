/**
 * The maths of DESIGN.md in a bare loop, without actors or streams: the seed's sequential
 * order. It is the baseline that shows what the actors cost, and a second, independent
 * driver of the same maths objects (the actors must match it bit for bit).
 */
import { type Dataset, batchViews } from './data.ts';
import type { Matrix } from './matrix.ts';
import type { Network } from './network.ts';
import { History } from './history.ts';

export interface TrainingHistory {
  /** head loss of each batch's forward pass */
  losses: Float64Array;
  /** the head's accuracy on each batch's forward pass */
  accuracies: Float64Array;
  /** sum over synthesizers (in layer order) of each batch's synthesizer loss */
  synthesizerLosses: Float64Array;
}

/** Train `net` in place for `steps` batches and drain the pending refits. */
export function trainSequential(net: Network, data: Dataset, steps: number): TrainingHistory {
  const { layers, synthesizers, head } = net;
  const synthesizerLayers = synthesizers.flatMap((s, i) => (s ? [i] : []));
  const history = new History(steps, synthesizerLayers);

  // the gradient of the loss with respect to layer i's output, arriving from above
  const deliver = (t: number, i: number, g: Matrix): void => {
    const s = synthesizers[i];
    if (s) {
      // in this order a batch is always predicted before its target arrives, so the loss is known
      const loss = s.target(t, g);
      if (loss === null) throw new Error(`${s.id}: target of batch ${t} before its prediction`);
      history.recordSynthesizerLoss(synthesizerLayers.indexOf(i), t, loss);
      return;
    }
    const gx = layers[i].update(t, g, i > 0);
    if (gx) deliver(t, i - 1, gx);
  };

  const views = batchViews(data, net.topology.batch);
  for (let t = 0; t < steps; t++) {
    const batch = views[t % views.length];
    let a = batch.x;
    for (let i = 0; i < layers.length; i++) {
      const h = layers[i].forward(t, a);
      const s = synthesizers[i];
      if (s) {
        const gx = layers[i].update(t, s.predict(t, h, s.spec.conditioned ? batch.y : null), i > 0);
        if (gx) deliver(t, i - 1, gx);
      }
      a = h;
    }
    const { loss, accuracy, gradient } = head.evaluate(t, a, batch.y);
    history.recordLoss(t, loss, accuracy);
    deliver(t, layers.length - 1, gradient);
  }
  for (const s of synthesizers) s?.drain();
  return { losses: history.losses, accuracies: history.accuracies, synthesizerLosses: history.synthesizerLosses() };
}
