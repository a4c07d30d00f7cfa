/**
 * A graph made in code can be saved as a case (graphCase, lib/reference.ts): defineGraph →
 * graphCase → JSON → loadCase → train gives the bits of training the original; a chain is saved
 * as the graph it is; the independent numpy implementation runs such a case and agrees within
 * GRAPH_TOLERANCE (3e-6); what the case format cannot express is refused by name, and a case file holding it too.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import type { Dataset } from '../../lib/data.ts';
import { DataError, TopologyError } from '../../lib/errors.ts';
import { type GraphSpec, defineGraph } from '../../lib/graph.ts';
import { type Matrix, zeros } from '../../lib/matrix.ts';
import { initParameters } from '../../lib/params.ts';
import { type ReferenceCase, graphCase, loadCase } from '../../lib/reference.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology } from '../../lib/topology.ts';
import { GRAPH_TOLERANCE, HAS_NUMPY, NO_NUMPY, deviations, numpy } from './_numpy.ts';

/** fan-out, a sum and a concat with an input skip, two weighted heads, dni/cdni with delays, an interface into a head */
const SPEC: GraphSpec = {
  inputs: 6,
  batch: 5,
  lr: 0.3,
  synthesizer: { lr: 0.02 },
  nodes: [
    { id: 'trunk', units: 8, activation: 'tanh', inputs: ['input'] },
    { id: 'a', units: 8, activation: 'sigmoid', inputs: ['trunk'] },
    { id: 'b', units: 5, activation: 'relu', inputs: ['input', 'trunk'] },
    { id: 's', units: 3, activation: 'sigmoid', inputs: ['a', 'trunk'], merge: 'sum' },
    { id: 'logits', units: 4, activation: 'linear', inputs: ['b', 'input'] },
  ],
  heads: [
    { id: 'bits', node: 's' },
    { id: 'class', node: 'logits', loss: 'softmax-cross-entropy', weight: 0.5 },
  ],
  interfaces: [
    { from: 'trunk', to: 'a', kind: 'dni', delay: 1 },
    { from: 'trunk', to: 'b', kind: 'cdni', context: 'class', delay: 2 },
    { from: 'a', to: 's', kind: 'dni' },
    { from: 's', to: 'bits', kind: 'cdni', context: 'bits' },
  ],
};
const STEPS = 60;

function dataFor(rows: number, widths: Record<string, [number, boolean]>, inputs: number, seed: number): Dataset {
  const rng = new Rng(seed),
    x = zeros(rows, inputs),
    y: Record<string, Matrix> = {};
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
  for (const [name, [w, oneHot]] of Object.entries(widths)) {
    const m = (y[name] = zeros(rows, w));
    for (let r = 0; r < rows; r++) {
      if (oneHot) m.data[r * w + (rng.nextUint32() % w)] = 1;
      else for (let j = 0; j < w; j++) m.data[r * w + j] = rng.next() < 0.5 ? 0 : 1;
    }
  }
  return { x, y };
}

function expectSameBits(a: TrainingResult, b: TrainingResult, keyOf: (k: string) => string = (k) => k): void {
  expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
  expect(Array.from(b.synthesizerLosses)).toEqual(Array.from(a.synthesizerLosses));
  expect(Object.keys(b.params).sort()).toEqual(Object.keys(a.params).map(keyOf).sort());
  for (const k of Object.keys(a.params)) expect(b.params[keyOf(k)].data, k).toEqual(a.params[k].data);
}

/** through JSON text, as a file would hold it */
const viaText = (c: ReferenceCase) => JSON.parse(JSON.stringify(c)) as ReferenceCase;

describe('graphCase: a graph made in code, saved as a case', () => {
  const graph = defineGraph(SPEC),
    data = dataFor(40, { bits: [3, false], class: [4, true] }, 6, 3),
    initial = initParameters(graph, 9);

  it('round-trips: loading the case and training it gives the bits of training the original', async () => {
    const original = await train({ topology: graph, data, params: initial, steps: STEPS });
    const c = viaText(graphCase(graph, data, initial, STEPS, original, 'made-in-code'));
    expect(c.config).toMatchObject({ kind: 'graph', inputs: 6, batch: 5, lr: 0.3, lr_synthesizer: 0.02, steps: STEPS });
    expect(c.config.interfaces).toEqual([
      { from: 'trunk', to: 'a', kind: 'dni', delay: 1 },
      { from: 'trunk', to: 'b', kind: 'cdni', context: 'class', delay: 2 },
      { from: 'a', to: 's', kind: 'dni', delay: 0 },
      { from: 's', to: 'bits', kind: 'cdni', context: 'bits', delay: 0 },
    ]);
    expect(Object.keys(c.y)).toEqual(['bits', 'class']);
    const loaded = loadCase(c);
    expect(loaded.name).toBe('made-in-code');
    const again = await train({ topology: loaded.topology, data: loaded.data, params: loaded.initial, steps: loaded.steps });
    expectSameBits(original, again);
    // the answers it holds are the original's numbers
    expect(c.losses).toEqual(Array.from(original.losses));
    expect(c.final!['synth:trunk>b.N']).toEqual(
      Array.from({ length: 4 }, (_, i) => Array.from(original.params['synth:trunk>b.N'].data.subarray(i * 8, i * 8 + 8))),
    );
  });

  it("takes an interface listed explicitly as backprop with delay 0 (the format's own fields) as the edge it is anyway", async () => {
    const original = await train({ topology: graph, data, params: initial, steps: STEPS });
    const c = viaText(graphCase(graph, data, initial, STEPS, original));
    c.config.interfaces!.push({ from: 'trunk', to: 's', kind: 'backprop', delay: 0 });
    const loaded = loadCase(c);
    expect(loaded.topology).toEqual(graph);
    expectSameBits(original, await train({ topology: loaded.topology, data: loaded.data, params: loaded.initial, steps: loaded.steps }));
    // a lag on a backprop edge still means nothing, and is refused
    (c.config.interfaces![4] as { delay: number }).delay = 1;
    expect(() => loadCase(c)).toThrow(/interface 'trunk' → 's': a backprop interface has no synthesizer, so 'delay' means nothing there/);
  });

  it('writes a chain as the graph it is, synthesizer keys renamed', async () => {
    const chain = defineTopology({
      inputs: 6,
      batch: 5,
      lr: 0.3,
      synthesizer: { lr: 0.02, conditioned: true, delay: 1 },
      layers: [{ units: 7, activation: 'tanh', decoupled: true }, { units: 5, decoupled: true }, { units: 3 }],
    });
    const chainData = { x: data.x, y: (data.y as Record<string, Matrix>).bits },
      chainInitial = initParameters(chain, 4);
    const c = viaText(graphCase(chain, chainData, chainInitial, STEPS));
    expect(c.config.interfaces!.map((i) => `${i.from}>${i.to} ${i.kind}[${i.context}] ${i.delay}`)).toEqual([
      'layer0>layer1 cdni[head] 1',
      'layer1>layer2 cdni[head] 1',
    ]);
    expect(Object.keys(c.initial)).toContain('synth:layer1>layer2.N');
    const loaded = loadCase(c);
    expect(loaded.topology.naming).toBe('graph');
    const keyOf = (k: string) => k.replace(/^synth(\d)\./, (_, i) => `synth:layer${i}>layer${+i + 1}.`);
    expectSameBits(
      await train({ topology: chain, data: chainData, params: chainInitial, steps: STEPS }),
      await train({ topology: loaded.topology, data: loaded.data, params: loaded.initial, steps: loaded.steps }),
      keyOf,
    );
  });

  it.skipIf(!HAS_NUMPY)(
    `is a case the independent numpy implementation runs, within ${GRAPH_TOLERANCE}${HAS_NUMPY ? '' : NO_NUMPY}`,
    async () => {
      const original = await train({ topology: graph, data, params: initial, steps: STEPS });
      const dir = mkdtempSync(join(tmpdir(), 'dni-graph-case-')),
        path = join(dir, 'case.json'),
        out = join(dir, 'numpy.json');
      writeFileSync(path, JSON.stringify(graphCase(graph, data, initial, STEPS, original)));
      numpy([path, '--emit', out]);
      const theirs = JSON.parse(readFileSync(out, 'utf8'));
      const c = JSON.parse(readFileSync(path, 'utf8')) as ReferenceCase;
      const d = deviations({ final: c.final!, losses: c.losses!, synthesizer_losses: c.synthesizer_losses! }, theirs);
      expect(d.param, `worst ${d.worstParam}`).toBeLessThan(GRAPH_TOLERANCE);
      expect(d.loss).toBeLessThan(GRAPH_TOLERANCE);
      expect(d.synthesizerLoss).toBeLessThan(GRAPH_TOLERANCE);
      console.log(
        `graphCase vs numpy: worst parameter ${d.param.toExponential(1)}, loss ${d.loss.toExponential(1)}, ` +
          `synthesizer loss ${d.synthesizerLoss.toExponential(1)}`,
      );
      // and it trained: the parameters moved well past the tolerance
      expect(
        deviations({ final: c.initial, losses: [], synthesizer_losses: [] }, { final: c.final!, losses: [], synthesizer_losses: [] }).param,
      ).toBeGreaterThan(1e-2);
    },
  );

  it('refuses, by name, what the case format cannot express, and data that cannot feed the graph', () => {
    const with_ = (edit: (s: GraphSpec) => GraphSpec) => defineGraph(edit(structuredClone(SPEC) as GraphSpec));
    const refuse = (
      g: ReturnType<typeof defineGraph>,
      message: string,
      d: Dataset = data,
      kind: typeof TopologyError | typeof DataError = TopologyError,
    ) => {
      const init = initParameters(g, 1);
      expect(() => graphCase(g, d, init, STEPS)).toThrow(kind);
      expect(() => graphCase(g, d, init, STEPS)).toThrow(message);
    };
    refuse(
      with_((s) => ({ ...s, nodes: s.nodes.map((n) => (n.id === 'b' ? { ...n, lr: 0.1 } : n)) })),
      "graphCase: the nodes' learning rates differ (trunk 0.3, a 0.3, b 0.1, s 0.3, logits 0.3); a case file has one for every node",
    );
    refuse(
      with_((s) => ({ ...s, interfaces: s.interfaces!.map((i, k) => (k === 2 ? { ...i, lr: 0.5 } : i)) })),
      "graphCase: the synthesizers' learning rates differ (trunk>a 0.02, trunk>b 0.02, a>s 0.5, s>bits 0.02); " +
        'a case file has one for every synthesizer',
    );
    refuse(
      with_((s) => ({ ...s, lr: undefined, optimizer: { kind: 'adam', lr: 1e-3 } })),
      "graphCase: node 'trunk' learns with adam; a case file has plain SGD only",
    );
    refuse(
      with_((s) => ({
        ...s,
        nodes: s.nodes.map((n) => (n.id === 'logits' ? { ...n, optimizer: { kind: 'sgd', lr: 0.3, momentum: 0.9 } } : n)),
      })),
      "graphCase: node 'logits' learns with SGD with momentum 0.9; a case file has plain SGD only",
    );
    refuse(
      with_((s) => ({ ...s, synthesizer: { optimizer: { kind: 'adam', lr: 1e-3 } } })),
      "graphCase: synthesizer 'trunk>a' is refitted with adam; a case file has plain SGD only",
    );
    refuse(
      with_((s) => ({ ...s, interfaces: s.interfaces!.map((i, k) => (k === 1 ? { ...i, hidden: [6] } : i)) })),
      "graphCase: synthesizer 'trunk>b' is an MLP (hidden 6); a case file's synthesizers are linear",
    );
    refuse(
      with_((s) => ({ ...s, interfaces: s.interfaces!.map((i, k) => (k === 3 ? { ...i, clip: 2 } : i)) })),
      "graphCase: synthesizer 's>bits' clips its predictions (clip 2); a case file has no clipping",
    );
    refuse(
      graph,
      "data: y has no label set 'class' (a matrix), which head 'class' reads",
      { x: data.x, y: { bits: (data.y as Record<string, Matrix>).bits } },
      DataError,
    );
    expect(() => graphCase(graph, data, { ...initial, 'a.W': undefined as never }, STEPS)).toThrow(
      "graphCase: initial: 'a.W' is missing (the topology needs 8x8)",
    );
    expect(() => graphCase(graph, data, initial, STEPS, { params: initial, losses: [1, 2], synthesizerLosses: [] })).toThrow(
      'graphCase: answers: losses has 2 values for 60 steps',
    );
  });

  it('a case file whose graph holds what the format cannot express is refused by loadCase, by name', () => {
    const c = viaText(graphCase(graph, data, initial, STEPS));
    const bad = (edit: (c: ReferenceCase) => void) => {
      const copy = structuredClone(c);
      edit(copy);
      return () => loadCase(copy, 'bad');
    };
    expect(bad((k) => Object.assign(k.config.nodes![2], { lr: 0.1 }))).toThrow(
      "bad: config.nodes[2] has 'lr', which a case file does not hold " +
        '(its nodes have id, units, activation, inputs, merge; ' +
        'one lr for every node, config.lr, and one for every synthesizer, config.lr_synthesizer)',
    );
    expect(bad((k) => Object.assign(k.config.interfaces![1], { hidden: [4] }))).toThrow(
      "bad: config.interfaces[1] has 'hidden', which a case file does not hold " +
        '(its interfaces have from, to, kind, delay, context, lambda, warmup;',
    );
    expect(bad((k) => Object.assign(k.config.heads![0], { lr: 1 }))).toThrow("bad: config.heads[0] has 'lr'");
  });
});
