/**
 * A linear synthetic-gradient generator (the paper's *synthesizer*):
 * `g_hat = h M + c (+ y N when conditioned)`, zero-initialised, refitted by one SGD step on
 * `0.5 |g_hat' - g|²` computed at its *current* parameters. With `delay` d, the prediction for
 * batch t uses exactly the refits of batches s <= t-1-d, applied oldest first; so the parameter
 * trajectory never depends on when targets arrive, only the version a prediction sees.
 */
import { DivergenceError } from './errors.ts';
import { backend } from './kernels.ts';
import { type Matrix, copyInto, firstNonFinite, shapeOf, zeros } from './matrix.ts';
import type { SynthesizerTopology } from './topology.ts';

interface PendingRefit {
  batch: number;
  hasTarget: boolean;
  readonly h: Matrix;
  readonly y: Matrix | null;
  readonly prediction: Matrix;
  readonly target: Matrix;
}

export class Synthesizer {
  private readonly slots: PendingRefit[];
  private readonly error: Matrix;
  private readonly kernels = backend();
  /** the oldest batch whose refit is not applied yet */
  private nextRefit = 0;
  /** the next batch to be predicted (batches are predicted in order) */
  private nextPrediction = 0;

  constructor(
    readonly id: string,
    readonly spec: SynthesizerTopology,
    readonly M: Matrix,
    readonly c: Matrix,
    readonly N: Matrix | null,
    readonly batchSize: number,
  ) {
    const u = spec.units;
    if (M.rows !== u || M.cols !== u) throw new RangeError(`${id}: M is ${shapeOf(M)}, the topology needs ${u}x${u}`);
    if (c.data.length !== u) throw new RangeError(`${id}: c has ${c.data.length} values, the topology needs ${u}`);
    if (spec.conditioned && (!N || N.rows !== spec.labels || N.cols !== u)) {
      throw new RangeError(`${id}: a conditioned synthesizer needs N of ${spec.labels}x${u}, got ${N ? shapeOf(N) : 'none'}`);
    }
    // predictions t-d..t are pending when t is predicted: d + 1 slots
    this.slots = Array.from({ length: spec.delay + 1 }, () => ({
      batch: -1,
      hasTarget: false,
      h: zeros(batchSize, u),
      y: spec.conditioned ? zeros(batchSize, spec.labels) : null,
      prediction: zeros(batchSize, u),
      target: zeros(batchSize, u),
    }));
    this.error = zeros(batchSize, u);
  }

  /** The batches whose targets must have arrived before batch `batch` can be predicted. */
  canPredict(batch: number): boolean {
    for (let s = this.nextRefit; s <= batch - 1 - this.spec.delay; s++) {
      if (!this.slotOf(s).hasTarget) return false;
    }
    return true;
  }

  /**
   * Apply the refits batch `batch` must see, then predict its synthetic gradient.
   * Returns g_hat (valid until the next prediction; the layer uses it at once).
   */
  predict(batch: number, h: Matrix, y: Matrix | null): Matrix {
    if (batch !== this.nextPrediction) throw new Error(`${this.id}: asked to predict batch ${batch}, expected batch ${this.nextPrediction}`);
    this.applyRefitsThrough(batch - 1 - this.spec.delay);
    const slot = this.slotOf(batch);
    slot.batch = batch;
    slot.hasTarget = false;
    copyInto(slot.h, h);
    if (slot.y) copyInto(slot.y, y ?? missingLabels(this.id));
    this.evaluate(slot.h, slot.y, slot.prediction);
    const at = firstNonFinite(slot.prediction.data);
    if (at >= 0) {
      const p = slot.prediction;
      throw new DivergenceError(this.id, batch, 'g_hat', `g_hat[${Math.floor(at / p.cols)}, ${at % p.cols}] = ${p.data[at]}`);
    }
    this.nextPrediction = batch + 1;
    return slot.prediction;
  }

  /**
   * Record the target batch `batch` produced (the true gradient, or the one the next layer sent
   * upstream). Returns this batch's synthesizer loss `0.5 mean_rows(sum_cols((g_hat - g)²))`.
   */
  target(batch: number, g: Matrix): number {
    const slot = this.slotOf(batch);
    if (slot.batch !== batch || slot.hasTarget) {
      throw new Error(`${this.id}: target for batch ${batch}, which has no pending prediction`);
    }
    copyInto(slot.target, g);
    slot.hasTarget = true;
    const p = slot.prediction.data, t = slot.target.data;
    let sum = 0;
    for (let i = 0; i < p.length; i++) {
      const e = p[i] - t[i];
      sum += e * e;
    }
    return (0.5 * sum) / this.batchSize;
  }

  /** Apply every refit whose target has arrived (the end of training). */
  drain(): void {
    while (this.nextRefit < this.nextPrediction && this.slotOf(this.nextRefit).hasTarget) this.applyRefitsThrough(this.nextRefit);
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

  private refit({ h, y, target }: PendingRefit): void {
    const k = this.kernels, e = this.error, lr = this.spec.lr, B = this.batchSize;
    this.evaluate(h, y, e);
    const E = e.data, T = target.data;
    for (let i = 0; i < E.length; i++) E[i] -= T[i];
    k.matmulTA(h, e, this.M, -lr / B, 1);
    k.meanRows(e, this.c, -lr, 1);
    if (this.N && y) k.matmulTA(y, e, this.N, -lr / B, 1);
  }

  private evaluate(h: Matrix, y: Matrix | null, out: Matrix): void {
    const k = this.kernels;
    k.matmul(h, this.M, out);
    k.addRowVector(out, this.c);
    if (this.N && y) k.matmul(y, this.N, out, 1, 1);
  }

  private slotOf(batch: number): PendingRefit {
    return this.slots[batch % this.slots.length];
  }
}

function missingLabels(id: string): never {
  throw new Error(`${id}: a conditioned synthesizer needs the batch's labels`);
}
