/**
 * Placing actors on pipeline stages (one worker thread each). The actors in pipeline order are
 * `layer:0, synthesizer:0, layer:1, …, layer:L-1, synthesizer:L-1, head`; a stage is a
 * contiguous run of them. The default plan keeps each layer with its synthesizer (and the head
 * with the last layer), since a layer waits for its synthesizer's prediction every batch: across
 * threads that wait would sit on every step's critical path. It balances the estimated
 * multiply-adds per batch row (forward, upstream gradient and update of a layer; prediction and
 * refit of a synthesizer) across the stages. An explicit plan may split them anyway.
 */
import { TopologyError } from './errors.ts';
import { HEAD_ID, layerId, synthesizerId } from './network.ts';
import type { Topology } from './topology.ts';

export interface Stage {
  readonly index: number;
  /** systemIds of the actors it hosts, in pipeline order */
  readonly actors: readonly string[];
}

/** Every actor in pipeline order, with its estimated multiply-adds per batch row. */
export function pipelineActors(t: Topology): { id: string; cost: number }[] {
  const out: { id: string; cost: number }[] = [];
  for (const l of t.layers) {
    const upstream = l.index > 0 ? 1 : 0;
    out.push({ id: layerId(l.index), cost: l.inputs * l.units * (2 + upstream) });
    const s = l.synthesizer;
    if (s) {
      const mac = s.units * s.units + (s.conditioned ? s.labels * s.units : 0);
      // predict, then refit: re-evaluate and the parameter step
      out.push({ id: synthesizerId(l.index), cost: 3 * mac });
    }
  }
  out.push({ id: HEAD_ID, cost: t.labels });
  return out;
}

/**
 * Split the pipeline into at most `count` contiguous stages of whole blocks (a layer with its
 * synthesizer; the head with the last layer), minimising the largest stage's cost: an exact
 * dynamic programme (a pipeline is a few dozen blocks at most).
 */
export function planStages(t: Topology, count: number): Stage[] {
  if (!Number.isInteger(count) || count < 1) throw new TopologyError(`stages: expected a positive integer, got ${count}`);
  const blocks: { ids: string[]; cost: number }[] = [];
  for (const a of pipelineActors(t)) {
    if (a.id.startsWith('layer:')) blocks.push({ ids: [a.id], cost: a.cost });
    else {
      const last = blocks[blocks.length - 1];
      last.ids.push(a.id);
      last.cost += a.cost;
    }
  }
  const n = blocks.length, k = Math.min(count, n);
  const prefix = [0];
  for (const b of blocks) prefix.push(prefix[prefix.length - 1] + b.cost);
  // best[j][i]: the smallest possible largest stage when the first i blocks form j stages
  const best = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let j = 1; j <= k; j++) {
    for (let i = j; i <= n; i++) {
      for (let p = j - 1; p < i; p++) {
        const v = Math.max(best[j - 1][p], prefix[i] - prefix[p]);
        if (v < best[j][i]) (best[j][i] = v), (cut[j][i] = p);
      }
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
export function defaultStageCount(t: Topology, cores: number): number {
  const total = pipelineActors(t).reduce((s, a) => s + a.cost, 0);
  const blocks = t.layers.length;
  let best = 1, bestTime = Infinity;
  for (let k = 1; k <= Math.min(blocks, 2 * cores); k++) {
    const slowest = Math.max(...planStages(t, k).map((s) => stageCost(t, s)));
    const time = Math.max(slowest, total / cores);
    if (time < bestTime * (1 - 1e-9)) (best = k), (bestTime = time);
  }
  return best;
}

/** Estimated multiply-adds per batch row of a stage. */
export function stageCost(t: Topology, stage: Stage): number {
  const cost = new Map(pipelineActors(t).map((a) => [a.id, a.cost]));
  return stage.actors.reduce((s, id) => s + (cost.get(id) ?? 0), 0);
}

/** Check an explicit plan: every actor placed exactly once, stages contiguous in pipeline order. */
export function validatePlan(t: Topology, stages: readonly (readonly string[])[]): Stage[] {
  const order = pipelineActors(t).map((a) => a.id);
  const flat = stages.flat();
  if (flat.length !== order.length || flat.some((id, i) => id !== order[i])) {
    throw new TopologyError(
      `stages: a plan must place every actor once, in pipeline order (${order.join(', ')}); got ${JSON.stringify(stages)}`,
    );
  }
  if (stages.some((s) => s.length === 0)) throw new TopologyError('stages: a stage hosts no actor');
  return stages.map((actors, index) => ({ index, actors }));
}
