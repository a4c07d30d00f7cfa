/**
 * The loop that runs a worker stage: it takes what the other stages sent (the link's `poll`,
 * which hands each event to its actor, and those actors' work runs to completion inside it),
 * and when nothing has arrived it waits on the stage's doorbell (stageLink.ts):
 *
 *   poll ─(something)─▶ poll again
 *     └─(nothing)─▶ spin on the doorbell, up to the spin budget ─(rung)─▶ poll
 *                     └─(not rung)─▶ Atomics.wait (asleep; senders notify) ─▶ poll
 *                                      └─(nothing for PARK_MS)─▶ park: Atomics.waitAsync, the event loop free
 *
 * It hands the thread back to the event loop every SLICE_MS while busy, at once when the trainer
 * has posted a command (the doorbell counts them), and while parked: so commands, timers (the
 * inspection relay's) and a stray message are all handled, and a stage that has nothing to do
 * uses no CPU at all.
 *
 * The spin budget adapts ({@link SpinPolicy}): spinning pays when the sender runs on another core
 * at the same time (a hand-off then costs well under a microsecond instead of a wake-up's several);
 * it costs when the threads share a core (the spinner holds up the very thread it waits for), or
 * when waits are long anyway. Spins that find work keep the budget; spins that do not halve it, to
 * nothing; and a nothing-budget tries one full spin now and then, to notice when cores come back.
 */
import { BELL, CONTROL, SLEEPING } from './stageLink.ts';

/** What the driver drives: the shared-memory link of its stage. */
export interface Drivable {
  /** deliver what has arrived; how many events */
  poll(): number;
  /** the stage's doorbell (stageLink.ts) */
  readonly bell: Int32Array;
}

export interface DriverHooks {
  /** nothing to do for now: a chance to send what the stage has batched for the trainer */
  idle(): void;
  /** delivering threw: the stage has failed */
  fail(error: unknown): void;
}

/** `Atomics.waitAsync` (in Node since 16; typed only from ES2024, past this project's `lib`). */
type WaitAsync = (
  a: Int32Array,
  index: number,
  value: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Back to the event loop at least this often while busy (ms). */
const SLICE_MS = 10;
/** How long one `Atomics.wait` lasts before the stage looks at its batched reports again (ms). */
const WAIT_MS = 2;
/** Idle this long, the stage parks on the event loop (ms). */
const PARK_MS = 10;

/**
 * How long to spin before sleeping, adapted to what spinning has been worth: a spin that finds
 * work keeps the budget (at least twice the wait it saw, up to `max`); a spin that does not halves
 * it, and below `min` the stage sleeps at once; then one spin in `probeEvery` waits spins `max`
 * again, to see whether it pays now.
 */
export class SpinPolicy {
  /** ms */
  private budget: number;
  private sinceProbe = 0;
  /** waits whose spin found work, and waits in all (for the bench and the tests) */
  found = 0;
  waits = 0;

  constructor(
    readonly max = 0.05,
    readonly min = 0.002,
    readonly probeEvery = 16,
  ) {
    this.budget = max;
  }

  /** The budget of the next spin (ms); 0: sleep at once. */
  next(): number {
    this.waits++;
    if (this.budget >= this.min) return this.budget;
    if (++this.sinceProbe < this.probeEvery) return 0;
    this.sinceProbe = 0;
    return this.max;
  }

  /** The spin found work after `ms`, or ran its budget out. */
  spun(found: boolean, ms: number): void {
    if (found) {
      this.found++;
      this.budget = Math.min(this.max, Math.max(this.budget, 2 * ms, this.min));
    } else this.budget /= 2;
  }
}

export class StageDriver {
  private state: 'off' | 'scheduled' | 'running' | 'parked' = 'off';
  private stopped = false;
  /** commands the stage has handled; the doorbell's CONTROL word counts those posted */
  private handled = 0;
  /** ms spent spinning or asleep inside the loop (the thread was not working) */
  waited = 0;
  /** work handed to the loop ({@link defer}) */
  private readonly deferred: (() => void)[] = [];

  constructor(
    private readonly link: Drivable,
    private readonly hooks: DriverHooks,
    readonly policy = new SpinPolicy(),
  ) {}

  /** Whether the trainer has posted a command the stage has not handled yet. */
  commandWaiting = (): boolean => Atomics.load(this.link.bell, CONTROL) > this.handled;

  /** The stage handled a command the trainer posted (and rang for). */
  commandHandled(): void {
    this.handled++;
  }

  /** Run soon (after a command, or woken while parked); a no-op while running or stopped. */
  wake = (): void => {
    if (this.stopped || this.state === 'scheduled' || this.state === 'running') return;
    this.state = 'scheduled';
    setImmediate(this.drive);
  };

  /**
   * Run `fn` from the loop, soon (the stage's feeder pausing for a turn: the loop hands the thread
   * to the event loop every SLICE_MS, and runs `fn` in between).
   */
  defer = (fn: () => void): void => {
    if (this.stopped) return;
    this.deferred.push(fn);
    this.wake();
  };

  /** Never run again (the stage drained or failed). */
  stop(): void {
    this.stopped = true;
    Atomics.store(this.link.bell, SLEEPING, 0);
  }

  private drive = (): void => {
    if (this.stopped) return;
    this.state = 'running';
    const bell = this.link.bell;
    Atomics.store(bell, SLEEPING, 0);
    const sliceEnd = performance.now() + SLICE_MS;
    let idleSince = -1;
    try {
      for (;;) {
        const seen = Atomics.load(bell, BELL);
        // a command is posted and not handled yet: it waits on the event loop
        if (Atomics.load(bell, CONTROL) > this.handled) return this.yield();
        if (this.deferred.length > 0) {
          for (const fn of this.deferred.splice(0)) fn();
          idleSince = -1;
          if (this.stopped) return;
          if (performance.now() > sliceEnd) return this.yield();
          continue;
        }
        if (this.link.poll() > 0) {
          idleSince = -1;
          if (this.stopped) return;
          if (performance.now() > sliceEnd) return this.yield();
          continue;
        }
        if (this.stopped) return;
        if (performance.now() > sliceEnd) return this.yield();
        if (this.spin(seen)) continue;
        this.hooks.idle();
        Atomics.store(bell, SLEEPING, 1);
        const t0 = performance.now();
        const r = Atomics.wait(bell, BELL, seen, WAIT_MS);
        Atomics.store(bell, SLEEPING, 0);
        const t1 = performance.now();
        this.waited += t1 - t0;
        if (r !== 'timed-out') idleSince = -1;
        else if (idleSince < 0) idleSince = t0;
        else if (t1 - idleSince > PARK_MS) return this.park(seen);
      }
    } catch (error) {
      this.stopped = true;
      this.hooks.fail(error);
    }
  };

  /** Spin on the doorbell up to the policy's budget: whether it rang. */
  private spin(seen: number): boolean {
    const bell = this.link.bell,
      budget = this.policy.next();
    if (budget <= 0) return false;
    const t0 = performance.now(),
      until = t0 + budget;
    for (let i = 1; ; i++) {
      if (Atomics.load(bell, BELL) !== seen) {
        const ms = performance.now() - t0;
        this.waited += ms;
        this.policy.spun(true, ms);
        return true;
      }
      if ((i & 63) === 0 && performance.now() > until) break;
    }
    this.waited += performance.now() - t0;
    this.policy.spun(false, budget);
    return false;
  }

  private yield(): void {
    this.state = 'scheduled';
    setImmediate(this.drive);
  }

  /** Wait on the event loop: woken by a sender's notify, or by a command (its handler calls wake). */
  private park(seen: number): void {
    this.hooks.idle();
    this.state = 'parked';
    const bell = this.link.bell;
    Atomics.store(bell, SLEEPING, 1);
    // `seen` is from before the last poll: a message since then makes this return at once
    const w = waitAsync(bell, BELL, seen);
    if (w.async) void w.value.then(this.wake);
    else this.wake();
  }
}
