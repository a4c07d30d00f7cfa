/**
 * The one-way hand-off latency between two stages on two worker threads: an event of the seed
 * network's size (10x128) sent by one stage and taken by the other, `n` times each way in a
 * ping-pong (each answer leaves as soon as its event arrives), through the shared-memory link
 * (`link`) and, for comparison, the per-event postMessage it replaced (`port`). Median and p99
 * in µs over both directions.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import { workerEntry } from '../actors/stage/workerEntry.ts';
import type { Route } from '../actors/machines/events.ts';
import { type StageLinkInit, createDoorbell, createSharedChannel, createSharedRing } from '../actors/stage/stageLink.ts';
import { createStartBarrier } from '../actors/stage/startBarrier.ts';

export interface HandoffLatency {
  transport: 'link' | 'port';
  events: number;
  median_us: number;
  p99_us: number;
  /** link only: the share of waits whose spin found the event */
  spin_found: number | null;
}

const route = (key: string, source: string, target: string): Route => ({
  key,
  type: 'FORWARD',
  source,
  target,
  slot: 0,
  edge: 0,
  rows: 10,
  cols: 128,
});

export async function handoffLatency(transport: 'link' | 'port', n = 20_000): Promise<HandoffLatency> {
  const routes: [Route, Route] = [route('FORWARD>b', 'a', 'b'), route('FORWARD>a', 'b', 'a')];
  const depth = 3,
    bells = [createDoorbell(), createDoorbell()],
    start = createStartBarrier();
  const rings = Object.fromEntries(routes.map((r) => [r.key, { route: r, ring: createSharedRing(depth, r.rows, r.cols) }]));
  const channels = [createSharedChannel(0, 1, [routes[0].key], depth), createSharedChannel(1, 0, [routes[1].key], depth)];
  const links: StageLinkInit[] = [0, 1].map((stage) => ({ stage, bells, channels, rings, start, stages: 2 }));
  const stamps = new SharedArrayBuffer(2 * n * 8),
    base = process.hrtime.bigint();
  const { port1, port2 } = new MessageChannel();
  const results = await Promise.all(
    ([0, 1] as const).map((side) => {
      const port = side === 0 ? port1 : port2;
      const workerData = {
        mode: transport,
        side,
        n,
        link: links[side],
        routes: side === 0 ? routes : [routes[1], routes[0]],
        stamps,
        base,
        port,
      };
      const w = new Worker(...workerEntry(new URL('./_handoffThread.ts', import.meta.url), { workerData, transferList: [port] }));
      return new Promise<{ latencies: Float64Array; found: number; waits: number }>((resolve, reject) => {
        w.once('message', (m) => {
          resolve(m);
          void w.terminate();
        });
        w.once('error', reject);
      });
    }),
  );
  // the first 10% of each side warm up (JIT, the spin budget): not counted
  const all = Float64Array.from(results.flatMap((r) => Array.from(r.latencies.subarray(Math.floor(n / 10))))).sort();
  const at = (q: number) => all[Math.min(all.length - 1, Math.floor(q * all.length))] / 1000;
  const waits = results.reduce((s, r) => s + r.waits, 0);
  return {
    transport,
    events: all.length,
    median_us: at(0.5),
    p99_us: at(0.99),
    spin_found: transport === 'link' ? results.reduce((s, r) => s + r.found, 0) / Math.max(1, waits) : null,
  };
}
