/**
 * What a stage is made of: its actors spawned (a graph's layers, synthesizers and heads, or a
 * recurrent network's cores, synthesizers and readout), an rxjs Edge for every route its actors
 * send on, the feeder of its layers that read the data, and where each actor publishes its backlog.
 * Built in the stage's context factory (stageMachine.ts), so every actor exists before START.
 */
import type { Subscription } from 'rxjs';
import type { AnyActorRef } from 'xstate';
import { type Dataset, batchSource } from '../../lib/data.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { trueGradientInterfaces } from '../../lib/gradient-quality.ts';
import { isRecurrentModel, ringDepthOf } from '../../lib/model.ts';
import type { NodeSource } from '../../lib/graph.ts';
import type { Network } from '../../lib/network.ts';
import { RECURRENT_HEAD_ACTOR, boundaryActor, layerActor, interfaceActor, recurrentSynthesizers } from '../../lib/recurrent/owners.ts';
import type { RecurrentNetwork } from '../../lib/recurrent/network.ts';
import { WindowSchedule } from '../../lib/recurrent/schedule.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import { BufferPool } from '../../lib/ring.ts';
import type { CoreInput } from '../machines/coreMachine.ts';
import { type Backlog, DATA, Edge, type LossMessage, type NetworkEvent, type Route, routesFor } from '../machines/events.ts';
import type { HeadInput } from '../machines/headMachine.ts';
import type { LayerInput } from '../machines/layerMachine.ts';
import { type Port, send } from '../machines/port.ts';
import { Feeder, stepWindow } from './stageFeeder.ts';
import type { RecurrentHeadInput } from '../machines/recurrentHeadMachine.ts';
import type { RecurrentSynthesizerInput } from '../machines/recurrentSynthesizerMachine.ts';
import type { SynthesizerInput } from '../machines/synthesizerMachine.ts';
import type { StageInput } from './stageMachine.ts';

type ActorKind = 'layer' | 'unlockedLayer' | 'synthesizer' | 'head' | 'core' | 'recurrentSynthesizer' | 'recurrentHead';
export type Spawner = (src: ActorKind, options: { id: string; systemId: string; input: unknown }) => AnyActorRef;

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
  readonly subscriptions: Subscription;
  readonly cosine: { on: boolean };
}

/** A graph's layers, synthesizers and heads, in the topology's order (so the inspector lists them so). */
function wireGraph(b: Builder, network: Network): Wiring {
  const g = network.topology,
    { here, port, from, done, losses, depth, input } = b;
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
    const mixed = n.sources.map((s) =>
      s.node >= 0 && backOf(s).length > 1 ? { port: port(backOf(s)[1]), mixing: g.edges[s.edge] } : null,
    );
    const outEdges = new Set(n.outputs);
    const outputs = mine
      .filter((r) => outEdges.has(r.edge) && (r.type === 'FORWARD' || r.type === 'PREDICT' || r.type === 'REFIT'))
      .map(port);
    b.add(unlocked ? 'unlockedLayer' : 'layer', n.actor, {
      layer: network.layers[n.index],
      ports: { outputs, upstream, mixed, done: done.get(n.actor)! },
      depth,
      firstBatch: input.firstBatch,
    } satisfies LayerInput);
  }
  for (const s of g.synthesizers) {
    if (!here.has(s.actor)) continue;
    // a forward synthesizer's prediction is its consumer's input
    const prediction = port(from(s.actor, s.forward ? 'FORWARD' : 'SYNTHETIC_GRADIENT')[0]);
    const labels = s.contextLabels ? source.labels(s.contextLabels) : null;
    b.synthesizers.push(
      b.add('synthesizer', s.actor, {
        synthesizer: network.synthesizers[s.index],
        index: s.index,
        ports: { prediction, loss: losses, done: done.get(s.actor)! },
        labels,
        cosine: trueGradient.has(s.index) ? b.cosine : undefined,
      } satisfies SynthesizerInput),
    );
  }
  for (const h of g.heads) {
    if (!here.has(h.actor)) continue;
    const [back, mixedBack] = from(h.actor);
    const mixed = mixedBack ? { port: port(mixedBack), mixing: g.edges[h.edge] } : null;
    b.add('head', h.actor, {
      head: network.heads[h.index],
      index: h.index,
      ports: { gradient: port(back), mixed, loss: losses, done: done.get(h.actor)! },
      labels: source.labels(h.labels),
    } satisfies HeadInput);
  }
  return { x: source.x, expected: here.size };
}

/** A recurrent network's layers (cores), synthesizers and head, in the network's order. */
function wireRecurrent(b: Builder, network: RecurrentNetwork): Wiring {
  const t = network.topology,
    { here, port, from, done, losses, depth, input } = b;
  const pool = new BufferPool(),
    schedule = new WindowSchedule(input.data as Sequences, t, depth);
  b.subscriptions.add(() => (pool.dispose(), schedule.dispose()));
  const TB = t.truncation * t.batch,
    B = t.batch;
  const one = (source: string, type: Route['type'], target?: string) => from(source, type).find((r) => !target || r.target === target);
  let aux = 0;
  for (const l of t.layers) {
    const id = layerActor(l),
      auxIndex = l.aux ? aux++ : -1;
    if (!here.has(id)) continue;
    const up = from(id)
      .filter((r) => r.type === 'FORWARD' || (r.type === 'PREDICT' && r.target !== boundaryActor(l)))
      .map(port);
    const boundary = l.synthesizer
      ? { predict: port(one(id, 'PREDICT', boundaryActor(l))!), refit: port(one(id, 'REFIT', boundaryActor(l))!) }
      : null;
    const below = l.index === 0 ? null : t.layers[l.index - 1];
    const down = below
      ? port(one(id, below.interface ? 'REFIT' : 'GRADIENT', below.interface ? interfaceActor(below) : layerActor(below))!)
      : null;
    const rings = {
      outputs: pool.ring(depth, TB, l.units),
      state: pool.ring(depth, B, l.state),
      refit: pool.ring(depth, B, 2 * l.state),
      below: pool.ring(depth, TB, (below?.interface ? 2 : 1) * l.inputs),
    };
    b.add('core', id, {
      core: network.layers[l.index],
      ports: { up, boundary, down, loss: losses, done: done.get(id)! },
      schedule,
      rings,
      auxIndex,
      firstBatch: input.firstBatch,
    } satisfies CoreInput);
  }
  let boundaries = 0;
  for (const s of recurrentSynthesizers(t)) {
    if (!here.has(s.actor)) continue;
    const synthesizer = (s.kind === 'boundary' ? network.synthesizers : network.interfaces)[s.layer]!;
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
  if (here.has(RECURRENT_HEAD_ACTOR)) {
    const top = t.layers[t.layers.length - 1];
    const gradient = port(one(RECURRENT_HEAD_ACTOR, 'GRADIENT')!);
    b.add('recurrentHead', RECURRENT_HEAD_ACTOR, {
      head: network.head,
      ports: { gradient, loss: losses, done: done.get(RECURRENT_HEAD_ACTOR)! },
      schedule,
      gradients: pool.ring(depth, TB, top.units),
    } satisfies RecurrentHeadInput);
  }
  // with one window per sequence a boundary synthesizer never predicts nor refits: it reports nothing
  return { x: (step) => schedule.window(step).x, expected: here.size - (schedule.windows === 1 ? boundaries : 0) };
}

/** Build the stage's edges and spawn its actors (in the context factory, so they exist before START). */
export function build(input: StageInput, spawn: Spawner, subscriptions: Subscription) {
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
  const b: Builder = {
    input,
    here,
    routes,
    port,
    from,
    done,
    losses,
    depth: ringDepthOf(network.topology),
    add,
    synthesizers,
    subscriptions,
    cosine,
  };
  const wiring = isRecurrentModel(network) ? wireRecurrent(b, network) : wireGraph(b, network);
  // the layers here that read the data (each once), and the data's route to each
  const data = from(DATA).filter((r) => here.has(r.target));
  const readers = data.map((r) => r.target);
  const feeds = data.map(port);
  const feeder = new Feeder(
    input.firstBatch,
    input.steps,
    input.scheduling.pipelined,
    readers.length,
    (k, t) => send(feeds[k], t, wiring.x(t)),
    input.defer,
    input.waiting,
    stepWindow(network.topology),
  );
  // when the stage is torn down (perhaps from inside a batch it is feeding), the loop that fed it stops
  subscriptions.add(() => feeder.stop());
  return { routes, edges, losses, done, actors, backlogs, synthesizers, feeder, readers, cosine, expected: wiring.expected };
}
