/**
 * Placing actors on pipeline stages (one worker thread each). The actors in pipeline order are
 * `layer:0, synthesizer:0, layer:1, …, layer:L-1, synthesizer:L-1, head`; a stage is a
 * contiguous run of them, so data only ever crosses to the neighbouring stage. The default plan
 * balances the estimated multiply-adds per batch row (forward, upstream gradient and update of a
 * layer; prediction and refit of a synthesizer) across the stages.
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
 * Split the pipeline into `count` contiguous stages minimising the largest stage's cost
 * (an exact dynamic programme: the pipeline is a few dozen actors at most).
 */
export function planStages(t: Topology, count: number): Stage[] {
  const actors = pipelineActors(t);
  if (!Number.isInteger(count) || count < 1) throw new TopologyError(`stages: expected a positive integer, got ${count}`);
  const n = actors.length, k = Math.min(count, n);
  const prefix = [0];
  for (const a of actors) prefix.push(prefix[prefix.length - 1] + a.cost);
  // best[j][i]: the smallest possible largest stage when the first i actors form j stages
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
    stages.unshift({ index: j - 1, actors: actors.slice(p, i).map((a) => a.id) });
    i = p;
  }
  return stages;
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
