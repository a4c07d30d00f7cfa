/**
 * The head: the loss of a batch's output and the true gradient with respect to that output.
 * MSE: `loss = 0.5 * mean_rows(sum_cols((y_hat - y)²))`, gradient `y_hat - y`; accuracy is the
 * fraction of outputs within 0.5 of their label (bit accuracy when the labels are 0/1).
 */
import { DivergenceError } from './errors.ts';
import { type Matrix, shapeOf } from './matrix.ts';
import { MatrixRing } from './ring.ts';
import { softmaxCrossEntropy } from './softmax-head.ts';
import type { Topology } from './topology.ts';

export interface HeadResult {
  loss: number;
  /** fraction of outputs within 0.5 of their label (bit accuracy on binary targets) */
  accuracy: number;
  /** dl/dy_hat per example (a ring slot, valid while the batch is in flight) */
  gradient: Matrix;
}

/** What every head shares: its name, its topology, and a ring of per-batch gradients. */
abstract class RingHead {
  private readonly gradients: MatrixRing;

  constructor(
    readonly id: string,
    readonly topology: Topology,
    ringDepth: number,
  ) {
    this.gradients = new MatrixRing(ringDepth, topology.batch, topology.labels);
  }

  abstract evaluate(batch: number, output: Matrix, y: Matrix): HeadResult;

  /** Batch t's gradient buffer, once the output (`what`: output, logits) and the labels agree in shape. */
  protected slotFor(batch: number, output: Matrix, y: Matrix, what: string): Matrix {
    if (output.rows !== y.rows || output.cols !== y.cols) {
      throw new RangeError(`${this.id}: ${what} ${shapeOf(output)} and labels ${shapeOf(y)} differ at batch ${batch}`);
    }
    const gradient = this.gradients.slot(batch);
    if (gradient.rows !== output.rows) throw new RangeError(`${this.id}: batch ${batch} has ${output.rows} rows, the head takes ${gradient.rows}`);
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
    const gradient = this.slotFor(batch, yHat, y, 'output'), G = gradient.data, P = yHat.data, Y = y.data;
    let sum = 0, close = 0;
    for (let i = 0; i < G.length; i++) {
      const e = P[i] - Y[i];
      G[i] = e;
      sum += e * e;
      if (e < 0.5 && e > -0.5) close++;
    }
    return { loss: this.checked(batch, (0.5 * sum) / yHat.rows), accuracy: close / G.length, gradient };
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
    return { loss: this.checked(batch, loss), accuracy: correct / z.rows, gradient };
  }
}

/** A head: the loss, accuracy and true gradient of a batch's output (what the head actor runs). */
export interface Head {
  readonly id: string;
  evaluate(batch: number, yHat: Matrix, y: Matrix): HeadResult;
  /** Give the head's buffers (its gradient ring) back to the backend; the head cannot be used afterwards. */
  dispose(): void;
}

/** The head the topology's `loss` names, for batches of `topology.batch` rows. */
export function createHead(id: string, topology: Topology, ringDepth: number): Head {
  switch (topology.loss) {
    case 'mse':
      return new MseHead(id, topology, ringDepth);
    case 'softmax-cross-entropy':
      return new SoftmaxCrossEntropyHead(id, topology, ringDepth);
  }
}
