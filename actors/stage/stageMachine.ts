/**
 * A stage: a set of the network's actors that run in one thread, and everything that connects
 * them. The trainer always trains through stages: in one thread there is one stage holding every
 * actor and no link; with the worker scheduler each worker thread runs one stage, linked to the
 * others. Either way the stage
 *
 * - spawns its layers, synthesizers and heads (systemIds `layer:…`, `synthesizer:…`, `head…`);
 * - makes an rxjs {@link Edge} for every route its actors send on, each carrying the receiving
 *   actor's events, observed on the scheduler (`deliverOn`) when the target lives here, or handed
 *   to the {@link StageLink} when it lives on another stage (events from other stages come in on
 *   the link, observed on the same scheduler);
 * - feeds its layers that read the data, batch by batch, as far as the trainer allows
 *   (`ALLOW`): pipelined, batch t+1 once those layers have applied their update for batch t;
 *   otherwise once batch t is finished here;
 * - reports every loss and every batch its actors are all done with (`STEP_FINISHED`): the one
 *   stream that drives the trainer's metrics, checkpoint cuts and end.
 *
 *   idle ──START──▶ running ──DRAIN──▶ draining ──(its synthesizers drained)──▶ drained
 *   running: ALLOW (feed further, at an epoch's learning rates), CAPTURE (report the state at a
 *   cut), END_EPOCH (apply the synthesizers' pending refits, then report the state)
 *   any child error ──▶ failed
 */
import { Subscription, tap } from 'rxjs';
import { type AnyActorRef, setup } from 'xstate';
import { applyLearningRates } from '../../lib/lr-schedule.ts';
import { type Dataset, batchSource } from '../../lib/data.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { trueGradientInterfaces } from '../../lib/metrics.ts';
import { type Model, type ModelData, captureModelState, isRecurrentModel, ringDepthOf } from '../../lib/model.ts';
import type { NodeSource } from '../../lib/graph.ts';
import type { Network } from '../../lib/network.ts';
import type { Stage } from '../../lib/placement.ts';
import { READOUT_ACTOR, boundaryActor, layerActor, linkActor, recurrentSynthesizers } from '../../lib/recurrent/actors.ts';
import type { RecurrentNetwork } from '../../lib/recurrent/network.ts';
import { WindowSchedule } from '../../lib/recurrent/schedule.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import { BufferPool } from '../../lib/ring.ts';
import type { CoreInput } from '../machines/coreMachine.ts';
import { deliverOn } from '../schedulers/directScheduler.ts';
import { type Backlog, DATA, Edge, type LossMessage, type NetworkEvent, type Route, routesFor } from '../machines/events.ts';
import type { HeadInput } from '../machines/headMachine.ts';
import { type LayerInput, type Port, send } from '../machines/layerMachine.ts';
import { networkMachines } from '../machines/machines.ts';
import { QueueGauge } from './queueGauge.ts';
import { Feeder, StepCounter, stepWindow } from './stageFeeder.ts';
import type { ReadoutInput } from '../machines/readoutMachine.ts';
import type { RecurrentSynthesizerInput } from '../machines/recurrentSynthesizerMachine.ts';
import type { Scheduling } from '../schedulers/schedulers.ts';
import type { StageCommand, StageReport } from './stageProtocol.ts';
import type { StageLink } from './stageLink.ts';
import type { SynthesizerInput } from '../machines/synthesizerMachine.ts';

export interface StageInput {
  stage: Stage;
  network: Model;
  data: ModelData;
  steps: number;
  /** the first batch to train (a resumed training's step) */
  firstBatch: number;
  scheduling: Scheduling;
  /** to the other stages; null when this stage holds every actor */
  link: StageLink | null;
  report: (r: StageReport) => void;
  /** the share of the training this stage's thread was busy (worker stages) */
  utilization?: () => number;
  /** how the feeder gives the thread a turn (a worker stage: through its driver); default setImmediate */
  defer?: (fn: () => void) => void;
  /** whether something waits for such a turn now (a worker stage: a command); default never */
  waiting?: () => boolean;
  /** where its edges' subscriptions go (its owner may close them); default its own */
  links?: Subscription;
}

export interface StageContext extends StageInput {
  readonly routes: readonly Route[];
  /** the edge of every route whose source lives here (the data's included), by route key */
  readonly edges: ReadonlyMap<string, Edge<NetworkEvent>>;
  readonly losses: Edge<LossMessage>;
  /** each actor's "done with batch t" */
  readonly done: ReadonlyMap<string, Edge<number>>;
  /** the actors that live here, by systemId */
  readonly actors: ReadonlyMap<string, AnyActorRef>;
  /** what each of them published of the messages it has taken and not used yet, by systemId */
  readonly backlogs: ReadonlyMap<string, Backlog>;
  readonly synthesizers: readonly AnyActorRef[];
  readonly links: Subscription;
  readonly gauge: QueueGauge;
  readonly feeder: Feeder;
  /** whether its synthesizers that see the true gradient report their cosine (set at START) */
  readonly cosine: { on: boolean };
  /** how many of its actors report each batch done */
  readonly expected: number;
  drained: number;
}

export type StageEvent = StageCommand | { type: `xstate.error.actor.${string}`; error: unknown } | { type: `xstate.done.actor.${string}` };

/** An actor that holds no messages it has taken (a head, a readout). */
const NO_BACKLOG: Backlog = () => 0;

type ActorKind = 'layer' | 'unlockedLayer' | 'synthesizer' | 'head' | 'core' | 'recurrentSynthesizer' | 'readout';
type Spawner = (src: ActorKind, options: { id: string; systemId: string; input: unknown }) => AnyActorRef;

/** What a kind of network adds to a stage: its actors spawned, and what the data feeds its first layers. */
interface Wiring {
  /** batch t's input for the layers that read the data */
  readonly x: (t: number) => Matrix;
  /** how many of the stage's actors report each batch done */
  readonly expected: number;
}

interface Builder {
  readonly input: StageInput;
  readonly here: ReadonlySet<string>;
  readonly routes: readonly Route[];
  readonly port: (r: Route) => Port;
  readonly from: (source: string, type?: Route['type']) => Route[];
  readonly done: ReadonlyMap<string, Edge<number>>;
  readonly losses: Edge<LossMessage>;
  readonly depth: number;
  readonly add: (src: ActorKind, id: string, input: object) => AnyActorRef;
  readonly synthesizers: AnyActorRef[];
  /** teardowns for when the training ends */
  readonly links: Subscription;
  readonly cosine: { on: boolean };
}

/** A graph's layers, synthesizers and heads, in the topology's order (so the inspector lists them so). */
function wireGraph(b: Builder, network: Network): Wiring {
  const g = network.topology, { here, port, from, done, losses, depth, input } = b;
  const source = batchSource(input.data as Dataset, g);
  const trueGradient = new Set(trueGradientInterfaces(g).map((s) => s.index));
  // with forward synthesizers, a layer's gradients may come before its forward of the batch
  const unlocked = g.synthesizers.some((s) => s.forward);
  for (const n of g.nodes) {
    if (!here.has(n.actor)) continue;
    const mine = from(n.actor);
    // by edge: a node may read thousands of sources
    const back = new Map<number, Route[]>();
    for (const r of mine) if (r.type === 'GRADIENT' || r.type === 'REFIT') back.set(r.edge, [...(back.get(r.edge) ?? []), r]);
    const backOf = (s: NodeSource) => back.get(s.edge) ?? [];
    const upstream = n.sources.map((s) => (s.node < 0 ? null : port(backOf(s)[0])));
    // where the edge mixes the true gradient in: the share to the source as well, at the steps whose λ is above 0
    const mixed = n.sources.map((s) => (s.node >= 0 && backOf(s).length > 1 ? { port: port(backOf(s)[1]), mixing: g.edges[s.edge] } : null));
    const outEdges = new Set(n.outputs);
    const outputs = mine.filter((r) => outEdges.has(r.edge) && (r.type === 'FORWARD' || r.type === 'PREDICT' || r.type === 'REFIT')).map(port);
    b.add(unlocked ? 'unlockedLayer' : 'layer', n.actor, { layer: network.layers[n.index], ports: { outputs, upstream, mixed, done: done.get(n.actor)! }, depth, firstBatch: input.firstBatch } satisfies LayerInput);
  }
  for (const s of g.synthesizers) {
    if (!here.has(s.actor)) continue;
    // a forward synthesizer's prediction is its consumer's input
    const prediction = port(from(s.actor, s.forward ? 'FORWARD' : 'SYNTHETIC_GRADIENT')[0]);
    const labels = s.contextLabels ? source.labels(s.contextLabels) : null;
    b.synthesizers.push(b.add('synthesizer', s.actor, { synthesizer: network.synthesizers[s.index], index: s.index, ports: { prediction, loss: losses, done: done.get(s.actor)! }, labels, cosine: trueGradient.has(s.index) ? b.cosine : undefined } satisfies SynthesizerInput));
  }
  for (const h of g.heads) {
    if (!here.has(h.actor)) continue;
    const [back, mixedBack] = from(h.actor);
    const mixed = mixedBack ? { port: port(mixedBack), mixing: g.edges[h.edge] } : null;
    b.add('head', h.actor, { head: network.heads[h.index], index: h.index, ports: { gradient: port(back), mixed, loss: losses, done: done.get(h.actor)! }, labels: source.labels(h.labels) } satisfies HeadInput);
  }
  return { x: source.x, expected: here.size };
}

/** A recurrent network's layers (cores), synthesizers and readout, in the network's order. */
function wireRecurrent(b: Builder, network: RecurrentNetwork): Wiring {
  const t = network.topology, { here, port, from, done, losses, depth, input } = b;
  const pool = new BufferPool(), schedule = new WindowSchedule(input.data as Sequences, t, depth);
  b.links.add(() => (pool.dispose(), schedule.dispose()));
  const TB = t.truncation * t.batch, B = t.batch;
  const one = (source: string, type: Route['type'], target?: string) => from(source, type).find((r) => !target || r.target === target);
  let aux = 0;
  for (const l of t.layers) {
    const id = layerActor(l), auxIndex = l.aux ? aux++ : -1;
    if (!here.has(id)) continue;
    const up = from(id).filter((r) => r.type === 'FORWARD' || (r.type === 'PREDICT' && r.target !== boundaryActor(l))).map(port);
    const boundary = l.synthesizer ? { predict: port(one(id, 'PREDICT', boundaryActor(l))!), refit: port(one(id, 'REFIT', boundaryActor(l))!) } : null;
    const below = l.index === 0 ? null : t.layers[l.index - 1];
    const down = below ? port(one(id, below.link ? 'REFIT' : 'GRADIENT', below.link ? linkActor(below) : layerActor(below))!) : null;
    const rings = {
      outputs: pool.ring(depth, TB, l.units),
      state: pool.ring(depth, B, l.state),
      refit: pool.ring(depth, B, 2 * l.state),
      below: pool.ring(depth, TB, (below?.link ? 2 : 1) * l.inputs),
    };
    b.add('core', id, { core: network.layers[l.index], ports: { up, boundary, down, loss: losses, done: done.get(id)! }, schedule, rings, auxIndex, firstBatch: input.firstBatch } satisfies CoreInput);
  }
  let boundaries = 0;
  for (const s of recurrentSynthesizers(t)) {
    if (!here.has(s.actor)) continue;
    const synthesizer = (s.kind === 'boundary' ? network.synthesizers : network.links)[s.layer]!;
    const prediction = port(one(s.actor, 'SYNTHETIC_GRADIENT')!);
    if (s.kind === 'boundary') boundaries++;
    b.synthesizers.push(
      b.add('recurrentSynthesizer', s.actor, {
        synthesizer,
        kind: s.kind,
        index: s.index,
        ports: { prediction, loss: losses, done: done.get(s.actor)! },
        schedule,
        rows: s.kind === 'boundary' ? B : TB,
        pool,
        firstBatch: input.firstBatch,
      } satisfies RecurrentSynthesizerInput),
    );
  }
  if (here.has(READOUT_ACTOR)) {
    const top = t.layers[t.layers.length - 1];
    const gradient = port(one(READOUT_ACTOR, 'GRADIENT')!);
    b.add('readout', READOUT_ACTOR, { readout: network.readout, ports: { gradient, loss: losses, done: done.get(READOUT_ACTOR)! }, schedule, gradients: pool.ring(depth, TB, top.units) } satisfies ReadoutInput);
  }
  // with one window per sequence a boundary synthesizer never predicts nor refits: it reports nothing
  return { x: (step) => schedule.window(step).x, expected: here.size - (schedule.windows === 1 ? boundaries : 0) };
}

/** Build the stage's edges and spawn its actors (in the context factory, so they exist before START). */
function build(input: StageInput, spawn: Spawner, links: Subscription) {
  const { network, stage } = input;
  const here = new Set(stage.actors);
  const routes = routesFor(network.topology);
  const edges = new Map<string, Edge<NetworkEvent>>();
  for (const r of routes) if (here.has(r.source) || (r.source === DATA && here.has(r.target))) edges.set(r.key, new Edge(r.key));
  const port = (r: Route): Port => ({ route: r, edge: edges.get(r.key)! });
  // each actor's routes, found by a lookup (a scan of every route per actor is quadratic in the network's size)
  const bySource = new Map<string, Route[]>();
  for (const r of routes) {
    const list = bySource.get(r.source);
    if (list) list.push(r);
    else bySource.set(r.source, [r]);
  }
  const from = (source: string, type?: Route['type']) => {
    const list = bySource.get(source) ?? [];
    return type ? list.filter((r) => r.type === type) : list;
  };
  const done = new Map(stage.actors.map((id) => [id, new Edge<number>(`${id} done`)]));
  const losses = new Edge<LossMessage>(`stage:${stage.index} losses`);
  const actors = new Map<string, AnyActorRef>();
  const synthesizers: AnyActorRef[] = [];
  const cosine = { on: false };
  const backlogs = new Map<string, Backlog>();
  const add = (src: ActorKind, id: string, actorInput: object) => {
    const publishBacklog = (backlog: Backlog) => void backlogs.set(id, backlog);
    const ref = spawn(src, { id, systemId: id, input: { ...actorInput, publishBacklog } });
    actors.set(id, ref);
    return ref;
  };
  const b: Builder = { input, here, routes, port, from, done, losses, depth: ringDepthOf(network.topology), add, synthesizers, links, cosine };
  const wiring = isRecurrentModel(network) ? wireRecurrent(b, network) : wireGraph(b, network);
  // the layers here that read the data (each once), and the data's route to each
  const data = from(DATA).filter((r) => here.has(r.target));
  const readers = data.map((r) => r.target);
  const feeds = data.map(port);
  const feeder = new Feeder(input.firstBatch, input.steps, input.scheduling.pipelined, readers.length, (k, t) => send(feeds[k], t, wiring.x(t)), input.defer, input.waiting, stepWindow(network.topology));
  // when the stage is torn down (perhaps from inside a batch it is feeding), the loop that fed it stops
  links.add(() => feeder.stop());
  return { routes, edges, losses, done, actors, backlogs, synthesizers, feeder, readers, cosine, expected: wiring.expected };
}

/** Connect every edge (on START): local targets through the scheduler, remote ones through the link. */
function connect(c: StageContext, readers: readonly string[]): void {
  const { scheduler } = c.scheduling;
  for (const r of c.routes) {
    const edge = c.edges.get(r.key);
    if (!edge) continue;
    const target = c.actors.get(r.target);
    if (target) {
      const counter = c.gauge.route(r.key), backlog = c.backlogs.get(r.target) ?? NO_BACKLOG;
      c.links.add(
        edge
          .pipe(
            tap(() => counter.sent()),
            deliverOn(scheduler),
          )
          .subscribe((e) => {
            counter.delivered(backlog(r));
            target.send(e);
          }),
      );
    } else if (c.link) {
      const link = c.link;
      c.links.add(edge.subscribe((e) => link.send(r, e)));
    } else throw new Error(`stage:${c.stage.index}: no actor '${r.target}' here and no link to the stage that has it`);
  }
  if (c.link) {
    c.links.add(
      c.link.incoming.pipe(deliverOn(scheduler)).subscribe({
        next: (a) => {
          const target = c.actors.get(a.route.target);
          if (!target) throw new Error(`stage:${c.stage.index}: an event for '${a.route.target}', which does not live here`);
          c.gauge.observe(a.route.key, a.queued + (c.backlogs.get(a.route.target) ?? NO_BACKLOG)(a.route));
          target.send(a.event);
        },
        // a broken link (a message on no known route) fails the stage, by name
        error: (error) => c.report({ type: 'FAILED', stage: c.stage.index, error }),
      }),
    );
  }
  c.links.add(c.losses.subscribe(c.report));
  const steps = new StepCounter(c.expected, stepWindow(c.network.topology) + 1, (batch) => {
    c.report({ type: 'STEP_FINISHED', stage: c.stage.index, batch });
    c.feeder.stepFinished(batch);
  });
  const readerIndex = new Map<string, number>();
  readers.forEach((id, k) => readerIndex.has(id) || readerIndex.set(id, k));
  for (const [id, edge] of c.done) {
    const reader = readerIndex.get(id) ?? -1;
    c.links.add(edge.subscribe((batch) => steps.done(batch)));
    if (reader >= 0) c.links.add(edge.subscribe((batch) => c.feeder.readerUpdated(reader, batch)));
  }
}

export const stageMachine = setup({
  types: { input: {} as StageInput, context: {} as StageContext & { readers: readonly string[] }, events: {} as StageEvent },
  actors: networkMachines(),
  actions: {
    connect: ({ context }) => connect(context, context.readers),
    measure: ({ context }, e: { cosine?: boolean }) => void (context.cosine.on = e.cosine === true),
    allow: ({ context }, e: { through: number; lrFactor?: number }) => {
      // between batches (the stage feeds nothing past a cut until allowed): no actor is mid-update
      if (e.lrFactor !== undefined) {
        if (isRecurrentModel(context.network)) throw new Error(`stage:${context.stage.index}: a learning-rate factor for a recurrent network (fit() trains chains and graphs)`);
        applyLearningRates(context.network, context.network.topology, e.lrFactor);
      }
      context.feeder.allow(e.through);
    },
    // an epoch's end: every batch before the cut is finished here, so every synthesizer is ready,
    // holding only refits whose targets are in; FLUSH applies them (each synthesizer handles it at once)
    flushSynthesizers: ({ context }) => {
      for (const s of context.synthesizers) s.send({ type: 'FLUSH' });
    },
    halt: ({ context: c }) => c.report({ type: 'HALTED', stage: c.stage.index, fed: c.feeder.halt() }),
    capture: ({ context: c }, e: { step: number }) => c.report({ type: 'CUT', stage: c.stage.index, step: e.step, state: captureModelState(c.network, new Set(c.stage.actors)) }),
    drainSynthesizers: ({ context }) => {
      for (const s of context.synthesizers) s.send({ type: 'DRAIN' });
    },
    countDrained: ({ context }) => void context.drained++,
    reportDrained: ({ context: c }) =>
      c.report({
        type: 'DRAINED',
        stage: c.stage.index,
        state: captureModelState(c.network, new Set(c.stage.actors)),
        queues: c.gauge.toJSON(),
        utilization: c.utilization?.() ?? null,
      }),
    reportFailure: ({ context: c, event }) => c.report({ type: 'FAILED', stage: c.stage.index, error: 'error' in event ? event.error : event }),
    disconnect: ({ context }) => context.links.unsubscribe(),
  },
  guards: {
    allDrained: ({ context }) => context.drained === context.synthesizers.length,
  },
}).createMachine({
  id: 'stage',
  context: ({ input, spawn }) => {
    const links = input.links ?? new Subscription();
    return { ...input, ...build(input, spawn as unknown as Spawner, links), links, gauge: new QueueGauge(), drained: 0 };
  },
  initial: 'idle',
  on: { 'xstate.error.actor.*': { target: '.failed' } },
  states: {
    idle: { on: { START: { target: 'running', actions: { type: 'measure', params: ({ event }) => event } }, DRAIN: 'draining', HALT: { actions: 'halt' } } },
    running: {
      entry: 'connect',
      on: {
        ALLOW: { actions: { type: 'allow', params: ({ event }) => event } },
        CAPTURE: { actions: { type: 'capture', params: ({ event }) => event } },
        END_EPOCH: { actions: ['flushSynthesizers', { type: 'capture', params: ({ event }) => event }] },
        HALT: { actions: 'halt' },
        DRAIN: 'draining',
      },
    },
    draining: {
      entry: 'drainSynthesizers',
      always: { guard: 'allDrained', target: 'drained' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' } },
    },
    // not final states: a stage reports how it ended to the trainer itself (it speaks the same
    // protocol from a worker thread), and its trainer stops it
    drained: { entry: ['disconnect', 'reportDrained'] },
    failed: { entry: ['disconnect', 'reportFailure'] },
  },
});

