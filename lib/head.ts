/**
 * The head: the loss of a batch's output and the true gradient with respect to that output.
 * MSE: `loss = 0.5 * mean_rows(sum_cols((y_hat - y)²))`, gradient `y_hat - y`.
 */
import { DivergenceError } from './errors.ts';
import { type Matrix, shapeOf } from './matrix.ts';
import { MatrixRing } from './ring.ts';
import type { Topology } from './topology.ts';

export interface HeadResult {
  loss: number;
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
    let sum = 0;
    for (let i = 0; i < G.length; i++) {
      const e = P[i] - Y[i];
      G[i] = e;
      sum += e * e;
    }
    const loss = (0.5 * sum) / yHat.rows;
    if (!Number.isFinite(loss)) throw new DivergenceError(this.id, batch, 'loss', `loss = ${loss}`);
    return { loss, gradient };
  }
}
