/**
 * A synthetic-gradient generator (the paper's *synthesizer*). Linear by default:
 * `g_hat = h M + c (+ y N when conditioned)`; an MLP when it has hidden widths:
 * `a₀ = f(h W₀ + b₀ (+ y N₀))`, `a_j = f(a_{j-1} W_j + b_j)`, `g_hat = a_last M + c` (the context
 * labels of a conditioned one enter its first layer). The output layer (M, c, N) starts at zero,
 * so it first predicts no gradient. Refitted by one optimiser step on the batch mean of
 * `0.5 |g_hat' - g|²` computed at its *current* parameters.
 *
 * The maths is two plain functions, {@link predictSynthetic} and {@link refitSynthesizer}; the
 * delay bookkeeping (which refits a prediction must see) is a {@link RefitQueue}; the
 * {@link Synthesizer} class puts them together for an actor (or the bare loop) to drive.
 */
import type { Activation } from './activations.ts';
import { DivergenceError } from './errors.ts';
import { type KernelBackend, backend } from './kernels/kernels.ts';
import { type Matrix, copyInto, firstNonFinite, release, shapeOf, zeros } from './matrix.ts';
import { cosine } from './gradient-quality.ts';
import { Optimizer, type OptimizerConfig, type OptimizerSpec, optimizerOf } from './optimizers.ts';
import { type PendingRefit, RefitQueue, type SynthesizerSnapshot } from './refit-queue.ts';

export type { SynthesizerSnapshot } from './refit-queue.ts';

/**
 * A synthesizer's options as a user writes them: a graph interface's (or the defaults of every
 * interface), a chain layer's (SynthesizerSpec adds cDNI and mixing), a recurrent one's
 * (RecurrentSynthesizerSpec adds the boundary's scale and discount). Validated and filled in, they
 * become a {@link SynthesizerShape} (dense and graph synthesizers) or a RecurrentSynthesizerTopology.
 */
export interface SynthesizerOptions {
  /** How many batches its refits may lag its predictions (0 = the seed's sequential order). Default 0. */
  readonly delay?: number;
  /** Learning rate of plain-SGD refits. Default 0.01. Give this or `optimizer`, not both. */
  readonly lr?: number;
  /** The refits' optimiser (e.g. `{ kind: 'adam', lr: 3e-3 }`); `lr` alone means plain SGD. */
  readonly optimizer?: OptimizerSpec;
  /**
   * Widths of hidden layers: an MLP synthesizer `g_hat = f(… f(h W₀ + b₀ (+ y N₀)) …) M + c`
   * (the context labels enter its first layer). Default `[]`: linear, `g_hat = h M + c (+ y N)`.
   */
  readonly hidden?: readonly number[];
  /** Activation of the hidden layers. Default `'relu'`. */
  readonly activation?: Activation;
  /** Scale each prediction down so its norm over the batch is at most this. Default: no clipping. */
  readonly clip?: number;
}

/** What a synthesizer is: the part of a graph's synthesizer description its maths reads. */
export interface SynthesizerShape {
  /** width of what it predicts (a node's gradient, or a forward synthesizer's: the node's output) */
  readonly units: number;
  /** width of what it reads; default `units` (a node's output). A forward synthesizer reads the data. */
  readonly inputs?: number;
  readonly conditioned: boolean;
  /** width of the context labels (conditioned) */
  readonly labels: number;
  readonly delay: number;
  readonly lr: number;
  readonly optimizer?: OptimizerConfig;
  readonly hidden?: readonly number[];
  readonly activation?: Activation;
  readonly clip?: number;
}

/** One hidden layer of an MLP synthesizer (`….hidden{j}.W`, `.b`, and `.N` on the first of a conditioned one). */
export interface SynthesizerHiddenLayer {
  /** inputs x width */
  readonly W: Matrix;
  /** 1 x width */
  readonly b: Matrix;
  /** labels x width: the labels' weights, first layer of a conditioned synthesizer only */
  readonly N: Matrix | null;
}

/** A synthesizer's parameters: the hidden layers (MLP only) and the output layer. */
export interface SynthesizerParameters {
  readonly hidden: readonly SynthesizerHiddenLayer[];
  readonly M: Matrix;
  readonly c: Matrix;
  /** labels x units: a linear conditioned synthesizer's label weights */
  readonly N: Matrix | null;
}

/** What a refit steps its parameters with: an {@link Optimizer}, or any owner's step with the same three calls. */
export type RefitStep = Pick<Optimizer, 'outer' | 'mean' | 'step'>;

/** Buffers the maths reuses: the hidden activations of the last evaluation and their gradients. */
export interface SynthesizerScratch {
  readonly activations: Matrix[];
  readonly deltas: Matrix[];
}

/**
 * `g_hat` of (h, y) at parameters `p`, into `out`; the hidden activations stay in `scratch` (a
 * refit at the same parameters can use them).
 *
 * @example
 * predictSynthetic(k, { hidden: [], M, c, N: null }, 'relu', h, null, out, { activations: [], deltas: [] });
 */
export function predictSynthetic(
  k: KernelBackend,
  p: SynthesizerParameters,
  activation: Activation,
  h: Matrix,
  y: Matrix | null,
  out: Matrix,
  scratch: SynthesizerScratch,
): Matrix {
  let a = h;
  p.hidden.forEach((l, j) => {
    const z = scratch.activations[j];
    k.matmul(a, l.W, z);
    k.addRowVector(z, l.b);
    if (l.N && y) k.matmul(y, l.N, z, 1, 1);
    k.activate(activation, z);
    a = z;
  });
  k.matmul(a, p.M, out);
  k.addRowVector(out, p.c);
  if (p.N && y) k.matmul(y, p.N, out, 1, 1);
  return out;
}

/**
 * Where each layer's parameters sit in the optimiser's list, `[W, b, N or -1]` per hidden layer
 * then `[M, c, N or -1]`, and that list ([W₀, b₀, (N₀), …, M, c, (N)]).
 */
export function parameterList(p: SynthesizerParameters): { params: Matrix[]; slots: [number, number, number][] } {
  const params: Matrix[] = [];
  const add = (m: Matrix | null) => (m ? params.push(m) - 1 : -1);
  const slots: [number, number, number][] = p.hidden.map((l) => [add(l.W), add(l.b), add(l.N)]);
  slots.push([add(p.M), add(p.c), add(p.N)]);
  return { params, slots };
}

/**
 * One optimiser step on the batch mean of `0.5 |g_hat - target|²` at the current parameters.
 * `error` receives `g_hat - target`; `current`, when given, is g_hat already evaluated at these
 * parameters for this (h, y) (with its hidden activations in `scratch`), so it is not recomputed.
 * Backpropagation through the hidden layers uses each layer's weights before their own step
 * (plain SGD applies a layer's step as soon as the gradient below it is taken).
 */
export function refitSynthesizer(
  k: KernelBackend,
  p: SynthesizerParameters,
  activation: Activation,
  opt: RefitStep,
  slots: readonly (readonly [number, number, number])[],
  h: Matrix,
  y: Matrix | null,
  target: Matrix,
  error: Matrix,
  scratch: SynthesizerScratch,
  current: Matrix | null,
): void {
  const e = error,
    acts = scratch.activations,
    deltas = scratch.deltas;
  if (!current) predictSynthetic(k, p, activation, h, y, e, scratch);
  k.subtract(current ?? e, target, e);
  const top = acts.length - 1;
  const below = (j: number, d: Matrix, W: Matrix) => {
    // gradient with respect to hidden layer j's output, through W (not stepped yet)
    k.matmulTB(d, W, deltas[j]);
    k.activationGrad(activation, acts[j], deltas[j], deltas[j]);
  };
  if (top >= 0) below(top, e, p.M);
  const [iM, ic, iN] = slots[slots.length - 1];
  opt.outer(iM, top >= 0 ? acts[top] : h, e);
  opt.mean(ic, e);
  if (iN >= 0 && y) opt.outer(iN, y, e);
  for (let j = top; j >= 0; j--) {
    const l = p.hidden[j],
      [iW, ib, iNj] = slots[j];
    if (j > 0) below(j - 1, deltas[j], l.W);
    opt.outer(iW, j > 0 ? acts[j - 1] : h, deltas[j]);
    opt.mean(ib, deltas[j]);
    if (iNj >= 0 && y) opt.outer(iNj, y, deltas[j]);
  }
  opt.step();
}

/** Check a parameter set against a synthesizer's shape; throws naming the parameter. */
function checkParameters(id: string, spec: SynthesizerShape, p: SynthesizerParameters): void {
  const u = spec.units,
    widths = spec.hidden ?? [];
  if (p.hidden.length !== widths.length)
    throw new RangeError(`${id}: ${p.hidden.length} hidden layers given, the topology has ${widths.length}`);
  let inputs = spec.inputs ?? u;
  p.hidden.forEach((l, j) => {
    const w = widths[j],
      at = `${id}: hidden layer ${j}`;
    if (l.W.rows !== inputs || l.W.cols !== w) throw new RangeError(`${at}: W is ${shapeOf(l.W)}, the topology needs ${inputs}x${w}`);
    if (l.b.data.length !== w) throw new RangeError(`${at}: b has ${l.b.data.length} values, the topology needs ${w}`);
    const wantN = spec.conditioned && j === 0;
    if (wantN !== Boolean(l.N) || (l.N && (l.N.rows !== spec.labels || l.N.cols !== w))) {
      throw new RangeError(
        `${at}: ${wantN ? `a conditioned synthesizer needs N of ${spec.labels}x${w}` : 'takes no N'}, got ${l.N ? shapeOf(l.N) : 'none'}`,
      );
    }
    inputs = w;
  });
  const { M, c, N } = p;
  if (M.rows !== inputs || M.cols !== u) throw new RangeError(`${id}: M is ${shapeOf(M)}, the topology needs ${inputs}x${u}`);
  if (c.data.length !== u) throw new RangeError(`${id}: c has ${c.data.length} values, the topology needs ${u}`);
  const outputN = spec.conditioned && p.hidden.length === 0;
  if (outputN && (!N || N.rows !== spec.labels || N.cols !== u)) {
    throw new RangeError(`${id}: a conditioned synthesizer needs N of ${spec.labels}x${u}, got ${N ? shapeOf(N) : 'none'}`);
  }
  if (!outputN && N)
    throw new RangeError(
      `${id}: N (${shapeOf(N)}) given, but ` +
        `${spec.conditioned ? 'an MLP synthesizer takes its labels in hidden layer 0' : 'the synthesizer is not conditioned'}`,
    );
}

export class Synthesizer {
  /** the refits' optimiser, over [W₀, b₀, (N₀), …, M, c, (N)] */
  readonly optimizer: Optimizer;
  readonly parameters: SynthesizerParameters;
  private readonly queue: RefitQueue;
  private readonly slotsOf: [number, number, number][];
  private readonly error: Matrix;
  private readonly scratch: SynthesizerScratch;
  private readonly activation: Activation;
  private readonly kernels = backend();
  /** refits applied by this object so far */
  private refits = 0;
  /**
   * The last prediction's batch and the refit count it was made at. While no refit has happened
   * since (delay 0: its own refit comes next), its g_hat and hidden activations are exactly what
   * the refit would recompute, so the refit reuses them.
   */
  private readonly lastPrediction = { batch: -1, refits: -1 };
  private readonly refitSlot = (slot: PendingRefit) => this.refit(slot);
  private disposed = false;

  constructor(
    readonly id: string,
    readonly spec: SynthesizerShape,
    readonly M: Matrix,
    readonly c: Matrix,
    readonly N: Matrix | null,
    readonly batchSize: number,
    /** the hidden layers of an MLP synthesizer (as many as `spec.hidden` lists) */
    readonly hidden: readonly SynthesizerHiddenLayer[] = [],
    /**
     * how many batches further its targets may run ahead of its predictions than the delay allows
     * (a forward synthesizer's: its source does not wait for it)
     */
    targetsAhead = 0,
  ) {
    this.parameters = { hidden, M, c, N };
    checkParameters(id, spec, this.parameters);
    const { params, slots } = parameterList(this.parameters);
    this.slotsOf = slots;
    this.optimizer = new Optimizer(optimizerOf(spec), params);
    const widths = spec.hidden ?? [];
    this.scratch = { activations: widths.map((w) => zeros(batchSize, w)), deltas: widths.map((w) => zeros(batchSize, w)) };
    this.activation = spec.activation ?? 'relu';
    this.queue = new RefitQueue(
      id,
      spec.delay,
      batchSize,
      spec.inputs ?? spec.units,
      spec.conditioned ? spec.labels : 0,
      spec.units,
      targetsAhead,
    );
    this.error = zeros(batchSize, spec.units);
  }

  /**
   * Whether every target batch `batch` must see (those of batches <= batch-1-delay) has arrived,
   * counting `arriving` as arrived too (a target about to be recorded).
   */
  canPredict(batch: number, arriving = -1): boolean {
    return this.queue.canPredict(batch, arriving);
  }

  /**
   * Apply the refits batch `batch` must see, then predict its synthetic gradient.
   * Returns g_hat (valid while the batch is in flight: its slot frees when its refit is applied).
   */
  predict(batch: number, h: Matrix, y: Matrix | null): Matrix {
    if (this.disposed) throw new Error(`${this.id}: prediction of batch ${batch} after dispose()`);
    const slot = this.queue.beginPrediction(batch, this.refitSlot);
    copyInto(slot.h, h);
    if (slot.y) copyInto(slot.y, y ?? missingLabels(this.id));
    predictSynthetic(this.kernels, this.parameters, this.activation, slot.h, slot.y, slot.prediction, this.scratch);
    this.lastPrediction.batch = batch;
    this.lastPrediction.refits = this.refits;
    // a clipped prediction is not g_hat at these parameters: its refit recomputes g_hat
    if (this.spec.clip !== undefined && clipNorm(slot.prediction.data, this.spec.clip)) this.lastPrediction.batch = -1;
    if (!Number.isFinite(this.kernels.sum(slot.prediction))) {
      const p = slot.prediction,
        at = firstNonFinite(p.data);
      throw new DivergenceError(this.id, batch, 'g_hat', `g_hat[${Math.floor(at / p.cols)}, ${at % p.cols}] = ${p.data[at]}`);
    }
    return slot.prediction;
  }

  /**
   * Record the target batch `batch` produced (the true gradient, or the one the consumer sent
   * back). Returns this batch's synthesizer loss `0.5 mean_rows(sum_cols((g_hat - g)²))`, or null
   * when the target came before the prediction (then {@link lossOf} gives it after `predict`).
   */
  target(batch: number, g: Matrix): number | null {
    if (this.disposed) throw new Error(`${this.id}: target of batch ${batch} after dispose()`);
    copyInto(this.queue.targetSlot(batch).target, g);
    return this.lossOf(batch);
  }

  /** The synthesizer loss of `batch` once both its prediction and its target are in, else null. */
  lossOf(batch: number): number | null {
    const slot = this.queue.complete(batch);
    return slot ? (0.5 * this.kernels.squaredDistance(slot.prediction, slot.target)) / this.batchSize : null;
  }

  /** `cos(g_hat, target)` of `batch` over the whole batch (see {@link cosine}) once both are in, else null. */
  cosineOf(batch: number): number | null {
    const slot = this.queue.complete(batch);
    return slot ? cosine(slot.prediction, slot.target) : null;
  }

  /** Apply every refit whose target has arrived (the end of training). */
  drain(): void {
    if (this.disposed) throw new Error(`${this.id}: drain after dispose()`);
    this.queue.drain(this.refitSlot);
  }

  /** Copies of the pending refits, taken between batches (see {@link RefitQueue.snapshot}). */
  snapshot(): SynthesizerSnapshot {
    return this.queue.snapshot();
  }

  /** Continue from a {@link snapshot} (of a synthesizer with the same topology). */
  restore(s: SynthesizerSnapshot): void {
    this.queue.restore(s);
    this.lastPrediction.batch = -1; // restored slots hold no prediction: their refits recompute g_hat
  }

  /** Number of predictions whose refit is not applied yet. */
  get pending(): number {
    return this.queue.pending;
  }

  /**
   * Give every buffer this synthesizer allocated back to the backend: the pending-refit slots, the
   * error, the hidden activations and their gradients, the optimiser's gradients and moments. Its
   * parameters belong to the parameter set it was given and stay. Pending refits are dropped
   * (drain first); the synthesizer cannot be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const k = this.kernels;
    this.queue.dispose(k);
    for (const m of [this.error, ...this.scratch.activations, ...this.scratch.deltas]) release(m, k);
    this.scratch.activations.length = 0;
    this.scratch.deltas.length = 0;
    this.optimizer.dispose();
  }

  private refit(slot: PendingRefit): void {
    const current = slot.batch === this.lastPrediction.batch && this.refits === this.lastPrediction.refits;
    this.refits++;
    refitSynthesizer(
      this.kernels,
      this.parameters,
      this.activation,
      this.optimizer,
      this.slotsOf,
      slot.h,
      slot.y,
      slot.target,
      this.error,
      this.scratch,
      current ? slot.prediction : null,
    );
  }
}

/**
 * Scale `g` in place so that its norm is at most `max` (a non-finite norm is left for the
 * divergence check); whether it scaled.
 */
export function clipNorm(g: Float32Array, max: number): boolean {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  if (!(norm > max) || !Number.isFinite(norm)) return false;
  const scale = max / norm;
  for (let i = 0; i < g.length; i++) g[i] *= scale;
  return true;
}

function missingLabels(id: string): never {
  throw new Error(`${id}: a conditioned synthesizer needs the batch's labels`);
}
