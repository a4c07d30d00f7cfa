/**
 * Recurrent reference cases (`config.kind = "rnn"`, docs/maths.md): `config` (cell, inputs, hidden,
 * outputs, loss, truncation, dni, batch, lr, lr_synthesizer, steps, seed, task), then `x [N][L][in]`,
 * `y [N][L][out]`, `mask [N][L]`, `initial` parameters, and optionally the expected `losses`,
 * `synthesizer_losses` and `final` parameters. Optional extensions read here (written by
 * bench/rnn_numpy.py for its own cases): `forget_bias` (lstm), `optimizer` / `optimizer_synthesizer`
 * (`{kind, lr, ...}` instead of `lr` / `lr_synthesizer`), `clip`.
 */
import { TopologyError } from '../errors.ts';
import { caseKeys, rate, show } from '../validate.ts';
import type { OptimizerSpec } from '../optimizers.ts';
import { type RecurrentParameters, recurrentParametersFromJSON } from './params.ts';
import { type Sequences, sequencesFromNested } from './sequences.ts';
import { type Cell, type RecurrentLoss, type RecurrentTopology, defineRecurrent } from './topology.ts';

export interface RecurrentCaseConfig {
  kind: 'rnn';
  cell: Cell;
  inputs: number;
  hidden: number | number[];
  outputs: number;
  loss: RecurrentLoss;
  truncation: number;
  dni: boolean;
  batch: number;
  lr: number;
  lr_synthesizer: number;
  steps: number;
  seed?: number;
  task?: unknown;
  forget_bias?: number;
  optimizer?: OptimizerSpec;
  optimizer_synthesizer?: OptimizerSpec;
  clip?: number;
}

export interface RecurrentCase {
  case?: string;
  config: RecurrentCaseConfig;
  x: number[][][];
  y: number[][][];
  mask: number[][];
  initial: Record<string, number[] | number[][]>;
  losses?: number[];
  synthesizer_losses?: number[];
  final?: Record<string, number[] | number[][]>;
}

/** A recurrent case's config keys: the format's (docs/maths.md), and the extensions and descriptions it may add. */
const CONFIG_KEYS = {
  required: ['kind', 'cell', 'inputs', 'hidden', 'outputs', 'loss', 'truncation', 'dni', 'batch', 'lr', 'lr_synthesizer', 'steps'],
  optional: ['seed', 'task', 'forget_bias', 'optimizer', 'optimizer_synthesizer', 'clip'],
} as const;

export interface LoadedRecurrentCase {
  readonly name: string;
  readonly topology: RecurrentTopology;
  readonly sequences: Sequences;
  readonly initial: RecurrentParameters;
  readonly steps: number;
}

/**
 * Turn a recurrent case into a topology, sequences and parameters, each checked; errors name the case and field.
 *
 * @example
 * const c = loadRecurrentCase(JSON.parse(readFileSync('rnn-dni.json', 'utf8')));
 * const net = buildRecurrentNetwork(c.topology, c.initial);
 * trainRecurrentSequential(net, c.sequences, c.steps);
 */
export function loadRecurrentCase(c: RecurrentCase, name = c?.case ?? 'case'): LoadedRecurrentCase {
  const cfg = c?.config;
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new TopologyError(`${name}: no 'config' object`);
  if (cfg.kind !== 'rnn') throw new TopologyError(`${name}: config.kind is ${show(cfg.kind)}, expected 'rnn'`);
  caseKeys(cfg as unknown as Record<string, unknown>, CONFIG_KEYS.required, CONFIG_KEYS.optional, `${name}: config`);
  if (!Number.isInteger(cfg.steps) || cfg.steps < 0)
    throw new TopologyError(`${name}: config.steps must be an integer >= 0, got ${show(cfg.steps)}`);
  // the format's own fields, checked even where an extension (optimizer) stands in for them
  if (typeof cfg.dni !== 'boolean') throw new TopologyError(`${name}: config.dni must be true or false, got ${show(cfg.dni)}`);
  rate(cfg.lr, `${name}: config.lr`);
  rate(cfg.lr_synthesizer, `${name}: config.lr_synthesizer`);
  const at = (e: unknown) => new TopologyError(`${name}: ${(e as Error).message}`);
  let topology: RecurrentTopology;
  try {
    topology = defineRecurrent({
      cell: cfg.cell,
      inputs: cfg.inputs,
      hidden: cfg.hidden,
      outputs: cfg.outputs,
      loss: cfg.loss,
      truncation: cfg.truncation,
      batch: cfg.batch,
      ...(cfg.optimizer !== undefined ? { optimizer: cfg.optimizer } : { lr: cfg.lr }),
      ...(cfg.clip !== undefined ? { clip: cfg.clip } : {}),
      ...(cfg.forget_bias !== undefined ? { forgetBias: cfg.forget_bias } : {}),
      dni: cfg.dni
        ? { synthesizer: cfg.optimizer_synthesizer !== undefined ? { optimizer: cfg.optimizer_synthesizer } : { lr: cfg.lr_synthesizer } }
        : false,
    });
  } catch (e) {
    throw at(e);
  }
  let sequences: Sequences, initial: RecurrentParameters;
  try {
    sequences = sequencesFromNested(c.x, c.y, c.mask);
  } catch (e) {
    throw at(e);
  }
  try {
    initial = recurrentParametersFromJSON(topology, c.initial);
  } catch (e) {
    throw at(e);
  }
  if (sequences.inputs !== topology.inputs || sequences.outputs !== topology.outputs) {
    throw new TopologyError(
      `${name}: x_t has ${sequences.inputs} values and y_t ${sequences.outputs}, ` +
        `the config says inputs ${topology.inputs}, outputs ${topology.outputs}`,
    );
  }
  return { name, topology, sequences, initial, steps: cfg.steps };
}
