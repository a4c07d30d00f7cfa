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
 */
import { type Matrix, release, zeros } from './matrix.ts';
import type { KernelBackend } from './kernels.ts';

export interface PendingRefit {
  /** the batch this slot holds, -1 when free */
  batch: number;
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

  constructor(
    /** systemId-style name used in errors */
    readonly id: string,
    readonly delay: number,
    batchSize: number,
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
      hasTarget: false,
      hasPrediction: false,
      h: zeros(batchSize, inputs),
      y: labels > 0 ? zeros(batchSize, labels) : null,
      prediction: zeros(batchSize, units),
      target: zeros(batchSize, units),
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
    if (batch !== this.nextPrediction) throw new Error(`${this.id}: asked to predict batch ${batch}, expected batch ${this.nextPrediction}`);
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
      throw new RangeError(`${this.id}: a snapshot with ${s.pending.length} pending refits (batches ${s.nextRefit}..${s.nextPrediction - 1}) does not fit delay ${this.delay}`);
    }
    s.pending.forEach((p, i) => {
      if (p.batch !== s.nextRefit + i) throw new RangeError(`${this.id}: the snapshot's pending refit ${i} is of batch ${p.batch}, expected ${s.nextRefit + i}`);
      const slot = this.slotOf(p.batch);
      if (p.h.length !== slot.h.data.length || p.target.length !== slot.target.data.length || (slot.y ? p.y?.length !== slot.y.data.length : p.y !== null)) {
        throw new RangeError(`${this.id}: the snapshot's pending refit of batch ${p.batch} has the wrong shape`);
      }
    });
    for (const slot of this.slots) (slot.batch = -1), (slot.hasTarget = slot.hasPrediction = false);
    for (const p of s.pending) {
      const slot = this.slotOf(p.batch);
      slot.batch = p.batch;
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

  private refitThrough(last: number, refit: (slot: PendingRefit) => void): void {
    for (; this.nextRefit <= last; this.nextRefit++) {
      const slot = this.slotOf(this.nextRefit);
      if (!slot.hasTarget) throw new Error(`${this.id}: refit of batch ${this.nextRefit} is due but its target has not arrived`);
      refit(slot);
      slot.batch = -1;
    }
  }

  /** The slot of `batch`, taken for it if free. */
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

  private slotOf(batch: number): PendingRefit {
    if (this.slots.length === 0) throw new Error(`${this.id}: used after dispose()`);
    return this.slots[batch % this.slots.length];
  }
}
