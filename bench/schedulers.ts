/**
 * `npm run bench -- schedulers [--json] [--rounds N] [--steps N] [--epochs N] [--stages N]
 * [--only handoff,seed,seed3k,wide,mnist,fresh,copy] [--built]`:
 * the queue scheduler (one thread, the seed's sequential order) against the worker scheduler
 * (pipeline stages on the threads of one stage pool, warmed by a first short training; its
 * default plan unless `--stages`), side by side in one run,
 * each measurement between two readings of the machine's parallel capacity (two threads of plain
 * compute ÷ one: the ceiling for any speed-up, which on a shared machine moves from minute to
 * minute), `--rounds` times over (default 3; the wide network and MNIST once unless asked):
 *
 * - handoff: the one-way latency of an event between two stages on two threads (median, p99),
 *   through the shared-memory link and through the per-event postMessage it replaced;
 * - seed: the seed's network 24-128-64-12, batch 10, DNI, at delay 0 and delay 1, 30,000 steps;
 * - seed3k: the same at delay 0, 3,000 steps (a short training: its whole run is what counts);
 * - wide: 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer, delay 1;
 * - mnist: 784-256-256-10, batch 64, Adam, DNI, through fit() as `demo:mnist` runs it (8,000
 *   digits, a shuffle per epoch, the 2,000 test digits evaluated after each), delay 0 and 1:
 *   seconds per epoch (the median epoch; the first includes building the training), and the whole
 *   `fit()` (its `in all` ratio);
 * - fresh: the first 3,000-step seed training on a fresh pool (its threads' start and V8's warm-up
 *   included) against the second on the same pool, and queue;
 * - copy: `demo:copy --budget 320` (15 curriculum cells, each 10 short trainings of a batch; under
 *   queue a child process per cell, 2 at a time; under worker one child trains every cell on its
 *   one stage pool) under queue and under worker: wall seconds of the whole demo, the same table.
 *
 * Steps per second are measured in steady state (from the metrics of step `warm` to the last
 * step), and the two sides must end with bit-identical parameters. `ratio` = worker ÷ queue speed;
 * the whole run's ratio (from createTraining to the end: threads started, warm-up included) is
 * printed beside it. A fresh thread compiles its code anew: on the seed network V8 optimises
 * ~300 functions in the first 2,000 steps and ~60 in the next 2,000 (`node --trace-opt`), and
 * the steps run at 150 then 70 µs before settling near 40; a pool's threads keep what they
 * optimised for the next training (see `fresh`). The seed's steady state is measured from step
 * 10,000 of 30,000.
 *
 * `--built`: the trainings run on the built package (dist/; `npm run build` first) as npm installs
 * it, whose worker threads load JavaScript (here they load TypeScript through tsx: slower to start).
 */
import { execFileSync } from 'node:child_process';
import type { CommandHelp } from '../lib/io/help.ts';
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { SchedulerOption } from '../actors/schedulers/schedulers.ts';
import type { Dataset } from '../lib/data.ts';
import type { ParameterSet } from '../lib/params.ts';
import type { Topology } from '../lib/topology.ts';
import { handoffLatency } from './_handoff.ts';
import { parallelCapacity } from './_parallel.ts';

/** `npm run bench -- schedulers --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- schedulers [options]',
  about:
    "The queue scheduler against the worker scheduler, side by side, with the machine's parallel capacity read around each\n" +
    'measurement: the hand-off latency between two stages, the seed network at delay 0 and 1, a wide network, and MNIST\n' +
    'through fit(). Both sides must end with bit-identical parameters.',
  options: [
    ['--rounds N', 'rounds of each (default 3; the wide network and MNIST once)'],
    ['--steps N', 'steps of the seed network (default 30,000)'],
    ['--epochs N', 'MNIST epochs (default 3)'],
    ['--stages N', 'worker stages (default: the default plan)'],
    [
      '--only handoff,seed,seed3k,wide,mnist,fresh,copy',
      'only these (seed3k: a 3,000-step training; fresh: the first training on a new pool against the next; copy: demo:copy --budget 320)',
    ],
    ['--built', 'run on the built package (dist/; npm run build first)'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'several minutes on 2 cores (--only seed --rounds 1: under a minute)',
};

/** The subpaths these benches use, as one object (the root, its kernels, machines and testing entries). */
const ENTRIES = ['index', 'kernels', 'machines', 'testing'] as const;
type Api = typeof import('../index.ts') & typeof import('../kernels.ts') & typeof import('../machines.ts') & typeof import('../testing.ts');
/** The library the trainings run on: this repository's TypeScript, or (`--built`) the package as npm installs it, dist/. */
let api: Api;

/** Set the library the trainings run on (another bench reusing {@link measure}). */
export function useApi(a: Api): void {
  api = a;
}

/** The wide network: 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer, delay 1. */
export function wideTopology(): Topology {
  return api.defineTopology({
    inputs: 784,
    batch: 64,
    labels: 10,
    lr: 0.01,
    synthesizer: { lr: 0.001, delay: 1 },
    layers: [
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 10, activation: 'linear' },
    ],
  });
}

export async function libraryApi(built: boolean): Promise<Api> {
  if (!built)
    return Object.assign(
      {},
      ...(await Promise.all([import('../index.ts'), import('../kernels.ts'), import('../machines.ts'), import('../testing.ts')])),
    ) as Api;
  const urls = ENTRIES.map((e) => new URL(`../dist/${e}.js`, import.meta.url));
  const absent = urls.filter((url) => !existsSync(url));
  if (absent.length)
    throw new Error(
      `bench schedulers --built: there is no ${absent.map((u) => `dist/${u.pathname.split('/').pop()}`).join(', ')} ` +
        `(npm run build makes it)`,
    );
  return Object.assign({}, ...(await Promise.all(urls.map((url) => import(url.href))))) as Api;
}

/** The capacity around a measurement: before, after, and the lower (what the measurement could count on). */
interface Capacity {
  before: number;
  after: number;
  min: number;
}

async function around<T>(f: () => Promise<T>): Promise<{ value: T; capacity: Capacity }> {
  const before = await parallelCapacity(250, 2);
  const value = await f();
  const after = await parallelCapacity(250, 2);
  return { value, capacity: { before, after, min: Math.min(before, after) } };
}

const fmt = (c: Capacity) => `capacity ${c.before.toFixed(2)}/${c.after.toFixed(2)}x`;

interface Measured {
  stepsPerSecond: number;
  /** the whole training: from createTraining to run()'s end (threads started, warm-up included) */
  seconds: number;
  utilization: number[];
  params: ParameterSet;
}

export async function measure(
  topology: Topology,
  data: Dataset,
  steps: number,
  warm: number,
  scheduler: SchedulerOption,
): Promise<Measured> {
  const started = performance.now();
  const t = api.createTraining({ topology, data, steps, seed: 7, scheduler });
  let from = 0,
    to = 0;
  t.metrics$.subscribe((m) => {
    if (m.batch === warm) from = performance.now();
    if (m.batch === steps - 1) to = performance.now();
  });
  const r = await t.run();
  return {
    stepsPerSecond: (steps - 1 - warm) / ((to - from) / 1000),
    seconds: (performance.now() - started) / 1000,
    utilization: r.stageUtilization,
    params: r.params,
  };
}

export function sameBits(a: ParameterSet, b: ParameterSet): boolean {
  const keys = Object.keys(a).sort();
  return (
    keys.join() === Object.keys(b).sort().join() &&
    keys.every((k) => a[k].data.length === b[k].data.length && a[k].data.every((v, j) => Object.is(v, b[k].data[j])))
  );
}

export function randomData(rows: number, inputs: number, classes: number): Dataset {
  const rng = new api.Rng(3),
    x = api.fromArray(rows, inputs, new Float32Array(rows * inputs)),
    y = api.fromArray(rows, classes, new Float32Array(rows * classes));
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.next();
  for (let r = 0; r < rows; r++) y.data[r * classes + (rng.nextUint32() % classes)] = 1;
  return { x, y };
}

const range = (v: number[]) => (v.length === 1 ? v[0].toFixed(2) : `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const built = argv.includes('--built');
  api = await libraryApi(built);
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const rounds = Number(at('--rounds') ?? 3);
  const stepsArg = at('--steps') === undefined ? undefined : Number(at('--steps'));
  const stagesArg = at('--stages') === undefined ? undefined : Number(at('--stages'));
  const epochs = Number(at('--epochs') ?? 3);
  const only = new Set((at('--only') ?? 'handoff,seed,seed3k,wide,mnist,fresh,copy').split(','));
  const cores = availableParallelism();
  // one pool for every worker training here, as a process that trains many times would have
  const pool = api.createStagePool();
  const worker = (_: Topology, on = pool): SchedulerOption =>
    stagesArg ? { name: 'worker', pool: on, stages: stagesArg } : { name: 'worker', pool: on };
  const plan = (t: Topology) =>
    api
      .planStages(t, stagesArg ?? api.defaultStageCount(t, cores))
      .map((s) => `[${s.actors.join(' ')}]`)
      .join(' | ');
  console.log(
    `${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), kernels: ${api.backend().name}${built ? ', the built package (dist/)' : ''}; ` +
      `capacity = two threads of plain compute ÷ one, before/after each measurement`,
  );
  const results: Record<string, unknown> = {};

  if (only.has('handoff')) {
    console.log('\nhand-off latency, one way, between two stages on two threads (a 10x128 event, ping-pong, 20,000 each way)');
    const rows: unknown[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const transport of ['link', 'port'] as const) {
        const { value, capacity } = await around(() => handoffLatency(transport));
        rows.push({ ...value, capacity });
        const what = transport === 'link' ? 'shared memory (this link)' : 'postMessage per event (before)';
        const spin = value.spin_found === null ? '' : `, ${(100 * value.spin_found).toFixed(0)}% of waits ended spinning`;
        console.log(
          `  ${what.padEnd(31)} median ${value.median_us.toFixed(2).padStart(6)} µs   p99 ${value.p99_us.toFixed(1).padStart(7)} µs   ` +
            `(${fmt(capacity)}${spin})`,
        );
      }
    }
    results.handoff = rows;
  }

  const seed = (delay: number) =>
    api.defineTopology({
      inputs: 24,
      batch: 10,
      lr: 0.5,
      synthesizer: { lr: 0.01, delay },
      layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
    });
  const wide = wideTopology();
  const cases = [
    ...(only.has('seed')
      ? [0, 1].map((d) => ({
          name: `seed, delay ${d}`,
          key: `seed_delay${d}`,
          topology: seed(d),
          data: api.binaryAddition(1000, 12),
          steps: stepsArg ?? 30_000,
          warm: stepsArg === undefined ? 10_000 : Math.round(stepsArg / 3),
          rounds,
        }))
      : []),
    ...(only.has('seed3k')
      ? [
          {
            name: 'seed, delay 0, a short training',
            key: 'seed3k',
            topology: seed(0),
            data: api.binaryAddition(1000, 12),
            steps: 3000,
            warm: 1000,
            rounds,
          },
        ]
      : []),
    ...(only.has('wide')
      ? [
          {
            name: 'wide, delay 1',
            key: 'wide',
            topology: wide,
            data: randomData(64 * 16, 784, 10),
            steps: stepsArg === undefined ? 120 : Math.max(20, Math.round(stepsArg / 50)),
            warm: 10,
            rounds: Number(at('--rounds') ?? 1),
          },
        ]
      : []),
  ];
  for (const c of cases) {
    console.log(
      `\n${c.name}: ${api.describeSizes(c.topology)}, batch ${c.topology.batch}, ${c.steps} steps (steady state from step ${c.warm}); ` +
        `worker stages ${plan(c.topology)}`,
    );
    await measure(c.topology, c.data, c.warm + 5, 0, 'queue');
    await measure(c.topology, c.data, c.warm + 5, 0, worker(c.topology));
    const rows: {
      queue: number;
      worker: number;
      ratio: number;
      whole_run_ratio: number;
      identical: boolean;
      utilization: number[];
      capacity: Capacity;
    }[] = [];
    for (let r = 0; r < c.rounds; r++) {
      const { value, capacity } = await around(async () => {
        const queue = await measure(c.topology, c.data, c.steps, c.warm, 'queue');
        const staged = await measure(c.topology, c.data, c.steps, c.warm, worker(c.topology));
        return { queue, staged };
      });
      const { queue, staged } = value;
      const row = {
        queue: queue.stepsPerSecond,
        worker: staged.stepsPerSecond,
        ratio: staged.stepsPerSecond / queue.stepsPerSecond,
        whole_run_ratio: queue.seconds / staged.seconds,
        identical: sameBits(queue.params, staged.params),
        utilization: staged.utilization,
        capacity,
      };
      rows.push(row);
      console.log(
        `  queue ${row.queue.toFixed(1).padStart(9)} steps/s   worker ${row.worker.toFixed(1).padStart(9)} steps/s   ratio ` +
          `${row.ratio.toFixed(2)} (whole run ${row.whole_run_ratio.toFixed(2)})   ` +
          `(${fmt(capacity)}; bit-identical: ${row.identical ? 'yes' : 'NO'}; stages busy ` +
          `${row.utilization.map((u) => `${(100 * u).toFixed(0)}%`).join(', ')}` +
          `${
            row.utilization.length > 1 && row.utilization.slice(1).every((u) => u === 0)
              ? ": ran as one thread, the stages measured one core's worth at the start"
              : ''
          })`,
      );
    }
    const good = rows.filter((r) => r.capacity.min >= 1.9).map((r) => r.ratio);
    console.log(
      `  ratio worker / queue: ${range(rows.map((r) => r.ratio))} over ${rows.length} rounds` +
        `${good.length ? `; ${range(good)} where the capacity was >= 1.9x` : '; no round had a capacity >= 1.9x'}; ` +
        `whole runs (start and warm-up included) ${range(rows.map((r) => r.whole_run_ratio))}`,
    );
    results[c.key] = {
      network: api.describeSizes(c.topology),
      batch: c.topology.batch,
      steps: c.steps,
      stages: plan(c.topology),
      rounds: rows,
    };
  }

  if (only.has('mnist')) {
    const split = api.loadMnist({ train: 8000, test: 2000, validation: 0, seed: 1 });
    const mnist = (delay: number) =>
      api.defineTopology({
        inputs: 784,
        batch: 64,
        loss: 'softmax-cross-entropy',
        optimizer: { kind: 'adam', lr: 1e-3, eps: 1e-8 },
        synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, delay },
        layers: [
          { units: 256, activation: 'relu', decoupled: true },
          { units: 256, activation: 'relu', decoupled: true },
          { units: 10, activation: 'linear' },
        ],
      });
    const mnistRounds = Number(at('--rounds') ?? 1);
    const run = async (topology: Topology, scheduler: SchedulerOption) => {
      const started = performance.now();
      const r = await api.fit({ topology, train: split.train, validation: split.test, epochs, seed: 1, shuffle: 1, scheduler });
      return {
        seconds: r.epochs.map((e) => e.seconds),
        wall: (performance.now() - started) / 1000,
        params: r.params,
        accuracy: r.epochs[r.epochs.length - 1].validation!.accuracy,
      };
    };
    const rowsByDelay: Record<string, unknown> = {};
    // the pool warm, as for the other rows (the first training on a fresh pool: see `fresh`)
    await measure(seed(0), api.binaryAddition(1000, 12), 500, 0, worker(seed(0)));
    for (const delay of [0, 1]) {
      const topology = mnist(delay);
      console.log(
        `\nMNIST through fit(), delay ${delay}: ${api.describeSizes(topology)}, batch 64, Adam, DNI, ${epochs} epochs of 125 steps, the ` +
          `2,000 test digits evaluated after each; worker stages ${plan(topology)}`,
      );
      const rows: unknown[] = [];
      for (let r = 0; r < mnistRounds; r++) {
        const { value, capacity } = await around(async () => ({
          queue: await run(topology, 'queue'),
          staged: await run(topology, worker(topology)),
        }));
        const { queue, staged } = value;
        const q = median(queue.seconds),
          w = median(staged.seconds),
          identical = sameBits(queue.params, staged.params);
        const row = {
          queue_seconds_per_epoch: q,
          worker_seconds_per_epoch: w,
          ratio: q / w,
          queue_epochs: queue.seconds,
          worker_epochs: staged.seconds,
          queue_wall: queue.wall,
          worker_wall: staged.wall,
          ratio_wall: queue.wall / staged.wall,
          identical,
          capacity,
        };
        rows.push(row);
        const list = (s: number[]) => s.map((x) => x.toFixed(3)).join(' ');
        console.log(
          `  queue  ${q.toFixed(3)} s/epoch (epochs ${list(queue.seconds)}; ${queue.wall.toFixed(2)} s in all, evaluations included)`,
        );
        console.log(`  worker ${w.toFixed(3)} s/epoch (epochs ${list(staged.seconds)}; ${staged.wall.toFixed(2)} s in all)`);
        console.log(
          `  ratio worker / queue: ${(q / w).toFixed(2)} per epoch (median), ${(queue.wall / staged.wall).toFixed(2)} in all   ` +
            `(${fmt(capacity)}; bit-identical: ${identical ? 'yes' : 'NO'}; test accuracy ${(100 * staged.accuracy).toFixed(1)}%)`,
        );
      }
      rowsByDelay[`delay${delay}`] = rows;
    }
    results.mnist = rowsByDelay;
  }
  if (only.has('fresh')) {
    const topology = seed(0),
      data = api.binaryAddition(1000, 12),
      steps = 3000;
    console.log(
      `\nthe first training on a fresh pool: seed, delay 0, ${steps} steps, whole runs (createTraining to the end) on a new pool, then ` +
        `again on it`,
    );
    const rows: unknown[] = [];
    for (let r = 0; r < rounds; r++) {
      const { value, capacity } = await around(async () => {
        const fresh = api.createStagePool();
        try {
          const queue = await measure(topology, data, steps, 1000, 'queue');
          const first = await measure(topology, data, steps, 1000, worker(topology, fresh));
          const second = await measure(topology, data, steps, 1000, worker(topology, fresh));
          return { queue: queue.seconds, first: first.seconds, second: second.seconds };
        } finally {
          await fresh.close();
        }
      });
      const row = {
        ...value,
        start_and_warm_up_seconds: value.first - value.second,
        ratio_first: value.queue / value.first,
        ratio_second: value.queue / value.second,
        capacity,
      };
      rows.push(row);
      console.log(
        `  queue ${value.queue.toFixed(2)} s   first on the pool ${value.first.toFixed(2)} s (ratio ${row.ratio_first.toFixed(2)})   ` +
          `second ${value.second.toFixed(2)} s (ratio ${row.ratio_second.toFixed(2)})   ` +
          `start and warm-up ${row.start_and_warm_up_seconds.toFixed(2)} s   (${fmt(capacity)})`,
      );
    }
    results.fresh = rows;
  }

  if (only.has('copy')) {
    const demo = new URL('../demos/copy.ts', import.meta.url).pathname;
    console.log(
      '\ndemo:copy --budget 320 (15 cells, each a curriculum of short trainings; ' +
        'queue: a child process per cell, 2 at a time; worker: one child, one stage pool), whole demo',
    );
    const runDemo = (scheduler: string) => {
      const out = execFileSync(process.execPath, ['--import', 'tsx', demo, '--budget', '320', '--scheduler', scheduler, '--json'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        maxBuffer: 1 << 26,
      });
      return JSON.parse(out.trim().split('\n').at(-1)!) as {
        wall_seconds: number;
        rows: { method: string; T: number; max_length: number; sequences: number }[];
      };
    };
    const rows: unknown[] = [];
    for (let r = 0; r < Number(at('--rounds') ?? 1); r++) {
      const { value, capacity } = await around(async () => ({ queue: runDemo('queue'), staged: runDemo('worker') }));
      const table = (o: typeof value.queue) =>
        JSON.stringify(o.rows.map(({ method, T, max_length, sequences }) => [method, T, max_length, sequences]));
      const row = {
        queue_seconds: value.queue.wall_seconds,
        worker_seconds: value.staged.wall_seconds,
        ratio: value.queue.wall_seconds / value.staged.wall_seconds,
        same_table: table(value.queue) === table(value.staged),
        capacity,
      };
      rows.push(row);
      console.log(
        `  queue ${row.queue_seconds.toFixed(1)} s   worker ${row.worker_seconds.toFixed(1)} s   ratio worker / queue ` +
          `${row.ratio.toFixed(2)}   (${fmt(capacity)}; same table: ${row.same_table ? 'yes' : 'NO'})`,
      );
    }
    results.copy = rows;
  }
  await pool.close();
  if (json) console.log(JSON.stringify({ cores, kernels: api.backend().name, built, ...results }));
}
