/**
 * Where the stages of one training meet before they begin, in shared memory (and where the two
 * threads of the stage pool's capacity probe, capacityProbe.ts, take turns): a count of arrivals,
 * a phase word, a cancelled flag, then float64 results. Waits block (Atomics.wait) and give up when
 * the training ends or after a timeout, saying who waited.
 */

/**
 * The start words: stages arrived, the probe's phase (DONE when decided), cancelled, then (as float64) the probe's result and measurements.
 */
const ARRIVED = 0,
  CANCELLED = 2;
export const PHASE = 1,
  START_F64 = 4,
  DONE = 100;

/** Where the stages of one training meet before they begin (or the two threads of a capacity probe). */
export function createStartBarrier(): SharedArrayBuffer {
  return new SharedArrayBuffer(START_F64 * 4 + 3 * 8);
}

/** The training ended: a stage still waiting at its start barrier stops waiting (and throws). */
export function cancelStart(start: SharedArrayBuffer): void {
  const words = new Int32Array(start);
  Atomics.store(words, CANCELLED, 1);
  Atomics.notify(words, ARRIVED);
  Atomics.notify(words, PHASE);
}

/** Wait (blocking) until word `index` of the start words satisfies `done`, or throw when cancelled or after `until`. */
export function waitFor(words: Int32Array, index: number, done: (v: number) => boolean, who: string, until: number): void {
  for (let v = Atomics.load(words, index); !done(v); v = Atomics.load(words, index)) {
    if (Atomics.load(words, CANCELLED) !== 0) throw new Error(`stage link: ${who} stopped waiting for its peers: the training ended`);
    if (performance.now() > until) throw new Error(`stage link: ${who} waited too long for its peers to start`);
    Atomics.wait(words, index, v, 50);
  }
}

export function signal(words: Int32Array, index: number, v: number): void {
  Atomics.store(words, index, v);
  Atomics.notify(words, index);
}

/** Count participant `me` of `count` in at the barrier `start`, and wait (blocking) for all of them. */
export function arrive(start: SharedArrayBuffer, count: number, me: number, timeoutMs: number): void {
  const words = new Int32Array(start);
  if (Atomics.add(words, ARRIVED, 1) + 1 === count) Atomics.notify(words, ARRIVED);
  waitFor(words, ARRIVED, (v) => v >= count, `stage ${me}`, performance.now() + timeoutMs);
}
