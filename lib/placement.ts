/**
 * Placing actors on stages (one worker thread each). A node's *block* is its actor, the
 * synthesizers of its outgoing edges and the heads on it: a node waits for its synthesizers'
 * predictions every batch, so across threads that wait would sit on every step's critical path.
 * The default plan cuts the nodes, in topological order, into contiguous runs of blocks that
 * balance the estimated multiply-adds per batch row (forward, upstream gradient and update of a
 * node; prediction and refit of a synthesizer). An explicit plan may place actors anyhow.
 */
import { TrainingOptionsError } from './errors.ts';
import type { GraphSynthesizer } from './graph.ts';
import type { AnyTopology } from './model.ts';
import { RECURRENT_HEAD_ACTOR, boundaryActor, layerActor, interfaceActor } from './recurrent/owners.ts';
import type { RecurrentTopology } from './recurrent/topology.ts';
import type { Topology } from './topology.ts';

export interface Stage {
  readonly index: number;
  /** systemIds of the actors it hosts */
  readonly actors: readonly string[];
}

/**
 * An actor with its estimated multiply-adds per batch row, its block, and its group (the node or layer it comes with when a plan names
 * one).
 */
export interface PlacedActor {
  readonly id: string;
  readonly cost: number;
  readonly block: number;
  readonly group: number;
}

/**
 * Every actor, node by node (each node's block: the node, its synthesizers, its heads; a forward
 * synthesizer into the node, a block of its own before it), with its
 * estimated multiply-adds per batch row. A recurrent network's layers form one block from one
 * decoupled interface to the next (a layer waits for the gradient of the one above it otherwise),
 * each layer with its synthesizers (boundary, and the interface above it) and the top one with the
 * readout.
 */
function pipelineActors(t: AnyTopology): PlacedActor[] {
  if ((t as { kind?: string }).kind === 'recurrent') return recurrentActors(t as RecurrentTopology);
  return graphActors(t as Topology);
}

function recurrentActors(t: RecurrentTopology): PlacedActor[] {
  const out: PlacedActor[] = [],
    T = t.truncation,
    gates = t.cell === 'lstm' ? 4 : 1;
  const synthCost = (s: { units: number; hidden: readonly number[] }) => {
    let mac = 0,
      inputs = s.units;
    for (const w of s.hidden) ((mac += inputs * w), (inputs = w));
    return 3 * (mac + inputs * s.units);
  };
  let block = 0;
  for (const l of t.layers) {
    const group = l.index;
    // forward, BPTT (gate and input gradients), parameter step: about 3 forwards, over T steps
    out.push({ id: layerActor(l), cost: 3 * T * (l.inputs + l.units) * gates * l.units, block, group });
    if (l.synthesizer) out.push({ id: boundaryActor(l), cost: synthCost(l.synthesizer), block, group });
    if (l.interface) out.push({ id: interfaceActor(l), cost: T * synthCost(l.interface), block, group });
    if (l.index === t.layers.length - 1) out.push({ id: RECURRENT_HEAD_ACTOR, cost: 3 * T * l.units * t.outputs, block, group });
    if (l.interface) block++;
  }
  return out;
}

function graphActors(t: Topology): PlacedActor[] {
  const out: PlacedActor[] = [];
  const headsOf = new Map<number, Topology['heads'][number][]>();
  for (const h of t.heads) headsOf.get(h.node)?.push(h) ?? headsOf.set(h.node, [h]);
  let next = 0;
  for (const n of t.nodes) {
    const upstream = n.sources.some((s) => s.node >= 0) ? 1 : 0;
    // a forward synthesizer is a block of its own, just before its consumer's: it reads the data
    // and its source's output and only feeds the consumer, so nothing waits for it in a cycle, and
    // it costs as much as a layer reading the data (on the consumer's stage it made that stage the
    // slowest by far)
    for (const src of n.sources) {
      const f = t.synthesizers[src.edge >= 0 ? t.edges[src.edge].forward : -1];
      if (f) out.push({ id: f.actor, cost: synthesizerCost(f), block: next++, group: n.index });
    }
    const block = next++;
    out.push({ id: n.actor, cost: n.inputs * n.units * (2 + upstream), block, group: n.index });
    for (const e of n.outputs) {
      const s = t.synthesizers[t.edges[e].synthesizer];
      if (!s) continue;
      out.push({ id: s.actor, cost: synthesizerCost(s), block, group: n.index });
    }
    for (const h of headsOf.get(n.index) ?? []) out.push({ id: h.actor, cost: h.width, block, group: n.index });
  }
  return out;
}

/** Multiply-adds per row of a synthesizer: predict, then refit (re-evaluate and the parameter step). */
function synthesizerCost(s: GraphSynthesizer): number {
  let mac = s.inputs * s.units + s.labels * s.units,
    inputs = s.inputs;
  if (s.hidden) {
    mac = s.labels * s.hidden[0];
    for (const w of s.hidden) ((mac += inputs * w), (inputs = w));
    mac += inputs * s.units;
  }
  return 3 * mac;
}

function blocksOf(t: AnyTopology): { ids: string[]; cost: number }[] {
  const actors = pipelineActors(t);
  const blocks = Array.from({ length: actors.reduce((m, a) => Math.max(m, a.block), 0) + 1 }, () => ({ ids: [] as string[], cost: 0 }));
  for (const a of actors) {
    blocks[a.block].ids.push(a.id);
    blocks[a.block].cost += a.cost;
  }
  return blocks;
}

/**
 * Split the nodes (in topological order) into at most `count` contiguous stages of whole blocks,
 * minimising the largest stage's cost: an exact dynamic programme (with each stage's best cut
 * found by bisection, so a graph of thousands of nodes plans in milliseconds).
 */
export function planStages(t: AnyTopology, count: number): Stage[] {
  if (!Number.isInteger(count) || count < 1) throw new TrainingOptionsError(`stages: expected a positive integer, got ${count}`);
  const blocks = blocksOf(t);
  const n = blocks.length,
    k = Math.min(count, n);
  const prefix = [0];
  for (const b of blocks) prefix.push(prefix[prefix.length - 1] + b.cost);
  // best[j][i]: the smallest possible largest stage when the first i blocks form j stages
  const best = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let j = 1; j <= k; j++) {
    const before = best[j - 1];
    for (let i = j; i <= n; i++) {
      // the smallest p in [j-1, i) minimising max(before[p], prefix[i] - prefix[p]), found by
      // bisection (before[p] never falls as p grows, the last stage's cost never rises), not a
      // scan: linear-ish in the blocks, which a large graph has thousands of
      const last = (p: number) => prefix[i] - prefix[p];
      let lo = j - 1,
        hi = i; // the first p where before[p] >= last(p), or i
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (before[mid] >= last(mid)) hi = mid;
        else lo = mid + 1;
      }
      const cross = lo;
      let p = -1,
        v = Infinity;
      if (cross > j - 1) {
        // left of the crossing the last stage decides: its smallest p of the same cost
        const w = last(cross - 1);
        let a = j - 1,
          b = cross - 1;
        while (a < b) {
          const mid = (a + b) >> 1;
          if (last(mid) <= w) b = mid;
          else a = mid + 1;
        }
        ((p = a), (v = w));
      }
      if (cross < i && before[cross] < v) ((p = cross), (v = before[cross]));
      best[j][i] = v;
      cut[j][i] = p;
    }
  }
  const stages: Stage[] = [];
  for (let j = k, i = n; j > 0; j--) {
    const p = cut[j][i];
    stages.unshift({ index: j - 1, actors: blocks.slice(p, i).flatMap((b) => b.ids) });
    i = p;
  }
  return stages;
}

/**
 * The default number of stages for `cores` cores: the count whose plan predicts the shortest
 * step, where a step takes at least its slowest stage and at least the total work shared by the
 * cores (more threads than cores lets the OS even out uneven stages). Ties go to fewer stages:
 * each costs messages.
 *
 * @example
 * // 784-1024-1024-1024-10 with interfaces: 2 stages are 10.6 | 6.0 (M mult-adds/row), 3 are 4.6 | 6.0 | 6.0 → 3
 * defaultStageCount(wide, 2); // 3
 */
export function defaultStageCount(t: AnyTopology, cores: number): number {
  const total = pipelineActors(t).reduce((s, a) => s + a.cost, 0);
  let best = 1,
    bestTime = Infinity;
  for (let k = 1; k <= Math.min(blocksOf(t).length, 2 * cores); k++) {
    const slowest = Math.max(...planStages(t, k).map((s) => stageCost(t, s)));
    const time = Math.max(slowest, total / cores);
    if (time < bestTime * (1 - 1e-9)) ((best = k), (bestTime = time));
  }
  return best;
}

/** Estimated multiply-adds per batch row of a stage. */
export function stageCost(t: AnyTopology, stage: Stage): number {
  const cost = new Map(pipelineActors(t).map((a) => [a.id, a.cost]));
  return stage.actors.reduce((s, id) => s + (cost.get(id) ?? 0), 0);
}

/**
 * Check an explicit plan and expand it: each stage lists actor systemIds (`layer:1`,
 * `synthesizer:0`, `head`) or node ids (`trunk`: the node with its block, except the actors the
 * plan places elsewhere by name; for a recurrent network, layer keys: `core1` is `layer:core1`
 * with its synthesizers, and the readout on the top layer). Every actor must end up on exactly
 * one stage.
 *
 * @example
 * validatePlan(graph, [['trunk', 'a'], ['b', 'mod4_out']]);
 * validatePlan(chain, [['layer:0'], ['synthesizer:0', 'layer:1', 'synthesizer:1'], ['layer:2', 'head']]);
 */
export function validatePlan(t: AnyTopology, stages: readonly (readonly string[])[]): Stage[] {
  if (!Array.isArray(stages) || stages.length === 0 || stages.some((s) => !Array.isArray(s))) {
    throw new TrainingOptionsError(
      `stages: a plan is a non-empty array of stages, each a list of actors or node ids; got ${JSON.stringify(stages)}`,
    );
  }
  const actors = pipelineActors(t),
    ids = new Set(actors.map((a) => a.id));
  const groups =
    (t as { kind?: string }).kind === 'recurrent'
      ? (t as RecurrentTopology).layers.map((l) => ({ id: l.key, index: l.index, actor: layerActor(l) }))
      : (t as Topology).nodes.map((n) => ({ id: n.id, index: n.index, actor: n.actor }));
  const named = new Set(stages.flat().filter((x) => ids.has(x)));
  const placed = new Map<string, number>();
  const place = (id: string, k: number) => {
    if (placed.has(id)) throw new TrainingOptionsError(`stages: '${id}' is placed on stage ${placed.get(id)} and on stage ${k}`);
    placed.set(id, k);
  };
  stages.forEach((stage, k) => {
    if (stage.length === 0) throw new TrainingOptionsError(`stages: stage ${k} hosts no actor`);
    for (const name of stage) {
      const node = groups.find((n) => n.id === name && !ids.has(name));
      if (ids.has(name)) place(name, k);
      else if (node) for (const a of actors) a.group === node.index && (a.id === node.actor || !named.has(a.id)) && place(a.id, k);
      else
        throw new TrainingOptionsError(
          `stages: '${name}' is neither an actor (${[...ids].join(', ')}) nor a ` +
            `${(t as { kind?: string }).kind === 'recurrent' ? 'layer' : 'node'} (${groups.map((g) => g.id).join(', ')})`,
        );
    }
  });
  const missing = actors.filter((a) => !placed.has(a.id)).map((a) => a.id);
  if (missing.length)
    throw new TrainingOptionsError(
      `stages: a plan must place every actor once; ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} on no stage`,
    );
  return stages.map((_, index) => ({ index, actors: actors.filter((a) => placed.get(a.id) === index).map((a) => a.id) }));
}
