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
 *
 * The maths is the graph synthesizer's ({@link predictSynthetic}, {@link refitSynthesizer},
 * {@link clipNorm}) and the pending refits wait in a {@link RefitQueue}: only the rows (R varies
 * with the window) and the refit's loss, taken at refit time, are the recurrent one's own.
 */
import { DivergenceError } from '../errors.ts';
import { backend } from '../kernels/kernels.ts';
import { type Matrix, firstNonFinite, release, rowsView, zeros } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import { type PendingRefit, RefitQueue } from '../refit-queue.ts';
import {
  type SynthesizerParameters,
  type SynthesizerScratch,
  clipNorm,
  parameterList,
  predictSynthetic,
  refitSynthesizer,
} from '../synthesizer.ts';
import type { RecurrentParameters } from './params.ts';
import { ParameterStep } from './step.ts';
import type { RecurrentSynthesizerTopology } from './topology.ts';

/** What a checkpoint keeps of a synthesizer between steps (its parameters are in the parameter set). */
export interface RecurrentSynthesizerSnapshot {
  readonly pending: { step: number; rows: number; input: Float32Array; target: Float32Array }[];
  readonly optimizer: OptimizerState;
}

export class RecurrentSynthesizer {
  readonly M: Matrix;
  readonly c: Matrix;
  private readonly parameters: SynthesizerParameters;
  private readonly slots: [number, number, number][];
  private readonly update: ParameterStep;
  private readonly out: Matrix;
  private readonly error: Matrix;
  private readonly acts: Matrix[];
  private readonly deltas: Matrix[];
  /** the hidden buffers as views of R rows, one set per R seen (the full window, the last one) */
  private readonly scratchOf = new Map<number, SynthesizerScratch>();
  private readonly queue: RefitQueue;
  private readonly applySlot = (slot: PendingRefit) => this.apply(slot);
  private readonly kernels = backend();
  /** called with (step, loss) when a refit is applied */
  onLoss: ((step: number, loss: number) => void) | null = null;

  constructor(
    /** e.g. `synth`, `synth1`, `interface0`: its parameter prefix, also used in errors */
    readonly id: string,
    readonly spec: RecurrentSynthesizerTopology,
    params: RecurrentParameters,
    /** the most rows a prediction or refit has (B, or T·B for an interface) */
    readonly maxRows: number,
  ) {
    this.M = params[`${id}.M`];
    this.c = params[`${id}.c`];
    const hidden = spec.hidden.map((_, j) => ({ W: params[`${id}.hidden${j}.W`], b: params[`${id}.hidden${j}.b`], N: null }));
    if ([this.M, this.c, ...hidden.flatMap((l) => [l.W, l.b])].some((m) => !m))
      throw new RangeError(`${id}: parameters missing from the set`);
    this.parameters = { hidden, M: this.M, c: this.c, N: null };
    const { params: list, slots } = parameterList(this.parameters);
    this.slots = slots;
    this.update = new ParameterStep(spec.optimizer, list, null);
    this.out = zeros(maxRows, spec.units);
    this.error = zeros(maxRows, spec.units);
    this.acts = spec.hidden.map((w) => zeros(maxRows, w));
    this.deltas = spec.hidden.map((w) => zeros(maxRows, w));
    this.queue = new RefitQueue(id, spec.delay, maxRows, spec.units, 0);
  }

  /**
   * Apply the refits step `step` must see (tagged ≤ step-1-delay), then predict ĝ from `input`
   * (R × S). Returns a view valid until the next prediction (clipped when the spec says so).
   */
  predict(step: number, input: Matrix): Matrix {
    this.queue.refitThrough(step - 1 - this.spec.delay, this.applySlot);
    const R = input.rows,
      out = R === this.out.rows ? this.out : rowsView(this.out, 0, R);
    predictSynthetic(this.kernels, this.parameters, this.spec.activation, input, null, out, this.scratch(R));
    if (this.spec.clip !== null) clipNorm(out.data, this.spec.clip);
    const sum = this.kernels.sum(out);
    if (!Number.isFinite(sum)) {
      const at = firstNonFinite(out.data);
      throw new DivergenceError(
        `synthesizer:${this.id}`,
        step,
        'g_hat',
        `g_hat[${Math.floor(at / out.cols)}, ${at % out.cols}] = ${out.data[at]}`,
      );
    }
    return out;
  }

  /**
   * Give the refit pair of step `step`: the input the prediction was made from and its target
   * (copied). Applied now when the delay allows (delay 0), else before a later prediction.
   */
  refit(step: number, input: Matrix, target: Matrix): void {
    if (input.rows !== target.rows || input.cols !== this.spec.units || target.cols !== this.spec.units || input.rows > this.maxRows) {
      throw new RangeError(
        `${this.id}: refit of step ${step} with input ${input.rows}x${input.cols} and target ${target.rows}x${target.cols} (expected ≤ ` +
          `${this.maxRows} rows of ${this.spec.units})`,
      );
    }
    const slot = this.queue.give(step, input.rows);
    slot.h.data.set(input.data);
    slot.target.data.set(target.data);
    this.queue.refitThrough(step - this.spec.delay, this.applySlot);
  }

  /** Whether every refit the prediction of `step` must see has been given (`hasRefit(s)`: whether step s produces one). */
  canPredict(step: number, lastGiven: number, hasRefit: (s: number) => boolean): boolean {
    for (let s = lastGiven + 1; s <= step - 1 - this.spec.delay; s++) if (hasRefit(s)) return false;
    return true;
  }

  /** Apply every pending refit (the end of training). */
  drain(): void {
    this.queue.refitThrough(Infinity, this.applySlot);
  }

  /** Refits given but not applied yet. */
  get pendingCount(): number {
    return this.queue.pending;
  }

  snapshot(): RecurrentSynthesizerSnapshot {
    const n = (p: PendingRefit) => p.rows * this.spec.units;
    return {
      pending: this.queue
        .held()
        .map((p) => ({ step: p.tag, rows: p.rows, input: p.h.data.slice(0, n(p)), target: p.target.data.slice(0, n(p)) })),
      optimizer: this.update.state(),
    };
  }

  restore(s: RecurrentSynthesizerSnapshot): void {
    if (s.pending.length > this.spec.delay + 1)
      throw new RangeError(`${this.id}: a snapshot with ${s.pending.length} pending refits does not fit delay ${this.spec.delay}`);
    for (const p of s.pending) {
      if (p.input.length !== p.rows * this.spec.units || p.target.length !== p.input.length || p.rows > this.maxRows) {
        throw new RangeError(`${this.id}: the snapshot's pending refit of step ${p.step} has the wrong shape`);
      }
    }
    this.queue.clear();
    for (const p of s.pending) {
      const slot = this.queue.give(p.step, p.rows);
      slot.h.data.set(p.input);
      slot.target.data.set(p.target);
    }
    this.update.setState(s.optimizer);
  }

  dispose(): void {
    const k = this.kernels;
    for (const m of [this.out, this.error, ...this.acts, ...this.deltas]) release(m, k);
    this.queue.dispose(k);
    this.update.dispose();
  }

  /** One refit at the current parameters; reports 0.5 mean_rows |ĝ - target|² before the step. */
  private apply(slot: PendingRefit): void {
    const R = slot.rows,
      input = rowsView(slot.h, 0, R),
      target = rowsView(slot.target, 0, R);
    const e = rowsView(this.error, 0, R),
      scratch = this.scratch(R);
    predictSynthetic(this.kernels, this.parameters, this.spec.activation, input, null, e, scratch);
    const loss = (0.5 * this.kernels.squaredDistance(e, target)) / R;
    refitSynthesizer(this.kernels, this.parameters, this.spec.activation, this.update, this.slots, input, null, target, e, scratch, e);
    this.onLoss?.(slot.tag, loss);
  }

  private scratch(R: number): SynthesizerScratch {
    let s = this.scratchOf.get(R);
    if (!s)
      this.scratchOf.set(
        R,
        (s = { activations: this.acts.map((a) => rowsView(a, 0, R)), deltas: this.deltas.map((d) => rowsView(d, 0, R)) }),
      );
    return s;
  }
}
