/**
 * DNI graphs as plain data: the library's one topology model. Nodes are dense layers whose input
 * is the `concat` (in listed order) or the `sum` of their sources (`'input'` is the data's x); a
 * node's output may feed several nodes and heads. Heads put a loss on a node's output, with a
 * weight. Every edge u→v (v a node or a head) carries an **interface**: `backprop` (the default:
 * the true gradient flows back through it), `dni` (a synthesizer predicts the gradient v will send
 * back, so u need not wait for it) or `cdni` (the same, the synthesizer also seeing the labels of a
 * head it names: its context). `forward` gives the consumer a synthetic input from a forward
 * synthesizer (`ĥ = x M + c`, x the data) so it need not wait for the source; `complete` is both
 * (the paper's complete unlock). See graph-interfaces.ts for the interfaces and their mixing.
 *
 * {@link defineGraph} validates a spec and fills every default; the result is frozen, JSON-safe,
 * and names everything the rest of the library uses: each node's and synthesizer's actor
 * (`layer:trunk`, `synthesizer:trunk>a`, `head:sum`) and parameter keys (`trunk.W`,
 * `synth:trunk>a.M`). A chain ({@link defineTopology}) is a graph too, with the chain's names
 * (`layer:0`, `synthesizer:0`, `head`, `layer0.W`, `synth0.M`).
 *
 *   input ─▶ trunk ─dni─▶ a ─dni─▶ sum_out ─▶ head sum (mse)
 *              │ └─cdni(mod4)─▶ b ─┐
 *              └──────────────────┴─concat─▶ mod4_out ─▶ head mod4 (softmax, weight 0.5)
 */
import type { Activation } from './activations.ts';
import { TopologyError } from './errors.ts';
import type { OptimizerConfig, OptimizerSpec } from './optimizers.ts';
import type { SynthesizerOptions, SynthesizerShape } from './synthesizer.ts';

export type { SynthesizerOptions } from './synthesizer.ts';
import { SYNTH_KEYS, attachInterfaces, kindOf } from './graph-interfaces.ts';
import { finishNodes, layoutEdges, layoutHeads, layoutNodes, readIds } from './graph-layout.ts';
import { knownKeys, object, optimizerAt, positiveInt, sgd, show } from './validate.ts';

/**
 * Head losses. `mse`: `0.5 mean_rows(sum_cols((out - y)²))`, gradient `out - y`.
 * `softmax-cross-entropy`: `-mean_rows(sum_cols(y log softmax(out)))` on a linear node's outputs
 * (its logits), labels one-hot (or probability) rows; gradient `softmax(out) - y`.
 */
export const LOSSES = ['mse', 'softmax-cross-entropy'] as const;
export type Loss = (typeof LOSSES)[number];

export const MERGES = ['concat', 'sum'] as const;
export type Merge = (typeof MERGES)[number];

const INTERFACE_KINDS = ['backprop', 'dni', 'cdni', 'forward', 'complete'] as const;
export type InterfaceKind = (typeof INTERFACE_KINDS)[number];

/** The data's x, as a node's source. */
export const INPUT = 'input';

/** A dense layer `h = f(x W + b)`, x the merge of its sources. */
export interface NodeSpec {
  /** Its name: letters, digits, `_` and `-` (not `input`); its parameters are `{id}.W`, `{id}.b`. */
  readonly id: string;
  /** Output width. */
  readonly units: number;
  /** Default `'sigmoid'` (`'linear'` on a node that carries a softmax-cross-entropy head). */
  readonly activation?: Activation;
  /** Its sources, node ids or `'input'` (the data's x), listed once each. */
  readonly inputs: readonly string[];
  /** `'concat'` (default: x is the sources side by side, in listed order) or `'sum'` (equal widths). */
  readonly merge?: Merge;
  /** Learning rate of plain-SGD updates; defaults to the graph's `lr` or `optimizer`. Give this or `optimizer`. */
  readonly lr?: number;
  readonly optimizer?: OptimizerSpec;
}

/** A loss on a node's output. */
export interface HeadSpec {
  /** Its name (distinct from every node's). */
  readonly id: string;
  /** The node whose output it scores. */
  readonly node: string;
  /** Default `'mse'`. */
  readonly loss?: Loss;
  /** The label set it reads from the data (`data.y[labels]`). Default: the head's id. */
  readonly labels?: string;
  /** Its weight in the total loss (its true gradient is scaled by it too). Default 1. */
  readonly weight?: number;
}

/** The interface on the edge `from → to` (`to` a node or a head). Edges not listed are `backprop`. */
export interface InterfaceSpec extends SynthesizerOptions {
  readonly from: string;
  readonly to: string;
  readonly kind: InterfaceKind;
  /** `cdni` (or `complete`): the head whose labels the (backward) synthesizer also sees. */
  readonly context?: string;
  /**
   * On an edge with a backward synthesizer (`dni`, `cdni`, `complete`): the source learns from
   * `λ · (what the consumer sends back) + (1 − λ) · ĝ`. Default 0 (pure DNI: the source does not
   * wait); any λ > 0 makes it wait for the consumer.
   */
  readonly lambda?: number;
  /** Steps (from step 0) that use λ = 1: the synthesizer learns from the true gradient first. Default 0. */
  readonly warmup?: number;
  /** `forward`, `complete`: options of the forward synthesizer, over the interface's own. */
  readonly forward?: SynthesizerOptions;
}

export interface GraphSpec {
  /** Width of the data's x. */
  readonly inputs: number;
  /** Rows per batch. */
  readonly batch: number;
  /** Any order; a stable topological order is kept (listed order where it is one). */
  readonly nodes: readonly NodeSpec[];
  readonly heads: readonly HeadSpec[];
  readonly interfaces?: readonly InterfaceSpec[];
  /** Default learning rate of every node (plain SGD). Default 0.1. Give this or `optimizer`. */
  readonly lr?: number;
  readonly optimizer?: OptimizerSpec;
  /** Defaults of every decoupled interface's synthesizer. */
  readonly synthesizer?: SynthesizerOptions;
}

/** A label set the data must provide: `data.y[name]`, `width` columns. */
export interface LabelSet {
  readonly name: string;
  readonly width: number;
}

/** Where part of a node's input comes from. */
export interface NodeSource {
  /** index of the source node, or -1 for the data's x */
  readonly node: number;
  /** first column of this source in the node's input (concat), 0 for sum */
  readonly offset: number;
  readonly width: number;
  /** the edge source → node, or -1 for the data's x */
  readonly edge: number;
}

export interface GraphNode {
  readonly index: number;
  readonly id: string;
  /** systemId of its actor */
  readonly actor: string;
  /** its parameters are `{key}.W` and `{key}.b` */
  readonly key: string;
  readonly units: number;
  readonly activation: Activation;
  readonly merge: Merge;
  /** width of its input x (after the merge) */
  readonly inputs: number;
  readonly sources: readonly NodeSource[];
  /** its outgoing edges, in the order their gradients are summed: nodes in node order, then heads */
  readonly outputs: readonly number[];
  /** every outgoing edge is decoupled and mixes in no true gradient: it never waits for anything above it */
  readonly decoupled: boolean;
  /**
   * Its outgoing edges that mix the true gradient in (λ > 0 or a warm-up): `slot` indexes
   * `outputs`; the true gradient of the j-th arrives as gradient `outputs.length + j`.
   */
  readonly mixed: readonly Mixing[];
  /** learning rate of its updates (its optimiser's) */
  readonly lr: number;
  /** present when its updates are not plain SGD at `lr` */
  readonly optimizer?: OptimizerConfig;
}

export interface GraphHead {
  readonly index: number;
  readonly id: string;
  readonly actor: string;
  /** index of the node it scores */
  readonly node: number;
  readonly loss: Loss;
  /** the label set it reads */
  readonly labels: string;
  readonly width: number;
  readonly weight: number;
  /** the edge node → head */
  readonly edge: number;
}

export interface GraphEdge {
  readonly index: number;
  /** `from>to`, by ids */
  readonly name: string;
  /** index of the node it leaves */
  readonly from: number;
  /** index of the node it enters, or -1 */
  readonly toNode: number;
  /** index of the head it enters, or -1 */
  readonly toHead: number;
  /** which of the consumer node's sources it is (0 for a head) */
  readonly slot: number;
  /** index of its (backward) synthesizer, or -1 (backprop) */
  readonly synthesizer: number;
  /** index of its forward synthesizer (the consumer's input comes from it), or -1 */
  readonly forward: number;
  /** with a backward synthesizer: the weight of the true gradient (0: none) */
  readonly lambda: number;
  /** with a backward synthesizer: steps t < warmup use lambda = 1 */
  readonly warmup: number;
}

/**
 * A synthesizer at an edge: what it predicts and how it is refitted. A backward one reads the
 * source node's output and predicts the gradient (`inputs` = `units`); a forward one
 * (`forward: true`) reads the data and predicts the source node's output (`inputs` = the data's width).
 */
export interface GraphSynthesizer extends SynthesizerShape {
  readonly index: number;
  /** the edge it decouples */
  readonly edge: number;
  /** a forward synthesizer (`fwd:…`, actor `forward:…`): predicts the source node's output from the data */
  readonly forward: boolean;
  /** width of what it reads: the source's output (backward), the data's x (forward) */
  readonly inputs: number;
  /** short name: `trunk>a` (a chain's: the layer index, `'1'`) */
  readonly name: string;
  readonly actor: string;
  /** its parameters are `{key}.M`, `{key}.c`, `{key}.N`, `{key}.hidden{j}.W` … */
  readonly key: string;
  /** index of the edge's source node: whose output it reads (backward) or predicts (forward); `units`: that output's width */
  readonly from: number;
  /** the head whose labels it sees (cdni: `conditioned`), or null */
  readonly context: string | null;
  /** that head's label set (`labels` columns wide), or null */
  readonly contextLabels: string | null;
}

/** A validated graph with every default filled in. Plain, frozen, JSON-safe data. */
export interface Graph {
  readonly inputs: number;
  readonly batch: number;
  readonly labels: readonly LabelSet[];
  /** in topological order */
  readonly nodes: readonly GraphNode[];
  readonly heads: readonly GraphHead[];
  readonly edges: readonly GraphEdge[];
  readonly synthesizers: readonly GraphSynthesizer[];
  /** `'chain'` when made by defineTopology: a chain's actor names and parameter keys */
  readonly naming: 'chain' | 'graph';
}

const DEFAULT_LR = 0.1;
const DEFAULT_SYNTHESIZER_LR = 0.01;

/** How a graph names its actors and parameters. */
export interface Naming {
  readonly kind: Graph['naming'];
  node(id: string, index: number): { actor: string; key: string };
  synthesizer(from: { index: number; id: string }, to: string): { name: string; actor: string; key: string };
  forward(from: { index: number; id: string }, to: string): { name: string; actor: string; key: string };
  head(id: string): string;
}

export const GRAPH_NAMING: Naming = {
  kind: 'graph',
  node: (id) => ({ actor: `layer:${id}`, key: id }),
  synthesizer: (from, to) => ({ name: `${from.id}>${to}`, actor: `synthesizer:${from.id}>${to}`, key: `synth:${from.id}>${to}` }),
  forward: (from, to) => ({ name: `${from.id}>${to}`, actor: `forward:${from.id}>${to}`, key: `fwd:${from.id}>${to}` }),
  head: (id) => `head:${id}`,
};

/**
 * Validate a graph spec and fill its defaults. Errors name the node, head or edge and what is
 * wrong (cycles, unknown nodes, widths that do not meet at a sum, a cdni context naming no head,
 * a node that reaches no head), before anything is built.
 *
 * @example
 * const graph = defineGraph({
 *   inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01 },
 *   nodes: [
 *     { id: 'trunk', units: 64, activation: 'tanh', inputs: ['input'] },
 *     { id: 'a', units: 12, inputs: ['trunk'] },
 *     { id: 'b', units: 4, activation: 'linear', inputs: ['trunk', 'input'] },
 *   ],
 *   heads: [
 *     { id: 'sum', node: 'a' },
 *     { id: 'mod4', node: 'b', loss: 'softmax-cross-entropy', weight: 0.5 },
 *   ],
 *   interfaces: [
 *     { from: 'trunk', to: 'a', kind: 'dni' },
 *     { from: 'trunk', to: 'b', kind: 'cdni', context: 'mod4', delay: 1 },
 *   ],
 * });
 * graph.synthesizers.map((s) => s.actor); // ['synthesizer:trunk>a', 'synthesizer:trunk>b']
 */
export function defineGraph(spec: GraphSpec): Graph {
  return buildGraph(spec, GRAPH_NAMING);
}

/** {@link defineGraph} with a naming of one's own (defineTopology's chain names). */
export function buildGraph(spec: GraphSpec, naming: Naming): Graph {
  const s = object(spec, 'graph', '{ inputs, batch, nodes, heads, interfaces }');
  knownKeys(s, ['inputs', 'batch', 'nodes', 'heads', 'interfaces', 'lr', 'optimizer', 'synthesizer'], 'graph');
  const inputs = positiveInt(s.inputs, 'graph: inputs');
  const batch = positiveInt(s.batch, 'graph: batch');
  if (!Array.isArray(s.nodes) || s.nodes.length === 0)
    throw new TopologyError('graph: nodes must be a non-empty array of { id, units, inputs, ... }');
  if (!Array.isArray(s.heads) || s.heads.length === 0)
    throw new TopologyError('graph: heads must be a non-empty array of { id, node, loss, ... }');
  const interfaceSpecs = s.interfaces ?? [];
  if (!Array.isArray(interfaceSpecs))
    throw new TopologyError(`graph: interfaces must be an array of { from, to, kind, ... }, got ${show(interfaceSpecs)}`);
  const nodeLr = optimizerAt(s, 'graph') ?? sgd(DEFAULT_LR);
  const synthDefaults =
    s.synthesizer === undefined ? {} : object(s.synthesizer, 'graph: synthesizer', '{ delay, lr, optimizer, hidden, ... }');
  knownKeys(synthDefaults, SYNTH_KEYS, 'graph: synthesizer');
  const synthLr = optimizerAt(synthDefaults, 'graph: synthesizer') ?? sgd(DEFAULT_SYNTHESIZER_LR);

  const { nodeSpecs, headSpecs } = readIds(s.nodes, s.heads);
  const nodes0 = layoutNodes(nodeSpecs, headSpecs, inputs, nodeLr, naming);
  const { heads0, labelWidths } = layoutHeads(headSpecs, nodes0, naming);
  const { edges, edgeByName, outputs, sourceEdges } = layoutEdges(nodes0, heads0);
  const { edges: finalEdges, synthesizers } = attachInterfaces(interfaceSpecs, {
    inputs,
    nodes: nodes0,
    heads: heads0,
    edges,
    edgeByName,
    synthDefaults,
    synthLr,
    naming,
  });
  const nodes = finishNodes(nodes0, sourceEdges, outputs, finalEdges);
  const heads: GraphHead[] = heads0.map((h) => Object.freeze({ ...h, edge: edgeByName.get(`${nodes[h.node].id}>${h.id}`)! }));
  const labels = [...labelWidths].map(([name, width]) => Object.freeze({ name, width }));
  return Object.freeze({
    inputs,
    batch,
    labels: Object.freeze(labels),
    nodes: Object.freeze(nodes),
    heads: Object.freeze(heads),
    edges: Object.freeze(finalEdges),
    synthesizers: Object.freeze(synthesizers),
    naming: naming.kind,
  });
}

/** Is `t` already a validated graph (as opposed to a spec)? */
export function isGraph(t: unknown): t is Graph {
  const g = t as Partial<Graph> | null;
  return (
    g !== null &&
    typeof g === 'object' &&
    Array.isArray(g.edges) &&
    Array.isArray(g.synthesizers) &&
    Array.isArray(g.nodes) &&
    typeof g.naming === 'string'
  );
}

/** How an outgoing edge of a node mixes the true gradient into its synthesizer's prediction. */
export interface Mixing {
  readonly slot: number;
  readonly lambda: number;
  readonly warmup: number;
}

/** Whether edge e's source learns from the true gradient at some step (λ > 0 or a warm-up). */
export function mixes(e: GraphEdge): boolean {
  return e.synthesizer >= 0 && (e.lambda > 0 || e.warmup > 0);
}

/** The weight of the true gradient on edge e at step t: 1 during its warm-up, else its lambda. */
export function lambdaAt(e: { readonly lambda: number; readonly warmup: number }, t: number): number {
  return t < e.warmup ? 1 : e.lambda;
}

/** The (backward) synthesizer of the edge, or null. */
export function synthesizerOfEdge(g: Graph, edge: number): GraphSynthesizer | null {
  const s = g.edges[edge].synthesizer;
  return s >= 0 ? g.synthesizers[s] : null;
}

/** The id of an edge's consumer (a node's or a head's). */
export function consumerId(g: Graph, e: GraphEdge): string {
  return e.toNode >= 0 ? g.nodes[e.toNode].id : g.heads[e.toHead].id;
}

/** The actor that receives what flows down an edge (the consumer node's or head's). */
export function consumerActor(g: Graph, e: GraphEdge): string {
  return e.toNode >= 0 ? g.nodes[e.toNode].actor : g.heads[e.toHead].actor;
}

/**
 * A short description: a chain's sizes (`24-128-64-12`), else its nodes
 * (`24 → trunk 64, a 32, …; heads sum, mod4`).
 */
export function describeGraph(g: Graph): string {
  if (g.naming === 'chain') return [g.inputs, ...g.nodes.map((n) => n.units)].join('-');
  return `${g.inputs} → ${g.nodes.map((n) => `${n.id} ${n.units}`).join(', ')}; heads ${g.heads.map((h) => h.id).join(', ')}`;
}

/**
 * The spec a graph was made from, defaults filled in: what a case file's `nodes`, `heads` and
 * `interfaces` hold (`defineGraph(graphSpecOf(g))` gives `g` back, under graph naming).
 */
export function graphSpecOf(g: Graph): GraphSpec {
  const opt = (x: { lr: number; optimizer?: OptimizerConfig }) => (x.optimizer ? { optimizer: x.optimizer } : { lr: x.lr });
  return {
    inputs: g.inputs,
    batch: g.batch,
    nodes: g.nodes.map((n) => ({
      id: n.id,
      units: n.units,
      activation: n.activation,
      inputs: n.sources.map((s) => (s.node < 0 ? INPUT : g.nodes[s.node].id)),
      merge: n.merge,
      ...opt(n),
    })),
    heads: g.heads.map((h) => ({ id: h.id, node: g.nodes[h.node].id, loss: h.loss, labels: h.labels, weight: h.weight })),
    interfaces: g.edges.flatMap((e) => {
      const s = e.synthesizer >= 0 ? g.synthesizers[e.synthesizer] : null,
        f = e.forward >= 0 ? g.synthesizers[e.forward] : null;
      if (!s && !f) return [];
      const options = (x: GraphSynthesizer) => ({
        delay: x.delay,
        ...opt(x),
        ...(x.hidden ? { hidden: x.hidden, activation: x.activation } : {}),
        ...(x.clip !== undefined ? { clip: x.clip } : {}),
      });
      const context = s?.context ?? undefined;
      return [
        {
          from: g.nodes[e.from].id,
          to: consumerId(g, e),
          kind: kindOf(s, f),
          ...(context ? { context } : {}),
          ...options((s ?? f)!),
          ...(e.lambda > 0 ? { lambda: e.lambda } : {}),
          ...(e.warmup > 0 ? { warmup: e.warmup } : {}),
          ...(s && f ? { forward: options(f) } : {}),
        } as InterfaceSpec,
      ];
    }),
  };
}
