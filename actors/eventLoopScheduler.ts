/**
 * An rxjs scheduler that runs scheduled work first-in first-out on the event loop, in slices:
 * each slice runs queued work for up to `sliceMs`, then yields with `setImmediate` (no 1 ms
 * `setTimeout` clamp, no `asapScheduler` whose queue gets slower as it grows), so timers, I/O and
 * other trainings interleave with this one.
 *
 *   schedule(a); schedule(b)   // a runs, then b, on a later turn of the event loop
 *   inside a: schedule(c)      // c runs after b (FIFO), in the same slice if time allows
 */
import { type SchedulerAction, type SchedulerLike, Subscription } from 'rxjs';

class EventLoopAction<T> extends Subscription implements SchedulerAction<T> {
  private state: T | undefined;

  constructor(
    private readonly scheduler: EventLoopScheduler,
    private readonly work: (this: SchedulerAction<T>, state?: T) => void,
  ) {
    super();
  }

  schedule(state?: T, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    if (delay > 0) {
      const timer = setTimeout(() => this.execute(), delay);
      this.add(() => clearTimeout(timer));
    } else {
      this.scheduler.enqueue(this as EventLoopAction<unknown>);
    }
    return this;
  }

  execute(): void {
    if (!this.closed) this.work.call(this, this.state);
  }
}

export class EventLoopScheduler implements SchedulerLike {
  private queue: EventLoopAction<unknown>[] = [];
  private head = 0;
  private pending = false;

  constructor(private readonly sliceMs = 8) {}

  now(): number {
    return performance.now();
  }

  schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay = 0, state?: T): Subscription {
    return new EventLoopAction<T>(this, work).schedule(state, delay);
  }

  /** Number of actions waiting to run. */
  get size(): number {
    return this.queue.length - this.head;
  }

  enqueue(action: EventLoopAction<unknown>): void {
    this.queue.push(action);
    if (!this.pending) {
      this.pending = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    const until = performance.now() + this.sliceMs;
    let error: unknown = null;
    let ran = 0;
    while (this.head < this.queue.length) {
      const action = this.queue[this.head];
      this.queue[this.head++] = undefined as never;
      try {
        action.execute();
      } catch (e) {
        error ??= e;
      }
      // checking the clock every action would cost more than most actions
      if ((++ran & 15) === 0 && performance.now() > until) break;
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      this.pending = false;
    } else {
      if (this.head > 1024) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      setImmediate(this.drain);
    }
    if (error !== null) throw error;
  };
}
