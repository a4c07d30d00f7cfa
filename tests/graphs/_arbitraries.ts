/**
 * Random graph specs for fast-check, and data for them: fan-out, concat and sum merges, input
 * skips, every activation, 1-3 weighted heads of both losses (a node nothing reads gets an mse
 * head of its own, so every node reaches a head), and, when asked, an interface on any edge
 * (node→node or node→head): backprop, dni or cdni (a random head's labels), delays 0-2, MLP
 * synthesizers sometimes, Adam sometimes.
 */
import fc from 'fast-check';
import { ACTIVATIONS } from '../../lib/activations.ts';
import type { Dataset } from '../../lib/data.ts';
import type { GraphSpec, HeadSpec, InterfaceSpec, NodeSpec } from '../../lib/graph.ts';
import { type Matrix, zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';

const rawNode = fc.record({
  /** few widths, so that sums of equal widths happen */
  width: fc.constantFrom(2, 3, 3, 4),
  activation: fc.constantFrom(...ACTIVATIONS),
  sum: fc.boolean(),
  /** how many sources it reads (1-3, as many as there are), and which, in which order */
  sources: fc.constantFrom(1, 2, 3, 3),
  pick: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});
const rawHead = fc.record({ node: fc.nat(), softmax: fc.boolean(), weight: fc.constantFrom(0.5, 1, 2, 0.25) });
const rawInterface = fc.record({
  kind: fc.constantFrom('backprop', 'dni', 'cdni', 'dni'),
  delay: fc.integer({ min: 0, max: 2 }),
  context: fc.nat(),
  mlp: fc.integer({ min: 0, max: 5 }), // 0: an MLP synthesizer (hidden [3])
});

export const rawGraph = fc.record({
  inputs: fc.constantFrom(2, 3, 3, 4, 5),
  batch: fc.integer({ min: 2, max: 5 }),
  batches: fc.integer({ min: 2, max: 4 }),
  nodes: fc.array(rawNode, { minLength: 1, maxLength: 5, size: 'max' }),
  heads: fc.array(rawHead, { minLength: 1, maxLength: 3 }),
  interfaces: fc.array(rawInterface, { minLength: 16, maxLength: 16 }),
  /** 0: Adam on every node; 1: Adam on the synthesizers; else plain SGD */
  optimizer: fc.integer({ min: 0, max: 5 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});
export type RawGraph = typeof rawGraph extends fc.Arbitrary<infer T> ? T : never;

export interface DrawnGraph {
  spec: GraphSpec;
  /** rows of data */
  rows: number;
  /** label set name → width and whether a softmax head reads it (one-hot rows) */
  labels: Map<string, { width: number; oneHot: boolean }>;
}

/**
 * The graph a raw draw describes. `interfaces: false` keeps every edge backprop (and plain SGD):
 * the finite-difference test's graphs.
 */
export function graphOf(raw: RawGraph, options: { interfaces: boolean; lr?: number }): DrawnGraph {
  const width = new Map<string, number>([['input', raw.inputs]]);
  const nodes: NodeSpec[] = [];
  raw.nodes.forEach((r, i) => {
    const candidates = ['input', ...nodes.map((n) => n.id)];
    const shuffled = new Rng(r.pick).shuffle(candidates);
    // a sum reads sources of one width: the first one's
    const sources = (r.sum ? shuffled.filter((s) => width.get(s) === width.get(shuffled[0])) : shuffled).slice(0, r.sources);
    const id = `n${i}`;
    nodes.push({ id, units: r.width, activation: r.activation, inputs: sources, merge: r.sum ? 'sum' : 'concat' });
    width.set(id, r.width);
  });
  const heads: HeadSpec[] = raw.heads.map((h, j) => ({
    id: `h${j}`,
    node: nodes[h.node % nodes.length].id,
    loss: h.softmax ? 'softmax-cross-entropy' : 'mse',
    weight: h.weight,
  }));
  // a node nothing reads gets an mse head (unless a softmax one sits there already)
  for (const n of nodes) {
    if (!nodes.some((m) => m.inputs.includes(n.id)) && !heads.some((h) => h.node === n.id))
      heads.push({ id: `h${heads.length}`, node: n.id, loss: 'mse', weight: 1 });
  }
  // a softmax head reads its node's logits
  for (const h of heads)
    if (h.loss === 'softmax-cross-entropy') (nodes.find((n) => n.id === h.node) as { activation: string }).activation = 'linear';
  const labels = new Map(heads.map((h) => [h.id, { width: width.get(h.node)!, oneHot: h.loss === 'softmax-cross-entropy' }]));

  const interfaces: InterfaceSpec[] = [];
  if (options.interfaces) {
    const edges = [
      ...nodes.flatMap((v) => v.inputs.filter((s) => s !== 'input').map((u) => [u, v.id])),
      ...heads.map((h) => [h.node, h.id]),
    ];
    edges.forEach(([from, to], k) => {
      const r = raw.interfaces[k % raw.interfaces.length];
      if (r.kind === 'backprop') return;
      interfaces.push({
        from,
        to,
        kind: r.kind as 'dni' | 'cdni',
        delay: r.delay,
        ...(r.kind === 'cdni' ? { context: heads[r.context % heads.length].id } : {}),
        ...(r.mlp === 0 ? { hidden: [3] } : {}),
      });
    });
  }
  const lr = options.lr ?? 0.2;
  const adam = { kind: 'adam' as const, lr: 0.01 };
  const spec: GraphSpec = {
    inputs: raw.inputs,
    batch: raw.batch,
    nodes,
    heads,
    interfaces,
    ...(options.interfaces && raw.optimizer === 0 ? { optimizer: adam } : { lr }),
    synthesizer: options.interfaces && raw.optimizer === 1 ? { optimizer: adam } : { lr: 0.05 },
  };
  return { spec, rows: raw.batch * raw.batches, labels };
}

/** x uniform in [-1, 1]; mse labels uniform in [0, 1]; softmax labels one-hot. float32 values. */
export function dataOf(g: DrawnGraph, seed: number): Dataset {
  const rng = new Rng(seed);
  const x = zeros(g.rows, g.spec.inputs);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
  const y: Record<string, Matrix> = {};
  for (const [name, { width, oneHot }] of g.labels) {
    const m = zeros(g.rows, width);
    for (let r = 0; r < g.rows; r++) {
      if (oneHot) m.data[r * width + (rng.nextUint32() % width)] = 1;
      else for (let j = 0; j < width; j++) m.data[r * width + j] = rng.next();
    }
    y[name] = m;
  }
  return { x, y };
}

/** What a graph exercises, for the tests' coverage counts. */
export function featuresOf(spec: GraphSpec): string[] {
  const out: string[] = [];
  const reads = (id: string) => spec.nodes.filter((n) => n.inputs.includes(id)).length + spec.heads.filter((h) => h.node === id).length;
  if (spec.nodes.some((n) => n.merge === 'sum' && n.inputs.length > 1)) out.push('sum merge');
  if (spec.nodes.some((n) => n.merge !== 'sum' && n.inputs.length > 1)) out.push('concat of several');
  if (spec.nodes.some((n) => n.inputs.includes('input') && n.inputs.length > 1)) out.push('input skip');
  const between = (n: GraphSpec['nodes'][number]) => n.inputs.indexOf('input') > 0 && n.inputs.indexOf('input') < n.inputs.length - 1;
  if (spec.nodes.some(between)) out.push('input between two sources');
  if (spec.nodes.some((n) => n.merge === 'sum' && between(n))) out.push("a sum with the data's x between two nodes");
  if (spec.nodes.some((n) => reads(n.id) > 1)) out.push('fan-out');
  if (spec.heads.length > 1) out.push('several heads');
  if (spec.heads.some((h) => h.loss === 'softmax-cross-entropy')) out.push('softmax head');
  if (spec.heads.some((h) => (h.weight ?? 1) !== 1)) out.push('weighted head');
  for (const a of ACTIVATIONS) if (spec.nodes.some((n) => n.activation === a)) out.push(a);
  const ifs = spec.interfaces ?? [];
  if (ifs.some((i) => i.kind === 'dni')) out.push('dni');
  if (ifs.some((i) => i.kind === 'cdni')) out.push('cdni');
  if (ifs.some((i) => spec.heads.some((h) => h.id === i.to))) out.push('decoupled edge into a head');
  if (ifs.some((i) => i.delay === 2)) out.push('delay 2');
  if (ifs.some((i) => i.hidden)) out.push('MLP synthesizer');
  if (
    ifs.length &&
    spec.nodes.some((n) => spec.heads.every((h) => h.node !== n.id) && ifs.filter((i) => i.from === n.id).length === reads(n.id))
  )
    out.push('fully decoupled node');
  if (spec.optimizer || (spec.synthesizer && 'optimizer' in spec.synthesizer)) out.push('Adam');
  return out;
}

const rawUnlock = fc.record({
  /** what to add on a node→node edge: a forward synthesizer (a dni/cdni edge becomes complete) or nothing */
  forward: fc.constantFrom(false, true, true),
  forwardDelay: fc.integer({ min: 0, max: 2 }),
  mlp: fc.integer({ min: 0, max: 5 }), // 0: an MLP forward synthesizer (hidden [3])
  /** on an edge with a backward synthesizer: λ and a warm-up */
  lambda: fc.constantFrom(0, 0, 0.5, 1),
  warmup: fc.constantFrom(0, 0, 3, 20),
});

/** A random graph with the paper's other unlocks drawn onto its edges. */
export const rawUnlockGraph = fc.record({ graph: rawGraph, unlocks: fc.array(rawUnlock, { minLength: 16, maxLength: 16 }) });
export type RawUnlockGraph = typeof rawUnlockGraph extends fc.Arbitrary<infer T> ? T : never;

/**
 * {@link graphOf} with interfaces, then on each node→node edge a forward synthesizer sometimes (a
 * backprop edge becomes `forward`, a dni or cdni one `complete`), and on each edge with a
 * backward synthesizer a λ and a warm-up sometimes.
 */
export function unlockGraphOf(raw: RawUnlockGraph): DrawnGraph {
  const drawn = graphOf(raw.graph, { interfaces: true });
  const { spec } = drawn,
    nodeIds = new Set(spec.nodes.map((n) => n.id));
  const listed = new Map((spec.interfaces ?? []).map((i) => [`${i.from}>${i.to}`, i]));
  const edges = [
    ...spec.nodes.flatMap((v) => v.inputs.filter((s) => s !== 'input').map((u) => [u, v.id])),
    ...spec.heads.map((h) => [h.node, h.id]),
  ];
  const interfaces: InterfaceSpec[] = edges.flatMap(([from, to], k) => {
    const r = raw.unlocks[k % raw.unlocks.length],
      i = listed.get(`${from}>${to}`);
    const forward = r.forward && nodeIds.has(to);
    const mixing = i ? { ...(r.lambda > 0 ? { lambda: r.lambda } : {}), ...(r.warmup > 0 ? { warmup: r.warmup } : {}) } : {};
    const own = { delay: r.forwardDelay, ...(r.mlp === 0 ? { hidden: [3] } : {}) };
    if (!forward) return i ? [{ ...i, ...mixing }] : [];
    if (!i) return [{ from, to, kind: 'forward', ...own } as InterfaceSpec];
    return [{ ...i, kind: 'complete', ...mixing, forward: own } as InterfaceSpec];
  });
  return { ...drawn, spec: { ...spec, interfaces } };
}

/** What the unlocks of a graph exercise, for the tests' coverage counts. */
export function unlockFeaturesOf(spec: GraphSpec): string[] {
  const is = spec.interfaces ?? [],
    out: string[] = [];
  if (is.some((i) => i.kind === 'forward')) out.push('forward');
  if (is.some((i) => i.kind === 'complete')) out.push('complete');
  if (is.some((i) => (i.lambda ?? 0) > 0 && (i.lambda ?? 0) < 1)) out.push('0 < λ < 1');
  if (is.some((i) => i.lambda === 1)) out.push('λ = 1');
  if (is.some((i) => (i.warmup ?? 0) > 0)) out.push('warm-up');
  if (is.some((i) => (i.kind === 'forward' ? (i.delay ?? 0) > 0 : (i.forward?.delay ?? 0) > 0))) out.push('forward delay');
  if (is.some((i) => (i.kind === 'forward' ? i.hidden : i.forward?.hidden))) out.push('MLP forward synthesizer');
  return out;
}
