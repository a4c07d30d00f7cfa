/**
 * A core: the recurrent cell at one layer of the stack, trained window by window by truncated BPTT
 * (docs/maths.md "Recurrent interfaces"). Words: a *layer* is a place in the stack (the topology's
 * `layers[ℓ]`, the actor `layer:core{ℓ}`, which also holds the aux head); its *core* is this maths. The driver says which window is a
 * sequence's first: the state entering it is zero; any other window starts from the state the previous one ended with (carried here).
 *
 * Cells (rows are examples; a window's n steps are stored step-major, row τ·B + b):
 * - `tanh`: `h_t = tanh(x_t Wx + h_{t-1} Wh + b)`; carried state h (S = H).
 * - `lstm`: `z = x_t Wx + h_{t-1} Wh + b` in gate blocks [i | f | o | g], `i, f, o = sigmoid`,
 *   `g = tanh`, `c_t = f ⊙ c_{t-1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`; carried state `[h | c]`
 *   (S = 2H): the boundary synthesizer reads and predicts both, as the paper does for LSTMs.
 *
 * A step, as the actors drive it: {@link forwardWindow} (keeps what BPTT needs), then
 * {@link backwardWindow} with the boundary's synthetic gradient ĝ (null after a sequence's last
 * window, or without DNI) and the gradient from above for each step (the readout's or the layer
 * above's), which returns `δ_in`, the gradient reaching the window's input state through the
 * pre-update weights (the boundary synthesizer's bootstrapped target); then
 * {@link updateParameters}: `W -= lr Σ_t (input_t)ᵀ d_t / B` for Wx, Wh, b (per-example gradients,
 * batch mean), through the layer's optimiser and clip. ĝ enters as `scale · ĝ` on the last step's
 * h (and c).
 *
 * Aux ("DNI + Aux", as implemented here): the paper adds an auxiliary task in which the core also
 * predicts future synthetic gradients, to couple it over the longest span. Here a linear head
 * `(A, a)` on the core's output at the window's first step predicts the synthetic gradient the
 * boundary synthesizer gives at the window's end, n-1 steps later: loss
 * `weight · 0.5 · mean_rows |h_0 A + a - ĝ|²`, whose gradient enters the core's BPTT at h_0 and
 * steps (A, a). It lives within one window, so the core still waits for nothing; windows without a
 * ĝ (a sequence's last) have no aux loss.
 */
import { DivergenceError } from '../errors.ts';
import { backend } from '../kernels/kernels.ts';
import { type Matrix, firstNonFinite, release, rowsView, zeros } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import type { RecurrentParameters } from './params.ts';
import { lstmRowBackward } from './lstm-backward.ts';
import { ParameterStep } from './step.ts';
import { type RecurrentLayerTopology, type RecurrentTopology, keyOf } from './topology.ts';

/** What a checkpoint keeps of a layer between steps (its parameters are in the parameter set). */
export interface RecurrentCoreSnapshot {
  /** the next step to run */
  readonly step: number;
  /** the state carried out of the last window (B × S), the next window's input when it is not a sequence's first */
  readonly carried: Float32Array;
  readonly optimizer: OptimizerState;
  readonly aux: OptimizerState | null;
}

export class RecurrentCore {
  readonly Wx: Matrix;
  readonly Wh: Matrix;
  readonly b: Matrix;
  /** the aux head, when the topology has one */
  readonly auxW: Matrix | null;
  readonly auxB: Matrix | null;
  private readonly lstm: boolean;
  private readonly update: ParameterStep;
  private readonly auxUpdate: ParameterStep | null;
  private readonly kernels = backend();
  private readonly B: number;
  private readonly H: number;
  private readonly S: number;
  // window buffers (T·B rows; hs and cs have B more in front: the input state)
  private readonly xs: Matrix;
  private readonly hs: Matrix;
  private readonly cs: Matrix | null;
  private readonly gates: Matrix | null;
  private readonly tc: Matrix | null;
  private readonly dh: Matrix;
  private readonly dpre: Matrix;
  private readonly dc: Matrix | null;
  private readonly dx: Matrix;
  private readonly deltaIn: Matrix;
  private readonly stateIn: Matrix;
  private readonly stateOut: Matrix;
  private readonly carried: Matrix;
  private readonly auxError: Matrix | null;
  /** the discount pass (synthesizer discount ≠ scale): dh, dc and gate gradients of one step */
  private readonly extra: { dh: Matrix; dhPrev: Matrix; dc: Matrix | null; d: Matrix } | null;
  /** per-row views of the gates for the activations (lstm): [sigmoid part, tanh part] */
  private readonly gateRows: [Matrix, Matrix][] = [];
  private nextStep = 0;
  /** the step whose forward pass is held, its window length, and whether its backward ran */
  private held = -1;
  private n = 0;
  private backwardDone = false;
  private auxUsed = false;
  /** aux loss of the last backward (0 when none) */
  auxLoss = 0;

  constructor(
    readonly topology: RecurrentTopology,
    readonly spec: RecurrentLayerTopology,
    params: RecurrentParameters,
  ) {
    const t = topology,
      T = t.truncation,
      B = t.batch,
      H = spec.units,
      key = spec.key;
    this.lstm = t.cell === 'lstm';
    const G = this.lstm ? 4 * H : H;
    this.B = B;
    this.H = H;
    this.S = spec.state;
    this.Wx = params[`${key}.Wx`];
    this.Wh = params[`${key}.Wh`];
    this.b = params[`${key}.b`];
    for (const [name, m, r, c] of [
      ['Wx', this.Wx, spec.inputs, G],
      ['Wh', this.Wh, H, G],
      ['b', this.b, 1, G],
    ] as const) {
      if (!m || m.rows !== r || m.cols !== c)
        throw new RangeError(`${key}.${name}: ${m ? `${m.rows}x${m.cols}` : 'missing'}, the topology needs ${r}x${c}`);
    }
    this.update = new ParameterStep(spec.optimizer, [this.Wx, this.Wh, this.b], t.clip);
    const auxKey = keyOf('aux', spec.index);
    this.auxW = spec.aux ? params[`${auxKey}.W`] : null;
    this.auxB = spec.aux ? params[`${auxKey}.b`] : null;
    this.auxUpdate = spec.aux ? new ParameterStep(spec.aux.optimizer, [this.auxW!, this.auxB!], null) : null;
    this.auxError = spec.aux ? zeros(B, this.S) : null;
    this.xs = zeros(T * B, spec.inputs);
    this.hs = zeros((T + 1) * B, H);
    this.cs = this.lstm ? zeros((T + 1) * B, H) : null;
    this.gates = this.lstm ? zeros(T * B, G) : null;
    this.tc = this.lstm ? zeros(T * B, H) : null;
    this.dh = zeros(T * B, H);
    this.dpre = zeros(T * B, G);
    this.dc = this.lstm ? zeros(B, H) : null;
    this.dx = zeros(T * B, spec.inputs);
    this.deltaIn = zeros(B, this.S);
    this.stateIn = zeros(B, this.S);
    this.stateOut = zeros(B, this.S);
    this.carried = zeros(B, this.S);
    const syn = spec.synthesizer;
    this.extra =
      syn && syn.discount !== syn.scale
        ? { dh: zeros(B, H), dhPrev: zeros(B, H), dc: this.lstm ? zeros(B, H) : null, d: zeros(B, G) }
        : null;
    if (this.gates) {
      const g = this.gates.data;
      for (let r = 0; r < T * B; r++) {
        this.gateRows.push([
          { rows: 1, cols: 3 * H, data: g.subarray(r * G, r * G + 3 * H) },
          { rows: 1, cols: H, data: g.subarray(r * G + 3 * H, (r + 1) * G) },
        ]);
      }
    }
  }

  /**
   * Forward through step `step`'s window: `x` is its inputs (n·B × in, step-major, 1 ≤ n ≤ T;
   * copied); `first`: the window is a sequence's first (input state zero), else it starts from the
   * state the last window ended with. Returns the outputs h_t of its n steps (n·B × H, valid until
   * the next forward).
   */
  forwardWindow(step: number, x: Matrix, first: boolean): Matrix {
    if (step !== this.nextStep) throw new Error(`${this.spec.key}: forward of step ${step}, expected step ${this.nextStep}`);
    const B = this.B,
      H = this.H,
      K = this.kernels,
      n = x.rows / B;
    if (!Number.isInteger(n) || n < 1 || n > this.topology.truncation || x.cols !== this.spec.inputs) {
      throw new RangeError(
        `${this.spec.key}: step ${step} got x ${x.rows}x${x.cols}, expected n·${B} rows (1 ≤ n ≤ T = ${this.topology.truncation}) of ` +
          `${this.spec.inputs}`,
      );
    }
    const xs = rowsView(this.xs, 0, n * B);
    xs.data.set(x.data);
    const hIn = this.hs.data.subarray(0, B * H),
      cIn = this.cs?.data.subarray(0, B * H);
    if (first) {
      hIn.fill(0);
      cIn?.fill(0);
    } else {
      const C = this.carried.data;
      for (let b = 0; b < B; b++) {
        hIn.set(C.subarray(b * this.S, b * this.S + H), b * H);
        cIn?.set(C.subarray(b * this.S + H, (b + 1) * this.S), b * H);
      }
    }
    const hCur = rowsView(this.hs, B, n * B);
    if (!this.lstm) {
      K.matmul(xs, this.Wx, hCur);
      K.addRowVector(hCur, this.b);
      for (let tau = 0; tau < n; tau++) {
        const hNext = rowsView(this.hs, (tau + 1) * B, B);
        K.matmul(rowsView(this.hs, tau * B, B), this.Wh, hNext, 1, 1);
        K.activate('tanh', hNext);
      }
    } else {
      const gAll = rowsView(this.gates!, 0, n * B);
      K.matmul(xs, this.Wx, gAll);
      K.addRowVector(gAll, this.b);
      const G = this.gates!.data,
        Cs = this.cs!.data,
        Hs = this.hs.data,
        TC = this.tc!.data;
      for (let tau = 0; tau < n; tau++) {
        K.matmul(rowsView(this.hs, tau * B, B), this.Wh, rowsView(this.gates!, tau * B, B), 1, 1);
        for (let b = 0; b < B; b++) {
          const [sig, tanh] = this.gateRows[tau * B + b];
          K.activate('sigmoid', sig);
          K.activate('tanh', tanh);
        }
        // c_t = f c_{t-1} + i g into cs, tanh(c_t) into tc, h_t = o tanh(c_t) into hs
        for (let b = 0; b < B; b++) {
          const g0 = (tau * B + b) * 4 * H,
            prev = (tau * B + b) * H,
            cur = ((tau + 1) * B + b) * H;
          for (let j = 0; j < H; j++) TC[prev + j] = Cs[cur + j] = G[g0 + H + j] * Cs[prev + j] + G[g0 + j] * G[g0 + 3 * H + j];
        }
        K.activate('tanh', rowsView(this.tc!, tau * B, B));
        for (let b = 0; b < B; b++) {
          const g0 = (tau * B + b) * 4 * H,
            prev = (tau * B + b) * H,
            cur = ((tau + 1) * B + b) * H;
          for (let j = 0; j < H; j++) Hs[cur + j] = G[g0 + 2 * H + j] * TC[prev + j];
        }
      }
    }
    const sum = K.sum(hCur) + (this.cs ? K.sum(rowsView(this.cs, n * B, B)) : 0);
    if (!Number.isFinite(sum)) {
      const at = firstNonFinite(hCur.data);
      throw new DivergenceError(
        `layer:${this.spec.key}`,
        step,
        at >= 0 ? 'h' : 'c',
        at >= 0 ? `h[${Math.floor(at / H) % B}, ${at % H}] at window step ${Math.floor(at / H / B)} = ${hCur.data[at]}` : 'cell state',
      );
    }
    this.copyState(n, this.carried);
    this.held = step;
    this.n = n;
    this.backwardDone = false;
    this.nextStep = step + 1;
    return hCur;
  }

  /** The state the held window ended with (B × S): what the boundary synthesizer predicts from. */
  boundaryState(): Matrix {
    this.copyState(this.n, this.stateOut);
    return this.stateOut;
  }

  /** The state the held window started from (B × S): the input of the boundary refit. */
  inputState(): Matrix {
    this.copyState(0, this.stateIn);
    return this.stateIn;
  }

  /**
   * BPTT through the held window. `gHat`: the boundary's synthetic gradient for the carried state
   * (B × S) or null; `fromAbove`: dL/dh_t for each of the window's steps (n·B × H; the readout's or
   * the layer above's), or null. Returns δ_in (B × S), the gradient reaching the window's input
   * state through the pre-update weights, valid until the next backward. No parameter changes.
   */
  backwardWindow(step: number, gHat: Matrix | null, fromAbove: Matrix | null): Matrix {
    if (step !== this.held || this.backwardDone)
      throw new Error(
        `${this.spec.key}: backward of step ${step}, but the held forward is step ` +
          `${this.held}${this.backwardDone ? ' (already backpropagated)' : ''}`,
      );
    const n = this.n,
      B = this.B,
      H = this.H,
      S = this.S,
      K = this.kernels;
    if (gHat && (gHat.rows !== B || gHat.cols !== S))
      throw new RangeError(`${this.spec.key}: ĝ of step ${step} is ${gHat.rows}x${gHat.cols}, expected ${B}x${S}`);
    if (fromAbove && (fromAbove.rows !== n * B || fromAbove.cols !== H))
      throw new RangeError(
        `${this.spec.key}: gradient from above of step ${step} is ${fromAbove.rows}x${fromAbove.cols}, expected ${n * B}x${H}`,
      );
    const dh = this.dh.data;
    if (fromAbove) dh.set(fromAbove.data);
    else dh.fill(0, 0, n * B * H);
    const scale = this.spec.synthesizer?.scale ?? 1;
    if (this.dc) this.dc.data.fill(0);
    if (gHat) {
      const g = gHat.data,
        last = (n - 1) * B * H;
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < H; j++) dh[last + b * H + j] += scale * g[b * S + j];
        if (this.dc) for (let j = 0; j < H; j++) this.dc.data[b * H + j] = scale * g[b * S + H + j];
      }
    }
    this.auxLoss = 0;
    this.auxUsed = Boolean(gHat && this.auxW);
    if (this.auxUsed) {
      // aux: e = h_0 A + a - ĝ; dh_0 += weight · e Aᵀ (A before its step)
      const e = this.auxError!,
        w = this.spec.aux!.weight,
        h0 = rowsView(this.hs, B, B);
      K.matmul(h0, this.auxW!, e);
      K.addRowVector(e, this.auxB!);
      this.auxLoss = (w * 0.5 * K.squaredDistance(e, gHat!)) / B;
      if (!Number.isFinite(this.auxLoss))
        throw new DivergenceError(`layer:${this.spec.key}`, step, 'aux loss', `aux loss = ${this.auxLoss}`);
      K.subtract(e, gHat!, e);
      K.matmulTB(e, this.auxW!, rowsView(this.dh, 0, B), w, 1);
    }
    if (!this.lstm) {
      for (let tau = n - 1; tau >= 0; tau--) {
        const d = rowsView(this.dpre, tau * B, B);
        K.activationGrad('tanh', rowsView(this.hs, (tau + 1) * B, B), rowsView(this.dh, tau * B, B), d);
        K.matmulTB(d, this.Wh, tau > 0 ? rowsView(this.dh, (tau - 1) * B, B) : this.deltaIn, 1, tau > 0 ? 1 : 0);
      }
    } else {
      const G = this.gates!.data,
        Cs = this.cs!.data,
        TC = this.tc!.data,
        D = this.dpre.data,
        dc = this.dc!.data;
      for (let tau = n - 1; tau >= 0; tau--) {
        for (let b = 0; b < B; b++) {
          const g0 = (tau * B + b) * 4 * H,
            row = (tau * B + b) * H;
          lstmRowBackward(H, G, TC, Cs, g0, row, dh, row, dc, b * H, D, g0);
        }
        const d = rowsView(this.dpre, tau * B, B);
        if (tau > 0) K.matmulTB(d, this.Wh, rowsView(this.dh, (tau - 1) * B, B), 1, 1);
        else K.matmulTB(d, this.Wh, rowsView(this.dh, 0, B)); // dh_in (the dh rows of step 0 are used up)
      }
      const din = this.deltaIn.data,
        dh0 = this.dh.data;
      for (let b = 0; b < B; b++) {
        din.set(dh0.subarray(b * H, (b + 1) * H), b * S);
        din.set(dc.subarray(b * H, (b + 1) * H), b * S + H);
      }
    }
    if (gHat && this.extra) this.addDiscountPass(gHat, this.spec.synthesizer!.discount - scale);
    this.backwardDone = true;
    return this.deltaIn;
  }

  /**
   * δ_in += the gradient reaching the window's input state from `a · ĝ` at its end alone (through
   * the recurrence with the pre-update weights; BPTT is linear in what it is given), so that the
   * refit target carries `discount · ĝ` while the core stepped with `scale · ĝ`.
   */
  private addDiscountPass(gHat: Matrix, a: number): void {
    const n = this.n,
      B = this.B,
      H = this.H,
      S = this.S,
      K = this.kernels,
      x = this.extra!,
      g = gHat.data;
    let dh = x.dh,
      prev = x.dhPrev;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) dh.data[b * H + j] = a * g[b * S + j];
      if (x.dc) for (let j = 0; j < H; j++) x.dc.data[b * H + j] = a * g[b * S + H + j];
    }
    for (let tau = n - 1; tau >= 0; tau--) {
      if (!this.lstm) K.activationGrad('tanh', rowsView(this.hs, (tau + 1) * B, B), dh, x.d);
      else {
        const G = this.gates!.data,
          Cs = this.cs!.data,
          TC = this.tc!.data,
          D = x.d.data,
          dc = x.dc!.data,
          dhv = dh.data;
        for (let b = 0; b < B; b++)
          lstmRowBackward(H, G, TC, Cs, (tau * B + b) * 4 * H, (tau * B + b) * H, dhv, b * H, dc, b * H, D, b * 4 * H);
      }
      K.matmulTB(x.d, this.Wh, prev);
      [dh, prev] = [prev, dh];
    }
    const din = this.deltaIn.data;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) din[b * S + j] += dh.data[b * H + j];
      if (x.dc) for (let j = 0; j < H; j++) din[b * S + H + j] += x.dc.data[b * H + j];
    }
  }

  /** dL/dx_t for each step of the held window (n·B × in), through the pre-update Wx: what the layer below receives. */
  inputGradient(): Matrix {
    if (!this.backwardDone) throw new Error(`${this.spec.key}: input gradient asked before the backward of step ${this.held}`);
    const dx = rowsView(this.dx, 0, this.n * this.B);
    this.kernels.matmulTB(rowsView(this.dpre, 0, this.n * this.B), this.Wx, dx);
    return dx;
  }

  /** The batch-mean parameter step of the held window (after {@link backwardWindow}). */
  updateParameters(step: number): void {
    if (step !== this.held || !this.backwardDone) throw new Error(`${this.spec.key}: update of step ${step} before its backward`);
    const n = this.n,
      B = this.B,
      u = this.update,
      d = rowsView(this.dpre, 0, n * B);
    if (this.auxUsed) {
      const a = this.auxUpdate!,
        w = this.spec.aux!.weight;
      a.outer(0, rowsView(this.hs, B, B), this.auxError!, w / B);
      a.rows(1, this.auxError!, w / B);
      a.step();
    }
    u.outer(0, rowsView(this.xs, 0, n * B), d, 1 / B);
    u.outer(1, rowsView(this.hs, 0, n * B), d, 1 / B);
    u.rows(2, d, 1 / B);
    u.step();
    this.held = -1;
  }

  snapshot(): RecurrentCoreSnapshot {
    if (this.held !== -1) throw new Error(`${this.spec.key}: snapshot while step ${this.held} is in flight`);
    return {
      step: this.nextStep,
      carried: this.carried.data.slice(),
      optimizer: this.update.state(),
      aux: this.auxUpdate?.state() ?? null,
    };
  }

  restore(s: RecurrentCoreSnapshot): void {
    if (s.carried.length !== this.carried.data.length)
      throw new RangeError(`${this.spec.key}: snapshot state has ${s.carried.length} values, expected ${this.carried.data.length}`);
    if (!Number.isInteger(s.step) || s.step < 0)
      throw new RangeError(`${this.spec.key}: snapshot step must be an integer >= 0, got ${s.step}`);
    this.carried.data.set(s.carried);
    this.update.setState(s.optimizer);
    if (this.auxUpdate && s.aux) this.auxUpdate.setState(s.aux);
    this.nextStep = s.step;
    this.held = -1;
  }

  dispose(): void {
    const K = this.kernels;
    for (const m of [
      this.xs,
      this.hs,
      this.cs,
      this.gates,
      this.tc,
      this.dh,
      this.dpre,
      this.dc,
      this.dx,
      this.deltaIn,
      this.stateIn,
      this.stateOut,
      this.carried,
      this.auxError,
    ])
      if (m) release(m, K);
    if (this.extra) for (const m of [this.extra.dh, this.extra.dhPrev, this.extra.dc, this.extra.d]) if (m) release(m, K);
    this.update.dispose();
    this.auxUpdate?.dispose();
  }

  /** [h | c] of state row block `tau` (0: the input state, n: the last) into `into` (B × S). */
  private copyState(tau: number, into: Matrix): void {
    const B = this.B,
      H = this.H,
      S = this.S,
      out = into.data,
      h = this.hs.data,
      c = this.cs?.data;
    if (!c) {
      out.set(h.subarray(tau * B * H, (tau + 1) * B * H));
      return;
    }
    for (let b = 0; b < B; b++) {
      out.set(h.subarray((tau * B + b) * H, (tau * B + b + 1) * H), b * S);
      out.set(c.subarray((tau * B + b) * H, (tau * B + b + 1) * H), b * S + H);
    }
  }
}
