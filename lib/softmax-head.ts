/**
 * The maths of the softmax cross-entropy head of a classifier (the head itself is in head.ts). The last layer is linear and gives logits z;
 * `p = softmax(z)` per row, `loss = -mean_rows(sum_cols(y log p))`, and the per-example gradient
 * with respect to z is `p - y` (the layer update takes the batch mean, as for every gradient).
 * Labels are one-hot rows (`oneHot` in data.ts makes them from class indices); accuracy is the fraction of rows whose largest
 * logit is at the label's largest entry.
 */
import type { Matrix } from './matrix.ts';

/**
 * Mean cross-entropy of softmax(z) against y over the rows, computed stably (max subtracted, float64),
 * the number of rows whose argmax agrees, and, when `gradient` is given, `softmax(z) - y` into it.
 */
export function softmaxCrossEntropy(z: Matrix, y: Matrix, gradient: Matrix | null): { loss: number; correct: number } {
  const n = z.cols,
    Z = z.data,
    Y = y.data,
    G = gradient?.data;
  let total = 0,
    correct = 0;
  for (let r = 0; r < z.rows; r++) {
    const o = r * n;
    let max = -Infinity,
      best = 0,
      label = 0;
    for (let j = 0; j < n; j++) {
      if (Z[o + j] > max) ((max = Z[o + j]), (best = j));
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
