/**
 * One side of the hand-off latency measurement (see _handoff.ts): a stage that answers every
 * event from its peer with one of its own, at once, `n` times. `link` measures the shared-memory
 * link as stages use it (the driver's spin, sleep and park); `port` the transport before it (the
 * tensor in the same shared ring, `{ route, batch }` posted on a MessagePort per event).
 * Each event's send time is stamped in shared memory by the sender (process.hrtime, the same
 * monotonic clock in every thread); the receiver records now minus that stamp.
 */
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { Route } from '../actors/machines/events.ts';
import { StageDriver } from '../actors/stage/stageDriver.ts';
import { SharedMemoryLink, type StageLinkInit } from '../actors/stage/stageLink.ts';

interface Init {
  mode: 'link' | 'port';
  /** 0 starts the exchange */
  side: 0 | 1;
  n: number;
  link: StageLinkInit;
  /** my route, then the peer's */
  routes: [Route, Route];
  /** send times, ns since `base`: side 0's events, then side 1's */
  stamps: SharedArrayBuffer;
  base: bigint;
  port: MessagePort;
}

const init = workerData as Init;
const stamps = new Float64Array(init.stamps);
const latencies = new Float64Array(init.n);
const tensor = { rows: init.routes[0].rows, cols: init.routes[0].cols, data: new Float32Array(init.routes[0].rows * init.routes[0].cols) };
const now = () => Number(process.hrtime.bigint() - init.base);
const mine = init.side * init.n,
  theirs = (1 - init.side) * init.n;
let received = 0,
  sent = 0;
const link = new SharedMemoryLink(init.link);

const done = () => {
  driver?.stop();
  parentPort!.postMessage({ latencies, found: driver?.policy.found ?? 0, waits: driver?.policy.waits ?? 0 });
};
function send(): void {
  stamps[mine + sent] = now();
  if (init.mode === 'link') link.send(init.routes[0], { type: 'FORWARD', batch: sent, slot: 0, x: tensor });
  else init.port.postMessage({ route: init.routes[0].key, batch: sent });
  sent++;
}
function arrived(batch: number): void {
  latencies[received] = now() - stamps[theirs + batch];
  received++;
  // side 0 opens each round, side 1 answers it
  if (init.side === 1 || received < init.n) send();
  if (received === init.n) done();
}

let driver: StageDriver | null = null;
if (init.mode === 'link') {
  link.incoming.subscribe((a) => arrived(a.event.batch));
  driver = new StageDriver(link, {
    idle: () => {},
    fail: (e) => {
      throw e;
    },
  });
  link.awaitPeers();
  driver.wake();
} else {
  init.port.on('message', (m: { batch: number }) => arrived(m.batch));
  link.awaitPeers();
}
if (init.side === 0) send();
