/**
 * The paper's other unlocks on graph edges (DESIGN.md, "Unlocks and mixing on graph edges"):
 * graph-unlock.json (a complete unlock, a forward synthesizer with delay 1, a dni edge with
 * λ = 0.5 and one with a 100-step warm-up) reproduced by the bare loop within GRAPH_TOLERANCE (3e-6) of the
 * independent numpy implementation; λ = 1, or a warm-up longer than the run, gives backprop's
 * node parameters bit for bit.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphSummary } from '../../actors/inspect/summarize.ts';
import { compareWithCase } from '../../lib/compare.ts';
import { trueGradientInterfaces } from '../../lib/gradient-quality.ts';
import type { TrainingMetrics } from '../../actors/trainer/metrics.ts';
import { createTraining, train } from '../../actors/trainer/training.ts';
import { readCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { type GraphSpec, type InterfaceSpec, defineGraph } from '../../lib/graph.ts';
import { buildNetwork } from '../../lib/network.ts';
import { initParameters, parameterShapes, parametersToJSON } from '../../lib/params.ts';
import { type ReferenceCase, graphCase, loadCase } from '../../lib/reference.ts';
import { GRAPH_TOLERANCE, HAS_NUMPY, NO_NUMPY, deviations, numpy } from './_numpy.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { type TopologySpec, defineTopology } from '../../lib/topology.ts';
import { REFERENCE_DIR } from '../helpers.ts';

export const UNLOCK_CASE = join(REFERENCE_DIR, 'graph-unlock.json');
const unlock = JSON.parse(readFileSync(UNLOCK_CASE, 'utf8')) as ReferenceCase;

/** Relative deviation with a floor (as tests/reference.test.ts). */
export function maxRelative(got: ArrayLike<number>, want: readonly number[]): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-3));
  return m;
}

describe('graph-unlock.json in the bare loop', () => {
  it(
    `reproduces the final parameters (forward synthesizers included), ` + `the losses and the synthesizer losses within ${GRAPH_TOLERANCE}`,
    () => {
      const c = loadCase(unlock, 'graph-unlock');
      expect(c.topology.synthesizers.map((s) => `${s.actor} ${s.key}`)).toEqual([
        'synthesizer:l0>l1 synth:l0>l1',
        'synthesizer:l1>m synth:l1>m',
        'synthesizer:m>o synth:m>o',
        'forward:l0>l1 fwd:l0>l1',
        'forward:l2>m fwd:l2>m',
      ]);
      const net = buildNetwork(c.topology, c.initial);
      const r = trainSequential(net, c.data, c.steps);
      const final = parametersToJSON(net.params, c.topology);
      expect(Object.keys(final).sort()).toEqual(Object.keys(unlock.final!).sort());
      const d = compareWithCase({ final, losses: Array.from(r.losses), synthesizer_losses: Array.from(r.synthesizerLosses) }, unlock);
      expect(d.maxParamDiff, `worst parameter ${d.worstParam}`).toBeLessThan(GRAPH_TOLERANCE);
      expect(maxRelative(r.losses, unlock.losses!)).toBeLessThan(GRAPH_TOLERANCE);
      expect(maxRelative(r.synthesizerLosses, unlock.synthesizer_losses!)).toBeLessThan(GRAPH_TOLERANCE);
    },
  );
});

/** graph-unlock's graph with its interfaces replaced */
function withInterfaces(interfaces: InterfaceSpec[]): GraphSpec {
  const cfg = unlock.config;
  return {
    inputs: cfg.inputs!,
    batch: cfg.batch,
    lr: cfg.lr,
    synthesizer: { lr: cfg.lr_synthesizer },
    nodes: cfg.nodes!,
    heads: cfg.heads!,
    interfaces,
  };
}

/** The node parameters after `steps` of the bare loop, from graph-unlock's data and node weights (synthesizers start at zero). */
function nodeParams(spec: GraphSpec, steps: number): Record<string, Float32Array> {
  const c = loadCase(unlock, 'graph-unlock');
  const g = defineGraph(spec);
  const initial = { ...initParameters(g, 1), ...Object.fromEntries(Object.entries(c.initial).filter(([k]) => !k.includes(':'))) };
  const net = buildNetwork(g, initial);
  trainSequential(net, c.data, steps);
  return Object.fromEntries(g.nodes.flatMap((n) => [`${n.key}.W`, `${n.key}.b`].map((k) => [k, net.params[k].data])));
}

describe('mixing: λ = 1, or a warm-up longer than the run, is backprop', () => {
  const steps = 60;
  const backprop = nodeParams(withInterfaces([]), steps);
  it.each([
    ['λ = 1 on every edge', [{ lambda: 1 }, { lambda: 1 }, { lambda: 1, delay: 2 }]],
    ['a warm-up longer than the run', [{ warmup: steps }, { warmup: steps + 5, delay: 1 }, { warmup: 1000 }]],
  ] as const)('%s gives backprop’s node parameters bit for bit', (_, mixing) => {
    const edges = [
      { from: 'l0', to: 'l1', kind: 'dni' },
      { from: 'l1', to: 'm', kind: 'dni' },
      { from: 'm', to: 'o', kind: 'dni' },
    ] as const;
    const mixed = nodeParams(withInterfaces(edges.map((e, i) => ({ ...e, ...mixing[i] }))), steps);
    for (const k of Object.keys(backprop)) expect(mixed[k], k).toEqual(backprop[k]);
  });

  it('λ = 0.5 is neither (a test that could fail: mixing changes the parameters)', () => {
    const mixed = nodeParams(withInterfaces([{ from: 'm', to: 'o', kind: 'dni', lambda: 0.5 }]), steps);
    expect(mixed['m.W']).not.toEqual(backprop['m.W']);
  });
});

describe('the chain sugar: a layer’s interface may be a complete unlock', () => {
  it('defineTopology({ complete: true }) puts a synthesizer and a forward synthesizer after the layer, with the chain’s names', () => {
    const t = defineTopology({
      inputs: 24,
      batch: 10,
      layers: [
        { units: 32, complete: true, synthesizer: { forward: { delay: 1 } } },
        { units: 16, decoupled: true, synthesizer: { warmup: 5 } },
        { units: 12 },
      ],
    });
    expect(t.synthesizers.map((s) => [s.actor, s.key, s.forward, s.inputs, s.units, s.delay])).toEqual([
      ['synthesizer:0', 'synth0', false, 32, 32, 0],
      ['synthesizer:1', 'synth1', false, 16, 16, 0],
      ['forward:0', 'fwd0', true, 24, 32, 1],
    ]);
    expect(
      parameterShapes(t)
        .filter((p) => p.key.startsWith('fwd'))
        .map((p) => `${p.key} ${p.rows}x${p.cols}`),
    ).toEqual(['fwd0.M 24x32', 'fwd0.c 1x32']);
    expect(t.edges.map((e) => [e.name, e.forward, e.warmup])).toEqual([
      ['layer0>layer1', 2, 0],
      ['layer1>layer2', -1, 5],
      ['layer2>head', -1, 0],
    ]);
    expect(t.nodes[1].decoupled).toBe(false); // it waits for the true gradient during the warm-up
  });

  it.each([
    [
      'on the last layer',
      [{ units: 8 }, { units: 12, complete: true }],
      'layer 1: complete is true, but it is the last layer: the head scores its real output, so nothing could read a synthetic one',
    ],
    [
      'with decoupled: false',
      [{ units: 8, complete: true, decoupled: false }, { units: 12 }],
      'layer 0: complete is true but decoupled is false (a complete unlock decouples the layer too)',
    ],
    ['as a string', [{ units: 8, complete: 'yes' }, { units: 12 }], "layer 0: complete must be true or false, got 'yes'"],
    [
      'with forward options on a dni layer',
      [{ units: 8, decoupled: true, synthesizer: { forward: { delay: 1 } } }, { units: 12 }],
      'layer 0: synthesizer forward options given but the layer is not a complete unlock (set complete: true)',
    ],
    [
      'with λ above 1',
      [{ units: 8, complete: true, synthesizer: { lambda: 2 } }, { units: 12 }],
      "interface 'layer0' → 'layer1': lambda must be a number in [0, 1] (0: the synthetic gradient only, 1: the true one only), got 2",
    ],
  ])('is refused by name %s', (_, layers, message) => {
    expect(() => defineTopology({ inputs: 4, batch: 2, layers } as TopologySpec)).toThrow(
      new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
    );
  });
});

describe('the inspector’s picture of a graph carries the unlocks', () => {
  it('graphSummary names each edge’s forward synthesizer, λ and warm-up', () => {
    const g = loadCase(unlock, 'graph-unlock').topology;
    const edges = graphSummary(g).edges as {
      from: string;
      to: string;
      synthesizer: string | null;
      forward?: string;
      lambda?: number;
      warmup?: number;
    }[];
    expect(edges.map((e) => [e.from, e.to, e.synthesizer, e.forward ?? null, e.lambda ?? 0, e.warmup ?? 0])).toEqual([
      ['layer:l0', 'layer:l1', 'synthesizer:l0>l1', 'forward:l0>l1', 0, 0],
      ['layer:l1', 'layer:m', 'synthesizer:l1>m', null, 0.5, 0],
      ['layer:l2', 'layer:m', null, 'forward:l2>m', 0, 0],
      ['layer:m', 'layer:o', 'synthesizer:m>o', null, 0, 100],
      ['layer:o', 'head:sum', null, null, 0, 0],
    ]);
  });
});

describe('metrics with forward synthesizers', () => {
  it('the cosine with the true gradient is for gradient synthesizers only (a forward synthesizer predicts an input)', () => {
    const g = loadCase(unlock, 'graph-unlock').topology;
    expect(trueGradientInterfaces(g).map((s) => s.actor)).toEqual(['synthesizer:m>o']);
  });

  it('a training with complete unlocks streams its metrics: the synthesizer loss sums the forward synthesizers’ too', async () => {
    const c = loadCase(unlock, 'graph-unlock');
    const training = createTraining({ topology: c.topology, data: c.data, params: c.initial, steps: 20 });
    const seen: TrainingMetrics[] = [];
    training.metrics$.subscribe((m) => seen.push(m));
    const r = await training.run();
    expect(seen.map((m) => m.synthesizerLoss)).toEqual(Array.from(r.synthesizerLosses));
    expect(seen[0].synthesizerLoss).toBeCloseTo(unlock.synthesizer_losses![0], 4);
    expect(Object.keys(seen[19].cosine)).toEqual(['m>o']);
  });
});

describe('checkpoints carry forward synthesizers', () => {
  it(
    'a chain with complete unlocks, Adam, an MLP forward synthesizer with delay 2 and a warm-up: ' +
      'saved at step 23 and resumed, the bits of the unbroken run',
    async () => {
      const topology = defineTopology({
        inputs: 24,
        batch: 10,
        optimizer: { kind: 'adam', lr: 1e-2 },
        synthesizer: { optimizer: { kind: 'adam', lr: 1e-3 }, forward: { hidden: [16], delay: 2 } },
        layers: [{ units: 32, complete: true }, { units: 16, complete: true, synthesizer: { warmup: 30 } }, { units: 12 }],
      });
      const data = binaryAddition(200, 12),
        params = initParameters(topology, 3);
      const path = join(mkdtempSync(join(tmpdir(), 'dni-unlock-ckpt-')), 'run.ckpt');
      const unbroken = await train({ topology, data, params, steps: 60, checkpoint: { path, at: [23] } });
      expect(Object.keys(readCheckpoint(path).synthesizers).sort()).toEqual(['forward:0', 'forward:1', 'synthesizer:0', 'synthesizer:1']);
      const resumed = await train({ topology, data, steps: 60, resume: path, scheduler: 'async' });
      expect(Array.from(resumed.synthesizerLosses)).toEqual(Array.from(unbroken.synthesizerLosses));
      for (const k of Object.keys(unbroken.params)) expect(resumed.params[k].data, k).toEqual(unbroken.params[k].data);
      expect(Object.keys(unbroken.params)).toEqual(expect.arrayContaining(['fwd0.M', 'fwd0.hidden0.W', 'fwd1.c']));
    },
  );
});

describe('a graph with unlocks made in code, saved as a case, against the independent numpy implementation', () => {
  // a complete unlock with a context, a forward synthesizer into a sum merge with delay 2, λ on an edge into a head, a warm-up on a concat
  const SPEC: GraphSpec = {
    inputs: 6,
    batch: 5,
    lr: 0.3,
    synthesizer: { lr: 0.05 },
    nodes: [
      { id: 'trunk', units: 8, activation: 'tanh', inputs: ['input'] },
      { id: 'side', units: 8, activation: 'relu', inputs: ['input'] },
      { id: 's', units: 8, activation: 'sigmoid', inputs: ['trunk', 'side'], merge: 'sum' },
      { id: 'out', units: 3, activation: 'sigmoid', inputs: ['s', 'trunk'] },
    ],
    heads: [{ id: 'bits', node: 'out' }],
    interfaces: [
      { from: 'trunk', to: 's', kind: 'complete', context: 'bits', delay: 1 },
      { from: 'side', to: 's', kind: 'forward', delay: 2 },
      { from: 'trunk', to: 'out', kind: 'dni', warmup: 7 },
      { from: 'out', to: 'bits', kind: 'dni', lambda: 0.25 },
    ],
  };

  it.skipIf(!HAS_NUMPY)(
    `agrees within ${GRAPH_TOLERANCE} (actors, worker scheduler)${HAS_NUMPY ? '' : NO_NUMPY}`,
    async () => {
      const graph = defineGraph(SPEC),
        steps = 40,
        sums = binaryAddition(40, 3),
        initial = initParameters(graph, 5);
      const d = { x: sums.x, y: { bits: sums.y } };
      const original = await train({ topology: graph, data: d, params: initial, steps, scheduler: { name: 'worker', stages: 2 } });
      const dir = mkdtempSync(join(tmpdir(), 'dni-unlock-case-')),
        path = join(dir, 'case.json'),
        out = join(dir, 'numpy.json');
      writeFileSync(path, JSON.stringify(graphCase(graph, d, initial, steps, original)));
      numpy([path, '--emit', out]);
      const c = JSON.parse(readFileSync(path, 'utf8')) as ReferenceCase,
        theirs = JSON.parse(readFileSync(out, 'utf8'));
      expect(c.config.interfaces).toHaveLength(4);
      expect(c.config.interfaces).toEqual(expect.arrayContaining(SPEC.interfaces!.map((i) => ({ delay: 0, ...i }))));
      const dev = deviations({ final: c.final!, losses: c.losses!, synthesizer_losses: c.synthesizer_losses! }, theirs);
      expect(dev.param, `worst ${dev.worstParam}`).toBeLessThan(GRAPH_TOLERANCE);
      expect(dev.loss).toBeLessThan(GRAPH_TOLERANCE);
      expect(dev.synthesizerLoss).toBeLessThan(GRAPH_TOLERANCE);
      expect(Object.keys(c.final!)).toEqual(expect.arrayContaining(['fwd:trunk>s.M', 'fwd:side>s.c', 'synth:trunk>s.N']));
      // and it trained: the parameters moved well past the tolerance
      expect(
        deviations({ final: c.initial, losses: [], synthesizer_losses: [] }, { final: c.final!, losses: [], synthesizer_losses: [] }).param,
      ).toBeGreaterThan(1e-2);
    },
    120_000,
  );
});
