/**
 * How events cross between stages. A {@link StageLink} carries a route's events to the stage
 * that hosts its target, and translates them to and from the wire. The worker implementation
 * below ({@link SharedMemoryLink}) needs no message and no event-loop turn per event: everything
 * lives in SharedArrayBuffers that both threads map.
 *
 * - a **ring** per route: `depth` tensor slots (the route's k-th message in slot k mod depth), the
 *   batch each slot holds, and two counters (sent, taken) that give the route's queue length;
 * - a **channel** per directed pair of stages: a FIFO of route numbers, so a stage takes one
 *   peer's events in the order that peer sent them, across its routes;
 * - a **doorbell** per stage: a word every sender (and the trainer, after a command) bumps, so a
 *   stage waits for anything at all on one word: spinning on it, or asleep in `Atomics.wait`
 *   (senders then `Atomics.notify`; a sleeping stage says so in a second word, so a sender
 *   whose receiver is awake pays no system call).
 *
 *   stage a: send(route, e) ─ tensor → ring slot, stamp batch, sent++ ─ route no. → channel a→b ─ bell(b)++ ─▶ stage b: poll()
 *
 * Nothing is allocated per message but the event object the receiving actor gets. A transport
 * between machines (a message broker) implements the same {@link StageLink} interface.
 */
import { type Observable, Subject } from 'rxjs';
import type { Matrix } from '../../lib/matrix.ts';
import { type NetworkEvent, type Route, eventOf, tensorOf } from '../machines/events.ts';
import { arrive } from './startBarrier.ts';

/** An event from another stage, with its route and how many of the route's messages were waiting, this one included. */
export interface Arrival {
  readonly route: Route;
  readonly event: NetworkEvent;
  readonly queued: number;
}

export interface StageLink {
  /** send an event on a route whose target lives on another stage */
  send(route: Route, event: NetworkEvent): void;
  /** events for actors of this stage */
  readonly incoming: Observable<Arrival>;
  close(): void;
}

/** Int32 words per cache line: words written by different threads sit a line apart. */
const LINE = 16;

/** The doorbell's words: bumped by every sender; set while its stage sleeps; bumped by the trainer after a command. */
export const BELL = 0,
  SLEEPING = LINE,
  CONTROL = 2 * LINE;
const BELL_WORDS = 3 * LINE;

/** A stage's doorbell, in shared memory. */
export function createDoorbell(): SharedArrayBuffer {
  return new SharedArrayBuffer(BELL_WORDS * 4);
}

/** Wake whoever waits on this doorbell (a no-op system-call-wise when its stage is awake). */
export function ring(bell: Int32Array): void {
  Atomics.add(bell, BELL, 1);
  if (Atomics.load(bell, SLEEPING) !== 0) Atomics.notify(bell, BELL);
}

/** The trainer posted a command: say so on the stage's doorbell (a stage that waits on shared memory then turns to its event loop). */
export function ringControl(bell: Int32Array): void {
  Atomics.add(bell, CONTROL, 1);
  ring(bell);
}

/**
 * A ring of tensors in shared memory: the route's k-th message in slot k mod depth, the batch
 * and the rows each slot holds (a recurrent window may be shorter than the route's tensor), and
 * [sent, taken] counters (a line apart: each is written by one side).
 */
export interface SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly stamps: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly depth: number;
  readonly rows: number;
  readonly cols: number;
}

const SENT = 0,
  TAKEN = LINE;

export function createSharedRing(depth: number, rows: number, cols: number): SharedRing {
  return {
    buffer: new SharedArrayBuffer(depth * rows * cols * 4),
    stamps: new SharedArrayBuffer(2 * depth * 4),
    counters: new SharedArrayBuffer(2 * LINE * 4),
    depth,
    rows,
    cols,
  };
}

class RingView {
  private readonly slots: Matrix[];
  private readonly stamps: Int32Array;
  private readonly counters: Int32Array;
  /** this side's own count: messages sent (sender) or taken (receiver) */
  private count = 0;
  constructor(
    readonly ring: SharedRing,
    readonly route: Route,
  ) {
    const n = ring.rows * ring.cols;
    this.slots = Array.from({ length: ring.depth }, (_, i) => ({
      rows: ring.rows,
      cols: ring.cols,
      data: new Float32Array(ring.buffer, i * n * 4, n),
    }));
    this.stamps = new Int32Array(ring.stamps);
    this.counters = new Int32Array(ring.counters);
  }

  /** Sender: copy `m` into the next slot. A slot still unread `depth` messages later is a broken bound, said by name. */
  write(batch: number, m: Matrix): void {
    const k = this.count,
      depth = this.ring.depth;
    if (k - Atomics.load(this.counters, TAKEN) >= depth) {
      throw new Error(
        `stage link: ${this.route.key} holds ${depth} batches its target has not taken (ring of ${depth} overrun at batch ${batch})`,
      );
    }
    if (m.cols !== this.ring.cols || m.rows > this.ring.rows)
      throw new Error(`stage link: ${this.route.key} carries ${this.ring.rows}x${this.ring.cols}, not ${m.rows}x${m.cols}`);
    const i = k % depth;
    this.slots[i].data.set(m.data);
    this.stamps[i] = batch;
    this.stamps[depth + i] = m.rows;
    this.count = k + 1;
    Atomics.store(this.counters, SENT, k + 1);
  }

  /** Receiver: the next message's event, and how many of the route's messages were waiting, this one included. */
  take(): Arrival {
    const k = this.count,
      depth = this.ring.depth,
      i = k % depth;
    const queued = Atomics.load(this.counters, SENT) - k;
    this.count = k + 1;
    Atomics.store(this.counters, TAKEN, k + 1);
    const slot = this.slots[i],
      rows = this.stamps[depth + i];
    const tensor = rows === slot.rows ? slot : { rows, cols: slot.cols, data: slot.data.subarray(0, rows * slot.cols) };
    return { route: this.route, event: eventOf(this.route, this.stamps[i], tensor), queued };
  }
}

/**
 * A FIFO of route numbers from one stage to another: `[written, …one line…, entries]`. It cannot
 * overflow: its capacity is the sum of its routes' ring depths, and a ring refuses more.
 */
export interface SharedChannel {
  readonly from: number;
  readonly to: number;
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  /** the route keys its entries number */
  readonly routes: readonly string[];
}

const WRITTEN = 0,
  ENTRIES = LINE;

export function createSharedChannel(from: number, to: number, routes: readonly string[], capacity: number): SharedChannel {
  return { from, to, routes, capacity, buffer: new SharedArrayBuffer((ENTRIES + capacity) * 4) };
}

/** What a worker stage needs to talk to the others. */
export interface StageLinkInit {
  /** this stage's index */
  stage: number;
  /** every stage's doorbell, by stage index (this stage waits on its own, rings its peers') */
  bells: SharedArrayBuffer[];
  /** the channels from and to this stage */
  channels: SharedChannel[];
  /** route key → the route and its ring (only routes crossing from or to this stage) */
  rings: Record<string, { route: Route; ring: SharedRing }>;
  /** the start barrier ({@link createStartBarrier}): the stages begin together */
  start: SharedArrayBuffer;
  stages: number;
}

interface Inbound {
  readonly entries: Int32Array;
  readonly capacity: number;
  readonly views: RingView[];
  /** entries taken so far */
  read: number;
}

interface Outbound {
  readonly view: RingView;
  readonly channel: Int32Array;
  readonly capacity: number;
  /** the route's number on its channel */
  readonly entry: number;
  readonly bell: Int32Array;
  /** the channel's entries written so far (shared by every route of the channel) */
  readonly written: { n: number };
}

/**
 * The shared-memory {@link StageLink}: `send` writes and rings; `poll` (called by the stage's
 * driver, see stageDriver.ts) delivers whatever has arrived, on `incoming`.
 */
export class SharedMemoryLink implements StageLink {
  readonly incoming = new Subject<Arrival>();
  /** this stage's doorbell */
  readonly bell: Int32Array;
  private readonly inbound: Inbound[] = [];
  private readonly outbound = new Map<string, Outbound>();
  private closed = false;

  constructor(private readonly init: StageLinkInit) {
    this.bell = new Int32Array(init.bells[init.stage]);
    const views = new Map<string, RingView>();
    const view = (key: string) => {
      const r = init.rings[key];
      if (!r) throw new Error(`stage link: no ring for route '${key}'`);
      let v = views.get(key);
      if (!v) views.set(key, (v = new RingView(r.ring, r.route)));
      return v;
    };
    for (const c of init.channels) {
      const words = new Int32Array(c.buffer);
      if (c.to === init.stage) this.inbound.push({ entries: words, capacity: c.capacity, views: c.routes.map(view), read: 0 });
      else if (c.from === init.stage) {
        const written = { n: 0 };
        c.routes.forEach((key, entry) =>
          this.outbound.set(key, {
            view: view(key),
            channel: words,
            capacity: c.capacity,
            entry,
            bell: new Int32Array(init.bells[c.to]),
            written,
          }),
        );
      }
    }
  }

  send(route: Route, event: NetworkEvent): void {
    const o = this.outbound.get(route.key);
    if (!o) throw new Error(`stage link: no route ${route.key} from stage ${this.init.stage}`);
    o.view.write(event.batch, tensorOf(event));
    const w = o.written.n;
    o.channel[ENTRIES + (w % o.capacity)] = o.entry;
    o.written.n = w + 1;
    Atomics.store(o.channel, WRITTEN, w + 1);
    ring(o.bell);
  }

  /** Deliver every event that has arrived, each peer's in the order it sent them; returns how many. */
  poll(): number {
    let n = 0;
    for (let p = 0; p < this.inbound.length; p++) {
      const c = this.inbound[p];
      const written = Atomics.load(c.entries, WRITTEN);
      while (c.read < written && !this.closed) {
        const view = c.views[c.entries[ENTRIES + (c.read % c.capacity)]];
        c.read++;
        n++;
        this.incoming.next(view.take());
      }
    }
    return n;
  }

  /** Whether an event has arrived that {@link poll} has not delivered. */
  pending(): boolean {
    for (let p = 0; p < this.inbound.length; p++) if (Atomics.load(this.inbound[p].entries, WRITTEN) !== this.inbound[p].read) return true;
    return false;
  }

  /**
   * Count this stage in, then wait (here, blocking: a worker may) until every stage has, so the
   * stages begin together however long each took to load. `timeoutMs` against a peer that never
   * comes; a training that ends meanwhile ({@link cancelStart}) throws at once.
   */
  awaitPeers(timeoutMs = 60_000): void {
    arrive(this.init.start, this.init.stages, this.init.stage, timeoutMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.incoming.complete();
  }
}
