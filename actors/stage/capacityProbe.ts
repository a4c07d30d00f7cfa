/**
 * How much parallel compute the machine gives two threads right now: the probe a stage pool runs
 * on two of its threads (stagePool.ts, stageThread.ts), once, and a low reading again later, so a
 * default plan runs as one thread where two would only share a core (stageHost.ts).
 */
import { DONE, PHASE, START_F64, arrive, signal, waitFor } from './startBarrier.ts';

/**
 * The capacity probe, run by two threads at once (`me` 0 and 1, on one fresh
 * {@link createStartBarrier}): how much parallel compute the machine gives them right now
 * ({@link PROBE_MS} of plain compute in thread 0 alone, in thread 1 alone, then in both at once);
 * returns, in both, both's work over the better one alone (2 is two cores' worth, 1 means the two
 * threads share one). A stage pool measures it once, and a low reading again later (stagePool.ts).
 */
export function measureCapacity(start: SharedArrayBuffer, me: 0 | 1, timeoutMs = 60_000): number {
  arrive(start, 2, me, timeoutMs);
  const words = new Int32Array(start),
    until = performance.now() + timeoutMs,
    who = `probe thread ${me}`;
  // thread 0 alone, thread 1 alone, then both at once (each warmed up first: a cold loop reads
  // slow). Other threads may still load or compile: a phase may be disturbed, which reads low
  // (or, a phase alone disturbed, implausibly high: above 2.1 or below 0.5). So a reading below
  // ONE_CORE is taken again, up to 3 readings, and the best plausible one counts; none plausible
  // counts as 1 (one thread is the safe choice).
  const f = new Float64Array(start, START_F64 * 4);
  const plausible = (c: number) => c >= 0.5 && c <= 2.1;
  compute(PROBE_MS / 2);
  if (me === 0) {
    let best = 0;
    for (let base = 0; base < 12 && best < ONE_CORE; base += 4) {
      const alone = compute(PROBE_MS);
      signal(words, PHASE, base + 1);
      waitFor(words, PHASE, (v) => v >= base + 2, who, until);
      const both = compute(PROBE_MS);
      waitFor(words, PHASE, (v) => v >= base + 3, who, until);
      const reading = (both + f[1]) / Math.max(alone, f[2]);
      if (plausible(reading)) best = Math.max(best, reading);
    }
    f[0] = best > 0 ? best : 1;
    signal(words, PHASE, DONE);
  } else {
    for (let base = 0; ; base += 4) {
      waitFor(words, PHASE, (v) => v >= base + 1, who, until);
      if (Atomics.load(words, PHASE) >= DONE) break;
      f[2] = compute(PROBE_MS);
      signal(words, PHASE, base + 2);
      f[1] = compute(PROBE_MS);
      signal(words, PHASE, base + 3);
    }
  }
  waitFor(words, PHASE, (v) => v >= DONE, who, until);
  return f[0];
}

/** How long each phase of the start probe computes (ms). */
export const PROBE_MS = 8;
/** Below this measured capacity (two threads' compute over one's), a default plan runs as one thread. */
export const ONE_CORE = 1.5;
/**
 * How long a reading below {@link ONE_CORE} stands before a pool takes it again (ms). A neighbour's
 * burst on a shared machine lasts seconds, so a low reading may be one bad moment; but a probe holds
 * up the lease that takes it (~30 ms on an idle machine, 100–500 ms on a busy one): once every 30 s
 * that stays near 1% where the machine really gives one core, however short its trainings.
 */
export const REPROBE_MS = 30_000;

/** Plain float work for `ms`: how many rounds of it got done (no SIMD, no memory: it measures the cores, nothing else). */
function compute(ms: number): number {
  const until = performance.now() + ms;
  let x = 1.0001,
    n = 0;
  while (performance.now() < until) {
    for (let i = 0; i < 2000; i++) x = x * 1.0000001 + 1e-9;
    n++;
  }
  return x > 1e300 ? n + 1 : n;
}
