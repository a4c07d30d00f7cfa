/**
 * Setup is linear in the node count (issue 24, item 10): a trunk with thousands of one-unit
 * branches is defined, planned, wired, trained and stopped in seconds. Before, every one of these
 * scanned the whole graph per node (defineGraph's topological order and edges, the parameter
 * owners, the stage's routes, xstate's stop of the stage's children, the stage plan's dynamic
 * programme): 20,000 nodes took ~90 s to define, 1,000 nodes ~20 s to build a training. The bounds
 * below are several times what the linear code takes on a loaded 2-core machine, and a fraction
 * of what the quadratic code took.
 */
import { describe, expect, it } from 'vitest';
import { createTraining } from '../../actors/trainer/training.ts';
import { branchyGraph } from '../../bench/graph-scale.ts';
import { defineGraph } from '../../lib/graph.ts';
import { zeros } from '../../lib/matrix.ts';
import { planStages } from '../../lib/placement.ts';
import { Rng } from '../../lib/rng.ts';

const seconds = (f: () => unknown) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};

describe('setup time grows linearly with the nodes', () => {
  it('defineGraph: 20,000 nodes in well under 20 s (the quadratic build took ~90 s)', () => {
    let g: ReturnType<typeof defineGraph> | null = null;
    expect(seconds(() => (g = defineGraph(branchyGraph(20_000))))).toBeLessThan(20);
    expect(g!.nodes).toHaveLength(20_002);
    // the listed order is a topological order, so it is kept
    expect(g!.nodes.map((n) => n.id).slice(0, 3)).toEqual(['trunk', 'b0', 'b1']);
    expect(g!.nodes[20_001].sources).toHaveLength(20_000);
  }, 60_000);

  it('createTraining and a 3-step run of 3,000 nodes in well under 30 s (the quadratic wiring and stop took minutes)', async () => {
    const topology = defineGraph(branchyGraph(3000));
    const t0 = performance.now();
    const training = createTraining({ topology, data: { x: zeros(8, 4), y: { y: zeros(8, 2) } }, steps: 3, seed: 1 });
    const result = await training.run();
    expect((performance.now() - t0) / 1000).toBeLessThan(30);
    expect(result.losses).toHaveLength(3);
  }, 120_000);

  it('planStages: 10,000 blocks in under 5 s (the dynamic programme scanned every cut: ~400M steps)', () => {
    const topology = defineGraph(branchyGraph(10_000));
    expect(seconds(() => planStages(topology, 4))).toBeLessThan(5);
  }, 60_000);
});

/** The plan's dynamic programme as it was, scanning every cut: the reference the bisection must match exactly. */
function referencePlan(costs: number[], count: number): number[] {
  const n = costs.length,
    k = Math.min(count, n);
  const prefix = [0];
  for (const c of costs) prefix.push(prefix[prefix.length - 1] + c);
  const best = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(Infinity));
  const cut = Array.from({ length: k + 1 }, () => new Array<number>(n + 1).fill(0));
  best[0][0] = 0;
  for (let j = 1; j <= k; j++) {
    for (let i = j; i <= n; i++) {
      for (let p = j - 1; p < i; p++) {
        const v = Math.max(best[j - 1][p], prefix[i] - prefix[p]);
        if (v < best[j][i]) ((best[j][i] = v), (cut[j][i] = p));
      }
    }
  }
  const sizes: number[] = [];
  for (let j = k, i = n; j > 0; j--) {
    const p = cut[j][i];
    sizes.unshift(i - p);
    i = p;
  }
  return sizes;
}

describe('the bisected plan is the scanned one', () => {
  it('on 400 random chains (ties, zero costs, more stages than blocks), cut for cut', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 400; trial++) {
      const blocks = 1 + Math.floor(rng.uniform(0, 12));
      // costs from a few values, zeros included, so that ties and plateaus are common
      const costs = Array.from({ length: blocks }, () => [0, 1, 2, 3, 5, 8][Math.floor(rng.uniform(0, 6))] * (trial % 3 === 0 ? 1 : 1000));
      const count = 1 + Math.floor(rng.uniform(0, 6));
      const sizes = referencePlan(costs, count);
      expect(planFromCosts(costs, count), `costs ${costs.join(',')} in ${count}`).toEqual(sizes);
    }
  });
});

/** planStages on a topology whose blocks cost exactly `costs` (a stub topology: only what the planner reads). */
function planFromCosts(costs: number[], count: number): number[] {
  // a graph of one node per block, its cost n.inputs × n.units × 2 (no node upstream) = cost when inputs = cost / 2, units = 1
  const nodes = costs.map((c, i) => ({
    index: i,
    actor: `layer:${i}`,
    inputs: c / 2,
    units: 1,
    sources: [{ node: -1 }],
    outputs: [] as number[],
  }));
  const topology = { nodes, heads: [], edges: [], synthesizers: [] } as unknown as Parameters<typeof planStages>[0];
  return planStages(topology, count).map((s) => s.actors.length);
}
