/**
 * How much the library reads from a file before refusing it. Every limit is checked before the
 * file is read (a regular file's size is known from `stat`; anything else is refused), so a wrong
 * path (`/dev/zero`, a FIFO, a 3 GB log) fails at once with the file's name, its size and the
 * limit, instead of filling the memory.
 *
 * Each default can be raised for one run with the environment variable named beside it (a number
 * of bytes, e.g. `DNI_MAX_CHECKPOINT_BYTES=2000000000`), or per call where the function that
 * reads takes a `maxBytes` option. JSON text (cases, checkpoints) cannot exceed V8's largest
 * string (about 512 MiB) whatever the limit.
 */

import { bytesFromEnv } from './environment.ts';

/** A limit: its default, the environment variable that overrides it, and what it bounds. */
export interface ByteLimit {
  /** bytes */
  readonly bytes: number;
  /** e.g. `DNI_MAX_CASE_BYTES` */
  readonly env: string;
  /** what it bounds, for errors: `a case file` */
  readonly what: string;
}

/** A reference case (`npm run reference`): 256 MiB, far above the shipped cases (≤ 1.3 MB). */
export const MAX_CASE_BYTES: ByteLimit = { bytes: 256 * 2 ** 20, env: 'DNI_MAX_CASE_BYTES', what: 'a case file' };

/**
 * A checkpoint: 256 MiB (a 784-256-256-10 network with Adam everywhere takes ~6 MB; each million
 * parameters with Adam adds ~16 MB of base64).
 */
export const MAX_CHECKPOINT_BYTES: ByteLimit = { bytes: 256 * 2 ** 20, env: 'DNI_MAX_CHECKPOINT_BYTES', what: 'a checkpoint' };

/**
 * A trace served by `npm run inspect`: 256 MiB. The server streams it (it never holds it), but
 * the page parses all of it in the browser, and a tab runs out of memory well before a gigabyte
 * of JSON lines; record with `--sample N` to keep every Nth batch only.
 */
export const MAX_TRACE_BYTES: ByteLimit = { bytes: 256 * 2 ** 20, env: 'DNI_MAX_TRACE_BYTES', what: 'a trace' };

/**
 * The limit in force: `override` when given, else the environment variable when set, else the
 * default. A malformed variable is an error (naming it), never silently the default.
 */
export function byteLimit(limit: ByteLimit, override?: number): number {
  if (override !== undefined) {
    if (!Number.isSafeInteger(override) || override < 0) throw new RangeError(`maxBytes must be an integer >= 0, got ${String(override)}`);
    return override;
  }
  return bytesFromEnv(limit.env) ?? limit.bytes;
}

/** `3.0 GB`, `256 MiB`-style sizes for messages, exact bytes in parentheses. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n,
    u = 0;
  while (v >= 1024 && u < units.length - 1) ((v /= 1024), u++);
  return u === 0 ? `${n} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]} (${n} bytes)`;
}

/**
 * What one training may allocate for its network (parameters, optimiser moments, buffers, rings,
 * pending refits, the per-step history): 4 GiB by default. With a WebAssembly backend the
 * backend's own arena (1 GiB unless `DNI_WASM_MEMORY_MB` says otherwise) is the tighter bound.
 */
export const MAX_TRAINING_BYTES: ByteLimit = { bytes: 4 * 2 ** 30, env: 'DNI_MAX_TRAINING_BYTES', what: 'a training' };
