/**
 * A synthetic-gradient generator (the paper's *synthesizer*). Linear by default:
 * `g_hat = h M + c (+ y N when conditioned)`; an MLP when the topology gives hidden widths:
 * `a₀ = f(h W₀ + b₀ (+ y N₀))`, `a_j = f(a_{j-1} W_j + b_j)`, `g_hat = a_last M + c` (the labels
 * of a conditioned one enter its first layer). The output layer (M, c, N) starts at zero, so it
 * first predicts no gradient. Refitted by one optimiser step on the batch mean of
 * `0.5 |g_hat' - g|²` computed at its *current* parameters. With `delay` d, the prediction for
 * batch t uses exactly the refits of batches s <= t-1-d, applied oldest first; so the parameter
 * trajectory never depends on when targets arrive, only the version a prediction sees.
 */
import { DivergenceError } from './errors.ts';
import { backend } from './kernels.ts';
import { type Matrix, copyInto, firstNonFinite, release, shapeOf, zeros } from './matrix.ts';
import { Optimizer, optimizerOf } from './optimizers.ts';
import type { SynthesizerTopology } from './topology.ts';

/** One hidden layer of an MLP synthesizer (`synth{i}.hidden{j}.W`, `.b`, and `.N` on the first of a conditioned one). */
export interface SynthesizerHiddenLayer {
  /** inputs x width */
  readonly W: Matrix;
  /** 1 x width */
  readonly b: Matrix;
  /** labels x width: the labels' weights, first layer of a conditioned synthesizer only */
  readonly N: Matrix | null;
}

interface PendingRefit {
  /** the batch this slot holds, -1 when free */
  batch: number;
  hasTarget: boolean;
  hasPrediction: boolean;
  readonly h: Matrix;
  readonly y: Matrix | null;
  readonly prediction: Matrix;
  readonly target: Matrix;
}

/** The refits a synthesizer still owes, at a step boundary: what a checkpoint keeps. */
export interface SynthesizerSnapshot {
  /** the oldest batch whose refit is not applied yet */
  readonly nextRefit: number;
  /** the next batch to predict */
  readonly nextPrediction: number;
  /** batches nextRefit … nextPrediction-1: their inputs, labels (conditioned) and targets */
  readonly pending: { batch: number; h: Float32Array; y: Float32Array | null; target: Float32Array }[];
}

export class Synthesizer {
  /** the refits' optimiser, over [W₀, b₀, (N₀), …, M, c, (N)] */
  readonly optimizer: Optimizer;
  private readonly slots: PendingRefit[];
  private readonly error: Matrix;
  /** hidden activations of the last evaluation, and the gradients with respect to them */
  private readonly activations: Matrix[];
  private readonly deltas: Matrix[];
  /** where each layer's parameters sit in the optimiser's list: [W, b, N or -1]; the output layer last */
  private readonly slotsOf: [number, number, number][] = [];
  private readonly kernels = backend();
  /** the oldest batch whose refit is not applied yet */
  private nextRefit = 0;
  /** the next batch to be predicted (batches are predicted in order) */
  private nextPrediction = 0;
  /** refits applied by this object so far */
  private refits = 0;
  /**
   * The last prediction's batch and the refit count it was made at. While no refit has happened
   * since (delay 0: its own refit comes next), its g_hat and hidden activations are exactly what
   * the refit would recompute, so the refit reuses them.
   */
  private readonly lastPrediction = { batch: -1, refits: -1 };
  private disposed = false;

  constructor(
    readonly id: string,
    readonly spec: SynthesizerTopology,
    readonly M: Matrix,
    readonly c: Matrix,
    readonly N: Matrix | null,
    readonly batchSize: number,
    /** the hidden layers of an MLP synthesizer (as many as `spec.hidden` lists) */
    readonly hidden: readonly SynthesizerHiddenLayer[] = [],
  ) {
    const u = spec.units, widths = spec.hidden ?? [];
    if (hidden.length !== widths.length) throw new RangeError(`${id}: ${hidden.length} hidden layers given, the topology has ${widths.length}`);
    const params: Matrix[] = [];
    const add = (m: Matrix | null) => (m ? params.push(m) - 1 : -1);
    let inputs = u;
    hidden.forEach((l, j) => {
      const w = widths[j], at = `${id}: hidden layer ${j}`;
      if (l.W.rows !== inputs || l.W.cols !== w) throw new RangeError(`${at}: W is ${shapeOf(l.W)}, the topology needs ${inputs}x${w}`);
      if (l.b.data.length !== w) throw new RangeError(`${at}: b has ${l.b.data.length} values, the topology needs ${w}`);
      const wantN = spec.conditioned && j === 0;
      if (wantN !== Boolean(l.N) || (l.N && (l.N.rows !== spec.labels || l.N.cols !== w))) {
        throw new RangeError(`${at}: ${wantN ? `a conditioned synthesizer needs N of ${spec.labels}x${w}` : 'takes no N'}, got ${l.N ? shapeOf(l.N) : 'none'}`);
      }
      this.slotsOf.push([add(l.W), add(l.b), add(l.N)]);
      inputs = w;
    });
    if (M.rows !== inputs || M.cols !== u) throw new RangeError(`${id}: M is ${shapeOf(M)}, the topology needs ${inputs}x${u}`);
    if (c.data.length !== u) throw new RangeError(`${id}: c has ${c.data.length} values, the topology needs ${u}`);
    const outputN = spec.conditioned && hidden.length === 0;
    if (outputN && (!N || N.rows !== spec.labels || N.cols !== u)) {
      throw new RangeError(`${id}: a conditioned synthesizer needs N of ${spec.labels}x${u}, got ${N ? shapeOf(N) : 'none'}`);
    }
    if (!outputN && N) throw new RangeError(`${id}: N (${shapeOf(N)}) given, but ${spec.conditioned ? 'an MLP synthesizer takes its labels in hidden layer 0' : 'the synthesizer is not conditioned'}`);
    this.slotsOf.push([add(M), add(c), add(N)]);
    this.optimizer = new Optimizer(optimizerOf(spec), params);
    this.activations = widths.map((w) => zeros(batchSize, w));
    this.deltas = widths.map((w) => zeros(batchSize, w));
    // predictions t-d..t are pending when t is predicted (d + 1 slots), and the target of the
    // next batch may arrive before its prediction when the two come from different threads
    this.slots = Array.from({ length: spec.delay + 2 }, () => ({
      batch: -1,
      hasTarget: false,
      hasPrediction: false,
      h: zeros(batchSize, u),
      y: spec.conditioned ? zeros(batchSize, spec.labels) : null,
      prediction: zeros(batchSize, u),
      target: zeros(batchSize, u),
    }));
    this.error = zeros(batchSize, u);
  }

  /**
   * Whether every target batch `batch` must see (those of batches <= batch-1-delay) has arrived,
   * counting `arriving` as arrived too (a target about to be recorded).
   */
  canPredict(batch: number, arriving = -1): boolean {
    for (let s = this.nextRefit; s <= batch - 1 - this.spec.delay; s++) {
      const slot = this.slotOf(s);
      if (s !== arriving && (slot.batch !== s || !slot.hasTarget)) return false;
    }
    return true;
  }

  /**
   * Apply the refits batch `batch` must see, then predict its synthetic gradient.
   * Returns g_hat (valid until the next prediction; the layer uses it at once).
   */
  predict(batch: number, h: Matrix, y: Matrix | null): Matrix {
    if (this.disposed) throw new Error(`${this.id}: prediction of batch ${batch} after dispose()`);
    if (batch !== this.nextPrediction) throw new Error(`${this.id}: asked to predict batch ${batch}, expected batch ${this.nextPrediction}`);
    this.applyRefitsThrough(batch - 1 - this.spec.delay);
    const slot = this.claim(batch);
    slot.hasPrediction = true;
    copyInto(slot.h, h);
    if (slot.y) copyInto(slot.y, y ?? missingLabels(this.id));
    this.evaluate(slot.h, slot.y, slot.prediction);
    this.lastPrediction.batch = batch;
    this.lastPrediction.refits = this.refits;
    if (this.spec.clip !== undefined) clipNorm(slot.prediction.data, this.spec.clip);
    if (!Number.isFinite(this.kernels.sum(slot.prediction))) {
      const p = slot.prediction, at = firstNonFinite(p.data);
      throw new DivergenceError(this.id, batch, 'g_hat', `g_hat[${Math.floor(at / p.cols)}, ${at % p.cols}] = ${p.data[at]}`);
    }
    this.nextPrediction = batch + 1;
    return slot.prediction;
  }

  /**
   * Record the target batch `batch` produced (the true gradient, or the one the next layer sent
   * upstream). Returns this batch's synthesizer loss `0.5 mean_rows(sum_cols((g_hat - g)²))`, or
   * null when the target came before the prediction (then {@link lossOf} gives it after `predict`).
   */
  target(batch: number, g: Matrix): number | null {
    if (this.disposed) throw new Error(`${this.id}: target of batch ${batch} after dispose()`);
    const slot = this.claim(batch);
    if (slot.hasTarget) throw new Error(`${this.id}: a second target for batch ${batch}`);
    copyInto(slot.target, g);
    slot.hasTarget = true;
    return this.lossOf(batch);
  }

  /** The synthesizer loss of `batch` once both its prediction and its target are in, else null. */
  lossOf(batch: number): number | null {
    const slot = this.slotOf(batch);
    if (slot.batch !== batch || !slot.hasTarget || !slot.hasPrediction) return null;
    return (0.5 * this.kernels.squaredDistance(slot.prediction, slot.target)) / this.batchSize;
  }

  /** Apply every refit whose target has arrived (the end of training). */
  drain(): void {
    if (this.disposed) throw new Error(`${this.id}: drain after dispose()`);
    while (this.nextRefit < this.nextPrediction && this.slotOf(this.nextRefit).hasTarget) this.applyRefitsThrough(this.nextRefit);
  }

  /** The slot of `batch`, taken for it if free (a slot frees when its refit is applied). */
  private claim(batch: number): PendingRefit {
    const slot = this.slotOf(batch);
    if (slot.batch === batch) return slot;
    if (slot.batch !== -1) {
      throw new Error(`${this.id}: batch ${batch} arrived while batch ${slot.batch}'s refit is still pending (more than delay + 2 batches in flight)`);
    }
    slot.batch = batch;
    slot.hasTarget = false;
    slot.hasPrediction = false;
    return slot;
  }

  /**
   * Copies of the pending refits, taken between batches: every prediction made must have its
   * target (a checkpoint is taken once every batch before it is finished everywhere).
   */
  snapshot(): SynthesizerSnapshot {
    const pending: SynthesizerSnapshot['pending'] = [];
    for (let b = this.nextRefit; b < this.nextPrediction; b++) {
      const slot = this.slotOf(b);
      if (slot.batch !== b || !slot.hasTarget) throw new Error(`${this.id}: cannot snapshot while batch ${b}'s target is outstanding`);
      pending.push({ batch: b, h: slot.h.data.slice(), y: slot.y ? slot.y.data.slice() : null, target: slot.target.data.slice() });
    }
    return { nextRefit: this.nextRefit, nextPrediction: this.nextPrediction, pending };
  }

  /** Continue from a {@link snapshot} (of a synthesizer with the same topology). */
  restore(s: SynthesizerSnapshot): void {
    if (s.nextPrediction - s.nextRefit !== s.pending.length || s.pending.length > this.spec.delay + 1) {
      throw new RangeError(`${this.id}: a snapshot with ${s.pending.length} pending refits (batches ${s.nextRefit}..${s.nextPrediction - 1}) does not fit delay ${this.spec.delay}`);
    }
    for (const slot of this.slots) (slot.batch = -1), (slot.hasTarget = slot.hasPrediction = false);
    for (const p of s.pending) {
      const slot = this.slotOf(p.batch);
      if (p.h.length !== slot.h.data.length || p.target.length !== slot.target.data.length || (slot.y && p.y?.length !== slot.y.data.length)) {
        throw new RangeError(`${this.id}: the snapshot's pending refit of batch ${p.batch} has the wrong shape`);
      }
      slot.batch = p.batch;
      slot.hasTarget = slot.hasPrediction = true;
      slot.h.data.set(p.h);
      slot.target.data.set(p.target);
      if (slot.y && p.y) slot.y.data.set(p.y);
    }
    this.nextRefit = s.nextRefit;
    this.nextPrediction = s.nextPrediction;
    this.lastPrediction.batch = -1; // restored slots hold no prediction: their refits recompute g_hat
  }

  /**
   * Give every buffer this synthesizer allocated back to the backend: the pending-refit slots (h,
   * labels, prediction, target), the error, the hidden activations and their gradients, the
   * optimiser's gradients and moments. Its parameters belong to the parameter set it was given and
   * stay. Pending refits are dropped (drain first); the synthesizer cannot be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const k = this.kernels;
    for (const s of this.slots.splice(0)) {
      for (const m of [s.h, s.y, s.prediction, s.target]) if (m) release(m, k);
    }
    for (const m of [this.error, ...this.activations, ...this.deltas]) release(m, k);
    this.activations.length = 0;
    this.deltas.length = 0;
    this.optimizer.dispose();
  }

  /** Number of predictions whose refit is not applied yet. */
  get pending(): number {
    return this.nextPrediction - this.nextRefit;
  }

  private applyRefitsThrough(last: number): void {
    for (; this.nextRefit <= last; this.nextRefit++) {
      const slot = this.slotOf(this.nextRefit);
      if (!slot.hasTarget) throw new Error(`${this.id}: refit of batch ${this.nextRefit} is due but its target has not arrived`);
      this.refit(slot);
      slot.batch = -1;
    }
  }

  /**
   * One optimiser step on the batch mean of `0.5 |g_hat - target|²` at the current parameters.
   * Backpropagation through the hidden layers uses each layer's weights before their own step
   * (plain SGD applies a layer's step as soon as the gradient below it is taken).
   */
  private refit(slot: PendingRefit): void {
    const { h, y, target } = slot;
    const k = this.kernels, e = this.error, opt = this.optimizer, acts = this.activations, deltas = this.deltas;
    const current = slot.batch === this.lastPrediction.batch && this.refits === this.lastPrediction.refits;
    if (!current) this.evaluate(h, y, e);
    k.subtract(current ? slot.prediction : e, target, e);
    this.refits++;
    const top = acts.length - 1, act = this.spec.activation ?? 'relu';
    const below = (j: number, d: Matrix, W: Matrix) => {
      // gradient with respect to hidden layer j's output, through W (not stepped yet)
      k.matmulTB(d, W, deltas[j]);
      k.activationGrad(act, acts[j], deltas[j], deltas[j]);
    };
    if (top >= 0) below(top, e, this.M);
    const [iM, ic, iN] = this.slotsOf[this.slotsOf.length - 1];
    opt.outer(iM, top >= 0 ? acts[top] : h, e);
    opt.mean(ic, e);
    if (iN >= 0 && y) opt.outer(iN, y, e);
    for (let j = top; j >= 0; j--) {
      const l = this.hidden[j], [iW, ib, iNj] = this.slotsOf[j];
      if (j > 0) below(j - 1, deltas[j], l.W);
      opt.outer(iW, j > 0 ? acts[j - 1] : h, deltas[j]);
      opt.mean(ib, deltas[j]);
      if (iNj >= 0 && y) opt.outer(iNj, y, deltas[j]);
    }
    opt.step();
  }

  /** g_hat of (h, y) at the current parameters into `out` (hidden activations kept for a refit). */
  private evaluate(h: Matrix, y: Matrix | null, out: Matrix): void {
    const k = this.kernels, act = this.spec.activation ?? 'relu';
    let a = h;
    this.hidden.forEach((l, j) => {
      const z = this.activations[j];
      k.matmul(a, l.W, z);
      k.addRowVector(z, l.b);
      if (l.N && y) k.matmul(y, l.N, z, 1, 1);
      k.activate(act, z);
      a = z;
    });
    k.matmul(a, this.M, out);
    k.addRowVector(out, this.c);
    if (this.N && y) k.matmul(y, this.N, out, 1, 1);
  }

  private slotOf(batch: number): PendingRefit {
    return this.slots[batch % this.slots.length];
  }
}

/** Scale `g` in place so that its norm is at most `max` (a non-finite norm is left for the divergence check). */
function clipNorm(g: Float32Array, max: number): void {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (!(norm > max) || !Number.isFinite(norm)) return;
  const scale = max / norm;
  for (let i = 0; i < g.length; i++) g[i] *= scale;
}

function missingLabels(id: string): never {
  throw new Error(`${id}: a conditioned synthesizer needs the batch's labels`);
}
