/**
 * The steps of building a graph from its spec ({@link buildGraph}), in order: the ids of its nodes
 * and heads, its nodes in topological order with their widths, its heads and label sets, and the
 * edges between them; once the interfaces are attached (lib/graph-interfaces.ts), the nodes as
 * frozen {@link GraphNode}s. Each error names the node or head and what is wrong.
 */
import type { Activation } from './activations.ts';
import { TopologyError } from './errors.ts';
import { type GraphEdge, type GraphHead, type GraphNode, type Merge, type Naming, INPUT, LOSSES, MERGES, mixes } from './graph.ts';
import { MinHeap } from './min-heap.ts';
import type { OptimizerConfig } from './optimizers.ts';
import {
  activation as checkActivation,
  knownKeys,
  object,
  oneOf,
  optimizerAt,
  positive,
  positiveInt,
  show,
  withOptimizer,
} from './validate.ts';

const ID = /^[A-Za-z0-9_-]+$/;

type Spec = { o: Record<string, unknown>; id: string };

/** A node laid out: its place in topological order, its sources and their widths, its names. */
export interface NodeDraft {
  readonly index: number;
  readonly id: string;
  readonly act: Activation;
  readonly merge: Merge;
  readonly srcs: string[];
  readonly widths: number[];
  readonly u: number;
  readonly opt: OptimizerConfig;
  readonly actor: string;
  readonly key: string;
}

/** A head laid out: a {@link GraphHead} but for its edge, which comes with the edges. */
export type HeadDraft = Omit<GraphHead, 'edge'>;

/** Each node's and head's spec with its id (nodes and heads share one namespace). */
export function readIds(nodes: unknown[], heads: unknown[]): { nodeSpecs: Spec[]; headSpecs: Spec[] } {
  const names = new Set<string>();
  const claim = (id: unknown, what: string): string => {
    if (typeof id !== 'string' || !ID.test(id) || id === INPUT) {
      throw new TopologyError(`${what}: id must be letters, digits, '_' or '-' (and not '${INPUT}'), got ${show(id)}`);
    }
    if (names.has(id)) throw new TopologyError(`${what}: id '${id}' is used twice`);
    names.add(id);
    return id;
  };
  const nodeSpecs = nodes.map((n: unknown, i: number) => {
    const o = object(n, `node ${i}`, '{ id, units, inputs, ... }');
    const id = claim(o.id, `node ${i}`);
    knownKeys(o, ['id', 'units', 'activation', 'inputs', 'merge', 'lr', 'optimizer'], `node '${id}'`);
    return { o, id };
  });
  const headSpecs = heads.map((h: unknown, i: number) => {
    const o = object(h, `head ${i}`, '{ id, node, loss, labels, weight }');
    const id = claim(o.id, `head ${i}`);
    knownKeys(o, ['id', 'node', 'loss', 'labels', 'weight'], `head '${id}'`);
    return { o, id };
  });
  return { nodeSpecs, headSpecs };
}

/** The nodes, in topological order, with their widths (each head's node checked first). */
export function layoutNodes(
  nodeSpecs: readonly Spec[],
  headSpecs: readonly Spec[],
  inputs: number,
  nodeLr: OptimizerConfig,
  naming: Naming,
): NodeDraft[] {
  const nodeIds = nodeSpecs.map((n) => n.id);
  // lookups by id, never scans: a graph may have tens of thousands of nodes
  const isNode = new Set(nodeIds);

  const sources = nodeSpecs.map(({ o, id }) => sourcesOf(o, id, isNode, nodeIds));
  const order = topologicalOrder(nodeSpecs.map(({ id }, i) => ({ id, inputs: sources[i] })));
  const headsByNode = new Map<unknown, Spec[]>();
  for (const h of headSpecs) listAt(headsByNode, h.o.node).push(h);
  const headsOn = (id: string) => headsByNode.get(id) ?? [];
  for (const h of headSpecs) {
    if (typeof h.o.node !== 'string' || !isNode.has(h.o.node)) {
      throw new TopologyError(`head '${h.id}': node ${show(h.o.node)} is not a node (nodes: ${nodeIds.join(', ')})`);
    }
  }

  const units = new Map<string, number>();
  return order.map((i, index) => {
    const { o, id } = nodeSpecs[i];
    const u = positiveInt(o.units, `node '${id}': units`);
    units.set(id, u);
    const softmax = headsOn(id).some((h) => h.o.loss === 'softmax-cross-entropy');
    const act = checkActivation(o.activation ?? (softmax ? 'linear' : 'sigmoid'), `node '${id}'`);
    const merge = oneOf(o.merge ?? 'concat', MERGES, `node '${id}': merge`);
    const srcs = sources[i];
    const widths = srcs.map((src) => (src === INPUT ? inputs : units.get(src)!));
    if (merge === 'sum' && widths.some((w) => w !== widths[0])) {
      throw new TopologyError(
        `node '${id}': a sum merge needs sources of one width, got ${srcs.map((src, k) => `${src} (${widths[k]})`).join(', ')}`,
      );
    }
    const opt = optimizerAt(o, `node '${id}'`) ?? nodeLr;
    return { index, id, act, merge, srcs, widths, u, opt, ...naming.node(id, index) };
  });
}

/** The heads and their label sets (one width per label set). */
export function layoutHeads(
  headSpecs: readonly Spec[],
  nodes0: readonly NodeDraft[],
  naming: Naming,
): { heads0: HeadDraft[]; labelWidths: Map<string, number> } {
  const nodeIndex = new Map(nodes0.map((n) => [n.id, n.index]));
  const labelWidths = new Map<string, number>();
  const heads0 = headSpecs.map(({ o, id }, index) => {
    const node = nodeIndex.get(o.node as string)!;
    const loss = oneOf(o.loss ?? 'mse', LOSSES, `head '${id}': loss`);
    const n = nodes0[node];
    if (loss === 'softmax-cross-entropy' && n.act !== 'linear') {
      throw new TopologyError(
        `head '${id}': the softmax-cross-entropy head applies the softmax itself, ` +
          `so node '${n.id}' must be 'linear' (its logits), got '${n.act}'`,
      );
    }
    const labels = o.labels ?? id;
    if (typeof labels !== 'string' || labels === '')
      throw new TopologyError(`head '${id}': labels must name a label set, got ${show(labels)}`);
    const known = labelWidths.get(labels);
    if (known !== undefined && known !== n.u) {
      throw new TopologyError(
        `head '${id}': label set '${labels}' is ${known} wide for another head, but node '${n.id}' has ${n.u} outputs`,
      );
    }
    labelWidths.set(labels, n.u);
    const weight = o.weight === undefined ? 1 : positive(o.weight, `head '${id}': weight`);
    return { index, id, actor: naming.head(id), node, loss, labels, width: n.u, weight };
  });
  return { heads0, labelWidths };
}

/** The edges: each node's consumers in node order (then slot order), then its heads in head order; every node must feed one. */
export function layoutEdges(nodes0: readonly NodeDraft[], heads0: readonly HeadDraft[]) {
  const edges: Omit<GraphEdge, 'forward' | 'lambda' | 'warmup'>[] = [];
  const edgeByName = new Map<string, number>();
  const outputs: number[][] = nodes0.map(() => []);
  const sourceEdges: number[][] = nodes0.map((n) => n.srcs.map(() => -1));
  const consumers = new Map<string, [v: NodeDraft, slot: number][]>();
  for (const v of nodes0) v.srcs.forEach((src, slot) => src !== INPUT && listAt(consumers, src).push([v, slot]));
  const headsOf = new Map<number, HeadDraft[]>();
  for (const h of heads0) listAt(headsOf, h.node).push(h);
  for (const u of nodes0) {
    const add = (toNode: number, toHead: number, slot: number, to: string) => {
      const e = { index: edges.length, name: `${u.id}>${to}`, from: u.index, toNode, toHead, slot, synthesizer: -1 };
      edgeByName.set(e.name, e.index);
      outputs[u.index].push(e.index);
      edges.push(e);
      return e.index;
    };
    for (const [v, slot] of consumers.get(u.id) ?? []) sourceEdges[v.index][slot] = add(v.index, -1, slot, v.id);
    for (const h of headsOf.get(u.index) ?? []) add(-1, h.index, 0, h.id);
  }
  for (const u of nodes0) {
    if (outputs[u.index].length === 0)
      throw new TopologyError(`node '${u.id}': its output feeds no node and no head, so it would never learn`);
  }
  return { edges, edgeByName, outputs, sourceEdges };
}

/**
 * The nodes as frozen GraphNodes, once the edges have their interfaces: where each source sits in the merged input, which outputs mix the
 * true gradient in.
 */
export function finishNodes(
  nodes0: readonly NodeDraft[],
  sourceEdges: readonly number[][],
  outputs: readonly number[][],
  finalEdges: readonly GraphEdge[],
): GraphNode[] {
  const nodeIndex = new Map(nodes0.map((n) => [n.id, n.index]));
  return nodes0.map((n) => {
    let offset = 0;
    const sources = n.srcs.map((src, k) => {
      const source = Object.freeze({
        node: src === INPUT ? -1 : nodeIndex.get(src)!,
        offset: n.merge === 'concat' ? offset : 0,
        width: n.widths[k],
        edge: sourceEdges[n.index][k],
      });
      offset += n.widths[k];
      return source;
    });
    const outs = outputs[n.index];
    return Object.freeze({
      index: n.index,
      id: n.id,
      actor: n.actor,
      key: n.key,
      units: n.u,
      activation: n.act,
      merge: n.merge,
      inputs: n.merge === 'concat' ? offset : n.widths[0],
      sources: Object.freeze(sources),
      outputs: Object.freeze(outs),
      decoupled: outs.every((e) => finalEdges[e].synthesizer >= 0 && finalEdges[e].lambda === 0 && finalEdges[e].warmup === 0),
      mixed: Object.freeze(
        outs.flatMap((e, slot) =>
          mixes(finalEdges[e]) ? [Object.freeze({ slot, lambda: finalEdges[e].lambda, warmup: finalEdges[e].warmup })] : [],
        ),
      ),
      ...withOptimizer(n.opt),
    });
  });
}

function sourcesOf(o: Record<string, unknown>, id: string, isNode: ReadonlySet<string>, nodeIds: readonly string[]): string[] {
  const inputs = o.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0) {
    throw new TopologyError(`node '${id}': inputs must list its sources (node ids or '${INPUT}'), got ${show(inputs)}`);
  }
  const seen = new Set<string>();
  for (const src of inputs) {
    if (src !== INPUT && (typeof src !== 'string' || !isNode.has(src))) {
      throw new TopologyError(`node '${id}': input ${show(src)} is not a node (nodes: ${nodeIds.join(', ')}; or '${INPUT}' for the data)`);
    }
    if (src === id) throw new TopologyError(`node '${id}': it reads its own output (a cycle)`);
    if (seen.has(src)) throw new TopologyError(`node '${id}': input '${src}' is listed twice`);
    seen.add(src);
  }
  return inputs as string[];
}

/**
 * Indices of the nodes in a stable topological order (listed order where it is one: each time,
 * the first listed node whose sources are all placed); names a cycle. Kahn's algorithm with the
 * ready nodes in a min-heap: O((nodes + edges) log nodes).
 */
function topologicalOrder(nodes: readonly { id: string; inputs: readonly string[] }[]): number[] {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const waiting = new Int32Array(nodes.length);
  const readers: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const src of n.inputs) {
      if (src === INPUT) continue;
      waiting[i]++;
      readers[index.get(src)!].push(i);
    }
  });
  const ready = new MinHeap();
  for (let i = 0; i < nodes.length; i++) if (waiting[i] === 0) ready.push(i);
  const done = new Set<number>();
  const order: number[] = [];
  while (ready.size > 0) {
    const next = ready.pop();
    done.add(next);
    order.push(next);
    for (const r of readers[next]) if (--waiting[r] === 0) ready.push(r);
  }
  if (order.length < nodes.length) {
    // every node left waits on another node left: follow the waits until one repeats
    let at = nodes.findIndex((_, i) => !done.has(i));
    const path: number[] = [];
    while (!path.includes(at)) {
      path.push(at);
      at = index.get(nodes[at].inputs.find((src) => src !== INPUT && !done.has(index.get(src)!))!)!;
    }
    const cycle = path.slice(path.indexOf(at)).reverse();
    throw new TopologyError(`graph: nodes ${[...cycle, cycle[0]].map((i) => `'${nodes[i].id}'`).join(' → ')} form a cycle`);
  }
  return order;
}

/** The list at `key` in `map`, made empty when absent. */
function listAt<K, V>(map: Map<K, V[]>, key: K): V[] {
  let list = map.get(key);
  if (!list) map.set(key, (list = []));
  return list;
}
