/**
 * Training by epochs with a held-out evaluation after each: one {@link createTraining} per epoch
 * (one pass over the training rows, optionally in a fresh seeded order), the parameters and the
 * optimiser states carried from each epoch to the next, and {@link evaluate} on the validation set
 * between epochs (no side effects on the training).
 *
 * Each epoch ends by draining the synthesizers' pending refits, as every training does: with
 * delay 0 that is exactly what one long training would do; with delay d > 0 the first d batches
 * of the next epoch see those refits d batches early.
 *
 * Memory: each epoch's network is disposed once the next one is built from its parameters (and
 * the last one, but for the parameters fit() returns), so a long fit holds one network at a time
 * in the WebAssembly backend's arena, which never grows.
 */
import type { Dataset } from '../lib/data.ts';
import { batchesPerEpoch, distrustDataset, labelSets, shuffleRows, trustDataset, validateDataset, zerosLike } from '../lib/data.ts';
import { TrainingAbortedError, TrainingOptionsError } from '../lib/errors.ts';
import { type Evaluation, evaluate } from '../lib/evaluate.ts';
import { type LrSchedule, scaleLearningRates } from '../lib/lr-schedule.ts';
import { backend, type KernelBackend } from '../lib/kernels.ts';
import { type Matrix, release } from '../lib/matrix.ts';
import { type Network, type OptimizerStates, disposeNetwork } from '../lib/network.ts';
import { type ParameterSet, initParameters } from '../lib/params.ts';
import { Rng } from '../lib/rng.ts';
import type { GraphSpec } from '../lib/graph.ts';
import type { Topology, TopologySpec } from '../lib/topology.ts';
import type { TrainingMetrics } from './metrics.ts';
import type { SchedulerName } from './schedulers.ts';
import { type TrainingOptions, createTraining, topologyOf } from './training.ts';

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
  /** Default `'queue'`. */
  scheduler?: SchedulerName;
  /** an xstate inspection observer, attached to every epoch's training */
  inspect?: TrainingOptions['inspect'];
  /** every finished step (`epoch` from 1) */
  onStep?: (metrics: TrainingMetrics, epoch: number) => void;
  /** every finished epoch */
  onEpoch?: (report: EpochReport) => void;
  /** stop (at a consistent cut of the running epoch): fit() rejects with a TrainingAbortedError */
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
  const topology = topologyOf(options.topology);
  const { epochs } = options;
  if (!Number.isInteger(epochs) || epochs < 0) throw new TrainingOptionsError(`fit: epochs must be an integer >= 0, got ${epochs}`);
  const perEpoch = batchesPerEpoch(options.train, topology.batch);
  let remaining = options.steps ?? epochs * perEpoch;
  if (!Number.isInteger(remaining) || remaining < 0) throw new TrainingOptionsError(`fit: steps must be an integer >= 0, got ${options.steps}`);
  const shuffle = options.shuffle === undefined ? 1 : options.shuffle;
  const rng = shuffle === null ? null : new Rng(shuffle);
  const kernels = backend();
  // validated once: every epoch's data is these rows (in another order, in a buffer fit alone writes)
  validateDataset(options.train, topology);
  const order = rng ? zerosLike(options.train) : null;
  const data = order ?? { ...options.train };
  trustDataset(data, topology);
  const initial = options.params ?? initParameters(topology, options.seed ?? 1);
  let params = initial;
  let optimizerState: OptimizerStates | undefined;
  /** the last finished epoch's network: its parameters seed the next epoch's */
  let previous: Network | null = null;
  /** the running epoch's network, until it finishes */
  let running: Network | null = null;
  let ownInitial = !options.params;
  const reports: EpochReport[] = [];
  try {
    for (let epoch = 1; epoch <= epochs && remaining > 0; epoch++) {
      const steps = Math.min(perEpoch, remaining);
      remaining -= steps;
      const started = performance.now();
      if (rng && order) shuffleRows(options.train, rng, order);
      const lrFactor = options.lrSchedule ? options.lrSchedule(epoch) : 1;
      const scheduled = scaleLearningRates(topology, lrFactor);
      if (options.signal?.aborted) throw new TrainingAbortedError(0, null, options.signal.reason);
      const training = createTraining({ topology: scheduled, data, steps, params, optimizerState, scheduler: options.scheduler, inspect: options.inspect, signal: options.signal });
      running = training.actor.getSnapshot().context.network as Network;
      // the new network holds copies of `params`: the previous network (parameters included) is done
      if (previous) disposeNetwork(previous, { params: true });
      previous = null;
      if (ownInitial) {
        releaseAll(initial, kernels);
        ownInitial = false;
      }
      const sub = options.onStep ? training.metrics$.subscribe((m) => options.onStep!(m, epoch)) : null;
      const result = await training.run().finally(() => sub?.unsubscribe());
      const seconds = (performance.now() - started) / 1000;
      [previous, running] = [running, null];
      params = result.params;
      checkAdvanced(optimizerState, result.optimizerState, steps, epoch, options.scheduler ?? 'queue');
      optimizerState = result.optimizerState;
      const report: EpochReport = {
        epoch,
        steps,
        loss: mean(result.losses),
        accuracy: mean(result.accuracies),
        synthesizerLoss: mean(result.synthesizerLosses),
        lrFactor,
        validation: options.validation ? evaluate(params, topology, options.validation) : null,
        seconds,
      };
      reports.push(report);
      options.onEpoch?.(report);
    }
  } catch (e) {
    // nothing is returned: free every network, parameters included (a disposed layer or
    // synthesizer refuses any late call rather than write into freed memory)
    for (const net of [previous, running]) if (net) disposeNetwork(net, { params: true });
    if (ownInitial) releaseAll(initial, kernels);
    previous = null;
    throw e;
  } finally {
    if (previous) disposeNetwork(previous); // its parameters are the result
    distrustDataset(data);
    if (order) releaseAll({ x: order.x, ...Object.fromEntries(labelSets(order).map(([k, m]) => [`y.${k}`, m])) }, kernels);
  }
  return { topology, params, optimizerState, epochs: reports };
}

function releaseAll(matrices: Record<string, Matrix>, kernels: KernelBackend): void {
  for (const m of Object.values(matrices)) release(m, kernels);
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
