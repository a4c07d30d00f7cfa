/**
 * The scheduler behind every edge decides *when* an actor receives a message, never *what*
 * it computes: every scheduler gives bit-identical parameters.
 *
 * - `queue`: a {@link Trampoline} (rxjs's `queueScheduler`, lighter), one batch in flight. A message sent while
 *   another is being handled waits for it, and batch t+1 enters layer 0 only once every layer
 *   has applied batch t's update and every synthesizer has its target: the seed's sequential
 *   order.
 *
 *     batch 0: layer:0 FORWARD, layer:1 FORWARD, synthesizer:0 PREDICT, …, synthesizer:1 REFIT
 *     batch 1: layer:0 FORWARD, …
 *
 * - `async`: an {@link EventLoopScheduler}, first-in first-out on the event loop, pipelined:
 *   layer 0 takes batch t+1 as soon as it has applied batch t's update, so batch t+1 enters
 *   while batch t is further down, as far as each synthesizer's delay allows.
 *
 *     layer:0 FORWARD#0, layer:1 FORWARD#0, …, layer:0 SYNTHETIC_GRADIENT#0, layer:0 FORWARD#1, head FORWARD#0, …
 *
 * - `worker`: the actors are placed on pipeline stages, each on a thread of a stage pool (see
 *   lib/placement.ts, actors/stage/stagePool.ts and actors/stage/stageHost.ts); inside a stage a trampoline runs whatever
 *   arrives, and stages run at the same time, so batch t+1 is in stage 0 while batch t is in
 *   stage 1. Tensors cross in shared memory.
 *
 *     stage:0  layer:0 FORWARD#1 …            stage:1  layer:2 FORWARD#0 …   (at the same time)
 */
import type { SchedulerLike } from 'rxjs';
import type { StagePool } from '../stage/stagePool.ts';
import type { NatsSchedulerOptions } from '../nats/natsStage.ts';
import type { NatsStagePool } from '../nats/natsPool.ts';
import { Trampoline } from './directScheduler.ts';
import { EventLoopScheduler } from './eventLoopScheduler.ts';

export const SCHEDULERS = ['queue', 'async', 'worker'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

/** The worker scheduler's options. */
export interface WorkerSchedulerOptions {
  name: 'worker';
  /**
   * How many pipeline stages (worker threads), planned to balance the work; or an explicit plan,
   * the actors of each stage in pipeline order, e.g. `[['layer:0', 'synthesizer:0'], ['layer:1', 'head']]`.
   * Default: the count that predicts the fastest step on this machine's cores (see
   * `defaultStageCount` in lib/placement.ts): one per core, or one more when that evens out
   * uneven stages.
   */
  stages?: number | string[][];
  /**
   * The threads to run on ({@link createStagePool}): threads a pool started serve every training
   * on it, so a training pays no thread start nor warm-up. Default: {@link defaultStagePool},
   * created on first use and shared by every worker training in the process.
   */
  pool?: StagePool | NatsStagePool;
}

/**
 * `{ name: 'nats', servers, … }`: the stages on stage hosts reached through NATS, shorthand for
 * `{ name: 'worker', pool }` with a NATS pool of those options made for this one training (see
 * actors/nats/natsPool.ts); the scheduling inside each stage is the worker's.
 */
export type SchedulerOption = SchedulerName | WorkerSchedulerOptions | NatsSchedulerOptions;

export interface Scheduling {
  readonly name: SchedulerName;
  /** what every receiving end of an edge is observed on */
  readonly scheduler: SchedulerLike;
  /**
   * true: layer 0 takes batch t+1 as soon as it has applied batch t's update (the pipeline the
   * ordering semantics allow); false: only once batch t is finished everywhere.
   */
  readonly pipelined: boolean;
}

export function schedulingFor(name: SchedulerName): Scheduling {
  switch (name) {
    case 'queue':
      return { name, scheduler: new Trampoline(), pipelined: false };
    case 'async':
      return { name, scheduler: new EventLoopScheduler(), pipelined: true };
    case 'worker':
      return { name, scheduler: new Trampoline(), pipelined: true };
    default:
      throw new RangeError(`unknown scheduler '${String(name)}' (expected one of ${SCHEDULERS.join(', ')})`);
  }
}
