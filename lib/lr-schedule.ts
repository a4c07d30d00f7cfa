/**
 * Learning-rate schedules by epoch: a factor on every learning rate of a topology (the layers'
 * and the synthesizers' alike) for each epoch, as `fit({ lrSchedule })` applies them. A schedule is
 * a plain function `epoch (from 1) -> factor`; {@link parseLrSchedule} reads the short forms a
 * command line gives. The optimisers' state (Adam's moments, momentum) carries over unchanged.
 */
import { TrainingOptionsError } from './errors.ts';
import type { Network } from './network.ts';
import { type OptimizerConfig, optimizerOf } from './optimizers.ts';
import type { GraphNode, GraphSynthesizer } from './graph.ts';
import type { Topology } from './topology.ts';

/** Epoch (from 1) to a factor on every learning rate. */
export type LrSchedule = (epoch: number) => number;

/** The factor 1 throughout. */
export const constantLr: LrSchedule = () => 1;

/**
 * Cosine annealing over `epochs` (SGDR without restarts, per epoch): epoch e gets
 * `floor + (1 - floor) (1 + cos(π (e - 1) / epochs)) / 2`, so 1 at the first epoch, falling to
 * just above `floor` at the last.
 *
 * @example
 * fit({ ..., epochs: 20, lrSchedule: cosineLr(20) });
 */
export function cosineLr(epochs: number, floor = 0): LrSchedule {
  if (!Number.isInteger(epochs) || epochs < 1) throw new RangeError(`cosineLr: epochs must be a positive integer, got ${epochs}`);
  if (!(floor >= 0 && floor <= 1)) throw new RangeError(`cosineLr: floor must be in [0, 1], got ${floor}`);
  return (e) => floor + ((1 - floor) * (1 + Math.cos((Math.PI * (Math.min(e, epochs) - 1)) / epochs))) / 2;
}

/** `gamma^(e - 1)`: the factor shrinks by `gamma` every epoch. */
export function exponentialLr(gamma: number): LrSchedule {
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`exponentialLr: gamma must be in (0, 1], got ${gamma}`);
  return (e) => gamma ** (e - 1);
}

/** `gamma^floor((e - 1) / every)`: the factor shrinks by `gamma` every `every` epochs. */
export function stepLr(every: number, gamma: number): LrSchedule {
  if (!Number.isInteger(every) || every < 1) throw new RangeError(`stepLr: every must be a positive integer, got ${every}`);
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`stepLr: gamma must be in (0, 1], got ${gamma}`);
  return (e) => gamma ** Math.floor((e - 1) / every);
}

/**
 * A schedule from its short form: `constant`, `cosine` (to 0 over `epochs`), `cosine:FLOOR`,
 * `exp:GAMMA`, `step:EVERY:GAMMA`.
 *
 * @example
 * parseLrSchedule('step:10:0.3', 30)(11); // 0.3
 */
export function parseLrSchedule(text: string, epochs: number): LrSchedule {
  const [kind, ...args] = text.split(':');
  const nums = args.map(Number);
  if (nums.some((n) => !Number.isFinite(n))) throw new RangeError(`lr schedule '${text}': arguments must be numbers`);
  const arity = (n: number) => {
    if (nums.length !== n) throw new RangeError(`lr schedule '${text}': ${kind} takes ${n} argument${n === 1 ? '' : 's'}`);
  };
  switch (kind) {
    case 'constant':
      arity(0);
      return constantLr;
    case 'cosine':
      if (nums.length > 1) arity(1);
      return cosineLr(epochs, nums[0] ?? 0);
    case 'exp':
      arity(1);
      return exponentialLr(nums[0]);
    case 'step':
      arity(2);
      return stepLr(nums[0], nums[1]);
    default:
      throw new RangeError(`lr schedule '${text}': expected constant, cosine[:FLOOR], exp:GAMMA or step:EVERY:GAMMA`);
  }
}

/**
 * The topology with every learning rate multiplied by `factor` (layers' and synthesizers', plain
 * SGD or an optimiser's); everything else, shapes included, is the same, so parameters and
 * optimiser states carry over between the two.
 */
export function scaleLearningRates(topology: Topology, factor: number): Topology {
  if (!(factor >= 0) || !Number.isFinite(factor))
    throw new TrainingOptionsError(`lr schedule: the factor must be finite and >= 0, got ${factor}`);
  if (factor === 1) return topology;
  const opt = (o: OptimizerConfig | undefined) => (o ? Object.freeze({ ...o, lr: o.lr * factor }) : undefined);
  const scaled = <T extends GraphNode | GraphSynthesizer>(x: T): T => {
    const o = opt(x.optimizer);
    return Object.freeze({ ...x, lr: x.lr * factor, ...(o ? { optimizer: o } : {}) }) as unknown as T;
  };
  return Object.freeze({
    ...topology,
    nodes: Object.freeze(topology.nodes.map(scaled)),
    synthesizers: Object.freeze(topology.synthesizers.map(scaled)),
  });
}

/**
 * Set every layer's and synthesizer's learning rate in a live network to `topology`'s times
 * `factor`: exactly what a network built from {@link scaleLearningRates}`(topology, factor)` would
 * use, without rebuilding it (optimiser states carry on).
 */
export function applyLearningRates(network: Network, topology: Topology, factor: number): void {
  const scaled = scaleLearningRates(topology, factor);
  network.layers.forEach((l, i) => l.optimizer.setLearningRate(optimizerOf(scaled.nodes[i]).lr));
  network.synthesizers.forEach((s, i) => s.optimizer.setLearningRate(optimizerOf(scaled.synthesizers[i]).lr));
}
