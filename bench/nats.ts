/**
 * `npm run bench -- nats [--json] [--steps N] [--rounds N]`: stages on NATS stage hosts against
 * worker threads and one thread, side by side in one run, on this machine: a nats-server on
 * 127.0.0.1 and two stage hosts (`bin/stage.ts`, one process each), started and stopped here.
 *
 * - latency: the one-way time of a tensor through the server, 10 KiB and 256 KiB, between two
 *   connections of this process (ping-pong through the NATS stage link; median and p99);
 * - wide: 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer, delay 1, under
 *   `queue`, `worker` (2 stages) and `nats` (2 stages, one on each host): steady-state steps per
 *   second (from step 10), the whole run, and whether the parameters are bit-identical.
 *   Goal: nats ≥ 0.8× worker. The stages' busy shares say what the bottleneck is.
 * - short: three short seed-network trainings (24-128-64-12, batch 10, delay 1; `--short N` steps,
 *   default 3,000) one after another on one pool of the two hosts, against the same training under
 *   queue: when each took its first step, and its whole run (a host's thread serves one training
 *   after another, so the second and third start on threads the first warmed).
 */
import type { NatsConnection } from 'nats';
import type { CommandHelp } from '../lib/io/help.ts';
import { NatsLink } from '../actors/nats/natsLink.ts';
import { connectNats } from '../actors/nats/natsProtocol.ts';
import type { Route } from '../actors/machines/events.ts';
import type { HostProcess, NatsServer } from '../tests/nats/_servers.ts';
import type { SchedulerOption } from '../actors/schedulers/schedulers.ts';
import { libraryApi, measure, randomData, sameBits, useApi, wideTopology } from './schedulers.ts';

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const p99 = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length * 0.99)];

/** One-way latency of a `bytes`-byte tensor through the server: half of each ping-pong round trip (µs). */
async function latency(
  a: NatsConnection,
  b: NatsConnection,
  bytes: number,
  n: number,
): Promise<{ bytes: number; median_us: number; p99_us: number }> {
  const cols = bytes / 4 / 16;
  const there: Route = { key: 'FORWARD>b', type: 'FORWARD', source: 'a', target: 'b', slot: 0, edge: 0, rows: 16, cols };
  const back: Route = { ...there, key: 'FORWARD>a', source: 'b', target: 'a' };
  const subject = `bench.${bytes}`,
    maxPayload = a.info!.max_payload;
  const init = (stage: number) => ({ stage, subjects: [`${subject}.0`, `${subject}.1`], targets: [1, 0], depth: 3, maxPayload });
  const la = new NatsLink(a, [there, back], init(0)),
    lb = new NatsLink(b, [there, back], init(1));
  await Promise.all([a.flush(), b.flush()]);
  const x = { rows: 16, cols, data: new Float32Array(16 * cols).fill(0.5) };
  const times: number[] = [];
  lb.incoming.subscribe((arrival) => lb.send(back, { type: 'FORWARD', batch: arrival.event.batch, slot: 0, x }));
  await new Promise<void>((resolve) => {
    let t0 = 0;
    const go = (batch: number) => {
      t0 = performance.now();
      la.send(there, { type: 'FORWARD', batch, slot: 0, x });
    };
    la.incoming.subscribe((arrival) => {
      times.push(((performance.now() - t0) * 1000) / 2);
      if (arrival.event.batch + 1 < n) go(arrival.event.batch + 1);
      else resolve();
    });
    go(0);
  });
  la.close();
  lb.close();
  const warm = times.slice(Math.floor(n / 10));
  return { bytes, median_us: median(warm), p99_us: p99(warm) };
}

/** `npm run bench -- nats --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- nats [options]',
  about:
    'Stages on NATS stage hosts against worker threads and one thread, side by side: a nats-server on 127.0.0.1 and two\n' +
    'stage hosts started here; the one-way latency of a tensor through the server, the wide network under queue, worker and nats,\n' +
    'then three short seed-network trainings in a row on one pool of the hosts.',
  options: [
    ['--steps N', 'steps of each wide-network run (default 120)'],
    ['--rounds N', 'rounds of the three schedulers (default 1)'],
    ['--short N', 'steps of each short seed-network training (default 3000)'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'a minute or two on 2 cores (needs nats-server: apt-get install nats-server)',
};

export async function main(argv: string[]): Promise<void> {
  // loaded here: finding nats-server runs a command, which `--help` must not
  const { NATS_SERVER, startHost, startNats, stopAllHosts } = await import('../tests/nats/_servers.ts');
  const json = argv.includes('--json');
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const steps = Number(at('--steps') ?? 120),
    rounds = Number(at('--rounds') ?? 1),
    warm = 10;
  if (!NATS_SERVER) {
    console.error('bench nats: nats-server is not installed (apt-get install nats-server)');
    process.exit(2);
  }
  const api = await libraryApi(false);
  useApi(api);
  let server: NatsServer | null = null;
  const hosts: HostProcess[] = [];
  const results: Record<string, unknown> = {};
  try {
    server = await startNats();
    hosts.push(...(await Promise.all([startHost(server.url, 'bench-a'), startHost(server.url, 'bench-b')])));
    console.log(`nats-server ${server.url}, stage hosts bench-a and bench-b (one process each, one thread each), all on this machine`);

    console.log('\none-way tensor latency through the server (ping-pong between two connections of this process)');
    const [a, b] = await Promise.all([connectNats({ servers: server.url }), connectNats({ servers: server.url })]);
    const lat = [];
    for (const [bytes, n] of [
      [10 * 1024, 2000],
      [256 * 1024, 400],
    ] as const) {
      const l = await latency(a, b, bytes, n);
      lat.push(l);
      console.log(
        `  ${String(bytes / 1024).padStart(4)} KiB: median ${l.median_us.toFixed(0).padStart(6)} µs   p99 ` +
          `${l.p99_us.toFixed(0).padStart(6)} µs`,
      );
    }
    results.latency = lat;
    await Promise.all([a.close(), b.close()]);

    const topology = wideTopology(),
      data = randomData(64 * 16, 784, 10);
    const nats = { name: 'nats' as const, servers: server.url, hosts: ['bench-a', 'bench-b'] };
    const worker = { name: 'worker' as const, stages: 2 };
    console.log(
      `\nwide, delay 1: 784-1024-1024-1024-10, batch 64, ${steps} steps (steady state from step ${warm}); worker and nats: 2 stages`,
    );
    const rows = [];
    for (let r = 0; r < rounds; r++) {
      const queue = await measure(topology, data, steps, warm, 'queue');
      const threads = await measure(topology, data, steps, warm, worker);
      const remote = await measure(topology, data, steps, warm, nats);
      const row = {
        queue: queue.stepsPerSecond,
        worker: threads.stepsPerSecond,
        nats: remote.stepsPerSecond,
        nats_over_worker: remote.stepsPerSecond / threads.stepsPerSecond,
        nats_over_queue: remote.stepsPerSecond / queue.stepsPerSecond,
        whole_run_seconds: { queue: queue.seconds, worker: threads.seconds, nats: remote.seconds },
        identical: sameBits(queue.params, threads.params) && sameBits(queue.params, remote.params),
        busy: { worker: threads.utilization, nats: remote.utilization },
      };
      rows.push(row);
      const pct = (u: number[]) => u.map((x) => `${(100 * x).toFixed(0)}%`).join(', ');
      console.log(
        `  queue ${row.queue.toFixed(1).padStart(6)} steps/s   worker ${row.worker.toFixed(1).padStart(6)} steps/s   nats ` +
          `${row.nats.toFixed(1).padStart(6)} steps/s   ` +
          `nats / worker ${row.nats_over_worker.toFixed(2)}   nats / queue ${row.nats_over_queue.toFixed(2)}   bit-identical: ` +
          `${row.identical ? 'yes' : 'NO'}`,
      );
      console.log(
        `  whole runs: queue ${queue.seconds.toFixed(1)} s, worker ${threads.seconds.toFixed(1)} s, nats ${remote.seconds.toFixed(1)} s; ` +
          `stages busy: worker ${pct(threads.utilization)}, nats ${pct(remote.utilization)}`,
      );
    }
    results.wide = rows;

    const shortSteps = Number(at('--short') ?? 3000);
    console.log(
      `\nshort trainings one after another on one pool of the two hosts: the seed network (24-128-64-12, batch 10, delay 1), ` +
        `${shortSteps} steps each; from createTraining: its first step, its whole run`,
    );
    const seed = api.defineTopology({
        inputs: 24,
        batch: 10,
        lr: 0.5,
        synthesizer: { lr: 0.01, delay: 1 },
        layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
      }),
      seedData = api.binaryAddition(1000, 12);
    const timed = async (scheduler: SchedulerOption) => {
      const t0 = performance.now();
      let first = NaN;
      const t = api.createTraining({ topology: seed, data: seedData, steps: shortSteps, seed: 7, scheduler });
      t.metrics$.subscribe((m) => void (m.batch === 0 && (first = performance.now() - t0)));
      const r = await t.run();
      return { first_step_ms: first, whole_seconds: (performance.now() - t0) / 1000, params: r.params };
    };
    const queue = await timed('queue');
    console.log(
      `  queue        first step after ${queue.first_step_ms.toFixed(0).padStart(4)} ms, whole ${queue.whole_seconds.toFixed(2)} s`,
    );
    const pool = api.createStagePool({ nats: { servers: server.url, hosts: ['bench-a', 'bench-b'] } });
    const short = [];
    try {
      for (let i = 0; i < 3; i++) {
        const r = await timed({ name: 'worker', pool });
        const row = { first_step_ms: r.first_step_ms, whole_seconds: r.whole_seconds, identical: sameBits(queue.params, r.params) };
        short.push(row);
        console.log(
          `  training ${i + 1}   first step after ${row.first_step_ms.toFixed(0).padStart(4)} ms, ` +
            `whole ${row.whole_seconds.toFixed(2)} s (${(queue.whole_seconds / row.whole_seconds).toFixed(2)}× queue)   ` +
            `bit-identical: ${row.identical ? 'yes' : 'NO'}`,
        );
      }
    } finally {
      await pool.close();
    }
    results.short = { steps: shortSteps, queue: { first_step_ms: queue.first_step_ms, whole_seconds: queue.whole_seconds }, nats: short };
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await stopAllHosts();
    await server?.stop();
  }
  if (json) console.log(JSON.stringify(results));
}
