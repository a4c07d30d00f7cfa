/**
 * Reference cases: the JSON format of `shared/reference/*.json`, made by an independent numpy
 * implementation. A chain's `config` has `sizes`, `activations`, `decoupled`, `conditioned`,
 * `delay`, `batch`, `lr`, `lr_synthesizer`, `steps`; a graph's (`config.kind = "graph"`) has
 * `inputs`, `batch`, `lr`, `lr_synthesizer`, `steps` and the graph itself: `nodes`, `heads`,
 * `interfaces`, exactly a {@link GraphSpec}'s fields, and its `y` is an object of label sets.
 * Then `x`, `y`, `initial`; the expected `final`, `losses` and `synthesizer_losses` are optional
 * (a case to run need not carry its answers).
 */
import type { Activation } from './activations.ts';
import type { Dataset } from './data.ts';
import { TopologyError } from './errors.ts';
import { type GraphSpec, type HeadSpec, type InterfaceSpec, type NodeSpec, defineGraph } from './graph.ts';
import { type Matrix, describeValue, fromNested, release } from './matrix.ts';
import { type ParameterJSON, type ParameterSet, parametersFromJSON } from './params.ts';
import { type Topology, defineTopology } from './topology.ts';
import { show } from './validate.ts';

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
  if (c === null || typeof c !== 'object' || Array.isArray(c)) throw new TopologyError(`${name}: not a case (expected an object with config, x, y, initial)`);
  const cfg = c.config;
  if (!cfg || typeof cfg !== 'object') throw new TopologyError(`${name}: no 'config' object`);
  const kind = (cfg as { kind?: unknown }).kind;
  if (kind !== undefined && kind !== 'graph') {
    throw new TopologyError(`${name}: config.kind ${show(kind)} is not a case this loader runs (it runs dense chains and kind 'graph')`);
  }
  if (!Number.isInteger(cfg.steps) || cfg.steps < 0) throw new TopologyError(`${name}: config.steps must be an integer >= 0, got ${show(cfg.steps)}`);
  if (!Array.isArray(c.x)) throw new TopologyError(`${name}: 'x' must be an array of rows, got ${describeValue(c.x)}`);
  if (kind === 'graph' ? c.y === null || typeof c.y !== 'object' || Array.isArray(c.y) : !Array.isArray(c.y)) {
    throw new TopologyError(`${name}: 'y' must be ${kind === 'graph' ? "an object of label sets (a graph case's)" : 'an array of rows'}, got ${describeValue(c.y)}`);
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
  if (!Array.isArray(sizes) || sizes.length < 2) throw new TopologyError(`${name}: config.sizes must list at least two sizes (or config.kind must say what the case is)`);
  const n = sizes.length - 1;
  for (const [key, v] of [['activations', activations], ['decoupled', decoupled]] as const) {
    if (!Array.isArray(v) || v.length !== n) {
      throw new TopologyError(`${name}: config.${key} must have one entry per layer (${n}), got ${JSON.stringify(v)}`);
    }
  }
  decoupled!.forEach((d, i) => {
    if (typeof d !== 'boolean') throw new TopologyError(`${name}: config.decoupled[${i}] is ${describeValue(d)}, expected true or false`);
  });
  if (cfg.conditioned !== undefined && typeof cfg.conditioned !== 'boolean') {
    throw new TopologyError(`${name}: config.conditioned is ${describeValue(cfg.conditioned)}, expected true or false`);
  }
  const labels = Array.isArray(c.y) && Array.isArray(c.y[0]) ? c.y[0].length : sizes[n];
  try {
    return defineTopology({
      inputs: sizes[0],
      batch: cfg.batch,
      lr: cfg.lr,
      labels,
      synthesizer: { conditioned: cfg.conditioned ?? false, delay: cfg.delay ?? 0, lr: cfg.lr_synthesizer },
      layers: sizes.slice(1).map((units, i) => ({ units, activation: activations![i], decoupled: decoupled![i] })),
    });
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}

function graphOf(cfg: ReferenceConfig, name: string): Topology {
  const spec: GraphSpec = {
    inputs: cfg.inputs as number,
    batch: cfg.batch,
    lr: cfg.lr,
    synthesizer: { lr: cfg.lr_synthesizer },
    nodes: cfg.nodes as NodeSpec[],
    heads: cfg.heads as HeadSpec[],
    interfaces: cfg.interfaces ?? [],
  };
  try {
    return defineGraph(spec);
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}

function matrixOf(v: unknown, key: string, name: string): Matrix {
  if (!Array.isArray(v) || v.length === 0 || !Array.isArray(v[0])) throw new TopologyError(`${name}: '${key}' must be a non-empty array of rows, got ${describeValue(v)}`);
  try {
    return fromNested(v as number[][], key);
  } catch (e) {
    throw new TopologyError(`${name}: ${(e as Error).message}`);
  }
}
