/**
 * Reference cases: the JSON format of `shared/reference/*.json`, made by an independent numpy
 * implementation. `config` (sizes, activations, decoupled, conditioned, delay, batch, lr,
 * lr_synthesizer, steps), `x`, `y`, `initial`; the expected `final`, `losses` and
 * `synthesizer_losses` are optional (a case to run need not carry its answers).
 */
import type { Dataset } from './data.ts';
import { TopologyError } from './errors.ts';
import { type Matrix, describeValue, fromNested, release } from './matrix.ts';
import { type ParameterJSON, type ParameterSet, parametersFromJSON } from './params.ts';
import { type Topology, defineTopology } from './topology.ts';
import type { Activation } from './activations.ts';

export interface ReferenceConfig {
  sizes: number[];
  activations: Activation[];
  decoupled: boolean[];
  conditioned?: boolean;
  delay?: number;
  batch: number;
  lr: number;
  lr_synthesizer: number;
  steps: number;
}

export interface ReferenceCase {
  case?: string;
  config: ReferenceConfig;
  x: number[][];
  y: number[][];
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
  const cfg = c?.config;
  if (!cfg || typeof cfg !== 'object') throw new TopologyError(`${name}: no 'config' object`);
  const { sizes, activations, decoupled } = cfg;
  if (!Array.isArray(sizes) || sizes.length < 2) throw new TopologyError(`${name}: config.sizes must list at least two sizes`);
  const n = sizes.length - 1;
  for (const [key, v] of [['activations', activations], ['decoupled', decoupled]] as const) {
    if (!Array.isArray(v) || v.length !== n) {
      throw new TopologyError(`${name}: config.${key} must have one entry per layer (${n}), got ${JSON.stringify(v)}`);
    }
  }
  decoupled.forEach((d, i) => {
    if (typeof d !== 'boolean') throw new TopologyError(`${name}: config.decoupled[${i}] is ${describeValue(d)}, expected true or false`);
  });
  if (cfg.conditioned !== undefined && typeof cfg.conditioned !== 'boolean') {
    throw new TopologyError(`${name}: config.conditioned is ${describeValue(cfg.conditioned)}, expected true or false`);
  }
  if (!Number.isInteger(cfg.steps) || cfg.steps < 0) throw new TopologyError(`${name}: config.steps must be an integer >= 0, got ${describeValue(cfg.steps)}`);
  const rows = (v: unknown, key: string) => {
    if (!Array.isArray(v) || v.length === 0 || !Array.isArray(v[0])) throw new TopologyError(`${name}: '${key}' must be a non-empty array of rows, got ${describeValue(v)}`);
    try {
      return fromNested(v as number[][], key);
    } catch (e) {
      throw new TopologyError(`${name}: ${(e as Error).message}`);
    }
  };
  if (!Array.isArray(c.x) || !Array.isArray(c.y)) throw new TopologyError(`${name}: 'x' and 'y' must be arrays of rows`);
  const topology = defineTopology({
    inputs: sizes[0],
    batch: cfg.batch,
    lr: cfg.lr,
    labels: c.y[0]?.length ?? sizes[n],
    synthesizer: { conditioned: Boolean(cfg.conditioned), delay: cfg.delay ?? 0, lr: cfg.lr_synthesizer },
    layers: sizes.slice(1).map((units, i) => ({ units, activation: activations[i], decoupled: Boolean(decoupled[i]) })),
  });
  const made: Matrix[] = [];
  try {
    const x = rows(c.x, 'x');
    made.push(x);
    const y = rows(c.y, 'y');
    made.push(y);
    return { name, topology, data: { x, y }, initial: parametersFromJSON(c.initial, topology, 'initial'), steps: cfg.steps };
  } catch (e) {
    made.forEach((m) => release(m)); // the WebAssembly arena collects no garbage
    throw e;
  }
}
