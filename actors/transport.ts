/**
 * How deliveries cross between stages. A {@link StageLink} carries {@link Delivery}s to the
 * stage that hosts their target; the worker implementation below writes each tensor into a
 * slot of a SharedArrayBuffer ring (one ring per route, a route being a target actor and an
 * event type) and posts only `{ route, batch }` on a MessagePort, so nothing is serialised and
 * nothing is allocated per message. Another transport (a message broker between machines)
 * implements the same two methods.
 */
import type { MessagePort } from 'node:worker_threads';
import { Subject, type Observable } from 'rxjs';
import type { Matrix } from '../lib/matrix.ts';
import type { Topology } from '../lib/topology.ts';
import { HEAD_ID, layerId, synthesizerId } from '../lib/network.ts';
import type { Delivery, DeliveryType } from './wiring.ts';

export interface StageLink {
  /** send a delivery to the stage hosting its target */
  send(d: Delivery): void;
  /** deliveries to actors of this stage */
  readonly incoming: Observable<Delivery>;
  close(): void;
}

/** One kind of delivery that may cross stages: its target, its type and its tensor's shape. */
export interface Route {
  readonly key: string;
  readonly target: string;
  readonly type: DeliveryType;
  /** the actor that sends it */
  readonly source: string;
  readonly rows: number;
  readonly cols: number;
}

/** Every delivery a topology's wiring can make (see wiring.ts), one route each. */
export function routesOf(t: Topology): Route[] {
  const B = t.batch, last = t.layers.length - 1, out: Route[] = [];
  const add = (source: string, target: string, type: DeliveryType, cols: number) =>
    out.push({ key: `${type}>${target}`, source, target, type, rows: B, cols });
  const gradientInto = (source: string, i: number, cols: number) =>
    t.layers[i].synthesizer ? add(source, synthesizerId(i), 'REFIT', cols) : add(source, layerId(i), 'GRADIENT', cols);
  for (const l of t.layers) {
    const i = l.index;
    add(layerId(i), i === last ? HEAD_ID : layerId(i + 1), 'FORWARD', l.units);
    if (l.synthesizer) {
      add(layerId(i), synthesizerId(i), 'PREDICT', l.units);
      add(synthesizerId(i), layerId(i), 'SYNTHETIC_GRADIENT', l.units);
    }
    if (i > 0) gradientInto(layerId(i), i - 1, l.inputs);
  }
  gradientInto(HEAD_ID, last, t.labels);
  return out;
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
  /** The tensor of `batch`, and how many of this route's messages were waiting, this one included. */
  read(batch: number, route: string): { tensor: Matrix; queued: number } {
    const i = batch % this.ring.depth, stamp = Atomics.load(this.stamps, i);
    if (stamp !== batch) throw new Error(`transport: ${route} slot for batch ${batch} holds batch ${stamp} (ring of ${this.ring.depth} overrun)`);
    const queued = Atomics.load(this.counters, 0) - Atomics.add(this.counters, 1, 1);
    return { tensor: this.slots[i], queued };
  }
}

/** What a worker stage needs to talk to the others: its ports to peer stages and the rings of the routes it sends or receives. */
export interface StageLinkInit {
  /** stage index → port to that stage */
  peers: Record<number, MessagePort>;
  /** route key → ring (only routes crossing from or to this stage) */
  rings: Record<string, SharedRing>;
  /** target actor → the stage that hosts it */
  stageOf: Record<string, number>;
}

type WireMessage = { route: string; batch: number };

/** The worker_threads implementation of {@link StageLink}. */
export function workerStageLink(init: StageLinkInit): StageLink {
  const views = new Map(Object.entries(init.rings).map(([key, ring]) => [key, new RingView(ring)]));
  const incoming = new Subject<Delivery>();
  const ports = Object.values(init.peers);
  for (const port of ports) {
    port.on('message', ({ route, batch }: WireMessage) => {
      const sep = route.indexOf('>');
      const { tensor, queued } = views.get(route)!.read(batch, route);
      incoming.next({ type: route.slice(0, sep) as DeliveryType, target: route.slice(sep + 1), batch, tensor, queued });
    });
  }
  return {
    incoming,
    send(d) {
      const route = `${d.type}>${d.target}`;
      const view = views.get(route);
      const port = init.peers[init.stageOf[d.target]];
      if (!view || !port) throw new Error(`transport: no route ${route} from this stage`);
      view.write(d.batch, d.tensor);
      port.postMessage({ route, batch: d.batch } satisfies WireMessage);
    },
    close() {
      for (const p of ports) p.close();
      incoming.complete();
    },
  };
}
