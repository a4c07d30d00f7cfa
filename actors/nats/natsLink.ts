/**
 * The {@link StageLink} between stages on different machines: every stage subscribes to one NATS
 * subject for the tensors sent to it, and a tensor travels as its float32 bytes behind a small
 * binary header (never JSON):
 *
 *   [route, seq, batch, rows, cols, part, parts, 0] (int32, little-endian) [float32 bytes of rows x cols, or one part of them]
 *
 * A tensor larger than the server's `max_payload` is split into parts (sent back to back; NATS
 * keeps one connection's order, so they arrive so). The receiver keeps the worker link's ring:
 * `depth` slots a route, message k in slot k mod depth, so a tensor an actor holds stays valid
 * exactly as long as with shared memory; a message that would overwrite one not yet delivered is
 * the same named overrun. Each route's messages carry a sequence number: one lost or repeated
 * (a NATS server restarted mid-run, at-most-once delivery) fails the stage by name, never
 * silently.
 *
 *   stage a: send(route, e) ─ header + bytes ─▶ NATS `…stage.b.tensors` ─▶ stage b: ring slot, then incoming
 */
import type { NatsConnection, Subscription as NatsSubscription } from 'nats';
import { Observable, type Subscriber } from 'rxjs';
import type { Matrix } from '../../lib/matrix.ts';
import { type NetworkEvent, type Route, eventOf, tensorOf } from '../machines/events.ts';
import type { Arrival, StageLink } from '../stage/stageLink.ts';

const HEADER_WORDS = 8;
const HEADER = HEADER_WORDS * 4;

/** What a stage needs to talk to the others over NATS. */
export interface NatsLinkInit {
  stage: number;
  /** the subject each stage takes its tensors on, by stage index */
  subjects: readonly string[];
  /** each route's stage index of its target (routes in {@link routesFor} order; -1: not across stages) */
  targets: readonly number[];
  /** ring slots a route */
  depth: number;
  /** the server's largest message (bytes) */
  maxPayload: number;
}

/** Floats per message part under `maxPayload`. */
export function floatsPerPart(maxPayload: number): number {
  return Math.floor((maxPayload - HEADER) / 4);
}

interface Inbound {
  readonly route: Route;
  readonly slots: Matrix[];
  /** each slot's bytes */
  readonly bytes: Uint8Array[];
  readonly batches: Int32Array;
  readonly rows: Int32Array;
  /** messages whose last part arrived, and messages delivered */
  arrived: number;
  delivered: number;
}

export class NatsLink implements StageLink {
  readonly incoming: Observable<Arrival>;
  private subscriber: Subscriber<Arrival> | null = null;
  private readonly inbound: (Inbound | null)[];
  private readonly sent: Int32Array;
  /** routes whose messages have arrived and wait for delivery, in arrival order */
  private readonly waiting: number[] = [];
  private readonly subscription: NatsSubscription;
  private readonly partFloats: number;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    private readonly nc: NatsConnection,
    routes: readonly Route[],
    private readonly init: NatsLinkInit,
  ) {
    this.partFloats = floatsPerPart(init.maxPayload);
    this.sent = new Int32Array(routes.length);
    this.inbound = routes.map((route, i) => {
      if (init.targets[i] !== init.stage) return null;
      const n = route.rows * route.cols;
      const slots = Array.from({ length: init.depth }, () => ({ rows: route.rows, cols: route.cols, data: new Float32Array(n) }));
      return {
        route,
        slots,
        bytes: slots.map((m) => new Uint8Array(m.data.buffer)),
        batches: new Int32Array(init.depth),
        rows: new Int32Array(init.depth),
        arrived: 0,
        delivered: 0,
      };
    });
    this.index = new Map(routes.map((r, i) => [r.key, i]));
    // subscribed at once, before the trainer starts anyone: a peer's first tensor is never missed
    this.subscription = nc.subscribe(init.subjects[init.stage], {
      callback: (err, msg) => (err ? this.fail(err) : this.receive(msg.data)),
    });
    this.incoming = new Observable<Arrival>((subscriber) => {
      this.subscriber = subscriber;
      if (this.failure) subscriber.error(this.failure);
      else this.deliver();
      return () => (this.subscriber = null);
    });
  }

  /** route key → its number (its index in routesFor's order, the same on every stage) */
  private readonly index: ReadonlyMap<string, number>;

  send(route: Route, event: NetworkEvent): void {
    const i = this.index.get(route.key) ?? -1;
    const to = this.init.targets[i];
    if (i < 0 || to === undefined || to < 0 || to === this.init.stage)
      throw new Error(`stage link: no route ${route.key} from stage ${this.init.stage} to another stage`);
    const m = tensorOf(event),
      n = m.rows * m.cols;
    if (m.cols !== route.cols || m.rows > route.rows)
      throw new Error(`stage link: ${route.key} carries ${route.rows}x${route.cols}, not ${m.rows}x${m.cols}`);
    const parts = Math.max(1, Math.ceil(n / this.partFloats)),
      seq = this.sent[i]++;
    for (let p = 0; p < parts; p++) {
      const from = p * this.partFloats,
        count = Math.min(n - from, this.partFloats);
      // a buffer of its own per message: the NATS client holds it by reference until it writes to the socket
      const buffer = new ArrayBuffer(HEADER + count * 4),
        h = new Int32Array(buffer, 0, HEADER_WORDS);
      h[0] = i;
      h[1] = seq;
      h[2] = event.batch;
      h[3] = m.rows;
      h[4] = m.cols;
      h[5] = p;
      h[6] = parts;
      new Float32Array(buffer, HEADER, count).set(m.data.subarray(from, from + count));
      this.nc.publish(this.init.subjects[to], new Uint8Array(buffer));
    }
  }

  /** A message (or a part of one) arrived: into its route's ring slot; delivered once whole. */
  private receive(bytes: Uint8Array): void {
    if (this.closed || this.failure) return;
    try {
      if (bytes.length < HEADER)
        throw new Error(`stage link: a ${bytes.length}-byte message on stage ${this.init.stage}'s subject is no tensor`);
      const h = new DataView(bytes.buffer, bytes.byteOffset, HEADER);
      const i = h.getInt32(0, true),
        seq = h.getInt32(4, true),
        batch = h.getInt32(8, true),
        rows = h.getInt32(12, true),
        cols = h.getInt32(16, true);
      const part = h.getInt32(20, true),
        parts = h.getInt32(24, true);
      const r = this.inbound[i];
      if (!r) throw new Error(`stage link: a tensor on route number ${i}, which does not end on stage ${this.init.stage}`);
      if (seq !== r.arrived) {
        const what = seq < r.arrived ? 'repeated' : `lost (${seq - r.arrived} of them)`;
        throw new Error(
          `stage link: ${r.route.key} sent message ${seq}, stage ${this.init.stage} expected ${r.arrived}: ` +
            `messages were ${what}, e.g. by a NATS server restart`,
        );
      }
      if (seq - r.delivered >= r.slots.length)
        throw new Error(
          `stage link: ${r.route.key} holds ${r.slots.length} batches its target has not taken ` +
            `(ring of ${r.slots.length} overrun at batch ${batch})`,
        );
      if (cols !== r.route.cols || rows > r.route.rows)
        throw new Error(`stage link: ${r.route.key} carries ${r.route.rows}x${r.route.cols}, not ${rows}x${cols}`);
      const k = seq % r.slots.length,
        from = part * this.partFloats,
        count = (bytes.length - HEADER) >> 2;
      if (from + count > rows * cols)
        throw new Error(`stage link: part ${part + 1} of ${parts} of ${r.route.key} batch ${batch} runs past its ${rows}x${cols} tensor`);
      // as bytes: the client's message may sit at any offset in its socket buffer (no float alignment)
      r.bytes[k].set(bytes.subarray(HEADER), from * 4);
      if (part !== parts - 1) return;
      r.batches[k] = batch;
      r.rows[k] = rows;
      r.arrived = seq + 1;
      this.waiting.push(i);
      this.deliver();
    } catch (error) {
      this.fail(error as Error);
    }
  }

  /** Hand what has arrived to the stage, in arrival order (once the stage listens). */
  private deliver(): void {
    while (this.subscriber && this.waiting.length > 0 && !this.closed) {
      const r = this.inbound[this.waiting.shift()!]!;
      const k = r.delivered % r.slots.length,
        slot = r.slots[k],
        rows = r.rows[k];
      const tensor = rows === slot.rows ? slot : { rows, cols: slot.cols, data: slot.data.subarray(0, rows * slot.cols) };
      const queued = r.arrived - r.delivered;
      r.delivered++;
      this.subscriber.next({ route: r.route, event: eventOf(r.route, r.batches[k], tensor), queued });
    }
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.subscriber?.error(error);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.subscription.unsubscribe();
    this.subscriber?.complete();
  }
}
