/**
 * An rxjs scheduler that runs scheduled work first-in first-out on the event loop, in slices:
 * each slice runs queued work for up to `sliceMs`, then yields with `setImmediate` (no 1 ms
 * `setTimeout` clamp, no `asapScheduler` whose queue gets slower as it grows), so timers, I/O and
 * other trainings interleave with this one.
 *
 *   schedule(a); schedule(b)   // a runs, then b, on a later turn of the event loop
 *   inside a: schedule(c)      // c runs after b (FIFO), in the same slice if time allows
 */
import type { SchedulerAction, Subscription } from 'rxjs';
import { DirectAction, type DirectScheduler, WorkQueue } from './directScheduler.ts';

export class EventLoopScheduler implements DirectScheduler {
  // grows only when more work waits at once than it holds (a few dozen at most with bounded
  // queues), never with the amount of work that passes through
  private readonly queue = new WorkQueue();
  private pending = false;

  constructor(private readonly sliceMs = 8) {}

  now(): number {
    return performance.now();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new DirectAction<T>(this, work).schedule(state, delay);
  }

  /** Number of pieces of work waiting to run. */
  get size(): number {
    return this.queue.size;
  }

  post<T>(fn: (value: T) => void, value: T): void {
    this.queue.push(fn, value);
    if (!this.pending) {
      this.pending = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    const until = performance.now() + this.sliceMs;
    let error: unknown = null;
    let ran = 0;
    while (this.queue.size > 0) {
      try {
        this.queue.runNext();
      } catch (e) {
        error ??= e;
      }
      // checking the clock every time would cost more than most pieces of work
      if ((++ran & 15) === 0 && performance.now() > until) break;
    }
    if (this.queue.size > 0) setImmediate(this.drain);
    else this.pending = false;
    if (error !== null) throw error;
  };
}
