/**
 * A data set's fingerprint: SHA-256 over the shapes and the float32 bytes of x and y (and, for
 * sequences, their length and mask). A checkpoint
 * records it, so a training is not resumed, without a word, on other data of the same shape.
 */
import { createHash } from 'node:crypto';
import type { Dataset } from './data.ts';
import type { Matrix } from './matrix.ts';
import type { Sequences } from './recurrent/sequences.ts';

/** `sha256:` and 64 hex digits. */
export const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/**
 * The fingerprint of a data set: equal for data sets of the same shapes and the same float32
 * values, bit for bit (little-endian, as every platform Node runs on stores them).
 *
 * @example
 * datasetFingerprint({ x, y }); // 'sha256:3f5c…'
 */
export function datasetFingerprint(data: Dataset | Sequences): string {
  const h = createHash('sha256');
  const add = (name: string, m: Matrix) => {
    h.update(`${name}:${m.rows}x${m.cols}:`);
    h.update(new Uint8Array(m.data.buffer, m.data.byteOffset, m.data.byteLength));
  };
  if ('mask' in data) {
    // sequences: their length, then x, y and the mask
    h.update(`sequences:${data.length}:`);
    for (const [name, m] of [
      ['x', data.x],
      ['y', data.y],
      ['mask', data.mask],
    ] as const)
      add(name, m);
    return `sha256:${h.digest('hex')}`;
  }
  add('x', data.x);
  // one label matrix, or (a graph with several heads) named label sets, in the order of their names
  const y = data.y as Matrix | Readonly<Record<string, Matrix>>;
  if (y.data instanceof Float32Array) add('y', y as Matrix);
  else for (const k of Object.keys(y).sort()) add(`y.${k}`, (y as Record<string, Matrix>)[k]);
  return `sha256:${h.digest('hex')}`;
}
