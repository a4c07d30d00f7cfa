/**
 * The softmax cross-entropy head of a classifier. The last layer is linear and gives logits z;
 * `p = softmax(z)` per row, `loss = -mean_rows(sum_cols(y log p))`, and the per-example gradient
 * with respect to z is `p - y` (the layer update takes the batch mean, as for every gradient).
 * Labels are one-hot rows (`oneHot` in data.ts makes them from class indices); accuracy is the fraction of rows whose largest
 * logit is at the label's largest entry.
 */
import { DivergenceError } from './errors.ts';
import type { HeadResult } from './head.ts';
import { type Matrix, shapeOf } from './matrix.ts';
import { MatrixRing } from './ring.ts';
import type { Topology } from './topology.ts';

export class SoftmaxCrossEntropyHead {
  private readonly gradients: MatrixRing;

  constructor(
    readonly id: string,
    readonly topology: Topology,
    ringDepth: number,
  ) {
    this.gradients = new MatrixRing(ringDepth, topology.batch, topology.labels);
  }

  evaluate(batch: number, z: Matrix, y: Matrix): HeadResult {
    if (z.rows !== y.rows || z.cols !== y.cols) {
      throw new RangeError(`${this.id}: logits ${shapeOf(z)} and labels ${shapeOf(y)} differ at batch ${batch}`);
    }
    const gradient = this.gradients.slot(batch);
    if (gradient.rows !== z.rows) throw new RangeError(`${this.id}: batch ${batch} has ${z.rows} rows, the head takes ${gradient.rows}`);
    const { loss, correct } = softmaxCrossEntropy(z, y, gradient);
    if (!Number.isFinite(loss)) throw new DivergenceError(this.id, batch, 'loss', `loss = ${loss}`);
    return { loss, accuracy: correct / z.rows, gradient };
  }

  dispose(): void {
    this.gradients.dispose();
  }
}

/**
 * Mean cross-entropy of softmax(z) against y over the rows, computed stably (max subtracted, float64),
 * the number of rows whose argmax agrees, and, when `gradient` is given, `softmax(z) - y` into it.
 */
export function softmaxCrossEntropy(z: Matrix, y: Matrix, gradient: Matrix | null): { loss: number; correct: number } {
  const n = z.cols, Z = z.data, Y = y.data, G = gradient?.data;
  let total = 0, correct = 0;
  for (let r = 0; r < z.rows; r++) {
    const o = r * n;
    let max = -Infinity, best = 0, label = 0;
    for (let j = 0; j < n; j++) {
      if (Z[o + j] > max) (max = Z[o + j]), (best = j);
      if (Y[o + j] > Y[o + label]) label = j;
    }
    let sum = 0;
    for (let j = 0; j < n; j++) sum += Math.exp(Z[o + j] - max);
    const logSum = Math.log(sum);
    for (let j = 0; j < n; j++) {
      const shifted = Z[o + j] - max;
      if (Y[o + j] !== 0) total -= Y[o + j] * (shifted - logSum);
      if (G) G[o + j] = Math.exp(shifted) / sum - Y[o + j];
    }
    if (best === label) correct++;
  }
  return { loss: total / z.rows, correct };
}
