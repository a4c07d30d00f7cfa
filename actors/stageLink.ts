/**
 * How events cross between stages. A {@link StageLink} carries a route's events to the stage
 * that hosts its target, and translates them to and from the wire: the worker implementation
 * below writes each tensor into a slot of a SharedArrayBuffer ring (one ring per route) and posts
 * only `{ route, batch }` on a MessagePort, so nothing is serialised and nothing is allocated per
 * message but the small wire object. Another transport (a message broker between machines)
 * implements the same interface.
 */
import type { MessagePort } from 'node:worker_threads';
import { type Observable, Subject } from 'rxjs';
import type { Matrix } from '../lib/matrix.ts';
import { type NetworkEvent, type Route, eventOf, tensorOf } from './events.ts';

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

/**
 * A ring of tensors in shared memory, with a stamp per slot saying which batch it holds and two
 * counters (sent, received) that give the route's queue length on either side.
 */
export interface SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly stamps: SharedArrayBuffer;
  readonly counters: SharedArrayBuffer;
  readonly depth: number;
  readonly rows: number;
  readonly cols: number;
}

export function createSharedRing(depth: number, rows: number, cols: number): SharedRing {
  return {
    buffer: new SharedArrayBuffer(depth * rows * cols * 4),
    stamps: new SharedArrayBuffer(depth * 4),
    counters: new SharedArrayBuffer(8),
    depth,
    rows,
    cols,
  };
}

class RingView {
  private readonly slots: Matrix[];
  private readonly stamps: Int32Array;
  /** [sent, received] */
  private readonly counters: Int32Array;
  constructor(readonly ring: SharedRing) {
    const n = ring.rows * ring.cols;
    this.slots = Array.from({ length: ring.depth }, (_, i) => ({ rows: ring.rows, cols: ring.cols, data: new Float32Array(ring.buffer, i * n * 4, n) }));
    this.stamps = new Int32Array(ring.stamps);
    this.counters = new Int32Array(ring.counters);
  }
  write(batch: number, m: Matrix): void {
    const i = batch % this.ring.depth;
    this.slots[i].data.set(m.data);
    Atomics.store(this.stamps, i, batch);
    Atomics.add(this.counters, 0, 1);
  }
  /** The tensor of `batch` (its first `rows` rows: a recurrent window may be shorter than the route's), and how many of this route's messages were waiting, this one included. */
  read(batch: number, rows: number, route: string): { tensor: Matrix; queued: number } {
    const i = batch % this.ring.depth, stamp = Atomics.load(this.stamps, i);
    if (stamp !== batch) throw new Error(`stage link: ${route} slot for batch ${batch} holds batch ${stamp} (ring of ${this.ring.depth} overrun)`);
    if (!(rows >= 0 && rows <= this.ring.rows)) throw new Error(`stage link: ${route} message of ${rows} rows (the route has ${this.ring.rows})`);
    const queued = Atomics.load(this.counters, 0) - Atomics.add(this.counters, 1, 1);
    const slot = this.slots[i];
    return { tensor: rows === slot.rows ? slot : { rows, cols: slot.cols, data: slot.data.subarray(0, rows * slot.cols) }, queued };
  }
}

/** What a worker stage needs to talk to the others: its ports to peer stages and the rings of the routes it sends or receives. */
export interface StageLinkInit {
  /** stage index → port to that stage */
  peers: Record<number, MessagePort>;
  /** route key → the route and its ring (only routes crossing from or to this stage) */
  rings: Record<string, { route: Route; ring: SharedRing }>;
  /** target actor → the stage that hosts it */
  stageOf: Record<string, number>;
}

type WireMessage = { route: string; batch: number; rows: number };

/** The worker_threads implementation of {@link StageLink}. */
export function workerStageLink(init: StageLinkInit): StageLink {
  const views = new Map(Object.entries(init.rings).map(([key, { route, ring }]) => [key, { route, view: new RingView(ring) }]));
  const incoming = new Subject<Arrival>();
  const ports = Object.values(init.peers);
  for (const port of ports) {
    port.on('message', ({ route: key, batch, rows }: WireMessage) => {
      const r = views.get(key);
      if (!r) return incoming.error(new Error(`stage link: a message on unknown route '${key}'`));
      const { tensor, queued } = r.view.read(batch, rows, key);
      incoming.next({ route: r.route, event: eventOf(r.route, batch, tensor), queued });
    });
  }
  return {
    incoming,
    send(route, event) {
      const r = views.get(route.key);
      const port = init.peers[init.stageOf[route.target]];
      if (!r || !port) throw new Error(`stage link: no route ${route.key} from this stage`);
      const tensor = tensorOf(event);
      r.view.write(event.batch, tensor);
      port.postMessage({ route: route.key, batch: event.batch, rows: tensor.rows } satisfies WireMessage);
    },
    close() {
      for (const p of ports) p.close();
      incoming.complete();
    },
  };
}
