/**
 * The scheduler behind every edge decides *when* an actor receives a message, never *what*
 * it computes: every scheduler gives bit-identical parameters.
 *
 * - `queue`: rxjs `queueScheduler`, a trampoline, one batch in flight. A message sent while
 *   another is being handled waits for it, and batch t+1 enters layer 0 only once every layer
 *   has applied batch t's update and every synthesizer has its target: the seed's sequential
 *   order.
 *
 *     batch 0: layer:0 FORWARD, layer:1 FORWARD, synthesizer:0 PREDICT, …, synthesizer:1 REFIT
 *     batch 1: layer:0 FORWARD, …
 */
import { type SchedulerLike, queueScheduler } from 'rxjs';

export const SCHEDULERS = ['queue'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

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
      return { name, scheduler: queueScheduler, pipelined: false };
    default:
      throw new RangeError(`unknown scheduler '${String(name)}' (expected one of ${SCHEDULERS.join(', ')})`);
  }
}
