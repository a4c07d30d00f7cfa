/**
 * The seed's task: add two (bits-1)-bit numbers. Each row of x is the two numbers' bits, most
 * significant first (2 * bits columns); its label is the sum's bits (bits columns).
 */
import type { Dataset } from '../data.ts';
import { type Matrix, zeros } from '../matrix.ts';
import { Rng } from '../rng.ts';

export function binaryAddition(rows = 1000, bits = 12, seed = 1): Dataset<Matrix> {
  if (!Number.isInteger(bits) || bits < 2 || bits > 30)
    throw new RangeError(`binaryAddition: bits must be an integer in [2, 30], got ${bits}`);
  const rng = new Rng(seed);
  const x = zeros(rows, 2 * bits),
    y = zeros(rows, bits);
  const half = 2 ** (bits - 1);
  const writeBits = (out: Float32Array, at: number, value: number) => {
    for (let j = 0; j < bits; j++) out[at + j] = (value >>> (bits - 1 - j)) & 1;
  };
  for (let i = 0; i < rows; i++) {
    const a = rng.nextUint32() % half,
      b = rng.nextUint32() % half;
    writeBits(x.data, i * 2 * bits, a);
    writeBits(x.data, i * 2 * bits + bits, b);
    writeBits(y.data, i * bits, a + b);
  }
  return { x, y };
}
