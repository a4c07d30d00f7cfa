/**
 * The paper's algorithmic tasks as {@link Sequences}, drawn from a seeded generator (lib/rng.ts).
 *
 * Copy (docs/maths.md), length n, width w: inputs are n random bit vectors on channels 0..w-1, then a
 * delimiter on channel w, then n steps of zeros (in = w + 1, L = 2n + 1); targets are zeros for the
 * first n + 1 steps, then the same n vectors; the mask is 1 on the n recall steps.
 *
 * Repeat copy (after the NTM paper's task, as the DNI paper uses it), length n, repeats r, width w:
 * in = w + 2, out = w + 1, L = n + 2 + n·r + 1. Step 0 carries a start delimiter (channel w), steps
 * 1..n the bit vectors, step n + 1 the repeat count on channel w + 1, normalised as r / maxRepeats
 * (NTM's convention; `maxRepeats` defaults to r); then the n·r recall steps, whose targets are the
 * sequence r times over, and a last step whose target is an end marker on output channel w (so the
 * model must count the repeats). The mask is 1 on the recall steps and the end step.
 */
import { zeros } from '../matrix.ts';
import type { Sequences } from '../recurrent/sequences.ts';
import { Rng } from '../rng.ts';

export interface CopyTaskOptions {
  /** number of sequences N */
  sequences: number;
  /** n: bit vectors to remember */
  length: number;
  /** w: bits per vector (default 8) */
  width?: number;
  seed?: number;
  /** draw from this generator instead of a new one from `seed` (a curriculum keeps one going) */
  rng?: Rng;
}

/**
 * The copy task (docs/maths.md).
 *
 * @example
 * const data = copyTask({ sequences: 64, length: 5, width: 8, seed: 1 }); // x: 64 × (11·9)
 */
export function copyTask(o: CopyTaskOptions): Sequences {
  const n = check(o.length, 'copyTask: length'),
    w = check(o.width ?? 8, 'copyTask: width'),
    N = check(o.sequences, 'copyTask: sequences');
  const rng = o.rng ?? new Rng(o.seed ?? 1);
  const L = 2 * n + 1,
    ni = w + 1;
  const x = zeros(N, L * ni),
    y = zeros(N, L * w),
    mask = zeros(N, L);
  for (let s = 0; s < N; s++) {
    for (let t = 0; t < n; t++) {
      for (let j = 0; j < w; j++) {
        const bit = rng.next() < 0.5 ? 0 : 1;
        x.data[(s * L + t) * ni + j] = bit;
        y.data[(s * L + n + 1 + t) * w + j] = bit;
      }
      mask.data[s * L + n + 1 + t] = 1;
    }
    x.data[(s * L + n) * ni + w] = 1;
  }
  return { length: L, inputs: ni, outputs: w, x, y, mask };
}

export interface RepeatCopyOptions extends CopyTaskOptions {
  /** r: how many times to recall the sequence */
  repeats: number;
  /** the repeat count is given as r / maxRepeats (default r) */
  maxRepeats?: number;
}

/**
 * The repeat-copy task.
 *
 * @example
 * const data = repeatCopyTask({ sequences: 64, length: 3, repeats: 2, width: 8, seed: 1 }); // L = 3 + 2 + 6 + 1
 */
export function repeatCopyTask(o: RepeatCopyOptions): Sequences {
  const n = check(o.length, 'repeatCopyTask: length'),
    w = check(o.width ?? 8, 'repeatCopyTask: width'),
    N = check(o.sequences, 'repeatCopyTask: sequences');
  const r = check(o.repeats, 'repeatCopyTask: repeats'),
    maxR = check(o.maxRepeats ?? r, 'repeatCopyTask: maxRepeats');
  const rng = o.rng ?? new Rng(o.seed ?? 1);
  const L = n + 2 + n * r + 1,
    ni = w + 2,
    no = w + 1;
  const x = zeros(N, L * ni),
    y = zeros(N, L * no),
    mask = zeros(N, L);
  const bits = new Float32Array(n * w);
  for (let s = 0; s < N; s++) {
    x.data[s * L * ni + w] = 1;
    for (let i = 0; i < n * w; i++) bits[i] = rng.next() < 0.5 ? 0 : 1;
    for (let t = 0; t < n; t++) for (let j = 0; j < w; j++) x.data[(s * L + 1 + t) * ni + j] = bits[t * w + j];
    x.data[(s * L + n + 1) * ni + w + 1] = r / maxR;
    for (let rep = 0; rep < r; rep++) {
      for (let t = 0; t < n; t++) {
        const step = n + 2 + rep * n + t;
        for (let j = 0; j < w; j++) y.data[(s * L + step) * no + j] = bits[t * w + j];
        mask.data[s * L + step] = 1;
      }
    }
    y.data[(s * L + L - 1) * no + w] = 1;
    mask.data[s * L + L - 1] = 1;
  }
  return { length: L, inputs: ni, outputs: no, x, y, mask };
}

function check(v: number, what: string): number {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what} must be an integer >= 1, got ${v}`);
  return v;
}
