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
  // a ring buffer: it grows only when more actions wait at once than it holds (a few dozen at
  // most with bounded queues), never with the number of actions that pass through it
  private ring: (EventLoopAction<unknown> | undefined)[] = new Array(64);
  private head = 0;
  private count = 0;
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
    return this.count;
  }

  enqueue(action: EventLoopAction<unknown>): void {
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count++) & (this.ring.length - 1)] = action;
    if (!this.pending) {
      this.pending = true;
      setImmediate(this.drain);
    }
  }

  private grow(): void {
    const bigger = new Array<EventLoopAction<unknown> | undefined>(this.ring.length * 2);
    for (let i = 0; i < this.count; i++) bigger[i] = this.ring[(this.head + i) & (this.ring.length - 1)];
    this.ring = bigger;
    this.head = 0;
  }

  private readonly drain = (): void => {
    const until = performance.now() + this.sliceMs;
    let error: unknown = null;
    let ran = 0;
    while (this.count > 0) {
      const action = this.ring[this.head]!;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) & (this.ring.length - 1);
      this.count--;
      try {
        action.execute();
      } catch (e) {
        error ??= e;
      }
      // checking the clock every action would cost more than most actions
      if ((++ran & 15) === 0 && performance.now() > until) break;
    }
    if (this.count > 0) setImmediate(this.drain);
    else this.pending = false;
    if (error !== null) throw error;
  };
}
