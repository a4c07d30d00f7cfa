/**
 * What the network's actors say to each other: the events layers, synthesizers and heads
 * receive, and the routes they travel. A route is one kind of message from one actor to another
 * (a source, a target, an event type and a slot); in a stage every route whose source lives there
 * is an rxjs {@link Edge} carrying the *receiving* actor's events, and a stage link (see
 * stageLink.ts) carries them to another stage as a route number, a batch and the tensor, in shared memory.
 *
 *   data ─FORWARD▶ layer ─FORWARD▶ layer … ─FORWARD▶ head
 *                    │ ▲               ▲ │            │
 *           PREDICT  ▼ │ SYNTHETIC_    │ │ GRADIENT   │ GRADIENT (backprop edge)
 *                synthesizer ◀─REFIT───┘ ▼            ▼ or REFIT (decoupled edge)
 *
 * A forward synthesizer on edge u→v takes the data (PREDICT from `data`), sends v its prediction
 * of u's output (FORWARD, in place of u's), and is refitted toward u's real output (REFIT from u).
 * Where an edge mixes the true gradient in, v sends its share both to the synthesizer (REFIT) and
 * to u (GRADIENT, at u's gradient slot `outputs + j`), the latter only at steps whose λ is above 0.
 */
import { Subject } from 'rxjs';
import type { Graph } from '../../lib/graph.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { type AnyTopology, isRecurrent } from '../../lib/model.ts';
import { RECURRENT_HEAD_ACTOR, boundaryActor, layerActor, interfaceActor } from '../../lib/recurrent/owners.ts';
import type { RecurrentTopology } from '../../lib/recurrent/topology.ts';

/** Batch t's input from source `slot` of a layer (its x, or a source node's h), or a head's scored output (slot 0). */
export type ForwardEvent = { readonly type: 'FORWARD'; readonly batch: number; readonly slot: number; readonly x: Matrix };
/** The gradient a consumer sends back along the layer's output edge `slot` (a backprop edge). */
export type GradientEvent = { readonly type: 'GRADIENT'; readonly batch: number; readonly slot: number; readonly g: Matrix };
/** A synthesizer's prediction for the layer's output edge `slot` (a decoupled edge). */
export type SyntheticGradientEvent = {
  readonly type: 'SYNTHETIC_GRADIENT';
  readonly batch: number;
  readonly slot: number;
  readonly g: Matrix;
};
/** A layer's output for its synthesizer to predict from. */
export type PredictEvent = { readonly type: 'PREDICT'; readonly batch: number; readonly h: Matrix };
/** The target of a synthesizer's prediction: what the consumer sent back (or a head's true gradient). */
export type RefitEvent = { readonly type: 'REFIT'; readonly batch: number; readonly target: Matrix };

export type LayerEvent = ForwardEvent | GradientEvent | SyntheticGradientEvent;
export type NetworkEvent = LayerEvent | PredictEvent | RefitEvent;
export type NetworkEventType = NetworkEvent['type'];

/**
 * An edge between two actors: an rxjs Subject with a name (`FORWARD>layer:1`) that the inspector
 * can print without serialising the tensors it carries.
 */
export class Edge<T> extends Subject<T> {
  constructor(readonly name: string) {
    super();
  }
  toJSON(): string {
    return this.name;
  }
}

/** One kind of message between two actors. */
export interface Route {
  /** `FORWARD>layer:1` (with `#slot` where a target takes one type from several sources) */
  readonly key: string;
  readonly type: NetworkEventType;
  /** systemId of the actor that sends it */
  readonly source: string;
  /** systemId of the actor that receives it */
  readonly target: string;
  /** FORWARD: the target layer's source index; GRADIENT, SYNTHETIC_GRADIENT: the target's output edge index */
  readonly slot: number;
  /** the graph edge it belongs to (-1 for the data's) */
  readonly edge: number;
  /** the tensor's shape */
  readonly rows: number;
  readonly cols: number;
}

/**
 * How many messages of a route an actor has taken and not used yet (inputs a layer keeps for a
 * later batch, a PREDICT a synthesizer holds): published by the actor itself (its input's
 * `publishBacklog`), read by its stage's queue gauge; no one reads an actor's context for it.
 */
export type Backlog = (route: Route) => number;

/** The event a route carries for `batch`. */
export function eventOf(route: Route, batch: number, tensor: Matrix): NetworkEvent {
  switch (route.type) {
    case 'FORWARD':
      return { type: 'FORWARD', batch, slot: route.slot, x: tensor };
    case 'GRADIENT':
      return { type: 'GRADIENT', batch, slot: route.slot, g: tensor };
    case 'SYNTHETIC_GRADIENT':
      return { type: 'SYNTHETIC_GRADIENT', batch, slot: route.slot, g: tensor };
    case 'PREDICT':
      return { type: 'PREDICT', batch, h: tensor };
    case 'REFIT':
      return { type: 'REFIT', batch, target: tensor };
  }
}

/** The tensor an event carries. */
export function tensorOf(e: NetworkEvent): Matrix {
  switch (e.type) {
    case 'FORWARD':
      return e.x;
    case 'PREDICT':
      return e.h;
    case 'REFIT':
      return e.target;
    default:
      return e.g;
  }
}

/** The systemId the data source goes by (it feeds the layers that read the data's x). */
export const DATA = 'data';

/**
 * Every route of a graph, in a fixed order: per layer, per outgoing edge, FORWARD to its consumer
 * then PREDICT to the edge's synthesizer and SYNTHETIC_GRADIENT back; then what flows back: each
 * consumer's share to its source (GRADIENT) or to the edge's synthesizer (REFIT). Data routes
 * (FORWARD from `data` to the layers that read x) come first.
 */
export function routesOf(g: Graph): Route[] {
  const B = g.batch,
    out: Omit<Route, 'key'>[] = [];
  const outputSlot = new Int32Array(g.edges.length);
  for (const n of g.nodes) n.outputs.forEach((e, k) => (outputSlot[e] = k));
  for (const n of g.nodes)
    n.sources.forEach(
      (s, k) => s.node < 0 && out.push({ type: 'FORWARD', source: DATA, target: n.actor, slot: k, edge: -1, rows: B, cols: s.width }),
    );
  for (const f of g.synthesizers)
    if (f.forward) out.push({ type: 'PREDICT', source: DATA, target: f.actor, slot: 0, edge: -1, rows: B, cols: f.inputs });
  for (const n of g.nodes) {
    n.outputs.forEach((e, k) => {
      const edge = g.edges[e];
      const target = edge.toNode >= 0 ? g.nodes[edge.toNode].actor : g.heads[edge.toHead].actor;
      const f = g.synthesizers[edge.forward];
      if (f) {
        out.push({ type: 'REFIT', source: n.actor, target: f.actor, slot: 0, edge: e, rows: B, cols: n.units });
        out.push({ type: 'FORWARD', source: f.actor, target, slot: edge.slot, edge: e, rows: B, cols: n.units });
      } else out.push({ type: 'FORWARD', source: n.actor, target, slot: edge.slot, edge: e, rows: B, cols: n.units });
      const s = g.synthesizers[edge.synthesizer];
      if (s) {
        out.push({ type: 'PREDICT', source: n.actor, target: s.actor, slot: 0, edge: e, rows: B, cols: n.units });
        out.push({ type: 'SYNTHETIC_GRADIENT', source: s.actor, target: n.actor, slot: k, edge: e, rows: B, cols: n.units });
      }
    });
  }
  const back = (source: string, e: number, cols: number) => {
    const edge = g.edges[e],
      s = g.synthesizers[edge.synthesizer],
      from = g.nodes[edge.from];
    out.push(
      s
        ? { type: 'REFIT', source, target: s.actor, slot: 0, edge: e, rows: B, cols }
        : { type: 'GRADIENT', source, target: from.actor, slot: outputSlot[e], edge: e, rows: B, cols },
    );
    const j = from.mixed.findIndex((m) => m.slot === outputSlot[e]);
    if (s && j >= 0) out.push({ type: 'GRADIENT', source, target: from.actor, slot: from.outputs.length + j, edge: e, rows: B, cols });
  };
  for (const n of g.nodes) for (const s of n.sources) if (s.node >= 0) back(n.actor, s.edge, s.width);
  for (const h of g.heads) back(h.actor, h.edge, h.width);
  return keyed(out);
}

/** A plain key where a target takes one route of a type, `#slot` where it takes several. */
function keyed(out: Omit<Route, 'key'>[]): Route[] {
  const count = new Map<string, number>();
  for (const r of out) count.set(`${r.type}>${r.target}`, (count.get(`${r.type}>${r.target}`) ?? 0) + 1);
  return out.map((r) => ({
    ...r,
    key: count.get(`${r.type}>${r.target}`)! > 1 ? `${r.type}>${r.target}#${r.slot}` : `${r.type}>${r.target}`,
  }));
}

/**
 * Every route of a recurrent network, in a fixed order (rows are the most a window has, T·B, or
 * B for a boundary's state; a sequence's last window may carry fewer): the data's FORWARD to the
 * first layer; per layer, FORWARD of its outputs up (to the next layer or the readout), PREDICT
 * to the interface's synthesizer and its SYNTHETIC_GRADIENT back (slot 0), PREDICT of the
 * boundary state to its boundary synthesizer and that SYNTHETIC_GRADIENT back (slot 1), and the
 * boundary's REFIT pair `[h_in | δ_in]`; then what flows down: each layer's input gradient to the
 * layer below (GRADIENT), or its interface's REFIT pair `[x | dx]`; the readout's GRADIENT last.
 * A route's `edge` is the interface it crosses (the one above layer ℓ: ℓ), -1 for the data's and
 * a boundary's.
 */
export function recurrentRoutesOf(t: RecurrentTopology): Route[] {
  const TB = t.truncation * t.batch,
    B = t.batch,
    out: Omit<Route, 'key'>[] = [];
  const top = t.layers.length - 1;
  out.push({ type: 'FORWARD', source: DATA, target: layerActor(t.layers[0]), slot: 0, edge: -1, rows: TB, cols: t.inputs });
  for (const l of t.layers) {
    const self = layerActor(l),
      above = l.index === top ? RECURRENT_HEAD_ACTOR : layerActor(t.layers[l.index + 1]);
    out.push({ type: 'FORWARD', source: self, target: above, slot: 0, edge: l.index, rows: TB, cols: l.units });
    if (l.interface) {
      out.push({ type: 'PREDICT', source: self, target: interfaceActor(l), slot: 0, edge: l.index, rows: TB, cols: l.units });
      out.push({ type: 'SYNTHETIC_GRADIENT', source: interfaceActor(l), target: self, slot: 0, edge: l.index, rows: TB, cols: l.units });
    }
    if (l.synthesizer) {
      out.push({ type: 'PREDICT', source: self, target: boundaryActor(l), slot: 0, edge: -1, rows: B, cols: l.state });
      out.push({ type: 'SYNTHETIC_GRADIENT', source: boundaryActor(l), target: self, slot: 1, edge: -1, rows: B, cols: l.state });
      out.push({ type: 'REFIT', source: self, target: boundaryActor(l), slot: 0, edge: -1, rows: B, cols: 2 * l.state });
    }
  }
  for (const l of t.layers.slice(1)) {
    const below = t.layers[l.index - 1];
    out.push(
      below.interface
        ? {
            type: 'REFIT',
            source: layerActor(l),
            target: interfaceActor(below),
            slot: 0,
            edge: below.index,
            rows: TB,
            cols: 2 * below.units,
          }
        : { type: 'GRADIENT', source: layerActor(l), target: layerActor(below), slot: 0, edge: below.index, rows: TB, cols: below.units },
    );
  }
  out.push({
    type: 'GRADIENT',
    source: RECURRENT_HEAD_ACTOR,
    target: layerActor(t.layers[top]),
    slot: 0,
    edge: top,
    rows: TB,
    cols: t.layers[top].units,
  });
  return keyed(out);
}

/** Every route of a network of either kind. */
export function routesFor(t: AnyTopology): Route[] {
  return isRecurrent(t) ? recurrentRoutesOf(t) : routesOf(t);
}

/**
 * A head's loss (`index`: the head's), a synthesizer's (`index`: the synthesizer's) or a recurrent layer's aux loss (`index`: the aux
 * head's) on one batch.
 */
export interface LossMessage {
  readonly type: 'LOSS';
  readonly kind: 'head' | 'synthesizer' | 'aux';
  readonly index: number;
  readonly batch: number;
  readonly loss: number;
  /** the head's accuracy on the batch (heads only; NaN for synthesizers) */
  readonly accuracy: number;
  /** a synthesizer refitted toward the true gradient: `cos(g_hat, target)` on the batch (metrics$); else absent or NaN */
  readonly cosine?: number;
}
