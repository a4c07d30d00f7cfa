/**
 * Bad graphs and bad graph data: refused before anything runs, with a named error (TopologyError,
 * DataError) whose one-line message names the node, head, edge or label set and what is wrong;
 * a training asked to checkpoint writes nothing.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTraining } from '../../actors/trainer/training.ts';
import type { Dataset } from '../../lib/data.ts';
import { DataError, TopologyError } from '../../lib/errors.ts';
import { type GraphSpec, defineGraph } from '../../lib/graph.ts';
import { type Matrix, fromArray, zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';

/** trunk fans out to a (dni) and b; s sums b and trunk (cdni from trunk); heads bits (mse on a) and class (softmax on s, weight 0.5) */
export const VALID: GraphSpec = {
  inputs: 4,
  batch: 2,
  nodes: [
    { id: 'trunk', units: 6, activation: 'tanh', inputs: ['input'] },
    { id: 'a', units: 3, inputs: ['trunk'] },
    { id: 'b', units: 6, activation: 'relu', inputs: ['trunk', 'input'] },
    { id: 's', units: 2, activation: 'linear', inputs: ['b', 'trunk'], merge: 'sum' },
  ],
  heads: [
    { id: 'bits', node: 'a' },
    { id: 'class', node: 's', loss: 'softmax-cross-entropy', weight: 0.5 },
  ],
  interfaces: [
    { from: 'trunk', to: 'a', kind: 'dni' },
    { from: 'trunk', to: 's', kind: 'cdni', context: 'class', delay: 1 },
  ],
};

/** 8 rows for VALID: x 8x4, bits 8x3 in [0, 1], class one-hot 8x2 */
export function validData(seed = 1): { x: Matrix; y: { bits: Matrix; class: Matrix } } {
  const rng = new Rng(seed),
    x = zeros(8, 4),
    bits = zeros(8, 3),
    cls = zeros(8, 2);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
  for (let i = 0; i < bits.data.length; i++) bits.data[i] = rng.next();
  for (let r = 0; r < 8; r++) cls.data[r * 2 + (r % 2)] = 1;
  return { x, y: { bits, class: cls } };
}

type Json = Record<string, any>;
const edit = (change: (s: Json) => void): GraphSpec => {
  const s = structuredClone(VALID) as Json;
  change(s);
  return s as GraphSpec;
};

/** [what is wrong, the spec, the exact message] */
const BAD_GRAPHS: [string, GraphSpec, string][] = [
  ['a cycle', edit((s) => (s.nodes[0].inputs = ['input', 'b'])), "graph: nodes 'b' → 'trunk' → 'b' form a cycle"],
  ['a node reading itself', edit((s) => (s.nodes[1].inputs = ['a'])), "node 'a': it reads its own output (a cycle)"],
  [
    'an unknown source',
    edit((s) => (s.nodes[1].inputs = ['trunkk'])),
    "node 'a': input 'trunkk' is not a node (nodes: trunk, a, b, s; or 'input' for the data)",
  ],
  ['a source listed twice', edit((s) => (s.nodes[2].inputs = ['trunk', 'trunk'])), "node 'b': input 'trunk' is listed twice"],
  [
    'a node with no path from the inputs (no sources)',
    edit((s) => (s.nodes[1].inputs = [])),
    "node 'a': inputs must list its sources (node ids or 'input'), got []",
  ],
  ['a head on an unknown node', edit((s) => (s.heads[0].node = 'aa')), "head 'bits': node 'aa' is not a node (nodes: trunk, a, b, s)"],
  [
    'widths that differ at a sum',
    edit((s) => (s.nodes[3].inputs = ['b', 'a'])),
    "node 's': a sum merge needs sources of one width, got b (6), a (3)",
  ],
  [
    'a node that reaches no head',
    edit((s) => s.nodes.push({ id: 'lonely', units: 2, inputs: ['trunk'] })),
    "node 'lonely': its output feeds no node and no head, so it would never learn",
  ],
  [
    'a cdni context naming no head',
    edit((s) => (s.interfaces[1].context = 'digits')),
    "interface 'trunk' → 's': a cdni interface needs a context naming a head (heads: bits, class), got 'digits'",
  ],
  [
    'a cdni without a context',
    edit((s) => delete s.interfaces[1].context),
    "interface 'trunk' → 's': a cdni interface needs a context naming a head (heads: bits, class), got undefined",
  ],
  [
    'a context on a dni interface',
    edit((s) => (s.interfaces[0].context = 'bits')),
    "interface 'trunk' → 'a': context 'bits' given, but only a cdni or complete interface's synthesizer sees labels",
  ],
  [
    'an interface to an unknown node',
    edit((s) => (s.interfaces[0].to = 'b2')),
    "interface 'trunk' → 'b2': to 'b2' is neither a node nor a head (nodes: trunk, a, b, s; heads: bits, class)",
  ],
  [
    'an interface from an unknown node',
    edit((s) => (s.interfaces[0].from = 'x')),
    "interface 'x' → 'a': from 'x' is not a node (nodes: trunk, a, b, s)",
  ],
  [
    'an interface on an edge that does not exist',
    edit((s) => (s.interfaces[0].to = 'class')),
    "interface 'trunk' → 'class': there is no such edge ('class' does not read 'trunk')",
  ],
  [
    'two interfaces on one edge',
    edit((s) => s.interfaces.push({ from: 'trunk', to: 'a', kind: 'dni' })),
    "interface 'trunk' → 'a': the edge has two interfaces",
  ],
  [
    'a delay on a backprop edge',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'backprop', delay: 1 })),
    "interface 'b' → 's': a backprop interface has no synthesizer, so 'delay' means nothing there",
  ],
  [
    'an unknown interface kind',
    edit((s) => (s.interfaces[0].kind = 'sdni')),
    "interface 'trunk' → 'a': kind: unknown 'sdni' (expected one of backprop, dni, cdni, forward, complete)",
  ],
  ['a negative delay', edit((s) => (s.interfaces[0].delay = -1)), "interface 'trunk' → 'a': delay must be an integer >= 0, got -1"],
  [
    'a softmax head on a sigmoid node',
    edit((s) => (s.nodes[3].activation = 'sigmoid')),
    "head 'class': the softmax-cross-entropy head applies the softmax itself, so node 's' must be 'linear' (its logits), got 'sigmoid'",
  ],
  [
    'two widths for one label set',
    edit((s) => (s.heads[1].labels = 'bits')),
    "head 'class': label set 'bits' is 3 wide for another head, but node 's' has 2 outputs",
  ],
  ['a head and a node of one id', edit((s) => (s.heads[0].id = 'a')), "head 0: id 'a' is used twice"],
  [
    'a node called input',
    edit((s) => (s.nodes[1].id = 'input')),
    "node 1: id must be letters, digits, '_' or '-' (and not 'input'), got 'input'",
  ],
  ['an unknown merge', edit((s) => (s.nodes[2].merge = 'max')), "node 'b': merge: unknown 'max' (expected one of concat, sum)"],
  [
    'an unknown loss',
    edit((s) => (s.heads[0].loss = 'hinge')),
    "head 'bits': loss: unknown 'hinge' (expected one of mse, softmax-cross-entropy)",
  ],
  ['a head weight of 0', edit((s) => (s.heads[0].weight = 0)), "head 'bits': weight must be a finite number > 0, got 0"],
  [
    'a misspelt option',
    edit((s) => (s.nodes[1].unit = 3)),
    "node 'a': unknown option 'unit' (it takes id, units, activation, inputs, merge, lr, optimizer); did you mean 'units'?",
  ],
  ['no heads', edit((s) => (s.heads = [])), 'graph: heads must be a non-empty array of { id, node, loss, ... }'],
  [
    'a forward interface into a head',
    edit((s) => s.interfaces.push({ from: 'a', to: 'bits', kind: 'forward' })),
    "interface 'a' → 'bits': " +
      "a forward interface gives a node a synthetic input, but 'bits' is a head (a head scores its node's real output)",
  ],
  [
    'a complete interface into a head',
    edit((s) => s.interfaces.push({ from: 'a', to: 'bits', kind: 'complete' })),
    "interface 'a' → 'bits': " +
      "a complete interface gives a node a synthetic input, but 'bits' is a head (a head scores its node's real output)",
  ],
  [
    'λ above 1',
    edit((s) => (s.interfaces[0].lambda = 1.5)),
    "interface 'trunk' → 'a': lambda must be a number in [0, 1] (0: the synthetic gradient only, 1: the true one only), got 1.5",
  ],
  [
    'λ below 0',
    edit((s) => (s.interfaces[1].lambda = -0.1)),
    "interface 'trunk' → 's': lambda must be a number in [0, 1] (0: the synthetic gradient only, 1: the true one only), got -0.1",
  ],
  [
    'λ as a string',
    edit((s) => (s.interfaces[0].lambda = '0.5')),
    "interface 'trunk' → 'a': lambda must be a number in [0, 1] (0: the synthetic gradient only, 1: the true one only), got '0.5'",
  ],
  [
    'a negative warm-up',
    edit((s) => (s.interfaces[0].warmup = -1)),
    "interface 'trunk' → 'a': warmup (the number of steps that use the true gradient) must be an integer >= 0, got -1",
  ],
  [
    'a fractional warm-up',
    edit((s) => (s.interfaces[0].warmup = 2.5)),
    "interface 'trunk' → 'a': warmup (the number of steps that use the true gradient) must be an integer >= 0, got 2.5",
  ],
  [
    'λ on a forward interface',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'forward', lambda: 0.5 })),
    "interface 'b' → 's': 'lambda' mixes the true gradient into a synthetic one, but a forward interface has no backward synthesizer",
  ],
  [
    'a warm-up on a backprop edge',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'backprop', warmup: 3 })),
    "interface 'b' → 's': a backprop interface has no synthesizer, so 'warmup' means nothing there",
  ],
  [
    'forward options on a dni interface',
    edit((s) => (s.interfaces[0].forward = { delay: 1 })),
    "interface 'trunk' → 'a': forward synthesizer options given, but a dni interface has no forward synthesizer",
  ],
  [
    'a misspelt forward option',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'complete', forward: { delya: 1 } })),
    "interface 'b' → 's': forward: unknown option 'delya' (it takes delay, lr, optimizer, hidden, activation, clip); did you mean 'delay'?",
  ],
  [
    'a negative forward delay',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'complete', forward: { delay: -2 } })),
    "interface 'b' → 's': forward synthesizer: delay must be an integer >= 0, got -2",
  ],
  [
    'a context on a forward interface',
    edit((s) => s.interfaces.push({ from: 'b', to: 's', kind: 'forward', context: 'bits' })),
    "interface 'b' → 's': context 'bits' given, but only a cdni or complete interface's synthesizer sees labels",
  ],
];

describe('bad graphs are refused by name before anything runs', () => {
  it('the valid graph the table breaks is accepted', async () => {
    const r = await createTraining({ topology: VALID, data: validData(), steps: 4 }).run();
    expect(Array.from(r.losses).map(Number.isFinite)).toEqual([true, true, true, true]);
  });

  it.each(BAD_GRAPHS)('%s', (_, spec, message) => {
    expect(() => defineGraph(spec)).toThrow(TopologyError);
    expect(() => defineGraph(spec)).toThrow(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    // the same through a training asked to checkpoint: refused, and nothing written
    const dir = mkdtempSync(join(tmpdir(), 'dni-bad-graph-'));
    expect(() =>
      createTraining({ topology: spec, data: validData(), steps: 4, checkpoint: { path: join(dir, 'run.ckpt'), every: 1 } }),
    ).toThrow(message);
    expect(readdirSync(dir)).toEqual([]);
  });
});

/** [what is wrong, the data, the error class, the exact message] */
const BAD_DATA: [string, () => Dataset, typeof DataError, string][] = [
  [
    'a missing label set',
    () => ({ x: validData().x, y: { bits: validData().y.bits } }),
    DataError,
    "data: y has no label set 'class' (a matrix), which head 'class' reads",
  ],
  [
    'a label set of the wrong width',
    () => ({ ...validData(), y: { ...validData().y, class: zeros(8, 3) } }),
    DataError,
    "data: y.class is 8x3 but head 'class' takes labels of width 2",
  ],
  [
    'y as one matrix for two label sets',
    () => ({ x: validData().x, y: validData().y.bits }),
    DataError,
    'data: y is one matrix, but the heads read 2 label sets (bits, class): give y as { bits: Matrix, class: Matrix }',
  ],
  [
    'rows that are not one-hot for a softmax head',
    () => ({ ...validData(), y: { ...validData().y, class: fromArray(8, 2, [0.5, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]) } }),
    DataError,
    'data: y.class row 0 sums to 0.5; ' +
      'the softmax-cross-entropy head needs one-hot (or probability) rows: make them with oneHot(classes, 2)',
  ],
  [
    'a negative label for a softmax head',
    () => ({ ...validData(), y: { ...validData().y, class: fromArray(8, 2, [1, 0, 2, -1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0]) } }),
    DataError,
    'data: y.class row 1 has a negative entry; ' +
      'the softmax-cross-entropy head needs one-hot (or probability) rows: make them with oneHot(classes, 2)',
  ],
  ['x of the wrong width', () => ({ ...validData(), x: zeros(8, 5) }), DataError, "data: x is 8x5 but node 'trunk' takes 4 inputs"],
  [
    'a label set with fewer rows than x',
    () => ({ ...validData(), y: { ...validData().y, bits: zeros(7, 3) } }),
    DataError,
    'data: x has 8 rows but y.bits has 7',
  ],
  [
    'a NaN in a label set',
    () => {
      const d = validData();
      d.y.bits.data[5] = NaN;
      return d;
    },
    DataError,
    'data: y.bits[1, 2] is NaN',
  ],
];

describe('bad graph data is refused by name before anything runs', () => {
  it.each(BAD_DATA)('%s', (_, data, kind, message) => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-bad-data-'));
    const make = () => createTraining({ topology: VALID, data: data(), steps: 4, checkpoint: { path: join(dir, 'run.ckpt'), every: 1 } });
    expect(make).toThrow(kind);
    expect(make).toThrow(new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(readdirSync(dir)).toEqual([]);
  });
});
