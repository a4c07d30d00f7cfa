/**
 * Training by epochs with a held-out evaluation after each: one {@link createTraining} per epoch
 * (one pass over the training rows, optionally in a fresh seeded order), the parameters and the
 * optimiser states carried from each epoch to the next, and {@link evaluate} on the validation set
 * between epochs (no side effects on the training).
 *
 * Each epoch ends by draining the synthesizers' pending refits, as every training does: with
 * delay 0 that is exactly what one long training would do; with delay d > 0 the first d batches
 * of the next epoch see those refits d batches early.
 */
import type { Dataset } from '../lib/data.ts';
import { batchesPerEpoch, shuffleRows } from '../lib/data.ts';
import { TopologyError } from '../lib/errors.ts';
import { type Evaluation, evaluate } from '../lib/evaluate.ts';
import { zeros } from '../lib/matrix.ts';
import type { OptimizerStates } from '../lib/network.ts';
import { type ParameterSet, initParameters } from '../lib/params.ts';
import { Rng } from '../lib/rng.ts';
import { type Topology, type TopologySpec, defineTopology } from '../lib/topology.ts';
import type { TrainingMetrics } from './metrics.ts';
import type { SchedulerName } from './schedulers.ts';
import { type TrainingOptions, createTraining } from './training.ts';

export interface FitOptions {
  /** a topology from defineTopology, or a spec to validate */
  topology: Topology | TopologySpec;
  /** the training rows (a remainder shorter than a batch is left out of each epoch) */
  train: Dataset;
  /** evaluated after every epoch, never trained on */
  validation?: Dataset;
  epochs: number;
  /** stop after this many batch steps in all (the last epoch may then be partial). Default: every epoch whole. */
  steps?: number;
  /** initial parameters (copied); default initParameters with `seed` */
  params?: ParameterSet;
  /** seed of the default initial parameters. Default 1. */
  seed?: number;
  /** seed of the per-epoch shuffle (one generator for the whole fit); null keeps the rows in order. Default 1. */
  shuffle?: number | null;
  /** Default `'queue'`. */
  scheduler?: SchedulerName;
  /** an xstate inspection observer, attached to every epoch's training */
  inspect?: TrainingOptions['inspect'];
  /** every finished step (`epoch` from 1) */
  onStep?: (metrics: TrainingMetrics, epoch: number) => void;
  /** every finished epoch */
  onEpoch?: (report: EpochReport) => void;
}

export interface EpochReport {
  /** from 1 */
  readonly epoch: number;
  readonly steps: number;
  /** means over the epoch's steps of the head loss, the head accuracy and the synthesizer loss */
  readonly loss: number;
  readonly accuracy: number;
  readonly synthesizerLoss: number;
  /** on the validation set after the epoch, when one was given */
  readonly validation: Evaluation | null;
  /** wall time of the epoch's training: shuffle, build, every step (the evaluation not included) */
  readonly seconds: number;
}

export interface FitResult {
  readonly topology: Topology;
  /** the parameters after the last epoch */
  readonly params: ParameterSet;
  readonly optimizerState: OptimizerStates | undefined;
  readonly epochs: EpochReport[];
}

/**
 * Train for `epochs` passes over `train`, evaluating on `validation` after each.
 *
 * @example
 * const { train, validation, test } = loadMnist();
 * const result = await fit({ topology, train, validation, epochs: 20, onEpoch: (e) => console.log(e.epoch, e.validation?.accuracy) });
 * console.log(evaluate(result.params, result.topology, test).accuracy);
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const t = options.topology;
  const topology = 'loss' in t && 'labels' in t && t.layers.every((l) => 'index' in l) ? (t as Topology) : defineTopology(t as TopologySpec);
  const { epochs } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new TopologyError(`fit: epochs must be an integer >= 0, got ${epochs}`);
  const perEpoch = batchesPerEpoch(options.train, topology.batch);
  let remaining = options.steps ?? epochs * perEpoch;
  if (!Number.isInteger(remaining) || remaining < 0) throw new TopologyError(`fit: steps must be an integer >= 0, got ${options.steps}`);
  const shuffle = options.shuffle === undefined ? 1 : options.shuffle;
  const rng = shuffle === null ? null : new Rng(shuffle);
  // one buffer for every epoch's order (no allocation per epoch)
  const order = rng ? { x: zeros(options.train.x.rows, options.train.x.cols), y: zeros(options.train.y.rows, options.train.y.cols) } : null;
  let params = options.params ?? initParameters(topology, options.seed ?? 1);
  let optimizerState: OptimizerStates | undefined;
  const reports: EpochReport[] = [];
  for (let epoch = 1; epoch <= epochs && remaining > 0; epoch++) {
    const steps = Math.min(perEpoch, remaining);
    remaining -= steps;
    const started = performance.now();
    const data = rng && order ? shuffleRows(options.train, rng, order) : options.train;
    const training = createTraining({ topology, data, steps, params, optimizerState, scheduler: options.scheduler, inspect: options.inspect });
    const sub = options.onStep ? training.metrics$.subscribe((m) => options.onStep!(m, epoch)) : null;
    const result = await training.run().finally(() => sub?.unsubscribe());
    const seconds = (performance.now() - started) / 1000;
    params = result.params;
    checkAdvanced(optimizerState, result.optimizerState, steps, epoch, options.scheduler ?? 'queue');
    optimizerState = result.optimizerState;
    const report: EpochReport = {
      epoch,
      steps,
      loss: mean(result.losses),
      accuracy: mean(result.accuracies),
      synthesizerLoss: mean(result.synthesizerLosses),
      validation: options.validation ? evaluate(params, topology, options.validation) : null,
      seconds,
    };
    reports.push(report);
    options.onEpoch?.(report);
  }
  return { topology, params, optimizerState, epochs: reports };
}

/**
 * Every optimiser must have taken the epoch's steps: a scheduler that trains copies of the network
 * elsewhere (worker threads) and does not hand their optimiser states back would otherwise restart
 * Adam's moments every epoch without a word.
 */
function checkAdvanced(before: OptimizerStates | undefined, after: OptimizerStates, steps: number, epoch: number, scheduler: string): void {
  for (const [owner, s] of Object.entries(after)) {
    const expected = (before?.[owner]?.step ?? 0) + steps;
    if (s.step !== expected) {
      throw new Error(
        `fit: after epoch ${epoch} the '${scheduler}' scheduler reports ${owner}'s optimiser at step ${s.step}, expected ${expected}: ` +
          'it does not carry optimiser state across trainings yet, so epochs cannot continue one another',
      );
    }
  }
}

function mean(a: Float64Array): number {
  let s = 0;
  for (const v of a) s += v;
  return a.length ? s / a.length : NaN;
}
