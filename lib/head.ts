/**
 * A head: the loss of a batch's output and the true gradient with respect to that output, scaled
 * by the head's weight (a graph's total loss is the weighted sum of its heads' losses).
 * MSE: `loss = 0.5 * mean_rows(sum_cols((y_hat - y)²))`, gradient `y_hat - y`; accuracy is the
 * fraction of outputs within 0.5 of their label (bit accuracy when the labels are 0/1).
 */
import { DivergenceError } from './errors.ts';
import { type Matrix, shapeOf } from './matrix.ts';
import { MatrixRing } from './ring.ts';
import { softmaxCrossEntropy } from './softmax-head.ts';
import type { Loss } from './graph.ts';

export interface HeadResult {
  /** the head's own loss (not weighted) */
  loss: number;
  /** fraction of outputs within 0.5 of their label (bit accuracy on binary targets) */
  accuracy: number;
  /** weight × dl/dy_hat per example (a ring slot, valid while the batch is in flight) */
  gradient: Matrix;
}

/** What a head is: its loss, label width and weight. */
export interface HeadShape {
  readonly loss: Loss;
  /** width of its labels (and of the output it scores) */
  readonly width: number;
  readonly weight: number;
}

/** What every head shares: its name, its shape, and a ring of per-batch gradients. */
abstract class RingHead {
  private readonly gradients: MatrixRing;

  constructor(
    readonly id: string,
    readonly spec: HeadShape,
    readonly batchSize: number,
    ringDepth: number,
  ) {
    this.gradients = new MatrixRing(ringDepth, batchSize, spec.width);
  }

  abstract evaluate(batch: number, output: Matrix, y: Matrix): HeadResult;

  /** Batch t's gradient buffer, once the output (`what`: output, logits) and the labels agree in shape. */
  protected slotFor(batch: number, output: Matrix, y: Matrix, what: string): Matrix {
    if (output.rows !== y.rows || output.cols !== y.cols) {
      throw new RangeError(`${this.id}: ${what} ${shapeOf(output)} and labels ${shapeOf(y)} differ at batch ${batch}`);
    }
    const gradient = this.gradients.slot(batch);
    if (gradient.rows !== output.rows)
      throw new RangeError(`${this.id}: batch ${batch} has ${output.rows} rows, the head takes ${gradient.rows}`);
    return gradient;
  }

  /** Scale the gradient by the head's weight (a weight of 1 leaves it as it is). */
  protected weighted(gradient: Matrix): Matrix {
    const w = this.spec.weight;
    if (w !== 1) for (let i = 0, G = gradient.data; i < G.length; i++) G[i] *= w;
    return gradient;
  }

  /** Stop at a non-finite loss, naming the head and the batch. */
  protected checked(batch: number, loss: number): number {
    if (!Number.isFinite(loss)) throw new DivergenceError(this.id, batch, 'loss', `loss = ${loss}`);
    return loss;
  }

  dispose(): void {
    this.gradients.dispose();
  }
}

/** MSE: `loss = 0.5 * mean_rows(sum_cols((y_hat - y)²))`, gradient `y_hat - y`. */
export class MseHead extends RingHead {
  evaluate(batch: number, yHat: Matrix, y: Matrix): HeadResult {
    const gradient = this.slotFor(batch, yHat, y, 'output'),
      G = gradient.data,
      P = yHat.data,
      Y = y.data;
    let sum = 0,
      close = 0;
    for (let i = 0; i < G.length; i++) {
      const e = P[i] - Y[i];
      G[i] = e;
      sum += e * e;
      if (e < 0.5 && e > -0.5) close++;
    }
    return { loss: this.checked(batch, (0.5 * sum) / yHat.rows), accuracy: close / G.length, gradient: this.weighted(gradient) };
  }
}

/**
 * Softmax cross-entropy for a classifier: the last layer is linear and gives logits z, `p = softmax(z)`
 * per row, `loss = -mean_rows(sum_cols(y log p))`, per-example gradient `p - y` (see softmax-head.ts).
 * Accuracy: the fraction of rows whose largest logit is at the label's largest entry.
 */
export class SoftmaxCrossEntropyHead extends RingHead {
  evaluate(batch: number, z: Matrix, y: Matrix): HeadResult {
    const gradient = this.slotFor(batch, z, y, 'logits');
    const { loss, correct } = softmaxCrossEntropy(z, y, gradient);
    return { loss: this.checked(batch, loss), accuracy: correct / z.rows, gradient: this.weighted(gradient) };
  }
}

/** A head: the loss, accuracy and true gradient of a batch's output (what the head actor runs). */
export interface Head {
  readonly id: string;
  readonly spec: HeadShape;
  evaluate(batch: number, yHat: Matrix, y: Matrix): HeadResult;
  /** Give the head's buffers (its gradient ring) back to the backend; the head cannot be used afterwards. */
  dispose(): void;
}

/** The head `spec.loss` names, for batches of `batchSize` rows. */
export function createHead(id: string, spec: HeadShape, batchSize: number, ringDepth: number): Head {
  switch (spec.loss) {
    case 'mse':
      return new MseHead(id, spec, batchSize, ringDepth);
    case 'softmax-cross-entropy':
      return new SoftmaxCrossEntropyHead(id, spec, batchSize, ringDepth);
  }
}
