/**
 * The rxjs edges of a network and their connection to the actors. Every edge is an
 * {@link Edge} (a named Subject); each receiving end goes through `observeOn(scheduler)`, so
 * the scheduler alone decides the order in which actors see their messages.
 *
 *   data ─▶ layer:0 ─h─▶ layer:1 ─h─▶ … ─▶ head
 *             │ ▲          │ ▲              │
 *             ▼ │ g_hat    ▼ │ g_hat        │ dl/dy_hat
 *       synthesizer:0  synthesizer:1 ◀──────┘   (targets: the g_x each layer sends upstream)
 */
import { type Observable, type Subscription, bufferCount, filter, map, merge, observeOn, take } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import { type Dataset, batchAt } from '../lib/data.ts';
import type { StepMetrics } from '../lib/history.ts';
import { History } from '../lib/history.ts';
import { HEAD_ID, layerId, synthesizerId } from '../lib/network.ts';
import type { Topology } from '../lib/topology.ts';
import { type ActivationMessage, Edge, type GradientMessage, type LossMessage } from './edge.ts';
import type { HeadPorts } from './headMachine.ts';
import type { LayerPorts } from './layerMachine.ts';
import type { SynthesizerPorts } from './synthesizerMachine.ts';
import type { Scheduling } from './schedulers.ts';

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
  const below = (i: number) => (t.layers[i].synthesizer ? synthesizerId(i) : layerId(i));
  return {
    source: new Edge(`data → ${layerId(0)}`),
    layers: t.layers.map((_, i) => ({
      output: new Edge<ActivationMessage>(`${layerId(i)} → ${i === last ? HEAD_ID : layerId(i + 1)}`),
      upstream: i === 0 ? null : new Edge<GradientMessage>(`${layerId(i)} → ${below(i - 1)}`),
      updated: new Edge<number>(`${layerId(i)} updated`),
    })),
    synthesizers: t.layers.map((l, i) =>
      l.synthesizer
        ? { prediction: new Edge<GradientMessage>(`${synthesizerId(i)} → ${layerId(i)}`), loss: new Edge<LossMessage>(`${synthesizerId(i)} loss`) }
        : null,
    ),
    head: { gradient: new Edge<GradientMessage>(`${HEAD_ID} → ${below(last)}`), loss: new Edge<LossMessage>(`${HEAD_ID} loss`) },
    metrics: new Edge<StepMetrics>('metrics'),
  };
}

export interface Connection {
  topology: Topology;
  ports: NetworkPorts;
  layers: readonly AnyActorRef[];
  synthesizers: readonly (AnyActorRef | null)[];
  head: AnyActorRef;
  data: Dataset;
  steps: number;
  scheduling: Scheduling;
  history: History;
  /** called once every layer has applied its last update and every synthesizer has its last target */
  onBatchesDone: () => void;
}

/** Subscribe every receiving end; returns the subscription that disconnects them all. */
export function connect(c: Connection): Subscription {
  const { ports, topology, steps } = c;
  const { scheduler, pipelined } = c.scheduling;
  const on = <T>(edge: Observable<T>, deliver: (m: T) => void): Subscription =>
    edge.pipe(observeOn(scheduler)).subscribe(deliver);
  const last = topology.layers.length - 1;
  // the gradient with respect to layer i's output: its synthesizer's target, or its own gradient
  const gradientInto = (i: number) => (m: GradientMessage) =>
    c.synthesizers[i]
      ? c.synthesizers[i]!.send({ type: 'REFIT', batch: m.batch, target: m.g })
      : c.layers[i].send({ type: 'GRADIENT', batch: m.batch, g: m.g });

  const links = on(ports.source, (t) => {
    const b = batchAt(c.data, topology.batch, t);
    c.layers[0].send({ type: 'FORWARD', batch: t, x: b.x, y: b.y });
  });
  // every layer's update and every synthesizer's target, per batch: a batch is finished when all are in
  const finished = [
    ...ports.layers.map((p) => p.updated.asObservable()),
    ...c.history.synthesizerLayers.map((layer) => ports.synthesizers[layer]!.loss.pipe(map((m) => m.batch))),
  ];
  const feed = (t: number) => t + 1 < steps && ports.source.next(t + 1);
  if (pipelined) {
    // layer 0 takes the next batch once it has applied its update for this one
    links.add(ports.layers[0].updated.subscribe(feed));
  } else {
    // one batch in flight: the next enters once this one is finished everywhere
    links.add(merge(...finished).pipe(bufferCount(finished.length)).subscribe((b) => feed(b[0])));
  }

  topology.layers.forEach((_, i) => {
    const p = ports.layers[i];
    const next = i === last ? c.head : c.layers[i + 1];
    links.add(on(p.output, (m) => next.send({ type: 'FORWARD', batch: m.batch, x: m.h, y: m.y })));
    const synth = c.synthesizers[i];
    if (synth) {
      const sp = ports.synthesizers[i]!;
      links.add(on(p.output, (m) => synth.send({ type: 'PREDICT', batch: m.batch, h: m.h, y: m.y })));
      links.add(on(sp.prediction, (m) => c.layers[i].send({ type: 'SYNTHETIC_GRADIENT', batch: m.batch, g: m.g })));
    }
    if (p.upstream) links.add(on(p.upstream, gradientInto(i - 1)));
  });
  links.add(on(ports.head.gradient, gradientInto(last)));

  const step = (m: StepMetrics | null) => m && ports.metrics.next(m);
  links.add(ports.head.loss.subscribe((m) => step(c.history.recordLoss(m.batch, m.loss, m.accuracy ?? NaN))));
  c.history.synthesizerLayers.forEach((layer, k) =>
    links.add(ports.synthesizers[layer]!.loss.subscribe((m) => step(c.history.recordSynthesizerLoss(k, m.batch, m.loss)))),
  );

  const lastBatch = steps - 1;
  const lastOnes = finished.map((e) => e.pipe(filter((b) => b === lastBatch)));
  links.add(merge(...lastOnes).pipe(take(lastOnes.length)).subscribe({ complete: c.onBatchesDone }));
  return links;
}
