/**
 * Training by epochs with a held-out evaluation after each: one training for the whole fit
 * (built once: under the worker scheduler its threads start once), whose stages pause at every
 * epoch's end (an epoch cut, see {@link EpochPlan}): there they apply their synthesizers' pending
 * refits, the trainer takes the parameters, fit() evaluates them on the validation set (no side
 * effects on the training), writes the next epoch's row order into the data the stages read (a
 * buffer fit alone writes; in shared memory under the worker scheduler) and says the next epoch's
 * learning-rate factor; then the stages go on.
 *
 * This computes exactly what one training per epoch would (a fresh seeded order per epoch, the
 * parameters and optimiser states carried from each epoch to the next): each epoch ends by
 * applying the pending refits, as every training does at its end; with delay 0 that is what one
 * long training would do anyway; with delay d > 0 the first d batches of the next epoch see those
 * refits d batches early.
 *
 * Memory: one network for the whole fit; what it allocated is freed when the training ends, but
 * the parameters fit() returns.
 */
import type { Dataset } from '../../lib/data.ts';
import {
  batchesPerEpoch,
  distrustDataset,
  isMatrix,
  labelSets,
  shuffleRows,
  trustDataset,
  validateDataset,
  zerosLike,
} from '../../lib/data.ts';
import { TopologyError, TrainingAbortedError, TrainingOptionsError } from '../../lib/errors.ts';
import { type Evaluation, evaluate } from '../../lib/evaluate.ts';
import { type LrSchedule, scaleLearningRates } from '../../lib/lr-schedule.ts';
import { backend, type KernelBackend } from '../../lib/kernels/kernels.ts';
import { type Matrix, release } from '../../lib/matrix.ts';
import { type Network, type OptimizerStates, disposeNetwork } from '../../lib/network.ts';
import { type ParameterSet, initParameters } from '../../lib/params.ts';
import type { Model } from '../../lib/model.ts';
import { Rng } from '../../lib/rng.ts';
import type { GraphSpec } from '../../lib/graph.ts';
import type { Topology, TopologySpec } from '../../lib/topology.ts';
import type { TrainingMetrics } from './metrics.ts';
import type { SchedulerOption } from '../schedulers/schedulers.ts';
import type { EpochPlan } from './trainerProgress.ts';
import { checkNestedKeys } from './trainingOptions.ts';
import { type Training, type TrainingOptions, type TrainingResult, topologyOf, trainingInEpochs } from './training.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';

export interface FitOptions {
  /** a topology from defineTopology or defineGraph, or a chain or graph spec to validate */
  topology: Topology | TopologySpec | GraphSpec;
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
  /**
   * Learning-rate schedule: a factor on every learning rate of the topology (layers' and
   * synthesizers') for each epoch, from 1; e.g. `cosineLr(epochs)`. Default: 1 for every epoch.
   */
  lrSchedule?: LrSchedule;
  /** Default `'queue'`; `'worker'` or `{ name: 'worker', stages }` as in createTraining. */
  scheduler?: SchedulerOption;
  /** an xstate inspection observer, attached to the training */
  inspect?: TrainingOptions['inspect'];
  /**
   * receives the inspection events of worker-hosted actors, as in createTraining (without it a trace or live page of a worker fit shows no
   * layer)
   */
  relay?: TrainingOptions['relay'];
  /** the one training fit() runs for all its epochs, before it runs (e.g. to watch its `metrics$`) */
  onTraining?: (training: Training) => void;
  /** every finished step (`epoch` from 1; `metrics.batch` counts from the fit's first step) */
  onStep?: (metrics: TrainingMetrics, epoch: number) => void;
  /** every finished epoch */
  onEpoch?: (report: EpochReport) => void;
  /** stop (at a consistent cut): fit() rejects with a TrainingAbortedError (its `step` counts from the fit's first step) */
  signal?: AbortSignal;
}

export interface EpochReport {
  /** from 1 */
  readonly epoch: number;
  readonly steps: number;
  /** means over the epoch's steps of the head loss, the head accuracy and the synthesizer loss */
  readonly loss: number;
  readonly accuracy: number;
  readonly synthesizerLoss: number;
  /** the learning-rate schedule's factor for this epoch (1 without one) */
  readonly lrFactor: number;
  /** on the validation set after the epoch, when one was given */
  readonly validation: Evaluation | null;
  /**
   * wall time of the epoch's training: shuffle, every step (the first epoch: building the training and starting its threads too; the
   * evaluation not included)
   */
  readonly seconds: number;
}

export interface FitResult {
  readonly topology: Topology;
  /** the parameters after the last epoch */
  readonly params: ParameterSet;
  readonly optimizerState: OptimizerStates | undefined;
  readonly epochs: EpochReport[];
}

const FIT_KEYS = keysOf<FitOptions>()([
  'topology',
  'train',
  'validation',
  'epochs',
  'steps',
  'params',
  'seed',
  'shuffle',
  'lrSchedule',
  'scheduler',
  'inspect',
  'relay',
  'onTraining',
  'onStep',
  'onEpoch',
  'signal',
]);

/**
 * Train for `epochs` passes over `train`, evaluating on `validation` after each.
 *
 * @example
 * const { train, validation, test } = loadMnist();
 * const result = await fit({ topology, train, validation, epochs: 20, onEpoch: (e) => console.log(e.epoch, e.validation?.accuracy) });
 * console.log(evaluate(result.params, result.topology, test).accuracy);
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  const t = options?.topology as unknown;
  if (t !== null && typeof t === 'object' && ((t as { kind?: unknown }).kind === 'recurrent' || Object.hasOwn(t, 'truncation'))) {
    throw new TopologyError(
      'fit: fit trains dense and graph networks (defineTopology, defineGraph) by epochs over rows; this topology is recurrent: ' +
        'train it with train() or createTraining() on sequences (copyTask, sequencesFromNested)',
    );
  }
  refuseUnknownOptions(options, FIT_KEYS, 'fit');
  checkNestedKeys(options, 'fit');
  const topology = topologyOf(options.topology);
  const { epochs } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new TrainingOptionsError(`fit: epochs must be an integer >= 0, got ${epochs}`);
  const perEpoch = batchesPerEpoch(options.train, topology.batch);
  const asked = options.steps ?? epochs * perEpoch;
  if (!Number.isInteger(asked) || asked < 0) throw new TrainingOptionsError(`fit: steps must be an integer >= 0, got ${options.steps}`);
  const steps = Math.min(asked, epochs * perEpoch);
  const shuffle = options.shuffle === undefined ? 1 : options.shuffle;
  const rng = shuffle === null ? null : new Rng(shuffle);
  const scheduler =
    typeof options.scheduler === 'object' && options.scheduler !== null ? options.scheduler.name : (options.scheduler ?? 'queue');
  const lrOf = (epoch: number) => {
    const factor = options.lrSchedule ? options.lrSchedule(epoch) : 1;
    scaleLearningRates(topology, factor); // refuses a bad factor by name
    return factor;
  };
  const kernels = backend();
  // validated once: every epoch's data is these rows (in another order, in a buffer fit alone writes)
  validateDataset(options.train, topology);
  const initial = options.params ?? initParameters(topology, options.seed ?? 1);
  if (steps === 0) return { topology, params: initial, optimizerState: undefined, epochs: [] };
  // worker stages read the rows from shared memory: the order is written there, where they see it
  const order = rng ? (scheduler === 'worker' ? sharedZerosLike(options.train) : zerosLike(options.train)) : null;
  const data = order ?? { ...options.train };
  trustDataset(data, topology);
  const reports: EpochReport[] = [];
  let epochStarted = performance.now();
  let lrFactor = 1;
  let training: Training | null = null;
  let network = null as Model | null;
  /** the epoch's report, from the training's history of its steps (as the trainer hands it, or as run() returns it) */
  const report = (
    epoch: number,
    from: number,
    to: number,
    trained: Pick<TrainingResult, 'losses' | 'accuracies' | 'synthesizerLosses' | 'params'>,
  ): EpochReport => {
    const seconds = (performance.now() - epochStarted) / 1000;
    const r: EpochReport = {
      epoch,
      steps: to - from,
      loss: mean(trained.losses, from, to),
      accuracy: mean(trained.accuracies, from, to),
      synthesizerLoss: mean(trained.synthesizerLosses, from, to),
      lrFactor,
      validation: options.validation ? evaluate(trained.params, topology, options.validation) : null,
      seconds,
    };
    reports.push(r);
    options.onEpoch?.(r);
    return r;
  };
  const plan: EpochPlan = {
    length: perEpoch,
    lrFactor: 0,
    end: (epoch, step, { history, params }) => {
      report(epoch, step - perEpoch, step, {
        losses: history.losses,
        accuracies: history.accuracies,
        synthesizerLosses: history.synthesizerLosses(),
        params,
      });
      epochStarted = performance.now();
      if (rng && order) shuffleRows(options.train, rng, order);
      return (lrFactor = lrOf(epoch + 1));
    },
  };
  try {
    if (rng && order) shuffleRows(options.train, rng, order);
    lrFactor = lrOf(1);
    if (options.signal?.aborted) throw new TrainingAbortedError(0, null, options.signal.reason);
    training = trainingInEpochs(
      {
        topology,
        data,
        steps,
        params: initial,
        scheduler: options.scheduler,
        inspect: options.inspect,
        relay: options.relay,
        signal: options.signal,
      },
      { ...plan, lrFactor },
      false,
      (built) => (network = built),
    );
    // the network holds copies of `initial`
    if (!options.params) releaseAll(initial, kernels);
  } catch (e) {
    if (!options.params) releaseAll(initial, kernels);
    releaseFitData(order, data, kernels);
    throw e;
  }
  const sub = options.onStep ? training.metrics$.subscribe((m) => options.onStep!(m, Math.floor(m.batch / perEpoch) + 1)) : null;
  let params: FitResult['params'], optimizerState: OptimizerStates;
  try {
    options.onTraining?.(training);
    const result = await training.run();
    params = result.params;
    optimizerState = result.optimizerState;
    checkAdvanced(optimizerState, steps, scheduler);
    const last = Math.floor((steps - 1) / perEpoch) + 1;
    report(last, (last - 1) * perEpoch, steps, result);
  } catch (e) {
    // nothing is returned: free the parameters too (a disposed layer or synthesizer refuses any
    // late call rather than write into freed memory)
    if (network) disposeNetwork(network as Network, { params: true });
    throw e;
  } finally {
    sub?.unsubscribe();
    releaseFitData(order, data, kernels);
  }
  return { topology, params, optimizerState, epochs: reports };
}

/** A data set of zeros shaped like `data`, in shared memory (worker stages read it where it is). */
function sharedZerosLike(data: Dataset): Dataset {
  const like = (m: Matrix): Matrix => ({ rows: m.rows, cols: m.cols, data: new Float32Array(new SharedArrayBuffer(m.data.length * 4)) });
  return { x: like(data.x), y: isMatrix(data.y) ? like(data.y) : Object.fromEntries(Object.entries(data.y).map(([k, m]) => [k, like(m)])) };
}

/** fit's own data: no longer trusted, and (in the backend's memory) given back. */
function releaseFitData(order: Dataset | null, data: Dataset, kernels: KernelBackend): void {
  distrustDataset(data);
  if (order && !(order.x.data.buffer instanceof SharedArrayBuffer))
    releaseAll({ x: order.x, ...Object.fromEntries(labelSets(order).map(([k, m]) => [`y.${k}`, m])) }, kernels);
}

function releaseAll(matrices: Record<string, Matrix>, kernels: KernelBackend): void {
  for (const m of Object.values(matrices)) release(m, kernels);
}

/**
 * Every optimiser must have taken every step: a scheduler that trains copies of the network
 * elsewhere (worker threads) and did not hand their optimiser states back would otherwise leave
 * Adam's moments where they started without a word.
 */
function checkAdvanced(after: OptimizerStates, steps: number, scheduler: string): void {
  for (const [owner, s] of Object.entries(after)) {
    if (s.step !== steps) {
      throw new Error(
        `fit: after ${steps} steps the '${scheduler}' scheduler reports ${owner}'s optimiser at step ${s.step}: ` +
          `it did not carry the optimiser state back`,
      );
    }
  }
}

/** The mean of `a[from..to)`, added in order (as one training's result for those steps would be). */
function mean(a: Float64Array, from: number, to: number): number {
  let s = 0;
  for (let t = from; t < to; t++) s += a[t];
  return to > from ? s / (to - from) : NaN;
}
