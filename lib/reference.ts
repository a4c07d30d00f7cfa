/**
 * Reference cases: the JSON format of `reference/*.json`, made by an independent numpy
 * implementation. A chain's `config` has `sizes`, `activations`, `decoupled`, `conditioned`,
 * `delay`, `batch`, `lr`, `lr_synthesizer`, `steps`; a graph's (`config.kind = "graph"`) has
 * `inputs`, `batch`, `lr`, `lr_synthesizer`, `steps` and the graph itself: `nodes`, `heads`,
 * `interfaces`, exactly a {@link GraphSpec}'s fields, and its `y` is an object of label sets.
 * A case states every one of these (a missing or unknown key is refused by name, not defaulted);
 * `seed` and `bits` only describe how the data were drawn and may be left out.
 * Then `x`, `y`, `initial`; the expected `final`, `losses` and `synthesizer_losses` are optional
 * (a case to run need not carry its answers). {@link graphCase} writes a graph made in code as a case.
 */
import type { Activation } from './activations.ts';
import { type Dataset, labelSet, validateDataset } from './data.ts';
import { TopologyError } from './errors.ts';
import {
  type GraphSpec,
  type HeadSpec,
  type InterfaceSpec,
  type NodeSpec,
  consumerId,
  defineGraph,
  graphSpecOf,
  isGraph,
} from './graph.ts';
import { type Matrix, describeValue, firstNonFinite, fromNested, release, shapeOf, toNested } from './matrix.ts';
import type { OptimizerConfig } from './optimizers.ts';
import { type ParameterJSON, type ParameterSet, parameterShapes, parametersFromJSON, parametersToJSON } from './params.ts';
import { type RecurrentCase, loadRecurrentCase } from './recurrent/case.ts';
import { recurrentParametersFromJSON, recurrentParametersToJSON } from './recurrent/params.ts';
import type { Sequences } from './recurrent/sequences.ts';
import type { RecurrentTopology } from './recurrent/topology.ts';
import { type Topology, defineTopology } from './topology.ts';
import { caseKeys, show } from './validate.ts';

export interface ReferenceConfig {
  /** absent for a chain */
  kind?: 'graph';
  sizes?: number[];
  activations?: Activation[];
  decoupled?: boolean[];
  conditioned?: boolean;
  delay?: number;
  inputs?: number;
  nodes?: NodeSpec[];
  heads?: HeadSpec[];
  interfaces?: InterfaceSpec[];
  batch: number;
  lr: number;
  lr_synthesizer: number;
  steps: number;
}

export interface ReferenceCase {
  case?: string;
  config: ReferenceConfig;
  x: number[][];
  /** a chain's label rows, or a graph's label sets by name */
  y: number[][] | Record<string, number[][]>;
  initial: ParameterJSON;
  final?: ParameterJSON;
  losses?: number[];
  synthesizer_losses?: number[];
}

export interface LoadedCase {
  name: string;
  topology: Topology;
  data: Dataset;
  initial: ParameterSet;
  steps: number;
}

/** Turn a case's config into a topology and check its data and parameters against it. */
export function loadCase(c: ReferenceCase, name = typeof c?.case === 'string' ? c.case : 'case'): LoadedCase {
  if (c === null || typeof c !== 'object' || Array.isArray(c))
    throw new TopologyError(`${name}: not a case (expected an object with config, x, y, initial)`);
  const cfg = c.config;
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new TopologyError(`${name}: no 'config' object`);
  const kind = (cfg as { kind?: unknown }).kind;
  if (kind !== undefined && kind !== 'graph') {
    throw new TopologyError(
      `${name}: config.kind ${show(kind)} is not a case this loader runs (it runs dense chains, kind 'graph' and kind 'rnn')`,
    );
  }
  const keys = CONFIG_KEYS[kind === 'graph' ? 'graph' : 'chain'];
  caseKeys(cfg as unknown as Record<string, unknown>, keys.required, keys.optional, `${name}: config`);
  if (!Number.isInteger(cfg.steps) || cfg.steps < 0)
    throw new TopologyError(`${name}: config.steps must be an integer >= 0, got ${show(cfg.steps)}`);
  if (!Array.isArray(c.x)) throw new TopologyError(`${name}: 'x' must be an array of rows, got ${describeValue(c.x)}`);
  if (kind === 'graph' ? c.y === null || typeof c.y !== 'object' || Array.isArray(c.y) : !Array.isArray(c.y)) {
    throw new TopologyError(
      `${name}: 'y' must be ${kind === 'graph' ? "an object of label sets (a graph case's)" : 'an array of rows'}, ` +
        `got ${describeValue(c.y)}`,
    );
  }
  const topology = kind === 'graph' ? graphOf(cfg, name) : chainOf(c, name);
  const made: Matrix[] = [];
  const rows = (v: unknown, key: string) => {
    const m = matrixOf(v, key, name);
    made.push(m);
    return m;
  };
  try {
    const x = rows(c.x, 'x');
    const y = Array.isArray(c.y) ? rows(c.y, 'y') : Object.fromEntries(Object.entries(c.y).map(([k, v]) => [k, rows(v, `y.${k}`)]));
    return { name, topology, data: { x, y }, initial: parametersFromJSON(c.initial, topology, 'initial'), steps: cfg.steps };
  } catch (e) {
    made.forEach((m) => release(m)); // the WebAssembly arena collects no garbage
    throw e;
  }
}

function chainOf(c: ReferenceCase, name: string): Topology {
  const cfg = c.config;
  const { sizes, activations, decoupled } = cfg;
  if (!Array.isArray(sizes) || sizes.length < 2)
    throw new TopologyError(`${name}: config.sizes must list at least two sizes (or config.kind must say what the case is)`);
  const n = sizes.length - 1;
  for (const [key, v] of [
    ['activations', activations],
    ['decoupled', decoupled],
  ] as const) {
    if (!Array.isArray(v) || v.length !== n) {
      throw new TopologyError(`${name}: config.${key} must have one entry per layer (${n}), got ${JSON.stringify(v)}`);
    }
  }
  decoupled!.forEach((d, i) => {
    if (typeof d !== 'boolean') throw new TopologyError(`${name}: config.decoupled[${i}] is ${describeValue(d)}, expected true or false`);
  });
  if (typeof cfg.conditioned !== 'boolean') {
    throw new TopologyError(`${name}: config.conditioned is ${describeValue(cfg.conditioned)}, expected true or false`);
  }
  const labels = Array.isArray(c.y) && Array.isArray(c.y[0]) ? c.y[0].length : sizes[n];
  try {
    return defineTopology({
      inputs: sizes[0],
      batch: cfg.batch,
      lr: cfg.lr,
      labels,
      synthesizer: { conditioned: cfg.conditioned, delay: cfg.delay, lr: cfg.lr_synthesizer },
      layers: sizes.slice(1).map((units, i) => ({ units, activation: activations![i], decoupled: decoupled![i] })),
    });
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}

/** The fields a graph case's nodes, heads and interfaces hold (docs/maths.md, "Graphs"): nothing the numpy side would not read. */
const CASE_FIELDS = {
  nodes: { required: ['id', 'units', 'activation', 'inputs', 'merge'], optional: [] },
  heads: { required: ['id', 'node', 'loss', 'labels', 'weight'], optional: [] },
  interfaces: { required: ['from', 'to', 'kind', 'delay'], optional: ['context', 'lambda', 'warmup'] },
} as const;

/** The keys of each kind of case's config: what it needs, and what only describes it (how the numpy side drew its data). */
const CONFIG_KEYS = {
  chain: {
    required: ['sizes', 'activations', 'decoupled', 'conditioned', 'delay', 'batch', 'lr', 'lr_synthesizer', 'steps'],
    optional: ['seed', 'bits'],
  },
  graph: {
    required: ['kind', 'inputs', 'batch', 'lr', 'lr_synthesizer', 'steps', 'nodes', 'heads', 'interfaces'],
    optional: ['seed', 'bits'],
  },
} as const;

function graphOf(cfg: ReferenceConfig, name: string): Topology {
  // a per-node lr, an optimiser, an MLP synthesizer or clipping would train here and be ignored by
  // an independent implementation of the format: refused, by name
  for (const [field, keys] of Object.entries(CASE_FIELDS)) {
    const list = cfg[field as keyof typeof CASE_FIELDS];
    if (!Array.isArray(list)) continue; // defineGraph says what is wrong
    list.forEach((o: unknown, i: number) => {
      if (o === null || typeof o !== 'object' || Array.isArray(o)) return;
      caseKeys(
        o as Record<string, unknown>,
        keys.required,
        keys.optional,
        `${name}: config.${field}[${i}]`,
        `its ${field} have ${[...keys.required, ...keys.optional].join(', ')}; one lr for every node, config.lr, and one for every ` +
          `synthesizer, config.lr_synthesizer`,
      );
    });
  }
  const spec: GraphSpec = {
    inputs: cfg.inputs as number,
    batch: cfg.batch,
    lr: cfg.lr,
    synthesizer: { lr: cfg.lr_synthesizer },
    nodes: cfg.nodes as NodeSpec[],
    heads: cfg.heads as HeadSpec[],
    interfaces: cfg.interfaces as InterfaceSpec[],
  };
  try {
    return defineGraph(spec);
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}

function matrixOf(v: unknown, key: string, name: string): Matrix {
  if (!Array.isArray(v) || v.length === 0 || !Array.isArray(v[0]))
    throw new TopologyError(`${name}: '${key}' must be a non-empty array of rows, got ${describeValue(v)}`);
  try {
    return fromNested(v as number[][], key);
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}

/** What a training answered: its result, or anything with these fields. */
export interface CaseAnswers {
  /** the final parameters (pending refits applied), keyed as the topology keys them */
  readonly params: ParameterSet;
  readonly losses: ArrayLike<number>;
  readonly synthesizerLosses: ArrayLike<number>;
}

/**
 * A graph made in code as a graph case (docs/maths.md, "Graphs"; `config.kind = "graph"`), which
 * {@link loadCase}, `npm run reference` and the independent `bench/dni_numpy.py` all run: its
 * config (`inputs`, `batch`, `lr`, `lr_synthesizer`, `steps`, and `nodes`, `heads`, `interfaces`
 * from {@link graphSpecOf}), `x`, `y` as label sets, `initial`, and, when `answers` are given (a
 * training's result), `losses`, `synthesizer_losses` and `final`. A chain from defineTopology is
 * written as the graph it is, its synthesizers' keys renamed (`synth0.M` → `synth:layer0>layer1.M`).
 *
 * The format has plain SGD with one learning rate for every node and one for every synthesizer,
 * linear synthesizers and no clipping: a graph using anything else is refused, by name (a
 * TopologyError), as is data that cannot feed it (a DataError), before anything is written.
 *
 * @example
 * const initial = initParameters(graph, 7);
 * const result = await train({ topology: graph, data, params: initial, steps: 200 });
 * writeFileSync('my-graph.json', JSON.stringify(graphCase(graph, data, initial, 200, result)));
 * // npm run reference -- my-graph.json --out ours.json
 * // python3 bench/dni_numpy.py my-graph.json --emit numpy.json
 */
export function graphCase(
  topology: Topology,
  data: Dataset,
  initial: ParameterSet,
  steps: number,
  answers?: CaseAnswers,
  name = 'graph',
): ReferenceCase {
  if (!isGraph(topology)) throw new TopologyError('graphCase: expected a topology from defineGraph or defineTopology');
  if (!Number.isInteger(steps) || steps < 0) throw new TopologyError(`graphCase: steps must be an integer >= 0, got ${show(steps)}`);
  const g = topology;
  const optimizerName = (o: OptimizerConfig) => (o.kind === 'sgd' ? `SGD with momentum ${o.momentum}` : o.kind);
  for (const n of g.nodes) {
    if (n.optimizer)
      throw new TopologyError(`graphCase: node '${n.id}' learns with ${optimizerName(n.optimizer)}; a case file has plain SGD only`);
  }
  for (const e of g.edges) {
    const f = g.synthesizers[e.forward],
      s = g.synthesizers[e.synthesizer];
    if (f && s && f.delay !== s.delay)
      throw new TopologyError(
        `graphCase: interface '${e.name}' is complete with a forward delay ${f.delay} and a backward delay ${s.delay}; a case file has ` +
          `one delay per interface`,
      );
  }
  for (const s of g.synthesizers) {
    if (s.optimizer)
      throw new TopologyError(
        `graphCase: synthesizer '${s.name}' is refitted with ${optimizerName(s.optimizer)}; a case file has plain SGD only`,
      );
    if (s.hidden)
      throw new TopologyError(
        `graphCase: synthesizer '${s.name}' is an MLP (hidden ${s.hidden.join(', ')}); a case file's synthesizers are linear`,
      );
    if (s.clip !== undefined)
      throw new TopologyError(`graphCase: synthesizer '${s.name}' clips its predictions (clip ${s.clip}); a case file has no clipping`);
  }
  const one = (what: string, lrs: { id: string; lr: number }[], fallback: number) => {
    if (new Set(lrs.map((x) => x.lr)).size > 1) {
      throw new TopologyError(
        `graphCase: the ${what}' learning rates differ (${lrs.map((x) => `${x.id} ${x.lr}`).join(', ')}); a case file has one for every ` +
          `${what.slice(0, -1)}`,
      );
    }
    return lrs[0]?.lr ?? fallback;
  };
  const lr = one(
    'nodes',
    g.nodes.map((n) => ({ id: n.id, lr: n.lr })),
    0.1,
  );
  const lrSynthesizer = one(
    'synthesizers',
    g.synthesizers.map((s) => ({ id: s.name, lr: s.lr })),
    0.01,
  );
  validateDataset(data, g);

  // the topology's parameter keys as a graph's (a chain's synth{i} is synth:{from}>{to})
  const keyOf = new Map<string, string>();
  for (const n of g.nodes) for (const f of ['W', 'b']) keyOf.set(`${n.key}.${f}`, `${n.id}.${f}`);
  for (const s of g.synthesizers) {
    const e = g.edges[s.edge];
    for (const f of ['M', 'c', 'N'])
      keyOf.set(`${s.key}.${f}`, `${s.forward ? 'fwd' : 'synth'}:${g.nodes[e.from].id}>${consumerId(g, e)}.${f}`);
  }
  const parameters = (p: ParameterSet, what: string): ParameterJSON => {
    if (p === null || typeof p !== 'object') throw new TopologyError(`graphCase: ${what} must be a parameter set, got ${describeValue(p)}`);
    const out: ParameterJSON = {};
    for (const s of parameterShapes(g)) {
      const m = p[s.key];
      if (!m) throw new TopologyError(`graphCase: ${what}: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
      if (m.data.length !== s.rows * s.cols)
        throw new TopologyError(`graphCase: ${what}: '${s.key}' is ${shapeOf(m)}, the topology needs ${s.rows}x${s.cols}`);
      const at = firstNonFinite(m.data);
      if (at >= 0) throw new TopologyError(`graphCase: ${what}: '${s.key}' holds ${m.data[at]} at element ${at}`);
      out[keyOf.get(s.key)!] = toNested({ rows: s.rows, cols: s.cols, data: m.data }, s.vector);
    }
    return out;
  };
  const numbers = (v: ArrayLike<number>, what: string): number[] => {
    const a = Array.from(v ?? []);
    if (a.length !== steps) throw new TopologyError(`graphCase: answers: ${what} has ${a.length} values for ${steps} steps`);
    const bad = a.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new TopologyError(`graphCase: answers: ${what}[${bad}] is ${a[bad]}`);
    return a;
  };

  const spec = graphSpecOf(g);
  const c: ReferenceCase = {
    case: name,
    config: {
      kind: 'graph',
      inputs: g.inputs,
      batch: g.batch,
      lr,
      lr_synthesizer: lrSynthesizer,
      steps,
      nodes: spec.nodes.map(({ id, units, activation, inputs, merge }) => ({ id, units, activation, inputs, merge })),
      heads: spec.heads.map(({ id, node, loss, labels, weight }) => ({ id, node, loss, labels, weight })),
      interfaces: (spec.interfaces ?? []).map(({ from, to, kind, delay, context, lambda, warmup }) => ({
        from,
        to,
        kind,
        delay,
        ...(context !== undefined ? { context } : {}),
        ...(lambda !== undefined ? { lambda } : {}),
        ...(warmup !== undefined ? { warmup } : {}),
      })),
    },
    x: toNested(data.x) as number[][],
    y: Object.fromEntries(g.labels.map((l) => [l.name, toNested(labelSet(data, l.name)) as number[][]])),
    initial: parameters(initial, 'initial'),
  };
  if (answers) {
    c.losses = numbers(answers.losses, 'losses');
    c.synthesizer_losses = numbers(answers.synthesizerLosses, 'synthesizer losses');
    c.final = parameters(answers.params, 'answers: params');
  }
  return c;
}

/** A case of any kind, loaded: a chain or graph ({@link loadCase}), or a recurrent one (`config.kind = "rnn"`). */
export type AnyLoadedCase =
  | (LoadedCase & { readonly kind: 'dense' })
  | {
      readonly kind: 'rnn';
      readonly name: string;
      readonly topology: RecurrentTopology;
      readonly data: Sequences;
      readonly initial: ParameterSet;
      readonly steps: number;
    };

/**
 * Load a case of any kind: `config.kind = "rnn"` through {@link loadRecurrentCase}, anything else
 * through {@link loadCase}.
 */
export function loadAnyCase(c: ReferenceCase | RecurrentCase, name?: string): AnyLoadedCase {
  if ((c as RecurrentCase)?.config?.kind === 'rnn') {
    const r = loadRecurrentCase(c as RecurrentCase, name ?? (typeof c.case === 'string' ? c.case : 'case'));
    return { kind: 'rnn', name: r.name, topology: r.topology, data: r.sequences, initial: r.initial, steps: r.steps };
  }
  return { kind: 'dense', ...loadCase(c as ReferenceCase, name) };
}

/** A loaded case's parameters as case-file JSON. */
export function caseParametersToJSON(c: AnyLoadedCase, params: ParameterSet): ParameterJSON {
  return c.kind === 'rnn' ? recurrentParametersToJSON(c.topology, params) : parametersToJSON(params, c.topology);
}

/** Parameters in case-file JSON (a case's `final`), checked against a loaded case's topology. */
export function caseParametersFromJSON(c: AnyLoadedCase, json: ParameterJSON, what: string): ParameterSet {
  if (c.kind === 'dense') return parametersFromJSON(json, c.topology, what);
  try {
    return recurrentParametersFromJSON(c.topology, json);
  } catch (e) {
    throw new TopologyError(`${what}: ${(e as Error).message.replace(/^parameters: /, '')}`);
  }
}
