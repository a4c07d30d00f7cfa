/**
 * The rxjs edges of a network and their connection to the actors. Every edge is an
 * {@link Edge} (a named Subject); each receiving end goes through `deliverOn(scheduler)` (rxjs's
 * `observeOn`, without an allocation per message on our schedulers), so
 * the scheduler alone decides the order in which actors see their messages.
 *
 *   data ─▶ layer:0 ─h─▶ layer:1 ─h─▶ … ─▶ head
 *             │ ▲          │ ▲              │
 *             ▼ │ g_hat    ▼ │ g_hat        │ dl/dy_hat
 *       synthesizer:0  synthesizer:1 ◀──────┘   (targets: the g_x each layer sends upstream)
 *
 * Every message becomes a {@link Delivery} (a target actor, an event type, a batch, one tensor).
 * A delivery to an actor that lives here is sent to it; one to an actor on another stage (a
 * worker) goes to `sendRemote`, and deliveries from other stages come in on `incoming`. So the
 * same wiring connects a whole network in one thread or one stage of it in a worker.
 */
import { type Observable, type Subscription, bufferCount, filter, map, merge, take, tap } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import { type Dataset, batchViews } from '../lib/data.ts';
import type { StepMetrics } from '../lib/history.ts';
import type { Matrix } from '../lib/matrix.ts';
import { HEAD_ID, layerId, synthesizerId } from '../lib/network.ts';
import type { Topology } from '../lib/topology.ts';
import { type ActivationMessage, Edge, type GradientMessage, type LossMessage } from './edge.ts';
import { deliverOn } from './directScheduler.ts';
import type { HeadPorts } from './headMachine.ts';
import type { LayerPorts } from './layerMachine.ts';
import type { Scheduling } from './schedulers.ts';
import type { SynthesizerPorts } from './synthesizerMachine.ts';

export interface NetworkPorts {
  /** batch indices to feed into layer 0 */
  readonly source: Edge<number>;
  readonly layers: LayerPorts[];
  /** indexed by layer; null where there is no interface */
  readonly synthesizers: (SynthesizerPorts | null)[];
  readonly head: HeadPorts;
  /** one message per finished step, once its head and synthesizer losses are all in */
  readonly metrics: Edge<StepMetrics>;
}

export function createPorts(t: Topology): NetworkPorts {
  const last = t.layers.length - 1;
  return {
    source: new Edge(`data → ${layerId(0)}`),
    layers: t.layers.map((_, i) => ({
      output: new Edge<ActivationMessage>(`${layerId(i)} → ${i === last ? HEAD_ID : layerId(i + 1)}`),
      upstream: i === 0 ? null : new Edge<GradientMessage>(`${layerId(i)} → ${gradientTarget(t, i - 1)}`),
      updated: new Edge<number>(`${layerId(i)} updated`),
    })),
    synthesizers: t.layers.map((l, i) =>
      l.synthesizer
        ? { prediction: new Edge<GradientMessage>(`${synthesizerId(i)} → ${layerId(i)}`), loss: new Edge<LossMessage>(`${synthesizerId(i)} loss`) }
        : null,
    ),
    head: { gradient: new Edge<GradientMessage>(`${HEAD_ID} → ${gradientTarget(t, last)}`), loss: new Edge<LossMessage>(`${HEAD_ID} loss`) },
    metrics: new Edge<StepMetrics>('metrics'),
  };
}

/** Who receives the gradient with respect to layer i's output: its synthesizer (as a refit target) or the layer itself. */
function gradientTarget(t: Topology, i: number): string {
  return t.layers[i].synthesizer ? synthesizerId(i) : layerId(i);
}

export type DeliveryType = 'FORWARD' | 'PREDICT' | 'SYNTHETIC_GRADIENT' | 'GRADIENT' | 'REFIT';

/** A message to one actor, in a form that can cross to another stage. */
export interface Delivery {
  /** systemId of the receiving actor */
  readonly target: string;
  readonly type: DeliveryType;
  readonly batch: number;
  readonly tensor: Matrix;
  /** set by a transport: deliveries of this route sent and not yet received, this one included */
  readonly queued?: number;
}

/**
 * How many messages wait on each route (a target actor and an event type): sent but not yet
 * taken by the target, counting the FORWARDs a layer defers and a PREDICT a synthesizer holds.
 * The high-water marks show the backpressure: with delay d, at most d + 2 batches.
 */
export class QueueGauge {
  private readonly routes = new Map<string, RouteCounter>();

  /** The counter of one route (made once per route, so a delivery touches no map). */
  route(key: string): RouteCounter {
    let c = this.routes.get(key);
    if (!c) this.routes.set(key, (c = new RouteCounter()));
    return c;
  }

  observe(key: string, queued: number): void {
    this.route(key).observe(queued);
  }

  merge(other: Record<string, number>): void {
    for (const [k, v] of Object.entries(other)) this.observe(k, v);
  }

  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.routes].filter(([, c]) => c.highWater > 0).map(([k, c]) => [k, c.highWater]).sort(([a], [b]) => (a < b ? -1 : 1)));
  }
}

class RouteCounter {
  waiting = 0;
  highWater = 0;

  sent(): void {
    this.waiting++;
  }

  /** A message reaches its target, which already holds `backlog` earlier ones. */
  delivered(backlog: number): void {
    this.observe(this.waiting + backlog);
    this.waiting--;
  }

  observe(queued: number): void {
    if (queued > this.highWater) this.highWater = queued;
  }
}

/** The actor event a delivery stands for (labels come from the local copy of the data). */
function eventOf(d: Delivery, labels: (batch: number) => Matrix) {
  switch (d.type) {
    case 'FORWARD':
      return d.target === HEAD_ID ? { type: d.type, batch: d.batch, x: d.tensor, y: labels(d.batch) } : { type: d.type, batch: d.batch, x: d.tensor };
    case 'PREDICT':
      return { type: d.type, batch: d.batch, h: d.tensor, y: labels(d.batch) };
    case 'REFIT':
      return { type: d.type, batch: d.batch, target: d.tensor };
    default:
      return { type: d.type, batch: d.batch, g: d.tensor };
  }
}

export interface Connection {
  topology: Topology;
  data: Dataset;
  steps: number;
  scheduling: Scheduling;
  ports: NetworkPorts;
  /** the actors that live here, by systemId */
  actors: ReadonlyMap<string, AnyActorRef>;
  /** where a delivery to an actor that does not live here goes */
  sendRemote?: (d: Delivery) => void;
  /** deliveries from other stages to actors that live here */
  incoming?: Observable<Delivery>;
  /** a head loss (`source` 'head') or a synthesizer loss (`source` its layer index) */
  onLoss: (source: 'head' | number, m: LossMessage) => void;
  /** called once every actor here has finished the last batch */
  onFinished: () => void;
  /** where the queue lengths are recorded */
  gauge: QueueGauge;
  /** the first batch to train (a resumed training starts where its checkpoint stopped) */
  firstBatch?: number;
  /**
   * Cuts for checkpoints: `due(t)` says batch t must wait until every batch before it is finished
   * everywhere; then `onCut(t)` is called (here, once every actor here has finished batch t-1),
   * and layer 0 takes batch t once {@link Connected.resume} is called.
   */
  cuts?: { due: (batch: number) => boolean; onCut: (batch: number) => void };
}

export interface Connected {
  /** disconnects every edge */
  readonly links: Subscription;
  /**
   * Feed the first batch, if layer 0 lives here. Under the queue scheduler the whole training
   * may run inside this call, so set up everything that reacts to it first.
   */
  start(): void;
  /** the cut before batch `step` is saved: layer 0 may take that batch (whether or not it is already waiting) */
  resume(step: number): void;
}

/** Messages of one type an actor has taken but not yet handled: FORWARDs a layer deferred, a PREDICT a synthesizer holds. */
function backlogOf(actor: AnyActorRef, type: DeliveryType): number {
  if (type !== 'FORWARD' && type !== 'PREDICT') return 0;
  const c = actor.getSnapshot().context as { deferred?: unknown[]; held?: unknown };
  return type === 'FORWARD' ? (c.deferred?.length ?? 0) : c.held ? 1 : 0;
}

/** Subscribe every receiving end; `start()` then feeds the batches. */
export function connect(c: Connection): Connected {
  const { ports, topology, steps, actors, data } = c;
  const { scheduler, pipelined } = c.scheduling;
  const here = (id: string) => actors.has(id);
  const views = batchViews(data, topology.batch);
  const labels = (batch: number) => views[batch % views.length].y;
  const { gauge } = c;
  const route = (d: Delivery) => {
    const actor = actors.get(d.target);
    if (actor) {
      if (d.queued !== undefined) gauge.observe(`${d.type}>${d.target}`, d.queued + backlogOf(actor, d.type));
      actor.send(eventOf(d, labels));
    } else if (c.sendRemote) c.sendRemote(d);
    else throw new Error(`no actor '${d.target}' here and no stage to send it to`);
  };
  // one route's deliveries: counted when sent, and when they reach a target that lives here
  const on = <T>(edge: Observable<T>, target: string, type: DeliveryType, delivery: (m: T) => Delivery): Subscription => {
    const local = actors.get(target), counter = gauge.route(`${type}>${target}`);
    return edge
      .pipe(
        tap(() => local && counter.sent()),
        deliverOn(scheduler),
      )
      .subscribe((m) => {
        if (local) counter.delivered(backlogOf(local, type));
        route(delivery(m));
      });
  };
  const last = topology.layers.length - 1;
  const links = on(ports.source, layerId(0), 'FORWARD', (batch) => ({ target: layerId(0), type: 'FORWARD', batch, tensor: views[batch % views.length].x }));
  if (c.incoming) links.add(c.incoming.pipe(deliverOn(scheduler)).subscribe(route));

  const gradientInto = (i: number) => {
    const target = gradientTarget(topology, i), type = topology.layers[i].synthesizer ? 'REFIT' : 'GRADIENT';
    return (edge: Observable<GradientMessage>) => on(edge, target, type, (m) => ({ target, type, batch: m.batch, tensor: m.g }));
  };
  topology.layers.forEach((l, i) => {
    if (!here(layerId(i))) return;
    const p = ports.layers[i];
    const next = i === last ? HEAD_ID : layerId(i + 1);
    links.add(on(p.output, next, 'FORWARD', (m) => ({ target: next, type: 'FORWARD', batch: m.batch, tensor: m.h })));
    const synth = synthesizerId(i);
    if (l.synthesizer) links.add(on(p.output, synth, 'PREDICT', (m) => ({ target: synth, type: 'PREDICT', batch: m.batch, tensor: m.h })));
    if (p.upstream) links.add(gradientInto(i - 1)(p.upstream));
  });
  topology.layers.forEach((l, i) => {
    if (!l.synthesizer || !here(synthesizerId(i))) return;
    const sp = ports.synthesizers[i]!;
    const layer = layerId(i);
    links.add(on(sp.prediction, layer, 'SYNTHETIC_GRADIENT', (m) => ({ target: layer, type: 'SYNTHETIC_GRADIENT', batch: m.batch, tensor: m.g })));
    links.add(sp.loss.subscribe((m) => c.onLoss(i, m)));
  });
  if (here(HEAD_ID)) {
    links.add(gradientInto(last)(ports.head.gradient));
    links.add(ports.head.loss.subscribe((m) => c.onLoss('head', m)));
  }

  // every local layer's update and every local synthesizer's target, per batch
  const finished: Observable<number>[] = [
    ...topology.layers.filter((l) => here(layerId(l.index))).map((l) => ports.layers[l.index].updated.asObservable()),
    ...topology.layers
      .filter((l) => l.synthesizer && here(synthesizerId(l.index)))
      .map((l) => ports.synthesizers[l.index]!.loss.pipe(map((m) => m.batch))),
  ];
  let held: number | null = null;
  const released = new Set<number>();
  const offer = (t: number) => {
    if (t >= steps) return;
    if (c.cuts?.due(t) && t > (c.firstBatch ?? 0) && !released.delete(t)) held = t;
    else ports.source.next(t);
  };
  const feed = (t: number) => offer(t + 1);
  if (c.cuts) {
    const { due, onCut } = c.cuts;
    links.add(
      merge(...finished)
        .pipe(
          filter((b) => b + 1 < steps && due(b + 1)),
          bufferCount(finished.length),
        )
        .subscribe((b) => onCut(b[0] + 1)),
    );
  }
  if (here(layerId(0))) {
    if (pipelined) {
      // layer 0 takes the next batch once it has applied its update for this one
      links.add(ports.layers[0].updated.subscribe(feed));
    } else {
      // one batch in flight: the next enters once this one is finished everywhere
      links.add(merge(...finished).pipe(bufferCount(finished.length)).subscribe((b) => feed(b[0])));
    }
  }
  const lastOnes = finished.map((e) => e.pipe(filter((b) => b === steps - 1)));
  links.add(merge(...lastOnes).pipe(take(lastOnes.length)).subscribe({ complete: c.onFinished }));
  return {
    links,
    start() {
      if (here(layerId(0))) offer(c.firstBatch ?? 0);
    },
    resume(step) {
      if (held === step) {
        held = null;
        ports.source.next(step);
      } else released.add(step);
    },
  };
}
