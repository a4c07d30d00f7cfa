/**
 * The interfaces of a graph's edges, validated and turned into synthesizers: `dni` and `cdni` put a
 * (backward) synthesizer on the edge, predicting the gradient the consumer will send back;
 * `forward` puts a *forward synthesizer* there, predicting the source's output from the data
 * (`ĥ = x M + c`) so the consumer need not wait for the source; `complete` puts both (the paper's
 * complete unlock). On an edge with a backward synthesizer, `lambda` and `warmup` mix the true
 * gradient into what the source learns from (DESIGN.md, "Unlocks and mixing on graph edges").
 * Every synthesizer of the graph is listed once: the backward ones in edge order, then the forward
 * ones in edge order (so a graph without forward synthesizers keeps its indices).
 */
import { TopologyError } from './errors.ts';
import type { GraphEdge, GraphSynthesizer, InterfaceKind, Naming } from './graph.ts';
import type { OptimizerConfig } from './optimizers.ts';
import {
  activation as checkActivation,
  knownKeys,
  nonNegativeInt,
  object,
  oneOf,
  optimizerAt,
  positive,
  positiveInt,
  show,
  withOptimizer,
} from './validate.ts';

/** The options every synthesizer takes (an interface's, the graph's defaults, an interface's `forward`). */
export const SYNTH_KEYS = ['delay', 'lr', 'optimizer', 'hidden', 'activation', 'clip'];
/** What an interface adds to them. */
const INTERFACE_KEYS = ['from', 'to', 'kind', 'context', 'lambda', 'warmup', 'forward', ...SYNTH_KEYS];

/** Which synthesizers each interface kind puts on its edge. */
export const KIND_PARTS: Readonly<Record<InterfaceKind, { backward: boolean; forward: boolean }>> = {
  backprop: { backward: false, forward: false },
  dni: { backward: true, forward: false },
  cdni: { backward: true, forward: false },
  forward: { backward: false, forward: true },
  complete: { backward: true, forward: true },
};

/** The interface kind of an edge, from what it carries (a complete one with a context is cdni's complete unlock). */
export function kindOf(backward: GraphSynthesizer | null, forward: GraphSynthesizer | null): InterfaceKind {
  if (forward) return backward ? 'complete' : 'forward';
  if (backward) return backward.conditioned ? 'cdni' : 'dni';
  return 'backprop';
}

interface NodeInfo {
  readonly index: number;
  readonly id: string;
  readonly u: number;
}

export interface InterfaceContext {
  readonly inputs: number;
  readonly nodes: readonly NodeInfo[];
  readonly heads: readonly { id: string; labels: string; width: number }[];
  readonly edges: readonly Omit<GraphEdge, 'forward' | 'lambda' | 'warmup'>[];
  readonly edgeByName: ReadonlyMap<string, number>;
  readonly synthDefaults: Record<string, unknown>;
  readonly synthLr: OptimizerConfig;
  readonly naming: Naming;
}

interface Listed {
  o: Record<string, unknown>;
  kind: InterfaceKind;
  where: string;
}

/**
 * Validate the interfaces (each error names the edge: `interface 'a' → 'b': …`) and return the
 * graph's edges with their synthesizers, mixing and forward synthesizers filled in, and the
 * synthesizers.
 */
export function attachInterfaces(specs: readonly unknown[], c: InterfaceContext): { edges: GraphEdge[]; synthesizers: GraphSynthesizer[] } {
  const nodeIds = c.nodes.map((n) => n.id),
    headIds = c.heads.map((h) => h.id);
  // lookups by id, never scans: a graph may have tens of thousands of nodes
  const isNode = new Set(nodeIds),
    isHead = new Set(headIds);
  const listed = new Map<number, Listed>();
  specs.forEach((raw, i) => {
    const o = object(raw, `interface ${i}`, '{ from, to, kind, ... }');
    const where = `interface ${show(o.from)} → ${show(o.to)}`;
    knownKeys(o, INTERFACE_KEYS, where);
    if (typeof o.from !== 'string' || !isNode.has(o.from))
      throw new TopologyError(`${where}: from ${show(o.from)} is not a node (nodes: ${nodeIds.join(', ')})`);
    if (typeof o.to !== 'string' || (!isNode.has(o.to) && !isHead.has(o.to))) {
      throw new TopologyError(
        `${where}: to ${show(o.to)} is neither a node nor a head (nodes: ${nodeIds.join(', ')}; heads: ${headIds.join(', ')})`,
      );
    }
    const e = c.edgeByName.get(`${o.from}>${o.to}`);
    if (e === undefined) throw new TopologyError(`${where}: there is no such edge ('${o.to}' does not read '${o.from}')`);
    if (listed.has(e)) throw new TopologyError(`${where}: the edge has two interfaces`);
    const kind = oneOf(o.kind, INTERFACE_KINDS_OF, `${where}: kind`);
    const parts = KIND_PARTS[kind];
    if (kind === 'backprop') {
      // a case file states every interface in the format's own fields: `delay: 0` there means what it says (no lag) and changes nothing
      const extra = ['context', 'lambda', 'warmup', 'forward', ...SYNTH_KEYS].filter(
        (k) => o[k] !== undefined && !(k === 'delay' && o[k] === 0),
      );
      if (extra.length)
        throw new TopologyError(
          `${where}: a backprop interface has no synthesizer, so ${extra.map((k) => `'${k}'`).join(', ')} ` +
            `${extra.length === 1 ? 'means' : 'mean'} nothing there`,
        );
    }
    if (parts.forward && c.edges[e].toHead >= 0) {
      throw new TopologyError(
        `${where}: a ${kind} interface gives a node a synthetic input, but '${o.to}' is a head (a head scores its node's real output)`,
      );
    }
    const conditioned = kind === 'cdni' || (kind === 'complete' && o.context !== undefined);
    if (conditioned) {
      if (typeof o.context !== 'string' || !isHead.has(o.context)) {
        throw new TopologyError(
          `${where}: a ${kind} interface needs a context naming a head (heads: ${headIds.join(', ')}), got ${show(o.context)}`,
        );
      }
    } else if (o.context !== undefined)
      throw new TopologyError(
        `${where}: context ${show(o.context)} given, but only a cdni or complete interface's synthesizer sees labels`,
      );
    if (!parts.backward) {
      for (const k of ['lambda', 'warmup']) {
        if (o[k] !== undefined)
          throw new TopologyError(
            `${where}: '${k}' mixes the true gradient into a synthetic one, but a ${kind} interface has no backward synthesizer`,
          );
      }
    }
    if (o.lambda !== undefined && (typeof o.lambda !== 'number' || !(o.lambda >= 0 && o.lambda <= 1))) {
      throw new TopologyError(
        `${where}: lambda must be a number in [0, 1] (0: the synthetic gradient only, 1: the true one only), got ${show(o.lambda)}`,
      );
    }
    if (o.warmup !== undefined) nonNegativeInt(o.warmup, `${where}: warmup (the number of steps that use the true gradient)`);
    if (o.forward !== undefined) {
      if (!parts.forward)
        throw new TopologyError(`${where}: forward synthesizer options given, but a ${kind} interface has no forward synthesizer`);
      knownKeys(object(o.forward, `${where}: forward`, '{ delay, lr, optimizer, hidden, ... }'), SYNTH_KEYS, `${where}: forward`);
    }
    listed.set(e, { o, kind, where });
  });

  const synthesizers: GraphSynthesizer[] = [];
  const idOf = (e: { toNode: number; toHead: number }) => (e.toNode >= 0 ? c.nodes[e.toNode].id : c.heads[e.toHead].id);
  const withBackward = c.edges.map((e) => {
    const l = listed.get(e.index);
    if (!l || !KIND_PARTS[l.kind].backward) return { ...e, forward: -1, lambda: 0, warmup: 0 };
    const s = synthesizerOf(synthesizers.length, e, c.nodes[e.from], idOf(e), l.o, false, c);
    synthesizers.push(s);
    return {
      ...e,
      synthesizer: s.index,
      forward: -1,
      lambda: (l.o.lambda as number | undefined) ?? 0,
      warmup: (l.o.warmup as number | undefined) ?? 0,
    };
  });
  const edges = withBackward.map((e) => {
    const l = listed.get(e.index);
    if (!l || !KIND_PARTS[l.kind].forward) return Object.freeze(e);
    // the forward synthesizer: the interface's options, with its own `forward` ones over them
    const own = { ...l.o, ...((l.o.forward as Record<string, unknown> | undefined) ?? {}) };
    const s = synthesizerOf(synthesizers.length, e, c.nodes[e.from], idOf(e), own, true, c);
    synthesizers.push(s);
    return Object.freeze({ ...e, forward: s.index });
  });
  return { edges, synthesizers };
}

const INTERFACE_KINDS_OF = Object.keys(KIND_PARTS) as InterfaceKind[];

function synthesizerOf(
  index: number,
  edge: { index: number },
  from: NodeInfo,
  to: string,
  own: Record<string, unknown>,
  forward: boolean,
  c: InterfaceContext,
): GraphSynthesizer {
  const names = forward ? c.naming.forward(from, to) : c.naming.synthesizer(from, to);
  // as the interface's other errors name it
  const where = `interface '${from.id}' → '${to}'${forward ? ': forward synthesizer' : ''}`;
  const s = { ...c.synthDefaults, ...Object.fromEntries(Object.entries(own).filter(([, v]) => v !== undefined)) };
  const opt = optimizerAt(own, where) ?? c.synthLr;
  const hidden = s.hidden ?? [];
  if (!Array.isArray(hidden)) throw new TopologyError(`${where}: hidden must be an array of widths, got ${show(hidden)}`);
  hidden.forEach((w, j) => positiveInt(w, `${where}: hidden[${j}]`));
  const activation = checkActivation(s.activation ?? 'relu', `${where}: synthesizer`);
  if (hidden.length === 0 && own.activation !== undefined) {
    throw new TopologyError(`${where}: activation '${String(own.activation)}' given but the synthesizer is linear (no hidden layers)`);
  }
  const context = !forward && own.context !== undefined ? c.heads.find((h) => h.id === own.context)! : null;
  return Object.freeze({
    index,
    edge: edge.index,
    ...names,
    forward,
    from: from.index,
    units: from.u,
    inputs: forward ? c.inputs : from.u,
    conditioned: context !== null,
    context: context?.id ?? null,
    contextLabels: context?.labels ?? null,
    labels: context?.width ?? 0,
    delay: nonNegativeInt(s.delay ?? 0, `${where}: delay`),
    ...withOptimizer(opt),
    ...(hidden.length > 0 ? { hidden: Object.freeze([...(hidden as number[])]), activation } : {}),
    ...(s.clip !== undefined ? { clip: positive(s.clip, `${where}: clip`) } : {}),
  });
}
