/**
 * The head: the loss of a batch's output and the true gradient with respect to that output.
 * MSE: `loss = 0.5 * mean_rows(sum_cols((y_hat - y)²))`, gradient `y_hat - y`; accuracy is the
 * fraction of outputs within 0.5 of their label (bit accuracy when the labels are 0/1).
 */
import { DivergenceError } from './errors.ts';
import { type Matrix, shapeOf } from './matrix.ts';
import { MatrixRing } from './ring.ts';
import { SoftmaxCrossEntropyHead } from './softmax-head.ts';
import type { Topology } from './topology.ts';

export interface HeadResult {
  loss: number;
  /** fraction of outputs within 0.5 of their label (bit accuracy on binary targets) */
  accuracy: number;
  /** dl/dy_hat per example (a ring slot, valid while the batch is in flight) */
  gradient: Matrix;
}

export class MseHead {
  private readonly gradients: MatrixRing;

  constructor(
    readonly id: string,
    readonly topology: Topology,
    ringDepth: number,
  ) {
    this.gradients = new MatrixRing(ringDepth, topology.batch, topology.labels);
  }

  evaluate(batch: number, yHat: Matrix, y: Matrix): HeadResult {
    if (yHat.rows !== y.rows || yHat.cols !== y.cols) {
      throw new RangeError(`${this.id}: output ${shapeOf(yHat)} and labels ${shapeOf(y)} differ at batch ${batch}`);
    }
    const gradient = this.gradients.slot(batch), G = gradient.data, P = yHat.data, Y = y.data;
    let sum = 0, close = 0;
    for (let i = 0; i < G.length; i++) {
      const e = P[i] - Y[i];
      G[i] = e;
      sum += e * e;
      if (e < 0.5 && e > -0.5) close++;
    }
    const loss = (0.5 * sum) / yHat.rows;
    if (!Number.isFinite(loss)) throw new DivergenceError(this.id, batch, 'loss', `loss = ${loss}`);
    return { loss, accuracy: close / G.length, gradient };
  }

  dispose(): void {
    this.gradients.dispose();
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
