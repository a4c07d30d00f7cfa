/**
 * What the trainer and a stage say to each other, in one place: one union per direction. The
 * same objects are the stage machine's events (in this thread) and the messages a worker thread
 * gets and posts (a worker-hosted stage), so both kinds of stage speak exactly one language.
 * Tensors never go through here (see stageLink.ts); losses are a few numbers; parameters cross
 * once each way.
 *
 *   trainer ──START, ALLOW{through}, CAPTURE{step}, DRAIN, HALT──▶ stage
 *   trainer ◀──LOSS, STEP_FINISHED{batch}, CUT{step, state}, DRAINED{state}, HALTED{fed}, FAILED, TRACE── stage
 */
import { DivergenceError, StageError } from '../lib/errors.ts';
import type { AnyTopology, ModelData, ModelState } from '../lib/model.ts';
import type { ParameterSet } from '../lib/params.ts';
import type { Stage } from '../lib/placement.ts';
import type { LossMessage } from './events.ts';
import type { TraceEvent } from './inspection.ts';
import type { Interpreter } from './machines.ts';
import type { StageLinkInit } from './stageLink.ts';

/** What the trainer tells a stage. */
export type StageCommand =
  /** connect the stage's actors and wait for batches */
  | { readonly type: 'START' }
  /** batches up to `through` may enter (a stage feeds its layers that read the data) */
  | { readonly type: 'ALLOW'; readonly through: number }
  /** every batch before `step` is finished everywhere: report the stage's share of the state (a checkpoint cut) */
  | { readonly type: 'CAPTURE'; readonly step: number }
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
  link: StageLinkInit;
}

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
