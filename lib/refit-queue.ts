/**
 * A synthesizer's delay bookkeeping, apart from its maths: which refits a prediction must see,
 * and where each batch's pending refit (its input h, context labels, prediction and target) waits.
 *
 * With delay d the prediction for batch t uses exactly the refits of batches s <= t-1-d, applied
 * oldest first. Predictions come in batch order; a target may come before its batch's prediction
 * (from another thread), never twice. At most d + 2 batches are pending at once: predictions
 * t-d … t, and the target of t+1 arriving early; a slot frees when its refit is applied.
 *
 *   predict(t): refits due = nextRefit … t-1-d (each needs its target), then slot t holds (h, y, ĝ)
 *   target(t):  slot t holds the target; the refit waits until a prediction (or the end) is due for it
 *
 * A recurrent synthesizer gives each refit whole instead (its input and target together, tagged with
 * its step, some steps giving none): {@link give} numbers them in order like batches, then
 * {@link refitThrough} applies those tagged <= a step: the same slots and order.
 */
import { type Matrix, release, zeros } from './matrix.ts';
import type { KernelBackend } from './kernels/kernels.ts';

export interface PendingRefit {
  /** the batch this slot holds, -1 when free */
  batch: number;
  /** what the delay rule compares: the batch, or the step of a refit given with {@link RefitQueue.give} */
  tag: number;
  /** rows of h and target in use: the batch size, or fewer for a pair given with {@link RefitQueue.give} */
  rows: number;
  hasTarget: boolean;
  hasPrediction: boolean;
  readonly h: Matrix;
  /** the context labels (conditioned synthesizers only) */
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

export class RefitQueue {
  private readonly slots: PendingRefit[];
  /** the oldest batch whose refit is not applied yet */
  private nextRefit = 0;
  /** the next batch to be predicted (batches are predicted in order) */
  private nextPrediction = 0;
  /** the tag of the last refit given with {@link give} */
  private lastTag = -Infinity;

  constructor(
    /** systemId-style name used in errors */
    readonly id: string,
    readonly delay: number,
    /** rows of each slot (the most a pair given with {@link give} may have) */
    private readonly rows: number,
    /** width of what the synthesizer reads (h) */
    inputs: number,
    /** width of the context labels, 0 when not conditioned */
    labels: number,
    /** width of what it predicts; default `inputs` (a gradient of what it reads) */
    units = inputs,
    /** more slots, for targets that may run further ahead of the predictions */
    ahead = 0,
  ) {
    this.slots = Array.from({ length: delay + 2 + ahead }, () => ({
      batch: -1,
      tag: -1,
      rows,
      hasTarget: false,
      hasPrediction: false,
      h: zeros(rows, inputs),
      y: labels > 0 ? zeros(rows, labels) : null,
      prediction: zeros(rows, units),
      target: zeros(rows, units),
    }));
  }

  /** The next batch to predict. */
  get next(): number {
    return this.nextPrediction;
  }

  /** Number of predictions whose refit is not applied yet. */
  get pending(): number {
    return this.nextPrediction - this.nextRefit;
  }

  /**
   * Whether every target batch `batch` must see (those of batches <= batch-1-delay) has arrived,
   * counting `arriving` as arrived too (a target about to be recorded).
   */
  canPredict(batch: number, arriving = -1): boolean {
    for (let s = this.nextRefit; s <= batch - 1 - this.delay; s++) {
      const slot = this.slotOf(s);
      if (s !== arriving && (slot.batch !== s || !slot.hasTarget)) return false;
    }
    return true;
  }

  /**
   * Start batch `batch`'s prediction: `refit` is called for each refit it must see, oldest first
   * (each slot frees afterwards); returns the batch's slot, to fill with h, y and the prediction.
   */
  beginPrediction(batch: number, refit: (slot: PendingRefit) => void): PendingRefit {
    if (batch !== this.nextPrediction)
      throw new Error(`${this.id}: asked to predict batch ${batch}, expected batch ${this.nextPrediction}`);
    this.refitThrough(batch - 1 - this.delay, refit);
    const slot = this.claim(batch);
    slot.hasPrediction = true;
    this.nextPrediction = batch + 1;
    return slot;
  }

  /** The slot where batch `batch`'s target goes (taken for it if free); refuses a second target. */
  targetSlot(batch: number): PendingRefit {
    const slot = this.claim(batch);
    if (slot.hasTarget) throw new Error(`${this.id}: a second target for batch ${batch}`);
    slot.hasTarget = true;
    return slot;
  }

  /** Batch `batch`'s slot once both its prediction and its target are in, else null. */
  complete(batch: number): PendingRefit | null {
    const slot = this.slotOf(batch);
    return slot.batch === batch && slot.hasTarget && slot.hasPrediction ? slot : null;
  }

  /** Apply every refit whose target has arrived, oldest first (the end of training). */
  drain(refit: (slot: PendingRefit) => void): void {
    while (this.nextRefit < this.nextPrediction && this.slotOf(this.nextRefit).hasTarget) this.refitThrough(this.nextRefit, refit);
  }

  /** Copies of the pending refits, between batches: every prediction made must have its target. */
  snapshot(): SynthesizerSnapshot {
    const pending: SynthesizerSnapshot['pending'] = [];
    for (let b = this.nextRefit; b < this.nextPrediction; b++) {
      const slot = this.slotOf(b);
      if (slot.batch !== b || !slot.hasTarget) throw new Error(`${this.id}: cannot snapshot while batch ${b}'s target is outstanding`);
      pending.push({ batch: b, h: slot.h.data.slice(), y: slot.y ? slot.y.data.slice() : null, target: slot.target.data.slice() });
    }
    return { nextRefit: this.nextRefit, nextPrediction: this.nextPrediction, pending };
  }

  /** Continue from a {@link snapshot} of a queue with the same delay and shapes. */
  restore(s: SynthesizerSnapshot): void {
    if (s.nextPrediction - s.nextRefit !== s.pending.length || s.pending.length > this.delay + 1) {
      throw new RangeError(
        `${this.id}: a snapshot with ${s.pending.length} pending refits (batches ${s.nextRefit}..${s.nextPrediction - 1}) ` +
          `does not fit delay ${this.delay}`,
      );
    }
    s.pending.forEach((p, i) => {
      if (p.batch !== s.nextRefit + i)
        throw new RangeError(`${this.id}: the snapshot's pending refit ${i} is of batch ${p.batch}, expected ${s.nextRefit + i}`);
      const slot = this.slotOf(p.batch);
      if (
        p.h.length !== slot.h.data.length ||
        p.target.length !== slot.target.data.length ||
        (slot.y ? p.y?.length !== slot.y.data.length : p.y !== null)
      ) {
        throw new RangeError(`${this.id}: the snapshot's pending refit of batch ${p.batch} has the wrong shape`);
      }
    });
    this.clear();
    for (const p of s.pending) {
      const slot = this.slotOf(p.batch);
      slot.batch = slot.tag = p.batch;
      slot.hasTarget = slot.hasPrediction = true;
      slot.h.data.set(p.h);
      slot.target.data.set(p.target);
      if (slot.y && p.y) slot.y.data.set(p.y);
    }
    this.nextRefit = s.nextRefit;
    this.nextPrediction = s.nextPrediction;
  }

  dispose(kernels: KernelBackend): void {
    for (const s of this.slots.splice(0)) for (const m of [s.h, s.y, s.prediction, s.target]) if (m) release(m, kernels);
  }

  /**
   * Apply the pending refits tagged <= `last`, oldest first, each slot freeing afterwards (a
   * batch's tag is the batch).
   */
  refitThrough(last: number, refit: (slot: PendingRefit) => void): void {
    for (; this.nextRefit < this.nextPrediction; this.nextRefit++) {
      const slot = this.slotOf(this.nextRefit);
      if (slot.tag > last) return;
      if (!slot.hasTarget) throw new Error(`${this.id}: refit of batch ${this.nextRefit} is due but its target has not arrived`);
      refit(slot);
      slot.batch = -1;
    }
  }

  /**
   * The slot for a refit given whole, tagged `tag` (later than every tag given so far; tags may
   * skip), of `rows` rows: fill its h (and y) and target, then {@link refitThrough} applies it.
   * At most delay + 1 such refits wait at once.
   */
  give(tag: number, rows: number): PendingRefit {
    if (tag <= this.lastTag) throw new Error(`${this.id}: refit of step ${tag} after one of step ${this.lastTag}`);
    if (!(rows >= 1 && rows <= this.rows))
      throw new RangeError(`${this.id}: refit of step ${tag} has ${rows} rows, at most ${this.rows} fit`);
    if (this.pending > this.delay) throw new Error(`${this.id}: more than delay + 1 = ${this.delay + 1} refits pending at step ${tag}`);
    const slot = this.claim(this.nextPrediction++);
    slot.tag = this.lastTag = tag;
    slot.rows = rows;
    slot.hasTarget = slot.hasPrediction = true;
    return slot;
  }

  /** The slots of the refits not applied yet, oldest first. */
  held(): PendingRefit[] {
    const out: PendingRefit[] = [];
    for (let b = this.nextRefit; b < this.nextPrediction; b++) out.push(this.slotOf(b));
    return out;
  }

  /** Drop every pending refit (before restoring pairs with {@link give}). */
  clear(): void {
    for (const slot of this.slots) ((slot.batch = -1), (slot.hasTarget = slot.hasPrediction = false));
    this.nextRefit = this.nextPrediction = 0;
    this.lastTag = -Infinity;
  }

  /** The slot of `batch`, taken for it if free. */
  private claim(batch: number): PendingRefit {
    const slot = this.slotOf(batch);
    if (slot.batch === batch) return slot;
    if (slot.batch !== -1) {
      throw new Error(
        `${this.id}: batch ${batch} arrived while batch ${slot.batch}'s refit is still pending (more than delay + 2 batches in flight)`,
      );
    }
    slot.batch = slot.tag = batch;
    slot.hasTarget = false;
    slot.hasPrediction = false;
    return slot;
  }

  private slotOf(batch: number): PendingRefit {
    if (this.slots.length === 0) throw new Error(`${this.id}: used after dispose()`);
    return this.slots[batch % this.slots.length];
  }
}
