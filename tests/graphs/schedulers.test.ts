/**
 * A scheduler changes when things run, never what is computed, on any graph: random graphs
 * (fan-out, concat and sum merges, input skips, 1-3 weighted heads of both losses, backprop, dni
 * and cdni on any edge including node→head, delays 0-2, MLP synthesizers and Adam sometimes) give
 * bit-identical parameters, losses and synthesizer losses under `queue`, `async` and `worker`
 * (its default plan, and a random plan by node ids), and in the bare loop. The same with the
 * paper's other unlocks drawn on: forward synthesizers (`forward`, `complete` edges, delays 0-2,
 * MLP ones sometimes), λ and warm-ups.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import type { Dataset } from '../../lib/data.ts';
import { type Graph, defineGraph } from '../../lib/graph.ts';
import { buildNetwork } from '../../lib/network.ts';
import { type ParameterSet, initParameters } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { dataOf, featuresOf, graphOf, rawGraph, rawUnlockGraph, unlockFeaturesOf, unlockGraphOf } from './_arbitraries.ts';

const STEPS = 12;

interface Outcome {
  losses: number[];
  synthesizerLosses: number[];
  params: Record<string, Float32Array>;
  error?: string;
}

const outcome = (r: Pick<TrainingResult, 'losses' | 'synthesizerLosses' | 'params'>): Outcome => ({
  losses: Array.from(r.losses),
  synthesizerLosses: Array.from(r.synthesizerLosses),
  params: Object.fromEntries(Object.entries(r.params).map(([k, m]) => [k, m.data])),
});

async function run(
  graph: Graph,
  data: Dataset,
  params: ParameterSet,
  scheduler: Parameters<typeof train>[0]['scheduler'],
): Promise<Outcome> {
  return train({ topology: graph, data, params, steps: STEPS, scheduler }).then(outcome, (e: Error) => ({
    losses: [],
    synthesizerLosses: [],
    params: {},
    error: `${e.name}: ${e.message}`,
  }));
}

function bare(graph: Graph, data: Dataset, params: ParameterSet): Outcome {
  try {
    const net = buildNetwork(graph, params);
    return { ...outcome({ ...trainSequential(net, data, STEPS), params: net.params }) };
  } catch (e) {
    return { losses: [], synthesizerLosses: [], params: {}, error: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

function expectSameBits(want: Outcome, got: Outcome, what: string): void {
  expect(got.error, `${what}: error`).toBe(want.error);
  expect(got.losses, `${what}: losses`).toEqual(want.losses);
  expect(got.synthesizerLosses, `${what}: synthesizer losses`).toEqual(want.synthesizerLosses);
  expect(Object.keys(got.params).sort(), `${what}: keys`).toEqual(Object.keys(want.params).sort());
  for (const k of Object.keys(want.params)) expect(got.params[k], `${what}: ${k}`).toEqual(want.params[k]);
}

/**
 * A random plan by node ids: each node (with its synthesizers and heads) on one of two stages (each stage thread costs ~0.7 s to
 * start); sometimes one synthesizer placed apart by name.
 */
function randomPlan(graph: Graph, seed: number): string[][] {
  const rng = new Rng(seed),
    count = 2;
  const stages: string[][] = Array.from({ length: count }, () => []);
  graph.nodes.forEach((n, i) => stages[i < count ? i : rng.nextUint32() % count].push(n.id));
  if (graph.synthesizers.length && count > 1 && rng.next() < 0.5) {
    const s = graph.synthesizers[rng.nextUint32() % graph.synthesizers.length];
    const home = stages.findIndex((st) => st.includes(graph.nodes[s.from].id));
    stages[(home + 1) % count].push(s.actor);
  }
  return rng.shuffle(stages);
}

describe('random graphs: every scheduler, same bits', () => {
  it('queue, async and the bare loop', async () => {
    const seen = new Map<string, number>();
    let diverged = 0;
    await fc.assert(
      fc.asyncProperty(rawGraph, async (raw) => {
        const drawn = graphOf(raw, { interfaces: true });
        for (const f of featuresOf(drawn.spec)) seen.set(f, (seen.get(f) ?? 0) + 1);
        const graph = defineGraph(drawn.spec),
          data = dataOf(drawn, raw.seed),
          params = initParameters(graph, raw.seed);
        const queue = await run(graph, data, params, 'queue');
        if (queue.error) diverged++; // then every scheduler must fail the same way
        expectSameBits(queue, await run(graph, data, params, 'async'), 'async');
        expectSameBits(queue, bare(graph, data, params), 'bare loop');
      }),
      { numRuns: 80, seed: 16_2026 },
    );
    expect(diverged).toBe(0);
    for (const f of [
      'sum merge',
      'concat of several',
      'input skip',
      'fan-out',
      'several heads',
      'softmax head',
      'dni',
      'cdni',
      'decoupled edge into a head',
      'delay 2',
      'MLP synthesizer',
      'Adam',
      'fully decoupled node',
    ]) {
      expect(seen.get(f) ?? 0, `graphs with ${f}`).toBeGreaterThanOrEqual(5);
    }
  });

  it('worker: the default plan and a random plan by node ids', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        rawGraph.filter((r) => r.nodes.length >= 3),
        async (raw) => {
          const drawn = graphOf(raw, { interfaces: true });
          for (const f of featuresOf(drawn.spec)) seen.set(f, (seen.get(f) ?? 0) + 1);
          const graph = defineGraph(drawn.spec),
            data = dataOf(drawn, raw.seed),
            params = initParameters(graph, raw.seed);
          const queue = await run(graph, data, params, 'queue');
          expect(queue.error).toBeUndefined();
          expectSameBits(queue, await run(graph, data, params, 'worker'), 'worker');
          const stages = randomPlan(graph, raw.seed);
          expectSameBits(queue, await run(graph, data, params, { name: 'worker', stages }), `worker, plan ${JSON.stringify(stages)}`);
        },
      ),
      // two worker trainings per run (~0.5-1 s each): a handful, on graphs with several nodes
      { numRuns: 3, seed: 16_2027 },
    );
    for (const f of ['dni', 'cdni', 'fan-out', 'delay 2']) expect(seen.get(f) ?? 0, `graphs with ${f}`).toBeGreaterThan(0);
  });

  it('with forward and complete unlocks, λ and warm-ups: queue, async and the bare loop', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(rawUnlockGraph, async (raw) => {
        const drawn = unlockGraphOf(raw);
        for (const f of unlockFeaturesOf(drawn.spec)) seen.set(f, (seen.get(f) ?? 0) + 1);
        const graph = defineGraph(drawn.spec),
          data = dataOf(drawn, raw.graph.seed),
          params = initParameters(graph, raw.graph.seed);
        const queue = await run(graph, data, params, 'queue');
        expectSameBits(queue, await run(graph, data, params, 'async'), 'async');
        expectSameBits(queue, bare(graph, data, params), 'bare loop');
      }),
      { numRuns: 60, seed: 22_2026 },
    );
    for (const f of ['forward', 'complete', '0 < λ < 1', 'λ = 1', 'warm-up', 'forward delay', 'MLP forward synthesizer']) {
      expect(seen.get(f) ?? 0, `graphs with ${f}`).toBeGreaterThanOrEqual(5);
    }
  });

  it('with forward and complete unlocks, λ and warm-ups: worker, the default plan and a random plan by node ids', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(
        rawUnlockGraph.filter((r) => r.graph.nodes.length >= 3),
        async (raw) => {
          const drawn = unlockGraphOf(raw);
          for (const f of unlockFeaturesOf(drawn.spec)) seen.set(f, (seen.get(f) ?? 0) + 1);
          const graph = defineGraph(drawn.spec),
            data = dataOf(drawn, raw.graph.seed),
            params = initParameters(graph, raw.graph.seed);
          const queue = await run(graph, data, params, 'queue');
          expect(queue.error).toBeUndefined();
          expectSameBits(queue, await run(graph, data, params, 'worker'), 'worker');
          const stages = randomPlan(graph, raw.graph.seed);
          expectSameBits(queue, await run(graph, data, params, { name: 'worker', stages }), `worker, plan ${JSON.stringify(stages)}`);
        },
      ),
      // three worker trainings per run: a handful
      { numRuns: 3, seed: 22_2027 },
    );
    for (const f of ['forward', 'complete']) expect(seen.get(f) ?? 0, `graphs with ${f}`).toBeGreaterThan(0);
  }, 240_000);
});
