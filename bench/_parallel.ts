/**
 * How much parallel compute this machine gives right now: the same SIMD-free float loop in one
 * worker thread, then in two at once; the ratio of work done per second (2.0 = two full cores,
 * 1.0 = the two threads share one). On a shared virtual machine it changes from minute to
 * minute, and a multi-threaded speed-up cannot exceed it.
 */
import { Worker } from 'node:worker_threads';

const LOOP = `
const { parentPort, workerData } = require('node:worker_threads');
const until = Date.now() + workerData.ms;
let x = 1.0001, n = 0;
while (Date.now() < until) { for (let i = 0; i < 100000; i++) x = x * 1.0000001 + 1e-9; n++; }
parentPort.postMessage(n + (x > 1e300 ? 1 : 0));
`;

function run(threads: number, ms: number): Promise<number> {
  return Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<number>((resolve, reject) => {
          const w = new Worker(LOOP, { eval: true, workerData: { ms } });
          w.once('message', (n: number) => resolve(n));
          w.once('error', reject);
        }),
    ),
  ).then((counts) => counts.reduce((a, b) => a + b, 0));
}

/** Work per second of two threads ÷ one thread (best of `rounds`). */
export async function parallelCapacity(ms = 400, rounds = 2): Promise<number> {
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    const one = await run(1, ms),
      two = await run(2, ms);
    best = Math.max(best, two / one);
  }
  return best;
}
