/**
 * What the trainer and a stage say to each other, in one place: one union per direction. The
 * same objects are the stage machine's events (in this thread) and the messages a worker thread
 * gets and posts (a worker-hosted stage), so both kinds of stage speak exactly one language.
 * Tensors never go through here (see stageLink.ts); losses are a few numbers; parameters cross
 * once each way (and at each cut).
 *
 *   trainer ──START, ALLOW{through, lrFactor?}, CAPTURE{step}, END_EPOCH{step}, DRAIN, HALT──▶ stage
 *   trainer ◀──LOSS, STEP_FINISHED{batch}, CUT{step, state}, DRAINED{state}, HALTED{fed}, FAILED, TRACE── stage
 *
 * A worker stage posts its losses and finished steps in batches ({@link ProgressReport}: one
 * message every few milliseconds, not one per step), which its trainer-side actor unpacks into the
 * LOSS and STEP_FINISHED above; every other report goes as it is, after the batch before it.
 */
import { DivergenceError, StageError } from '../../lib/errors.ts';
import type { AnyTopology, ModelData, ModelState } from '../../lib/model.ts';
import type { ParameterSet } from '../../lib/params.ts';
import type { Stage } from '../../lib/placement.ts';
import type { LossMessage } from '../machines/events.ts';
import type { TraceEvent } from '../inspect/inspection.ts';
import type { Interpreter } from '../machines/machines.ts';
import type { StageLinkInit } from './stageLink.ts';

/** What the trainer tells a stage. */
export type StageCommand =
  /**
   * connect the stage's actors and wait for batches; `cosine`: someone watches metrics$, so the
   * synthesizers refitted toward the true gradient report cos(g_hat, target) with their losses
   */
  | { readonly type: 'START'; readonly cosine?: boolean }
  /**
   * batches up to `through` may enter (a stage feeds its layers that read the data); with
   * `lrFactor`, from now on every learning rate of the stage's actors is the topology's times it
   * (an epoch's learning-rate schedule, see fit.ts)
   */
  | { readonly type: 'ALLOW'; readonly through: number; readonly lrFactor?: number }
  /** every batch before `step` is finished everywhere: report the stage's share of the state (a checkpoint cut) */
  | { readonly type: 'CAPTURE'; readonly step: number }
  /**
   * every batch before `step` is finished everywhere and an epoch ends there: apply the
   * synthesizers' pending refits (as at the end of a training, but go on afterwards) and report
   * the stage's share of the state (CUT)
   */
  | { readonly type: 'END_EPOCH'; readonly step: number }
  /** every batch is finished: apply the synthesizers' pending refits and report the state */
  | { readonly type: 'DRAIN' }
  /** feed no further batch, and report the last one fed (the training is stopping) */
  | { readonly type: 'HALT' };

/** What a stage tells the trainer. */
export type StageReport =
  /** a head's or a synthesizer's loss on a batch */
  | LossMessage
  /** every actor of the stage is done with `batch` (its losses are all reported) */
  | { readonly type: 'STEP_FINISHED'; readonly stage: number; readonly batch: number }
  | { readonly type: 'CUT'; readonly stage: number; readonly step: number; readonly state: ModelState }
  | {
      readonly type: 'DRAINED';
      readonly stage: number;
      /** the hosted actors' parameters, optimiser states and (drained) synthesizers */
      readonly state: ModelState;
      /** queue high-water marks of the routes into the stage */
      readonly queues: Record<string, number>;
      /** the share of the training its thread was busy (worker stages), or null */
      readonly utilization: number | null;
    }
  /** the stage feeds no more; `fed`: the last batch it fed (its first batch - 1 when none) */
  | { readonly type: 'HALTED'; readonly stage: number; readonly fed: number }
  | { readonly type: 'FAILED'; readonly stage: number; readonly error: unknown }
  /** trace lines of worker-hosted actors (their inspection events, converted there) */
  | { readonly type: 'TRACE'; readonly stage: number; readonly events: TraceEvent[] };

/**
 * A worker stage's losses and finished steps since its last such message: `losses` holds
 * {@link LOSS_FIELDS} numbers per loss (kind: its index in {@link LOSS_KINDS}; index; batch;
 * loss; accuracy; cosine); `finished`, the last batch every actor of the stage is done with (or the
 * stage's first batch - 1).
 */
export interface ProgressReport {
  readonly type: 'PROGRESS';
  readonly stage: number;
  readonly finished: number;
  readonly losses: Float64Array;
}

export const LOSS_FIELDS = 6;
export const LOSS_KINDS: readonly LossMessage['kind'][] = ['head', 'synthesizer', 'aux'];

/** What a worker thread posts: a report, or a batch of them. */
export type WorkerReport = StageReport | ProgressReport;

/** Losses and finished steps, gathered between two {@link ProgressReport}s (in a reused buffer). */
export class ProgressBatch {
  private losses = new Float64Array(LOSS_FIELDS * 256);
  private count = 0;
  private finished: number;
  private sent: number;

  constructor(
    readonly stage: number,
    firstBatch: number,
  ) {
    this.finished = this.sent = firstBatch - 1;
  }

  loss(l: LossMessage): void {
    if ((this.count + 1) * LOSS_FIELDS > this.losses.length) {
      const grown = new Float64Array(2 * this.losses.length);
      grown.set(this.losses);
      this.losses = grown;
    }
    const at = this.count++ * LOSS_FIELDS,
      o = this.losses;
    o[at] = LOSS_KINDS.indexOf(l.kind);
    o[at + 1] = l.index;
    o[at + 2] = l.batch;
    o[at + 3] = l.loss;
    o[at + 4] = l.accuracy;
    o[at + 5] = l.cosine ?? NaN;
  }

  stepFinished(batch: number): void {
    this.finished = batch;
  }

  /** What was gathered since the last call, or null when nothing was. */
  take(): ProgressReport | null {
    if (this.count === 0 && this.finished === this.sent) return null;
    const r: ProgressReport = {
      type: 'PROGRESS',
      stage: this.stage,
      finished: this.finished,
      losses: this.losses.slice(0, this.count * LOSS_FIELDS),
    };
    this.count = 0;
    this.sent = this.finished;
    return r;
  }
}

/** What a worker thread needs to host a stage. */
export interface StageThreadInit {
  stage: Stage;
  topology: AnyTopology;
  /** every parameter (each stage builds the whole network and spawns its own actors) */
  params: ParameterSet;
  /** the state of every actor (optimisers, pending refits, carried states: a resumed training's) */
  state: ModelState;
  /** the first batch to train */
  firstBatch: number;
  /** the data set (or sequences) in shared memory */
  data: ModelData;
  steps: number;
  /** the kernel backend the trainer uses */
  kernels: string;
  /** relay inspection events as trace lines */
  inspect: boolean;
  /** how the stage's machines are interpreted */
  interpreter: Interpreter;
  /**
   * the plan is the default one: when the pool measured that the machine gives its threads one
   * core's worth, stage 0 hosts every actor and the others none (stageHost.ts)
   */
  adaptive: boolean;
  link: StageLinkInit;
}

/**
 * What a stage pool says to one of its threads (stagePool.ts, stageThread.ts). A thread hosts one
 * stage of one training at a time: a lease number tells its stages apart, so a report of a
 * training that has ended is never taken for the next one's.
 *
 *   pool ──HOST{lease, init, capacity}, COMMAND{lease, command}, END{lease}, PROBE{barrier, me}──▶ thread
 *   pool ◀──READY (loaded), REPORT{lease, report}, ENDED{lease, residue}, PROBED{capacity}── thread
 */
export type PoolCommand =
  /** build and host this stage (the pool's measured capacity decides whether an adaptive plan runs as one thread) */
  | { readonly type: 'HOST'; readonly lease: number; readonly init: StageThreadInit; readonly capacity: number | null }
  /** a command of the trainer for the stage hosted under `lease` */
  | { readonly type: 'COMMAND'; readonly lease: number; readonly command: StageCommand }
  /** the training ended: stop the stage and free everything it holds */
  | { readonly type: 'END'; readonly lease: number }
  /** run the capacity probe as thread `me` of two, on `barrier` (a start barrier) */
  | { readonly type: 'PROBE'; readonly barrier: SharedArrayBuffer; readonly me: 0 | 1 };

/** What a thread keeps after a stage ended: the kernel memory still handed out (0), and the stages it hosts (0). */
export interface Residue {
  /** bytes of the kernels' memory in use beyond the backend's own scratch and staging */
  readonly usedBytes: number;
  readonly stages: number;
}

export type PoolReport =
  | { readonly type: 'READY' }
  | { readonly type: 'REPORT'; readonly lease: number; readonly report: WorkerReport }
  | { readonly type: 'ENDED'; readonly lease: number; readonly residue: Residue }
  | { readonly type: 'PROBED'; readonly capacity: number };

/** An error as it crosses a thread: enough to rebuild a DivergenceError, or to name it in a StageError. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  divergence?: { actor: string; batch: number; tensor: string; detail: string };
}

export function serializeError(e: unknown): SerializedError {
  const error = e as Error;
  return {
    name: error?.name ?? 'Error',
    message: error?.message ?? String(e),
    stack: error?.stack,
    divergence: e instanceof DivergenceError ? { actor: e.actor, batch: e.batch, tensor: e.tensor, detail: e.detail } : undefined,
  };
}

/** The error a worker stage reported: a DivergenceError as itself, anything else as a StageError naming the stage. */
export function deserializeError(e: SerializedError, stage: Stage): Error {
  if (e.divergence) {
    const d = e.divergence;
    return new DivergenceError(d.actor, d.batch, d.tensor, d.detail);
  }
  const error = new StageError(stage.index, stage.actors, `${e.name}: ${e.message}`);
  if (e.stack) error.stack = e.stack;
  return error;
}
