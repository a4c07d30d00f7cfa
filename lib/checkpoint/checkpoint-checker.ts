/**
 * The checks a checkpoint file is read with: each failure is a CheckpointError that names the
 * file, the field and the value at fault, raised before anything is allocated.
 */
import { CheckpointError } from '../errors.ts';
import { describeValue } from '../matrix.ts';

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The checks of one file: each failure is a CheckpointError naming the file and what is wrong. */
export class Checker {
  constructor(readonly path: string) {}

  fail(reason: string): never {
    throw new CheckpointError(this.path, reason);
  }

  object(v: unknown, what: string): Json {
    if (!isObject(v)) this.fail(`${what} is ${describeValue(v)}, expected an object`);
    return v;
  }

  /** exactly these keys (those in `optional` may be absent) */
  keys(o: Json, required: readonly string[], what: string, optional: readonly string[] = []): void {
    for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) this.fail(`${what} has an unknown key '${k}'`);
    for (const k of required) if (!(k in o)) this.fail(`${what} lacks '${k}'`);
  }

  integer(v: unknown, what: string, min = 0): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
      this.fail(`${what} is ${describeValue(v)}, expected an integer >= ${min}`);
    return v;
  }

  /** Base64 of little-endian float32 values, `length` of them when given, all finite. */
  floats(v: unknown, what: string, length: number | null, shape = ''): Float32Array {
    if (typeof v !== 'string') this.fail(`${what} is ${describeValue(v)}, expected base64 text`);
    if (v.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) this.fail(`${what} is not base64`);
    const b = Buffer.from(v, 'base64');
    if (b.length % 4) this.fail(`${what} has ${b.length} bytes, not a whole number of float32 values`);
    if (length !== null && b.length / 4 !== length)
      this.fail(`${what} has ${b.length / 4} values, expected ${length}${shape ? ` (${shape})` : ''}`);
    const out = new Float32Array(b.length / 4);
    new Uint8Array(out.buffer).set(b);
    for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i])) this.fail(`${what} holds ${out[i]} at element ${i}`);
    return out;
  }

  numbers(v: unknown, what: string, length: number): number[] {
    if (!Array.isArray(v)) this.fail(`${what} is ${describeValue(v)}, expected an array of numbers`);
    if (v.length !== length) this.fail(`${what} has ${v.length} values, expected ${length} (one per step)`);
    v.forEach((n, i) => {
      if (typeof n !== 'number' || !Number.isFinite(n)) this.fail(`${what}[${i}] is ${describeValue(n)}, expected a finite number`);
    });
    return v as number[];
  }
}
