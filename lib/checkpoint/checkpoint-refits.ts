/**
 * Which refits a training state holds at a step boundary: its topology, each synthesizer's delay
 * and its step say it exactly, so a state that lost one (or gained one) is refused by name.
 *
 * - Graph (and chain) synthesizer, delay d: the prediction of batch t applies the refits of
 *   batches ≤ t-1-d, and a target alone applies nothing; so before step S the refits of batches
 *   max(0, S-1-d) … S-1 wait: min(S, d + 1) of them.
 * - Recurrent synthesizer, delay d (lib/recurrent/synthesizer.ts): the refit of step s is given
 *   during step s; a prediction at step p applies those tagged ≤ p-1-d, a refit given at step r
 *   those tagged ≤ r-d. A boundary synthesizer predicts at every window but a sequence's last and
 *   is refitted at every window but its first (W = ceil(L / T) windows of the data's length L); an
 *   interface's synthesizer does both at every step. So before step S the steps s ≤ S-1 that give
 *   a refit wait when s > max(last refit - d, last prediction - 1 - d).
 *
 * These are the bookkeeping rules of the synthesizers themselves (lib/refit-queue.ts and
 * lib/recurrent/synthesizer.ts), as a training between two steps leaves them (fit's epoch cuts
 * drain them, but fit saves no checkpoint).
 */
import type { RecurrentTopology } from '../recurrent/topology.ts';
import { recurrentSynthesizers } from '../recurrent/owners.ts';

/** A graph synthesizer's pending batches before step `step`: the first of them and how many. */
export function graphPendingBatches(delay: number, step: number): { first: number; count: number } {
  const first = Math.max(0, step - 1 - delay);
  return { first, count: step - first };
}

/**
 * A recurrent synthesizer's pending steps before step `step`, oldest first. `windows` is W, the
 * windows per sequence, for a boundary synthesizer; null for an interface's (every step predicts
 * and refits).
 */
export function recurrentPendingSteps(delay: number, step: number, windows: number | null): number[] {
  const refits = (s: number) => windows === null || s % windows !== 0;
  const predicts = (s: number) => windows === null || s % windows !== windows - 1;
  // the latest step before `step` that refits (predicts): at most W steps back
  const latest = (has: (s: number) => boolean) => {
    for (let s = step - 1; s >= Math.max(0, step - 1 - (windows ?? 1)); s--) if (has(s)) return s;
    return -Infinity;
  };
  const applied = Math.max(latest(refits) - delay, latest(predicts) - 1 - delay);
  const out: number[] = [];
  for (let s = Math.max(0, applied + 1); s < step; s++) if (refits(s)) out.push(s);
  return out;
}

/** What a recurrent synthesizer's delay leaves pending before a step. */
export interface DueRefits {
  readonly delay: number;
  /** W, for a boundary synthesizer */
  readonly windows: number | null;
  readonly steps: number[];
}

/**
 * Each recurrent synthesizer's pending steps before `step` (by actor); a boundary synthesizer's
 * only when `windows` (W of the data) is known, else it is left out.
 */
export function recurrentPendingByActor(t: RecurrentTopology, step: number, windows: number | null): Map<string, DueRefits> {
  const out = new Map<string, DueRefits>();
  for (const s of recurrentSynthesizers(t)) {
    const l = t.layers[s.layer];
    if (s.kind === 'boundary' && windows !== null)
      out.set(s.actor, { delay: l.synthesizer!.delay, windows, steps: recurrentPendingSteps(l.synthesizer!.delay, step, windows) });
    if (s.kind === 'interface')
      out.set(s.actor, { delay: l.interface!.delay, windows: null, steps: recurrentPendingSteps(l.interface!.delay, step, null) });
  }
  return out;
}

/** `[3, 4]` as "steps 3, 4", `[]` as "none". */
const listSteps = (steps: readonly number[]): string => (steps.length ? `steps ${steps.join(', ')}` : 'none');

/** Exactly the refits `due` leaves pending at `step` (steps, oldest first), else `fail` names the synthesizer (`what`). */
export function checkPendingSteps(
  fail: (reason: string) => never,
  what: string,
  step: number,
  pending: readonly { step: number }[],
  due: DueRefits,
): void {
  const d = due.steps;
  if (pending.length !== d.length || pending.some((p, k) => p.step !== d[k])) {
    const w = due.windows === null ? '' : ` with ${due.windows} windows per sequence`;
    fail(
      `${what} holds the refits of ${listSteps(pending.map((p) => p.step))}, delay ${due.delay} at step ${step}${w} leaves exactly ` +
        `${d.length} (${listSteps(d)})`,
    );
  }
}
