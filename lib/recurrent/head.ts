/**
 * A recurrent network's head (actor `head:readout`): the per-step readout (keys `readout.W`,
 * `readout.b`) and its loss over one window: `o_t = h_t Wy + by` for each of the window's n steps
 * (one GEMM over its n·B step-major rows), then per step and example
 * - `sigmoid-cross-entropy`: `p = sigmoid(o)`, `ℓ = Σ_j BCE(p_j, y_j)` (from the logits, in float64),
 * - `mse`: `ℓ = 0.5 Σ_j (o_j - y_j)²`,
 * - `softmax-cross-entropy`: `p = softmax(o)`, `ℓ = -Σ_j y_j log p_j`;
 * the window's loss is `Σ_{t, b} m_tb ℓ_tb / B` (docs/maths.md: the batch mean of the per-example loss
 * restricted to the window), and the per-example gradient `dz_t = (p_t - y_t) m_t` (`o - y` for mse).
 * Upstream: `dh_t = dz_t Wyᵀ` with the pre-update Wy; the update is `Wy -= lr Σ_t h_tᵀ dz_t / B`,
 * `by -= lr Σ_t Σ_b dz_t / B`.
 */
import { DivergenceError } from '../errors.ts';
import { backend } from '../kernels/kernels.ts';
import { type Matrix, release, rowsView, zeros } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import type { RecurrentParameters } from './params.ts';
import { ParameterStep } from './step.ts';
import type { RecurrentTopology } from './topology.ts';

export class RecurrentHead {
  readonly W: Matrix;
  readonly b: Matrix;
  private readonly update: ParameterStep;
  /** outputs (probabilities for the cross-entropies) and the per-example gradient dz, T·B rows */
  private readonly out: Matrix;
  private readonly dz: Matrix;
  private readonly dh: Matrix;
  private readonly kernels = backend();
  private h: Matrix | null = null;
  private rows = 0;
  private step = -1;

  constructor(
    readonly topology: RecurrentTopology,
    params: RecurrentParameters,
  ) {
    const t = topology,
      T = t.truncation,
      B = t.batch,
      top = t.layers[t.layers.length - 1].units;
    this.W = params['readout.W'];
    this.b = params['readout.b'];
    this.update = new ParameterStep(t.readout.optimizer, [this.W, this.b], t.clip);
    this.out = zeros(T * B, t.outputs);
    this.dz = zeros(T * B, t.outputs);
    this.dh = zeros(T * B, top);
  }

  /**
   * Outputs, loss and gradient of the window whose top-layer outputs are `h` (n·B × H, step-major),
   * targets `y` (n·B × out) and mask `mask` (n·B). Returns the window's loss. `h` must stay unchanged
   * until {@link update}.
   */
  forward(step: number, h: Matrix, y: Matrix, mask: Float32Array): number {
    const k = this.kernels,
      R = h.rows,
      no = this.topology.outputs,
      B = this.topology.batch;
    const o = rowsView(this.out, 0, R),
      dz = rowsView(this.dz, 0, R);
    k.matmul(h, this.W, o);
    k.addRowVector(o, this.b);
    const O = o.data,
      Y = y.data,
      D = dz.data;
    let loss = 0;
    switch (this.topology.loss) {
      case 'sigmoid-cross-entropy':
        for (let r = 0; r < R; r++) {
          const m = mask[r];
          let l = 0;
          for (let j = r * no; j < (r + 1) * no; j++) {
            const z = O[j],
              yv = Y[j];
            // BCE(sigmoid(z), y) = max(z, 0) - z y + log(1 + e^{-|z|}), exact where p rounds to 0 or 1
            l += Math.max(z, 0) - z * yv + Math.log1p(Math.exp(-Math.abs(z)));
            const p = (O[j] = 1 / (1 + Math.exp(-z)));
            D[j] = (p - yv) * m;
          }
          loss += m * l;
        }
        break;
      case 'mse':
        for (let r = 0; r < R; r++) {
          const m = mask[r];
          let l = 0;
          for (let j = r * no; j < (r + 1) * no; j++) {
            const e = O[j] - Y[j];
            l += 0.5 * e * e;
            D[j] = e * m;
          }
          loss += m * l;
        }
        break;
      case 'softmax-cross-entropy':
        for (let r = 0; r < R; r++) {
          const m = mask[r],
            j0 = r * no;
          let max = -Infinity;
          for (let j = j0; j < j0 + no; j++) max = Math.max(max, O[j]);
          let sum = 0;
          for (let j = j0; j < j0 + no; j++) sum += Math.exp(O[j] - max);
          const logSum = Math.log(sum) + max;
          let l = 0;
          for (let j = j0; j < j0 + no; j++) {
            if (Y[j] !== 0) l -= Y[j] * (O[j] - logSum);
            const p = (O[j] = Math.exp(O[j] - logSum));
            D[j] = (p - Y[j]) * m;
          }
          loss += m * l;
        }
        break;
    }
    loss /= B;
    if (!Number.isFinite(loss)) throw new DivergenceError('head:readout', step, 'loss', `loss = ${loss}`);
    this.h = h;
    this.rows = R;
    this.step = step;
    return loss;
  }

  /** The window's outputs (probabilities, or linear outputs for mse), valid until the next forward. */
  outputs(): Matrix {
    return rowsView(this.out, 0, this.rows);
  }

  /** `dh_t = dz_t Wyᵀ` for every step of the last forward window (pre-update Wy). */
  backward(step: number): Matrix {
    if (step !== this.step) throw new Error(`readout: backward of step ${step}, but the last forward was step ${this.step}`);
    const dh = rowsView(this.dh, 0, this.rows);
    this.kernels.matmulTB(rowsView(this.dz, 0, this.rows), this.W, dh);
    return dh;
  }

  /** The batch-mean step on Wy and by (after {@link backward}). */
  updateParameters(step: number): void {
    if (step !== this.step || !this.h) throw new Error(`readout: update of step ${step}, but the last forward was step ${this.step}`);
    const dz = rowsView(this.dz, 0, this.rows),
      B = this.topology.batch;
    this.update.outer(0, this.h, dz, 1 / B);
    this.update.rows(1, dz, 1 / B);
    this.update.step();
    this.h = null;
  }

  optimizerState(): OptimizerState {
    return this.update.state();
  }

  restoreOptimizer(s: OptimizerState): void {
    this.update.setState(s);
  }

  dispose(): void {
    for (const m of [this.out, this.dz, this.dh]) release(m, this.kernels);
    this.update.dispose();
  }
}
