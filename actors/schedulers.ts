/**
 * The scheduler behind every edge decides *when* an actor receives a message, never *what*
 * it computes.
 *
 * - `queue`: rxjs `queueScheduler`, a trampoline. A message sent while another is being
 *   handled waits for it to finish, so the network runs the seed's sequential order:
 *   batch t goes all the way down and its gradients come back before batch t+1 enters
 *   (as far as the ordering semantics let it).
 */
import { type SchedulerLike, queueScheduler } from 'rxjs';

export const SCHEDULERS = ['queue'] as const;
export type SchedulerName = (typeof SCHEDULERS)[number];

export function schedulerFor(name: SchedulerName): SchedulerLike {
  switch (name) {
    case 'queue':
      return queueScheduler;
    default:
      throw new RangeError(`unknown scheduler '${String(name)}' (expected one of ${SCHEDULERS.join(', ')})`);
  }
}
