/**
 * Optimisers: how a layer or a synthesizer turns the batch-mean gradient of its parameters into
 * a step. Plain SGD (`lr` alone) keeps the fused path of docs/maths.md: `W -= lr xᵀd / B` is one
 * GEMM into W, with no gradient buffer. Momentum and Adam compute the gradient into a buffer
 * reused every step, then {@link Optimizer.step} applies it.
 *
 * - `sgd` with momentum μ (PyTorch's form): `v = μ v + g`, `p -= lr v`.
 * - `adam` (Kingma & Ba, with bias correction): `m = β1 m + (1-β1) g`, `v = β2 v + (1-β2) g²`,
 *   `p -= lr m̂ / (√v̂ + ε)`, `m̂ = m / (1-β1ᵗ)`, `v̂ = v / (1-β2ᵗ)`, t the owner's step count.
 *
 * The step itself is the backend's `adamStep` / `momentumStep` kernel (WebAssembly SIMD on the wasm
 * backend), or the TypeScript backend's loop where a backend has none.
 */
import { type KernelBackend, backend, typescriptBackend } from './kernels/kernels.ts';
import { type Matrix, release, shapeOf, zeros } from './matrix.ts';

/** Options of an optimiser, as a topology spec gives them. */
export type OptimizerSpec =
  | { kind: 'sgd'; lr: number; /** default 0 (plain SGD) */ momentum?: number }
  | { kind: 'adam'; lr: number; /** default 0.9 */ beta1?: number; /** default 0.999 */ beta2?: number; /** default 1e-8 */ eps?: number };

/** An optimiser with every default filled in (plain, JSON-safe). */
export type OptimizerConfig =
  | { readonly kind: 'sgd'; readonly lr: number; readonly momentum: number }
  | { readonly kind: 'adam'; readonly lr: number; readonly beta1: number; readonly beta2: number; readonly eps: number };

export const OPTIMIZERS = ['sgd', 'adam'] as const;

/**
 * What a checkpoint keeps of an optimiser: its step count and its moment buffers (momentum: one
 * per parameter; adam: first moments of every parameter, then second moments), copied.
 */
export interface OptimizerState {
  readonly kind: OptimizerConfig['kind'];
  readonly step: number;
  readonly moments: Float32Array[];
}

/** The optimiser of a layer or synthesizer topology: its `optimizer`, or plain SGD at its `lr`. */
export function optimizerOf(spec: { readonly lr: number; readonly optimizer?: OptimizerConfig }): OptimizerConfig {
  return spec.optimizer ?? { kind: 'sgd', lr: spec.lr, momentum: 0 };
}

/** Plain SGD at `lr`: the fused path. */
export function isPlainSgd(c: OptimizerConfig): boolean {
  return c.kind === 'sgd' && c.momentum === 0;
}

/**
 * One owner's optimiser (a layer's W and b, or a synthesizer's parameters), over a fixed list of
 * parameters. Callers give each parameter's gradient with {@link outer} or {@link mean}, then call
 * {@link step} once; with plain SGD those calls update the parameters at once and `step` only counts.
 *
 * @example
 * const opt = new Optimizer({ kind: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, [W, b]);
 * opt.outer(0, x, d); // dW = xᵀd / B
 * opt.mean(1, d);     // db = mean_rows(d)
 * opt.step();
 */
export class Optimizer {
  /** gradient buffers, one per parameter (none for plain SGD) */
  readonly gradients: readonly Matrix[];
  private readonly moments: Matrix[];
  private readonly kernels = backend();
  /** the backend's optimiser kernels, or the TypeScript loops where it has none */
  private readonly adamStep: NonNullable<KernelBackend['adamStep']>;
  private readonly momentumStep: NonNullable<KernelBackend['momentumStep']>;
  private readonly plain: boolean;
  private steps = 0;
  private disposed = false;

  constructor(
    private settings: OptimizerConfig,
    readonly params: readonly Matrix[],
  ) {
    this.plain = isPlainSgd(settings);
    this.gradients = this.plain ? [] : params.map((p) => zeros(p.rows, p.cols));
    const perParam = settings.kind === 'adam' ? 2 : this.plain ? 0 : 1;
    this.moments = Array.from({ length: perParam }, () => params.map((p) => zeros(p.rows, p.cols))).flat();
    const k = this.kernels,
      ts = typescriptBackend;
    this.adamStep = k.adamStep ? k.adamStep.bind(k) : ts.adamStep!.bind(ts);
    this.momentumStep = k.momentumStep ? k.momentumStep.bind(k) : ts.momentumStep!.bind(ts);
  }

  /** Its kind and settings (the learning rate as last set). */
  get config(): OptimizerConfig {
    return this.settings;
  }

  /**
   * Go on at another learning rate (a learning-rate schedule between epochs); everything else,
   * moments and step count included, carries on.
   */
  setLearningRate(lr: number): void {
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`optimizer: the learning rate must be finite and >= 0, got ${lr}`);
    this.settings = Object.freeze({ ...this.settings, lr });
  }

  /** Number of steps taken (Adam's t). */
  get stepCount(): number {
    return this.steps;
  }

  /** Parameter i's gradient is `aᵀd / B` (B = rows); plain SGD applies `p -= lr aᵀd / B` now. */
  outer(i: number, a: Matrix, d: Matrix): void {
    const k = this.kernels,
      B = a.rows;
    if (this.plain) k.matmulTA(a, d, this.params[i], -this.config.lr / B, 1);
    else k.matmulTA(a, d, this.gradients[i], 1 / B, 0);
  }

  /** Parameter i's gradient is `mean_rows(d)`; plain SGD applies `p -= lr mean_rows(d)` now. */
  mean(i: number, d: Matrix): void {
    const k = this.kernels;
    if (this.plain) k.meanRows(d, this.params[i], -this.config.lr, 1);
    else k.meanRows(d, this.gradients[i], 1, 0);
  }

  /** Apply the gradients given since the last step (every parameter's gradient must have been given). */
  step(): void {
    if (this.disposed) throw new Error('optimizer: step() after dispose()');
    this.steps++;
    const c = this.config;
    if (this.plain) return;
    const n = this.params.length;
    if (c.kind === 'sgd') {
      for (let i = 0; i < n; i++) this.momentumStep(this.params[i].data, this.gradients[i].data, this.moments[i].data, c.lr, c.momentum);
      return;
    }
    // fold the bias corrections into the step size and ε (same result as m̂ / (√v̂ + ε))
    const c1 = 1 - Math.pow(c.beta1, this.steps),
      c2 = Math.sqrt(1 - Math.pow(c.beta2, this.steps));
    const lr = (c.lr * c2) / c1,
      eps = c.eps * c2;
    for (let i = 0; i < n; i++) {
      this.adamStep(this.params[i].data, this.gradients[i].data, this.moments[i].data, this.moments[n + i].data, lr, c.beta1, c.beta2, eps);
    }
  }

  /** A copy of the step count and moments (for checkpoints). */
  state(): OptimizerState {
    if (this.disposed) throw new Error('optimizer: state() after dispose() (take the state before disposing)');
    return { kind: this.config.kind, step: this.steps, moments: this.moments.map((m) => m.data.slice()) };
  }

  /** Restore a {@link state} taken from an optimiser of the same kind over parameters of the same shapes. */
  setState(s: OptimizerState): void {
    if (this.disposed) throw new Error('optimizer: setState() after dispose()');
    if (s.kind !== this.config.kind || s.moments.length !== this.moments.length) {
      throw new RangeError(
        `optimizer: a ${s.kind} state with ${s.moments.length} moment buffers does not fit this ${this.config.kind} optimizer ` +
          `(${this.moments.length})`,
      );
    }
    s.moments.forEach((m, i) => {
      if (m.length !== this.moments[i].data.length) {
        throw new RangeError(`optimizer: moment ${i} has ${m.length} values, the parameter is ${shapeOf(this.moments[i])}`);
      }
    });
    if (!Number.isInteger(s.step) || s.step < 0) throw new RangeError(`optimizer: step must be an integer >= 0, got ${s.step}`);
    s.moments.forEach((m, i) => this.moments[i].data.set(m));
    this.steps = s.step;
  }

  /**
   * Give the gradient and moment buffers back to the backend (the parameters are the owner's and
   * stay). The optimiser cannot step or report its state afterwards: take {@link state} first.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const m of [...this.gradients, ...this.moments]) release(m, this.kernels);
    (this.gradients as Matrix[]).length = 0;
    this.moments.length = 0;
  }
}
