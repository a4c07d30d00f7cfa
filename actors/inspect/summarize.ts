/**
 * What a trace shows of a value, an event, an actor's context and a network: JSON-safe summaries
 * built at once, in which a tensor is only its shape (`10x128`) and an actor only its name.
 */
import type { AnyActorRef } from 'xstate';
import { isRecurrent } from '../../lib/model.ts';
import { RECURRENT_HEAD_ACTOR, layerActor, interfaceActor } from '../../lib/recurrent/owners.ts';
import type { RecurrentTopology } from '../../lib/recurrent/topology.ts';
import type { Topology } from '../../lib/topology.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** An event as the trace shows it: its type and fields, Matrix fields as shapes (`'10x24'`). */
export interface TraceEventObject {
  readonly type: string;
  readonly [field: string]: JsonValue;
}

/** The name an actor goes by in a trace: its systemId, else its id, else its machine's id. */
export function actorName(ref: { sessionId: string }): string {
  const r = ref as { sessionId: string; systemId?: string; id?: string; logic?: { config?: { id?: string } } };
  if (r.systemId) return r.systemId;
  if (r.id && r.id !== r.sessionId) return r.id;
  return r.logic?.config?.id ?? r.sessionId;
}

interface MatrixLike {
  rows: number;
  cols: number;
  data: ArrayBufferView;
}

function isMatrix(v: object): v is MatrixLike {
  const m = v as Partial<MatrixLike>;
  return typeof m.rows === 'number' && typeof m.cols === 'number' && ArrayBuffer.isView(m.data);
}

function isActorRef(v: object): v is AnyActorRef {
  const a = v as Partial<AnyActorRef>;
  return typeof a.sessionId === 'string' && typeof a.send === 'function';
}

/**
 * A JSON-safe summary of any value, `depth` levels deep: a Matrix becomes `'10x128'`, a typed
 * array `'Float32Array(1280)'`, an actor its name, an error its message, anything with
 * `toJSON()` (an edge) that; class instances and deep objects their class name.
 */
export function summarize(value: unknown, depth = 1): JsonValue {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return String(value);
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
    case 'undefined':
    case 'symbol':
      return null;
  }
  if (value === null) return null;
  const v = value as object;
  if (isMatrix(v)) return `${v.rows}x${v.cols}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length ?? v.byteLength})`;
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (isActorRef(v)) return actorName(v);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return summarize((v as { toJSON(): unknown }).toJSON(), depth);
  if (Array.isArray(v)) {
    if (depth <= 0) return `Array(${v.length})`;
    const head = v.slice(0, 8).map((x) => summarize(x, depth - 1));
    return v.length > 8 ? [...head, `… ${v.length - 8} more`] : head;
  }
  const proto = Object.getPrototypeOf(v);
  if (depth <= 0) return proto === Object.prototype || proto === null ? '{…}' : (proto.constructor?.name ?? 'Object');
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'function' && x !== undefined) out[k] = summarize(x, depth - 1);
  return out;
}

/** An event with its fields summarised (Matrix → shape); an init event without its input (the actor's context says it better). */
export function summarizeEvent(event: { type: string }): TraceEventObject {
  const out: { type: string; [field: string]: JsonValue } = { type: event.type };
  if (event.type === 'xstate.init') return out;
  for (const k in event) {
    if (k === 'type') continue;
    const v = (event as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') out[k] = summarize(v, 1);
  }
  return out;
}

/**
 * What an actor is, from its context: a layer's sizes, sources and activation, a synthesizer's
 * edge, a head's loss, a stage's actors, the trainer's graph. Never parameters.
 */
export function summarizeContext(context: unknown): JsonValue {
  if (context === null || typeof context !== 'object') return summarize(context, 0);
  const c = context as Record<string, any>;
  if (c.core?.spec) {
    const s = c.core.spec;
    return {
      id: s.key,
      index: s.index,
      inputs: s.inputs,
      units: s.units,
      activation: c.core.topology.cell,
      truncation: c.core.topology.truncation,
      decoupled: s.interface !== null,
      boundary: s.synthesizer !== null,
    };
  }
  if (c.synthesizer?.spec && c.kind) {
    const s = c.synthesizer.spec;
    return {
      name: c.synthesizer.id,
      kind: c.kind,
      units: s.units,
      hidden: [...s.hidden],
      delay: s.delay,
      optimizer: s.optimizer.kind,
      lr: s.optimizer.lr,
    };
  }
  if (c.head?.topology) {
    const t = c.head.topology;
    return { id: 'readout', loss: t.loss, outputs: t.outputs, units: t.layers[t.layers.length - 1].units };
  }
  if (c.layer?.spec) {
    const s = c.layer.spec;
    return {
      id: s.id,
      index: s.index,
      inputs: s.inputs,
      units: s.units,
      activation: s.activation,
      merge: s.merge,
      lr: s.lr,
      decoupled: s.decoupled,
    };
  }
  if (c.synthesizer?.spec) {
    const s = c.synthesizer.spec;
    return {
      name: s.name,
      from: s.from,
      units: s.units,
      ...(s.forward ? { forward: true, inputs: s.inputs } : {}),
      conditioned: s.conditioned,
      delay: s.delay,
      lr: s.lr,
    };
  }
  if (c.head?.spec) {
    const s = c.head.spec;
    return { id: s.id, node: s.node, loss: s.loss, labels: s.labels, width: s.width, weight: s.weight };
  }
  if (c.stage?.actors && c.routes) return { stage: c.stage.index, actors: [...c.stage.actors] };
  if (c.network?.topology && isRecurrent(c.network.topology)) {
    const t = c.network.topology as RecurrentTopology;
    return {
      cell: t.cell,
      sizes: [t.inputs, ...t.layers.map((l) => l.units), t.outputs],
      truncation: t.truncation,
      graph: recurrentGraphSummary(t),
      batch: t.batch,
      steps: summarize(c.steps, 0),
      scheduler: summarize(c.scheduling?.name ?? null, 0),
    };
  }
  if (c.network?.topology) {
    const t = c.network.topology as Topology;
    return {
      ...(t.naming === 'chain'
        ? {
            sizes: [t.inputs, ...t.nodes.map((n) => n.units)],
            activations: t.nodes.map((n) => n.activation),
            decoupled: t.nodes.map((n) => n.decoupled),
          }
        : {}),
      graph: graphSummary(t),
      batch: t.batch,
      steps: summarize(c.steps, 0),
      scheduler: summarize(c.scheduling?.name ?? null, 0),
    };
  }
  return summarize(context, 2);
}

/** A graph as the inspector draws it: its actors and the edges between them (by actor name). */
export function graphSummary(t: Topology): { [key: string]: JsonValue } {
  return {
    inputs: t.inputs,
    nodes: t.nodes.map((n) => ({
      actor: n.actor,
      id: n.id,
      units: n.units,
      activation: n.activation,
      merge: n.merge,
      sources: n.sources.map((s) => (s.node < 0 ? 'input' : t.nodes[s.node].actor)),
      decoupled: n.decoupled,
    })),
    heads: t.heads.map((h) => ({ actor: h.actor, id: h.id, node: t.nodes[h.node].actor, loss: h.loss, weight: h.weight })),
    edges: t.edges.map((e) => ({
      from: t.nodes[e.from].actor,
      to: e.toNode >= 0 ? t.nodes[e.toNode].actor : t.heads[e.toHead].actor,
      synthesizer: e.synthesizer >= 0 ? t.synthesizers[e.synthesizer].actor : null,
      conditioned: e.synthesizer >= 0 ? t.synthesizers[e.synthesizer].conditioned : false,
      // the consumer reads this forward synthesizer's prediction instead of `from`'s output (only where they are)
      ...(e.forward >= 0 ? { forward: t.synthesizers[e.forward].actor } : {}),
      ...(e.lambda > 0 ? { lambda: e.lambda } : {}),
      ...(e.warmup > 0 ? { warmup: e.warmup } : {}),
    })),
  };
}

/**
 * A recurrent network in the same shape, for the same pictures: its layers as nodes (bottom up),
 * the readout as the head, an edge per interface (with its synthesizer when decoupled). The
 * boundary synthesizers sit on no edge between actors: each predicts its own layer's future.
 */
export function recurrentGraphSummary(t: RecurrentTopology): { [key: string]: JsonValue } {
  const top = t.layers[t.layers.length - 1];
  return {
    inputs: t.inputs,
    nodes: t.layers.map((l) => ({
      actor: layerActor(l),
      id: l.key,
      units: l.units,
      activation: t.cell,
      merge: 'concat',
      sources: [l.index === 0 ? 'input' : layerActor(t.layers[l.index - 1])],
      decoupled: l.interface !== null,
    })),
    heads: [{ actor: RECURRENT_HEAD_ACTOR, id: 'readout', node: layerActor(top), loss: t.loss, weight: 1 }],
    edges: t.layers.map((l) => ({
      from: layerActor(l),
      to: l === top ? RECURRENT_HEAD_ACTOR : layerActor(t.layers[l.index + 1]),
      synthesizer: l.interface ? interfaceActor(l) : null,
      conditioned: false,
    })),
  };
}
