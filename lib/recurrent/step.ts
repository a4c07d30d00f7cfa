/**
 * One owner's parameter step (a core layer, the readout, an aux head): batch-mean gradients given
 * per parameter, an optional clip of their joint norm, then the owner's optimiser.
 *
 * A window's gradients are sums over its steps and means over the batch (`Σ_t xᵀd / B`), so
 * the scale is explicit here, not `1 / rows` as `Optimizer.outer` takes it. Plain SGD without a
 * clip keeps the fused path of docs/maths.md (`W -= lr Σ_t xᵀd / B` as one GEMM into W, no gradient
 * buffer); momentum and Adam write into their optimiser's gradient buffers and step it; plain SGD
 * with a clip keeps buffers of its own.
 */
import { backend } from '../kernels/kernels.ts';
import { type Matrix, release, zeros } from '../matrix.ts';
import { Optimizer, type OptimizerConfig, type OptimizerState, isPlainSgd } from '../optimizers.ts';

export class ParameterStep {
  readonly optimizer: Optimizer;
  /** where gradients go (empty on the fused path) */
  private readonly grads: readonly Matrix[];
  private readonly own: Matrix[] = [];
  private readonly fused: boolean;
  private readonly kernels = backend();
  /** with a clip: each gradient as one row, and zeros as long as the longest (the norm through the backend's kernels) */
  private readonly flat: Matrix[] = [];
  private readonly zero: Matrix | null = null;

  constructor(
    readonly config: OptimizerConfig,
    readonly params: readonly Matrix[],
    /** largest norm of the joint gradient of `params`, or null */
    readonly clip: number | null,
  ) {
    this.optimizer = new Optimizer(config, params);
    const plain = isPlainSgd(config);
    this.fused = plain && clip === null;
    if (plain && clip !== null) this.own = params.map((p) => zeros(p.rows, p.cols));
    this.grads = plain ? this.own : this.optimizer.gradients;
    if (clip !== null && !this.fused) {
      this.flat = this.grads.map((g) => ({ rows: 1, cols: g.data.length, data: g.data }));
      this.zero = zeros(1, Math.max(...this.flat.map((g) => g.cols)));
    }
  }

  /** Parameter i's gradient is `scale · aᵀd`, by default the batch mean `aᵀd / rows` (fused: `p -= lr · scale · aᵀd` now). */
  outer(i: number, a: Matrix, d: Matrix, scale = 1 / a.rows): void {
    if (this.fused) this.kernels.matmulTA(a, d, this.params[i], -this.config.lr * scale, 1);
    else this.kernels.matmulTA(a, d, this.grads[i], scale, 0);
  }

  /** Parameter i's gradient is `scale · Σ_rows d` (fused: applied now). */
  rows(i: number, d: Matrix, scale: number): void {
    const alpha = scale * d.rows;
    if (this.fused) this.kernels.meanRows(d, this.params[i], -this.config.lr * alpha, 1);
    else this.kernels.meanRows(d, this.grads[i], alpha, 0);
  }

  /** Parameter i's gradient is `mean_rows(d)` (as {@link Optimizer.mean}: a synthesizer's refit steps through either). */
  mean(i: number, d: Matrix): void {
    this.rows(i, d, 1 / d.rows);
  }

  /** Clip the joint norm when asked, then apply (every parameter's gradient must have been given). */
  step(): void {
    if (this.zero) {
      // the joint norm (Σ g² in float64), then g *= clip / norm as a one-row meanRows in place:
      // each element rounds exactly as `g[i] *= s` would, at backend speed
      const K = this.kernels;
      let sq = 0;
      for (const g of this.flat) sq += K.squaredDistance(g, { rows: 1, cols: g.cols, data: this.zero.data.subarray(0, g.cols) });
      const norm = Math.sqrt(sq);
      if (norm > this.clip! && Number.isFinite(norm)) {
        const s = this.clip! / norm;
        for (const g of this.flat) K.meanRows(g, g, s, 0);
      }
    }
    if (this.fused || this.own.length === 0) {
      this.optimizer.step();
      return;
    }
    // plain SGD with a clip: p -= lr g from our own buffers
    const lr = this.config.lr;
    this.params.forEach((p, k) => {
      const P = p.data,
        G = this.own[k].data;
      for (let i = 0; i < P.length; i++) P[i] -= lr * G[i];
    });
    this.optimizer.step(); // counts the step
  }

  state(): OptimizerState {
    return this.optimizer.state();
  }

  setState(s: OptimizerState): void {
    this.optimizer.setState(s);
  }

  dispose(): void {
    for (const m of this.own) release(m, this.kernels);
    if (this.zero) release(this.zero, this.kernels);
    this.own.length = 0;
    this.optimizer.dispose();
  }
}
