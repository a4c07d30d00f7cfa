/**
 * A synthesizer of a recurrent network: `ĝ = s M + c` (linear) or an MLP
 * `a₀ = f(s W₀ + b₀) … ĝ = a_last M + c` with a zero-initialised output layer, over R rows of
 * width S. Two places use it:
 *
 * - **boundary** (docs/maths.md "Recurrent interfaces"): s is the state a layer carries out of a
 *   window (h_last; for an LSTM `[h_last | c_last]`, 2H wide, so ĝ is the gradient with respect to
 *   both h and c, as the paper does), R = B. Step k predicts from h_last; step k+1 refits on the
 *   pair (h_in, δ_in) of its own window (the same state, now with its bootstrapped target), tagged
 *   with step k+1. No prediction after a sequence's last window, no refit for its first.
 * - **interface between stacked layers** ℓ → ℓ+1: s is layer ℓ's output sequence over the window,
 *   R = n·B rows (step-major), `ĝ_t = h_t M + c` per step; the target is the gradient the layer
 *   above sends back to its input sequence, tagged with the same step.
 *
 * Refit (both): one optimiser step on `0.5 · mean_rows |s M + c - target|²` at the synthesizer's
 * **current** parameters (the mean over the batch, and over the window's steps for an interface);
 * its loss is that mean at refit time. Delay d: the prediction of step s uses exactly the refits
 * tagged ≤ s-1-d, applied oldest first (d = 0: a refit is applied as soon as it is given, as in
 * docs/maths.md's step (4)); {@link drain} applies the rest.
 */
import { DivergenceError } from '../errors.ts';
import { backend } from '../kernels.ts';
import { type Matrix, firstNonFinite, release, rowsView, zeros } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import type { RecurrentParameters } from './params.ts';
import { ParameterStep } from './step.ts';
import type { RecurrentSynthesizerTopology } from './topology.ts';

interface Pending {
  step: number;
  rows: number;
  readonly input: Matrix;
  readonly target: Matrix;
}

/** What a checkpoint keeps of a synthesizer between steps (its parameters are in the parameter set). */
export interface RecurrentSynthesizerSnapshot {
  readonly pending: { step: number; rows: number; input: Float32Array; target: Float32Array }[];
  readonly optimizer: OptimizerState;
}

export class RecurrentSynthesizer {
  readonly M: Matrix;
  readonly c: Matrix;
  private readonly hiddenW: Matrix[] = [];
  private readonly hiddenB: Matrix[] = [];
  private readonly update: ParameterStep;
  private readonly out: Matrix;
  private readonly error: Matrix;
  private readonly acts: Matrix[];
  private readonly deltas: Matrix[];
  private readonly pending: Pending[] = [];
  private readonly free: Pending[];
  private readonly kernels = backend();
  /** called with (step, loss) when a refit is applied */
  onLoss: ((step: number, loss: number) => void) | null = null;

  constructor(
    /** e.g. `synth`, `synth1`, `link0`: its parameter prefix, also used in errors */
    readonly id: string,
    readonly spec: RecurrentSynthesizerTopology,
    params: RecurrentParameters,
    /** the most rows a prediction or refit has (B, or T·B for an interface) */
    readonly maxRows: number,
  ) {
    this.M = params[`${id}.M`];
    this.c = params[`${id}.c`];
    spec.hidden.forEach((_, j) => {
      this.hiddenW.push(params[`${id}.hidden${j}.W`]);
      this.hiddenB.push(params[`${id}.hidden${j}.b`]);
    });
    const list = [...this.hiddenW.flatMap((W, j) => [W, this.hiddenB[j]]), this.M, this.c];
    if (list.some((m) => !m)) throw new RangeError(`${id}: parameters missing from the set`);
    this.update = new ParameterStep(spec.optimizer, list, null);
    this.out = zeros(maxRows, spec.units);
    this.error = zeros(maxRows, spec.units);
    this.acts = spec.hidden.map((w) => zeros(maxRows, w));
    this.deltas = spec.hidden.map((w) => zeros(maxRows, w));
    this.free = Array.from({ length: spec.delay + 1 }, () => ({ step: -1, rows: 0, input: zeros(maxRows, spec.units), target: zeros(maxRows, spec.units) }));
  }

  /**
   * Apply the refits step `step` must see (tagged ≤ step-1-delay), then predict ĝ from `input`
   * (R × S). Returns a view valid until the next prediction (clipped when the spec says so).
   */
  predict(step: number, input: Matrix): Matrix {
    this.applyThrough(step - 1 - this.spec.delay);
    const out = this.evaluate(input, this.out);
    if (this.spec.clip !== null) clipNorm(out.data, this.spec.clip);
    const sum = this.kernels.sum(out);
    if (!Number.isFinite(sum)) {
      const at = firstNonFinite(out.data);
      throw new DivergenceError(`synthesizer:${this.id}`, step, 'g_hat', `g_hat[${Math.floor(at / out.cols)}, ${at % out.cols}] = ${out.data[at]}`);
    }
    return out;
  }

  /**
   * Give the refit pair of step `step`: the input the prediction was made from and its target
   * (copied). Applied now when the delay allows (delay 0), else before a later prediction.
   */
  refit(step: number, input: Matrix, target: Matrix): void {
    if (input.rows !== target.rows || input.cols !== this.spec.units || target.cols !== this.spec.units || input.rows > this.maxRows) {
      throw new RangeError(`${this.id}: refit of step ${step} with input ${input.rows}x${input.cols} and target ${target.rows}x${target.cols} (expected ≤ ${this.maxRows} rows of ${this.spec.units})`);
    }
    const last = this.pending[this.pending.length - 1];
    if (last && last.step >= step) throw new Error(`${this.id}: refit of step ${step} after one of step ${last.step}`);
    const slot = this.free.pop();
    if (!slot) throw new Error(`${this.id}: more than delay + 1 = ${this.spec.delay + 1} refits pending at step ${step}`);
    slot.step = step;
    slot.rows = input.rows;
    slot.input.data.set(input.data);
    slot.target.data.set(target.data);
    this.pending.push(slot);
    this.applyThrough(step - this.spec.delay);
  }

  /** Whether every refit the prediction of `step` must see has been given (`hasRefit(s)`: whether step s produces one). */
  canPredict(step: number, lastGiven: number, hasRefit: (s: number) => boolean): boolean {
    for (let s = lastGiven + 1; s <= step - 1 - this.spec.delay; s++) if (hasRefit(s)) return false;
    return true;
  }

  /** Apply every pending refit (the end of training). */
  drain(): void {
    this.applyThrough(Infinity);
  }

  /** Refits given but not applied yet. */
  get pendingCount(): number {
    return this.pending.length;
  }

  snapshot(): RecurrentSynthesizerSnapshot {
    return {
      pending: this.pending.map((p) => ({ step: p.step, rows: p.rows, input: p.input.data.slice(0, p.rows * this.spec.units), target: p.target.data.slice(0, p.rows * this.spec.units) })),
      optimizer: this.update.state(),
    };
  }

  restore(s: RecurrentSynthesizerSnapshot): void {
    if (s.pending.length > this.spec.delay + 1) throw new RangeError(`${this.id}: a snapshot with ${s.pending.length} pending refits does not fit delay ${this.spec.delay}`);
    while (this.pending.length > 0) this.free.push(this.pending.pop()!);
    for (const p of s.pending) {
      const slot = this.free.pop()!;
      if (p.input.length !== p.rows * this.spec.units || p.target.length !== p.input.length || p.rows > this.maxRows) {
        throw new RangeError(`${this.id}: the snapshot's pending refit of step ${p.step} has the wrong shape`);
      }
      slot.step = p.step;
      slot.rows = p.rows;
      slot.input.data.set(p.input);
      slot.target.data.set(p.target);
      this.pending.push(slot);
    }
    this.update.setState(s.optimizer);
  }

  dispose(): void {
    const k = this.kernels;
    for (const m of [this.out, this.error, ...this.acts, ...this.deltas, ...this.free.flatMap((p) => [p.input, p.target]), ...this.pending.flatMap((p) => [p.input, p.target])]) release(m, k);
    this.update.dispose();
  }

  private applyThrough(last: number): void {
    while (this.pending.length > 0 && this.pending[0].step <= last) {
      const p = this.pending.shift()!;
      const loss = this.apply(rowsView(p.input, 0, p.rows), rowsView(p.target, 0, p.rows));
      this.onLoss?.(p.step, loss);
      this.free.push(p);
    }
  }

  /** One refit at the current parameters; returns 0.5 mean_rows |ĝ - target|². */
  private apply(input: Matrix, target: Matrix): number {
    const k = this.kernels, R = input.rows, u = this.update;
    const e = rowsView(this.error, 0, R);
    this.evaluate(input, e);
    const loss = (0.5 * k.squaredDistance(e, target)) / R;
    k.subtract(e, target, e);
    const top = this.acts.length - 1, act = this.spec.activation;
    const nW = this.hiddenW.length;
    let d = e;
    for (let j = top; j >= -1; j--) {
      const below = j >= 0 ? rowsView(this.acts[j], 0, R) : input;
      const [iW, ib] = j === top ? [2 * nW, 2 * nW + 1] : [2 * (j + 1), 2 * (j + 1) + 1];
      // the gradient below goes through this layer's weights before their step (plain SGD steps at once)
      let next: Matrix | null = null;
      if (j >= 0) {
        next = rowsView(this.deltas[j], 0, R);
        k.matmulTB(d, j === top ? this.M : this.hiddenW[j + 1], next);
        k.activationGrad(act, below, next, next);
      }
      u.outer(iW, below, d, 1 / R);
      u.rows(ib, d, 1 / R);
      if (next) d = next;
    }
    u.step();
    return loss;
  }

  private evaluate(input: Matrix, into: Matrix): Matrix {
    const k = this.kernels, R = input.rows;
    let a = input;
    for (let j = 0; j < this.hiddenW.length; j++) {
      const z = rowsView(this.acts[j], 0, R);
      k.matmul(a, this.hiddenW[j], z);
      k.addRowVector(z, this.hiddenB[j]);
      k.activate(this.spec.activation, z);
      a = z;
    }
    const out = into.rows === R ? into : rowsView(into, 0, R);
    k.matmul(a, this.M, out);
    k.addRowVector(out, this.c);
    return out;
  }
}

/** Scale `g` in place so that its norm is at most `max`. */
export function clipNorm(g: Float32Array, max: number): void {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (!(norm > max) || !Number.isFinite(norm)) return;
  const s = max / norm;
  for (let i = 0; i < g.length; i++) g[i] *= s;
}
