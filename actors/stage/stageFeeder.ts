/**
 * How a stage feeds its layers that read the data ({@link Feeder}), and how it counts the actors
 * done with each batch ({@link StepCounter}); the two agree on a window of batches
 * ({@link stepWindow}) that no reader runs past.
 */
import { type AnyTopology, ringDepthOf } from '../../lib/model.ts';

/**
 * Which batch enters next, per layer of the stage that reads the data: as far as the trainer
 * allows, and (pipelined) once that layer has applied its update for the batch before, or (not
 * pipelined) once the batch before is finished here. A layer that reads the data and waits for
 * its consumers does not hold back one that is decoupled, but no reader runs more than
 * {@link stepWindow} batches ahead of the last batch finished here (two readers of independent
 * branches would otherwise drift apart without bound, past what the stage can count).
 */
export class Feeder {
  private allowed = -1;
  private finished: number;
  /**
   * the whole training can run inside one call (not pipelined; or pipelined with every actor of
   * the network here) unless it yields: it does so every SLICE_MS
   */
  private sliceEnd = performance.now() + SLICE_MS;
  /** waiting for a turn (of the event loop, or of a worker stage's driver) */
  private paused = false;
  /** the stage was torn down: nothing is fed any more */
  private stopped = false;
  /** per reader: the next batch to send it, and the last batch it applied its update for */
  private readonly next: Int32Array;
  private readonly updated: Int32Array;

  constructor(
    private readonly first: number,
    private readonly steps: number,
    private readonly pipelined: boolean,
    readers: number,
    /** send reader k batch t's x */
    private readonly emit: (reader: number, batch: number) => void,
    /** run `fn` after the thread had a turn for other things (a worker stage: its driver's, see stageDriver.ts) */
    private readonly defer: (fn: () => void) => void = setImmediate,
    /** something waits for that turn now (a worker stage: a command from the trainer) */
    private readonly waiting: () => boolean = () => false,
    /** pipelined: how far a reader may feed past the last batch finished here */
    private readonly window = Infinity,
  ) {
    this.finished = first - 1;
    this.next = new Int32Array(readers).fill(first);
    this.updated = new Int32Array(readers).fill(first - 1);
  }

  /**
   * Batches up to `through` may enter. They are fed from a microtask, not within the ALLOW that
   * the stage is handling: so neither the stage nor its trainer is busy while batches run, and a
   * stop (or anything else) sent to them from inside a batch takes effect at once.
   */
  allow(through: number): void {
    if (this.stopped) return;
    this.allowed = through;
    // the slice runs on from the last turn the thread had: a new slice here, at every epoch's
    // ALLOW, let a fit of epochs shorter than a slice run from one to the next on microtasks and
    // never give the event loop a turn (no timer, no Ctrl+C, until the fit ended)
    queueMicrotask(() => {
      for (let k = 0; k < this.next.length; k++) this.pump(k);
    });
  }

  /** reader k applied its update for `batch` */
  readerUpdated(k: number, batch: number): void {
    this.updated[k] = batch;
    if (this.pipelined && !this.pausedForTurn()) this.pump(k);
  }

  stepFinished(batch: number): void {
    this.finished = batch;
    // (pipelined, a reader a whole window ahead waited for this)
    if (this.pausedForTurn()) return;
    for (let k = 0; k < this.next.length; k++) this.pump(k);
  }

  /**
   * Give the thread a turn now and then (timers, signals, I/O, a progress bar; a worker stage's
   * commands), then go on: past the slice, pause, and feed every reader again after the turn.
   */
  private pausedForTurn(): boolean {
    if (this.paused) return true;
    if (performance.now() <= this.sliceEnd && !this.waiting()) return false;
    this.paused = true;
    this.defer(() => {
      this.paused = false;
      this.sliceEnd = performance.now() + SLICE_MS;
      for (let k = 0; k < this.next.length; k++) this.pump(k);
    });
    return true;
  }

  /**
   * Feed nothing more, ever (the stage's edges are closed: its training ended, perhaps from inside
   * a batch this feeder is feeding, so the loop that fed it must not go on).
   */
  stop(): void {
    this.stopped = true;
    this.allowed = this.first - 1;
  }

  /**
   * Feed no batch past the last one fed to any reader here (readers that lag still get up to it),
   * until the trainer allows more; returns that batch (`first - 1` when none).
   */
  halt(): number {
    const last = Math.max(this.first, ...this.next) - 1;
    this.allowed = Math.min(this.allowed, last);
    return last;
  }

  private pump(k: number): void {
    for (let t = this.next[k]; !this.paused && t < this.steps && t <= this.allowed && this.ready(k, t); t = this.next[k]) {
      this.next[k] = t + 1;
      this.emit(k, t);
    }
  }

  private ready(k: number, t: number): boolean {
    if (t === this.first) return true;
    return this.pipelined ? this.updated[k] >= t - 1 && this.finished >= t - this.window : this.finished >= t - 1;
  }
}

const SLICE_MS = 10;

/**
 * How many batches a stage counts at once (its {@link StepCounter}), less one: how far its readers may feed past its last finished batch.
 */
export function stepWindow(topology: AnyTopology): number {
  return 2 * ringDepthOf(topology) + 1;
}

/** Counts, per batch, the actors done with it; calls `finished` in batch order once all are. */
export class StepCounter {
  private readonly batches: Int32Array;
  private readonly counts: Int32Array;

  constructor(
    private readonly expected: number,
    depth: number,
    private readonly finished: (batch: number) => void,
  ) {
    this.batches = new Int32Array(depth).fill(-1);
    this.counts = new Int32Array(depth);
  }

  done(batch: number): void {
    const i = batch % this.batches.length;
    if (this.batches[i] !== batch) {
      if (this.counts[i] !== 0)
        throw new Error(`stage: batch ${batch} finished somewhere while batch ${this.batches[i]} is not finished everywhere here`);
      this.batches[i] = batch;
    }
    if (++this.counts[i] === this.expected) {
      this.counts[i] = 0;
      this.batches[i] = -1;
      this.finished(batch);
    }
  }
}
