/**
 * The public way to train: build a training from a topology, data and (optionally) initial
 * parameters, run it, get the trained parameters and the per-step losses.
 */
import type { Observable } from 'rxjs';
import { type Actor, type InspectionEvent, type Observer, createActor } from 'xstate';
import { guardCallback, guardInspection, guardSubscribers } from './guards.ts';
import type { Dataset } from '../../lib/data.ts';
import {
  CheckpointError,
  DivergenceError,
  StageError,
  TopologyError,
  TrainingAbortedError,
  TrainingOptionsError,
} from '../../lib/errors.ts';
import { checkFootprint } from '../../lib/footprint.ts';
import { datasetFingerprint } from '../../lib/fingerprint.ts';
import type { OptimizerStates } from '../../lib/network.ts';
import { type TrainingState, readCheckpoint, writeCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { resumeStateOf } from '../../lib/checkpoint/resume.ts';
import type { ParameterSet } from '../../lib/params.ts';
import { type GraphSpec, defineGraph, isGraph } from '../../lib/graph.ts';
import {
  type AnyTopology,
  type Model,
  type ModelData,
  buildModel,
  copyModelData,
  disposeModel,
  historyShapeOf,
  initParametersOf,
  isRecurrent,
  modelOptimizerStates,
  parameterOwnersOf,
  parameterShapesOf,
  releaseModelData,
  restoreModelOptimizers,
  restoreModelState,
  validateModelData,
} from '../../lib/model.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import { type RecurrentSpec, type RecurrentTopology, defineRecurrent, windowWithin } from '../../lib/recurrent/topology.ts';
import { type Topology, type TopologySpec, defineTopology } from '../../lib/topology.ts';
import { firstNonFinite, release } from '../../lib/matrix.ts';
import { sameFile } from '../../lib/io/files.ts';
import { availableParallelism } from 'node:os';
import {
  SCHEDULERS,
  type SchedulerName,
  type SchedulerOption,
  type WorkerSchedulerOptions,
  schedulingFor,
} from '../schedulers/schedulers.ts';
import { checkNats, checkTrainingKeys, poolOf } from './trainingOptions.ts';
import { NatsStagePool } from '../nats/natsPool.ts';
import { natsPoolFor } from '../nats/natsStage.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { type Stage, defaultStageCount, planStages, validatePlan } from '../../lib/placement.ts';
import type { TraceEvent } from '../inspect/inspection.ts';
import { type MetricsSource, type TrainingMetrics, trainingMetrics } from './metrics.ts';
import { INTERPRETERS, type Interpreter } from '../machines/machines.ts';
import { type trainerMachine, trainerFor } from './trainerMachine.ts';
import type { EpochPlan } from './trainerProgress.ts';

export interface TrainingOptions {
  /**
   * a topology from {@link defineTopology}, {@link defineGraph} or {@link defineRecurrent}, or a
   * chain, graph or recurrent spec to validate
   */
  topology: Topology | TopologySpec | GraphSpec | RecurrentTopology | RecurrentSpec;
  /**
   * rows `{ x, y }` for a chain or graph; sequences `{ length, inputs, outputs, x, y, mask }` for a
   * recurrent network. Copied once when the training is created, under every scheduler: the run
   * trains on the data as they were then, and overwriting them mid-run changes nothing.
   */
  data: Dataset | Sequences;
  /**
   * batch steps to train (batch t is rows `[(t mod n) B, …)` of the data); for a recurrent
   * network, windows: step s is window `s mod W` of batch `floor(s / W)`, W = ceil(L / T)
   */
  steps: number;
  /** initial parameters (copied, never modified); default {@link initParameters} with `seed` */
  params?: ParameterSet;
  /** seed of the default initial parameters. Default 1. */
  seed?: number;
  /**
   * optimiser states to continue from (a previous result's `optimizerState`): Adam's moments and
   * step counts, momentum buffers. Default: fresh (zero moments, step 0).
   */
  optimizerState?: OptimizerStates;
  /**
   * `'queue'` (default): the seed's sequential order, one batch in flight. `'async'`: pipelined on
   * the event loop. `'worker'` or `{ name: 'worker', stages }`: pipeline stages on worker threads.
   * All give bit-identical results.
   */
  scheduler?: SchedulerOption;
  /** receives the inspection events of worker-hosted actors, already converted to trace lines */
  relay?: (line: TraceEvent) => void;
  /** an xstate inspection observer, attached to the root actor (sees every child) */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * Continue from a checkpoint (its state, or the path of its file): parameters, optimiser
   * states, pending refits, the losses so far and the step. `steps` stays the total.
   */
  resume?: TrainingState | string;
  /** save checkpoints while training */
  checkpoint?: CheckpointOptions;
  /**
   * How the layer, synthesizer and head machines are interpreted: `'table'` (default; the
   * same definitions, hot transitions from a precomputed table, see actors/machines/transitionTable.ts) or
   * `'xstate'` (xstate's interpreter for every event). Results are bit-identical.
   */
  interpreter?: Interpreter;
  /**
   * Stop the training when this signal aborts: at a consistent cut (every batch fed finishes,
   * none is fed after), saving a checkpoint there when `checkpoint` is given (unless its `onStop`
   * is false); `run()` then rejects with a {@link TrainingAbortedError} (`name` `'AbortError'`).
   */
  signal?: AbortSignal;
}

/** Where and when to save checkpoints. */
export interface CheckpointOptions {
  /** the file; each checkpoint replaces the last, atomically */
  path: string;
  /** save before these batches (a checkpoint at step S holds batches 0 … S-1 done) */
  at?: number[];
  /** save every N batches */
  every?: number;
  /** called after each checkpoint is safely on disk */
  onSaved?: (step: number) => void;
  /** save one at the cut where a stopped training stops (its signal, `stop()`). Default true. */
  onStop?: boolean;
}

export interface TrainingResult {
  /**
   * The trained parameters (pending refits applied), in the kernel backend's memory. Everything
   * else the training allocated is freed when it ends; with the WebAssembly backend (a fixed
   * arena, no garbage collection) `release()` these too once they are not needed.
   */
  params: ParameterSet;
  /** each step's loss: the weighted sum of its heads' losses (a chain's one head: its loss) */
  losses: Float64Array;
  /** sum over synthesizers of each step's synthesizer loss */
  synthesizerLosses: Float64Array;
  /** the first head's accuracy on each step's forward pass */
  accuracies: Float64Array;
  /** each head's own (unweighted) loss and accuracy per step, by head id (a recurrent network's readout: `readout`) */
  heads: Record<string, { losses: Float64Array; accuracies: Float64Array }>;
  /** a recurrent network with aux heads: the sum over layers of each step's aux loss (zeros otherwise) */
  auxLosses: Float64Array;
  /**
   * the most messages that waited on each route (`FORWARD>layer:1`, `REFIT>synthesizer:0`, …) at
   * any time: sent and not yet taken by the target. With delay d, at most d + 2.
   */
  queues: Record<string, number>;
  /** worker scheduler: the share of the training each stage's thread was busy (a balanced plan keeps them all high) */
  stageUtilization: number[];
  /** every layer's and synthesizer's optimiser state at the end, keyed `layer:i` / `synthesizer:i` (copies) */
  optimizerState: OptimizerStates;
  steps: number;
}

export interface Training {
  /** the validated topology (a graph: a chain is one; or a recurrent network's) */
  readonly topology: AnyTopology;
  /** the root actor (`trainer`); its system holds its stages (`stage:k`) and their `layer:…`, `synthesizer:…` and `head…` actors */
  readonly actor: Actor<typeof trainerMachine>;
  /** one value per finished step (loss, synthesizer loss, cosine, steps per second); subscribe before run() for the cosine */
  readonly metrics$: Observable<TrainingMetrics>;
  /**
   * Start (once) and settle when every step is trained and every refit applied; rejects with the
   * training's error, or a {@link TrainingAbortedError} when it was stopped.
   */
  run(): Promise<TrainingResult>;
  /**
   * Stop at the next consistent cut (as the `signal` option does); `run()` rejects with a
   * {@link TrainingAbortedError}. `checkpoint: false` skips the checkpoint the training would save
   * there.
   */
  stop(options?: { checkpoint?: boolean; reason?: unknown }): void;
}

/**
 * Validate everything, build the actors (not started).
 *
 * @example
 * const training = createTraining({
 *   topology: { inputs: 24, batch: 10, lr: 0.5, layers: [{ units: 128, decoupled: true }, { units: 12 }] },
 *   data: { x, y },
 *   steps: 1000,
 * });
 * training.metrics$.subscribe((m) => console.log(m.batch, m.loss));
 * const { params, losses } = await training.run();
 */
export function createTraining(options: TrainingOptions): Training {
  return trainingInEpochs(options, null, true);
}

/**
 * {@link createTraining} for fit(): with `epochs`, the stages pause at every epoch's end, apply
 * their pending refits, and go on at the plan's learning rates (see {@link EpochPlan}).
 */
export function trainingInEpochs(
  options: TrainingOptions,
  epochs: EpochPlan | null,
  copyData = false,
  built?: (network: Model) => void,
): Training {
  checkTrainingKeys(options, 'training');
  const asked = anyTopologyOf(options.topology);
  const { steps } = options;
  if (!Number.isInteger(steps) || steps < 0) throw new TrainingOptionsError(`training: steps must be an integer >= 0, got ${steps}`);
  validateModelData(options.data, asked);
  // a window longer than the sequences trains as one of their length: allocate for that
  const topology = isRecurrent(asked) ? windowWithin(asked, (options.data as Sequences).length) : asked;
  checkFootprint(topology, steps);
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal))
    throw new TrainingOptionsError('training: signal must be an AbortSignal');
  if (
    typeof options.resume === 'string' &&
    typeof options.checkpoint?.path === 'string' &&
    sameFile(options.resume, options.checkpoint.path)
  ) {
    throw new TrainingOptionsError(
      `training: resume ${options.resume} and checkpoint.path ${options.checkpoint.path} are the same file: the first checkpoint would ` +
        `overwrite the one resumed from (save to another file, or use trainWithRestarts)`,
    );
  }
  const { state: resume, path: resumePath } =
    options.resume == null ? { state: null, path: '' } : resumeStateOf(options.resume, topology, options.data);
  if (resume) {
    if (options.params || options.optimizerState)
      throw new TrainingOptionsError('training: give `resume` or `params`/`optimizerState`, not both');
    if (resume.step > steps)
      throw new TrainingOptionsError(`training: the checkpoint is at step ${resume.step}, past the ${steps} steps asked for`);
    checkSameData(resume, options.data, resumePath);
  }
  let fingerprint: string | undefined; // of the data, computed at the first checkpoint
  const cutSteps = checkpointSteps(options.checkpoint, resume?.step ?? 0, steps);
  const option = options.scheduler ?? 'queue';
  const natsOption = typeof option === 'object' && option?.name === 'nats' ? checkNats(option) : null;
  const name = (natsOption ? 'worker' : typeof option === 'string' ? option : option?.name) as SchedulerName;
  if (!(SCHEDULERS as readonly string[]).includes(name)) {
    throw new TrainingOptionsError(
      `training: unknown scheduler ${JSON.stringify(option)} ` +
        `(expected one of ${SCHEDULERS.join(', ')}, { name: 'worker', stages } or { name: 'nats', servers })`,
    );
  }
  const interpreter = options.interpreter ?? 'table';
  if ((interpreter as string) === 'compiled') {
    throw new TrainingOptionsError(
      `training: interpreter 'compiled' is now called 'table' (it compiles nothing: it takes the hot transitions from a precomputed ` +
        `table); write interpreter: 'table', or leave it out (the default)`,
    );
  }
  if (!(INTERPRETERS as readonly string[]).includes(interpreter)) {
    throw new TrainingOptionsError(
      `training: unknown interpreter ${JSON.stringify(interpreter)} (expected one of ${INTERPRETERS.join(', ')})`,
    );
  }
  const scheduling = schedulingFor(name);
  const pool = natsOption
    ? natsPoolFor(natsOption)
    : name === 'worker'
      ? poolOf(typeof option === 'string' ? undefined : (option as WorkerSchedulerOptions).pool)
      : null;
  const nats = pool instanceof NatsStagePool;
  if (nats && options.relay)
    throw new TrainingOptionsError(
      'training: relay (the inspection of remote actors) is not supported by the nats scheduler nor a NATS pool',
    );
  const planned = typeof option === 'string' ? undefined : (option as WorkerSchedulerOptions).stages;
  const stages = nats ? stagesFor(topology, planned ?? pool.defaultStages) : name === 'worker' ? stagesFor(topology, planned) : null;
  const initial = resume?.params ?? options.params ?? initParametersOf(topology, options.seed ?? 1);
  for (const s of parameterShapesOf(topology)) {
    const m = initial[s.key];
    const at = m ? firstNonFinite(m.data) : -1;
    if (at >= 0) throw new TopologyError(`parameters: '${s.key}' holds ${m.data[at]} at element ${at}`);
  }
  const network = buildModel(topology, initial);
  built?.(network);
  // the network trains a copy: parameters this function made (or read) are not needed any more
  if (initial !== options.params) for (const m of Object.values(initial)) release(m);
  if (options.optimizerState) restoreModelOptimizers(network, options.optimizerState);
  if (resume) restoreModelState(network, resume, resumePath);
  // the data as they are now, copied once (in shared memory for worker stages, which read them there);
  // fit() passes a buffer of its own, which it rewrites between epochs on purpose
  const data = copyData ? copyModelData(options.data, name === 'worker') : options.data;
  let metricsSource: MetricsSource | null = null;
  const actor = createActor(trainerFor(interpreter), {
    input: {
      interpreter,
      publishMetrics: (source) => (metricsSource = source),
      network,
      data,
      steps,
      scheduling,
      stages,
      pool,
      // called from a worker's message handler, where a throw would reach nothing but the process
      relay: options.relay && guardCallback('relay callback', options.relay, (error) => actor.send({ type: 'FAIL', error })),
      firstBatch: resume?.step ?? 0,
      resumedHistory: resume?.history ?? null,
      epochs,
      // the default plan may run as one thread where the pool measured one core's worth (stageHost.ts)
      adaptivePlan: !nats && name === 'worker' && (typeof option === 'string' || option.stages === undefined),
      checkpoints: options.checkpoint
        ? {
            steps: cutSteps,
            save: (state: TrainingState) => {
              writeCheckpoint(options.checkpoint!.path, { ...state, dataFingerprint: (fingerprint ??= datasetFingerprint(data)) });
              options.checkpoint!.onSaved?.(state.step);
            },
          }
        : null,
    },
    id: 'trainer',
    systemId: 'trainer',
    inspect: options.inspect && guardInspection(options.inspect, (error) => actor.send({ type: 'FAIL', error })),
  });
  let result: Promise<TrainingResult> | null = null;
  // before start(), xstate keeps the event in the trainer's mailbox: it is handled first
  const stop = (o: { checkpoint?: boolean; reason?: unknown } = {}) =>
    actor.send({ type: 'STOP', checkpoint: o.checkpoint ?? options.checkpoint?.onStop !== false, reason: o.reason });
  const onAbort = () => stop({ reason: options.signal!.reason });
  const run = () =>
    (result ??= new Promise<TrainingResult>((resolve, reject) => {
      actor.subscribe({
        complete: () => {
          options.signal?.removeEventListener('abort', onAbort);
          const snapshot = actor.getSnapshot(),
            c = snapshot.context;
          const failed = c.error ?? (snapshot.value === 'done' ? nonFinite(network, steps) : null);
          const optimizerState = failed || snapshot.value !== 'done' ? null : modelOptimizerStates(network);
          // the buffers behind the actors go back to the backend (the WebAssembly arena does not
          // collect garbage); the parameters stay: they are the result
          disposeModel(network);
          if (data !== options.data) releaseModelData(data);
          if (failed) return reject(failed);
          if (snapshot.value === 'stopped') {
            const at = c.progress.stopped;
            return reject(new TrainingAbortedError(at?.step ?? c.firstBatch, at?.saved ? options.checkpoint!.path : null, c.reason));
          }
          if (!optimizerState) return reject(new Error(`training: ended in state ${JSON.stringify(snapshot.value)}`));
          const { losses, accuracies, headLosses, headAccuracies } = c.history;
          const heads = Object.fromEntries(
            historyShapeOf(topology).heads.map((h, k) => [h.id, { losses: headLosses[k], accuracies: headAccuracies[k] }]),
          );
          resolve({
            params: network.params,
            losses,
            accuracies,
            heads,
            synthesizerLosses: c.history.synthesizerLosses(),
            auxLosses: c.history.auxLosses(),
            optimizerState,
            queues: c.gauge.toJSON(),
            stageUtilization: c.utilization,
            steps,
          });
        },
        error: reject,
      });
      // stopped before it ran: the stop is the first thing the trainer sees (no stage ever starts)
      if (options.signal?.aborted) stop({ reason: options.signal.reason });
      else options.signal?.addEventListener('abort', onAbort, { once: true });
      actor.start();
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'START' });
    }));
  const metrics$ = guardSubscribers(trainingMetrics(topology, actor, metricsSource!), (error) => actor.send({ type: 'FAIL', error }));
  const stopByUser: Training['stop'] = (o = {}) => {
    refuseUnknownOptions(o, ['checkpoint', 'reason'], 'training.stop');
    stop(o);
  };
  return { topology, actor, metrics$, run, stop: stopByUser };
}

/**
 * The trained parameters must be finite: a divergence in the last steps or in the final refits
 * (which no later forward pass would see) is a DivergenceError too, naming the parameter.
 */
function nonFinite(network: Model, steps: number): DivergenceError | null {
  for (const [owner, keys] of parameterOwnersOf(network.topology)) {
    for (const key of keys) {
      const m = network.params[key],
        at = firstNonFinite(m.data);
      if (at >= 0)
        return new DivergenceError(
          owner,
          steps - 1,
          key,
          `${key}[${Math.floor(at / m.cols)}, ${at % m.cols}] = ${m.data[at]} after the last step and refits`,
        );
    }
  }
  return null;
}

/** Build and run a training in one call (bad input rejects the promise, before any work). */
export async function train(options: TrainingOptions): Promise<TrainingResult> {
  return createTraining(options).run();
}

export interface RestartOptions {
  /** how many times a failed stage may be restarted (default 3) */
  attempts?: number;
  /** each attempt's training, before it runs (e.g. to watch its metrics) */
  onAttempt?: (training: Training, attempt: number) => void;
}

/**
 * Train with checkpoints and restart on a worker failure: when a stage's thread dies
 * ({@link StageError}), train again from the last checkpoint this run saved (or from the start
 * if it saved none yet), on the pool's threads (the dead one replaced). The result is the same, bit for bit, as an unbroken
 * run. Divergence and bad input are not retried.
 *
 * @example
 * await trainWithRestarts({ topology, data, steps: 100_000, scheduler: 'worker', checkpoint: { path: 'run.ckpt', every: 1000 } });
 */
export async function trainWithRestarts(
  options: TrainingOptions & { checkpoint: CheckpointOptions },
  restart: RestartOptions = {},
): Promise<TrainingResult> {
  checkTrainingKeys(options, 'trainWithRestarts');
  refuseUnknownOptions(restart, keysOf<RestartOptions>()(['attempts', 'onAttempt']), 'trainWithRestarts: restart');
  const attempts = restart.attempts ?? 3;
  let saved = false;
  const checkpoint: CheckpointOptions = {
    ...options.checkpoint,
    onSaved: (step) => {
      saved = true;
      options.checkpoint.onSaved?.(step);
    },
  };
  for (let attempt = 0; ; attempt++) {
    // resumed as a state read here: createTraining refuses to resume from the file it saves to
    const resume = saved ? { resume: readCheckpoint(options.checkpoint.path), params: undefined, optimizerState: undefined } : {};
    const training = createTraining({ ...options, ...resume, checkpoint });
    restart.onAttempt?.(training, attempt);
    try {
      return await training.run();
    } catch (e) {
      if (!(e instanceof StageError) || attempt >= attempts) throw e;
    }
  }
}

/** The steps to cut at, strictly inside the batches this training runs. */
function checkpointSteps(c: CheckpointOptions | undefined, first: number, steps: number): number[] {
  if (!c) return [];
  if (typeof c.path !== 'string' || !c.path) throw new TrainingOptionsError('checkpoint: a path is needed');
  if (c.every !== undefined && (!Number.isInteger(c.every) || c.every < 1))
    throw new TrainingOptionsError(`checkpoint: every must be a positive integer, got ${c.every}`);
  for (const s of c.at ?? []) {
    if (!Number.isInteger(s) || s <= first || s >= steps)
      throw new TrainingOptionsError(`checkpoint: step ${s} is not between the first batch ${first} and the last ${steps - 1}`);
  }
  const every = c.every
    ? Array.from({ length: Math.ceil(steps / c.every) }, (_, i) => (i + 1) * c.every!).filter((s) => s > first && s < steps)
    : [];
  return [...new Set([...(c.at ?? []), ...every])].sort((a, b) => a - b);
}

function stagesFor(topology: AnyTopology, stages: number | string[][] | undefined): Stage[] {
  if (Array.isArray(stages)) return validatePlan(topology, stages);
  return planStages(topology, stages ?? defaultStageCount(topology, availableParallelism()));
}

/** Refuse to resume a checkpoint that recorded other data (of the same shape: the topology check saw to that). */
function checkSameData(resume: TrainingState, data: ModelData, path: string): void {
  if (!resume.dataFingerprint) return; // version 1 files record none
  const f = datasetFingerprint(data);
  if (f !== resume.dataFingerprint) {
    throw new CheckpointError(
      path,
      `made with other data: the data given has fingerprint ${f.slice(0, 19)}…, the checkpoint's is ` +
        `${resume.dataFingerprint.slice(0, 19)}…`,
    );
  }
}

/** A validated topology of either kind as it is; a recurrent spec (`truncation`) through defineRecurrent, others as {@link topologyOf}. */
export function anyTopologyOf(t: Topology | TopologySpec | GraphSpec | RecurrentTopology | RecurrentSpec): AnyTopology {
  if (t !== null && typeof t === 'object' && ((t as { kind?: string }).kind === 'recurrent' || 'truncation' in t)) {
    return (t as { kind?: string }).kind === 'recurrent' ? (t as RecurrentTopology) : defineRecurrent(t as RecurrentSpec);
  }
  return topologyOf(t as Topology | TopologySpec | GraphSpec);
}

/** A validated topology as it is; a chain spec (`layers`) through defineTopology, a graph spec (`nodes`) through defineGraph. */
export function topologyOf(t: Topology | TopologySpec | GraphSpec): Topology {
  if (isGraph(t)) return t;
  if (t !== null && typeof t === 'object' && 'nodes' in t) return defineGraph(t);
  return defineTopology(t as TopologySpec);
}
