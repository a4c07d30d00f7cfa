/**
 * `npm run bench -- schedulers [--json] [--rounds N] [--steps N] [--epochs N] [--stages N] [--only handoff,seed,wide,mnist] [--built]`:
 * the queue scheduler (one thread, the seed's sequential order) against the worker scheduler
 * (pipeline stages on worker threads, its default plan unless `--stages`), side by side in one run,
 * each measurement between two readings of the machine's parallel capacity (two threads of plain
 * compute ÷ one: the ceiling for any speed-up, which on a shared machine moves from minute to
 * minute), `--rounds` times over (default 3; the wide network and MNIST once unless asked):
 *
 * - handoff: the one-way latency of an event between two stages on two threads (median, p99),
 *   through the shared-memory link and through the per-event postMessage it replaced;
 * - seed: the seed's network 24-128-64-12, batch 10, DNI, at delay 0 and delay 1;
 * - wide: 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer, delay 1;
 * - mnist: 784-256-256-10, batch 64, Adam, DNI, through fit() as `demo:mnist` runs it (8,000
 *   digits, a shuffle per epoch, the 2,000 test digits evaluated after each), delay 0 and 1:
 *   seconds per epoch (the median epoch; the first includes building the training and starting
 *   its threads, which fit() does once).
 *
 * Steps per second are measured in steady state (from the metrics of step `warm` to the last
 * step), and the two sides must end with bit-identical parameters. `ratio` = worker ÷ queue speed;
 * the whole run's ratio (from createTraining to the end: threads started, warm-up included) is
 * printed beside it. A worker thread compiles its code anew: on the seed network V8 optimises
 * ~300 functions in the first 2,000 steps and ~60 in the next 2,000 (`node --trace-opt`), and
 * the worker steps run at 150 then 70 µs before settling near 40; so the seed's steady state is
 * measured from step 10,000 of 30,000.
 *
 * `--built`: the trainings run on the built package (dist/; `npm run build` first) as npm installs
 * it, whose worker threads load JavaScript (here they load TypeScript through tsx: slower to start).
 */
import { existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { SchedulerOption } from '../actors/schedulers.ts';
import type { Dataset } from '../lib/data.ts';
import type { ParameterSet } from '../lib/params.ts';
import type { Topology } from '../lib/topology.ts';
import { handoffLatency } from './_handoff.ts';
import { parallelCapacity } from './_parallel.ts';

type Api = typeof import('../index.ts');
/** The library the trainings run on: this repository's TypeScript, or (`--built`) the package as npm installs it, dist/. */
let api: Api;

/** Set the library the trainings run on (another bench reusing {@link measure}). */
export function useApi(a: Api): void {
  api = a;
}

/** The wide network: 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer, delay 1. */
export function wideTopology(): Topology {
  return api.defineTopology({
    inputs: 784, batch: 64, labels: 10, lr: 0.01, synthesizer: { lr: 0.001, delay: 1 },
    layers: [
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 10, activation: 'linear' },
    ],
  });
}

async function libraryApi(built: boolean): Promise<Api> {
  if (!built) return import('../index.ts');
  const url = new URL('../dist/index.js', import.meta.url);
  if (!existsSync(url)) throw new Error('bench schedulers --built: there is no dist/index.js (npm run build makes it)');
  return (await import(url.href)) as Api;
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

export async function measure(topology: Topology, data: Dataset, steps: number, warm: number, scheduler: SchedulerOption): Promise<Measured> {
  const started = performance.now();
  const t = api.createTraining({ topology, data, steps, seed: 7, scheduler });
  let from = 0, to = 0;
  t.metrics$.subscribe((m) => {
    if (m.batch === warm) from = performance.now();
    if (m.batch === steps - 1) to = performance.now();
  });
  const r = await t.run();
  return { stepsPerSecond: (steps - 1 - warm) / ((to - from) / 1000), seconds: (performance.now() - started) / 1000, utilization: r.stageUtilization, params: r.params };
}

export function sameBits(a: ParameterSet, b: ParameterSet): boolean {
  const keys = Object.keys(a).sort();
  return keys.join() === Object.keys(b).sort().join() && keys.every((k) => a[k].data.length === b[k].data.length && a[k].data.every((v, j) => Object.is(v, b[k].data[j])));
}

export function randomData(rows: number, inputs: number, classes: number): Dataset {
  const rng = new api.Rng(3), x = api.zeros(rows, inputs), y = api.zeros(rows, classes);
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
  const only = new Set((at('--only') ?? 'handoff,seed,wide,mnist').split(','));
  const cores = availableParallelism();
  const worker = (_: Topology): SchedulerOption => (stagesArg ? { name: 'worker', stages: stagesArg } : 'worker');
  const plan = (t: Topology) => api.planStages(t, stagesArg ?? api.defaultStageCount(t, cores)).map((s) => `[${s.actors.join(' ')}]`).join(' | ');
  console.log(`${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), kernels: ${api.backend().name}${built ? ', the built package (dist/)' : ''}; capacity = two threads of plain compute ÷ one, before/after each measurement`);
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
        console.log(`  ${what.padEnd(31)} median ${value.median_us.toFixed(2).padStart(6)} µs   p99 ${value.p99_us.toFixed(1).padStart(7)} µs   (${fmt(capacity)}${spin})`);
      }
    }
    results.handoff = rows;
  }

  const seed = (delay: number) =>
    api.defineTopology({ inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01, delay }, layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }] });
  const wide = wideTopology();
  const cases = [
    ...(only.has('seed') ? [0, 1].map((d) => ({ name: `seed, delay ${d}`, key: `seed_delay${d}`, topology: seed(d), data: api.binaryAddition(1000, 12), steps: stepsArg ?? 30_000, warm: stepsArg === undefined ? 10_000 : Math.round(stepsArg / 3), rounds })) : []),
    ...(only.has('wide') ? [{ name: 'wide, delay 1', key: 'wide', topology: wide, data: randomData(64 * 16, 784, 10), steps: stepsArg === undefined ? 120 : Math.max(20, Math.round(stepsArg / 50)), warm: 10, rounds: Number(at('--rounds') ?? 1) }] : []),
  ];
  for (const c of cases) {
    console.log(`\n${c.name}: ${api.describeSizes(c.topology)}, batch ${c.topology.batch}, ${c.steps} steps (steady state from step ${c.warm}); worker stages ${plan(c.topology)}`);
    await measure(c.topology, c.data, c.warm + 5, 0, 'queue');
    await measure(c.topology, c.data, c.warm + 5, 0, worker(c.topology));
    const rows: { queue: number; worker: number; ratio: number; whole_run_ratio: number; identical: boolean; utilization: number[]; capacity: Capacity }[] = [];
    for (let r = 0; r < c.rounds; r++) {
      const { value, capacity } = await around(async () => {
        const queue = await measure(c.topology, c.data, c.steps, c.warm, 'queue');
        const staged = await measure(c.topology, c.data, c.steps, c.warm, worker(c.topology));
        return { queue, staged };
      });
      const { queue, staged } = value;
      const row = { queue: queue.stepsPerSecond, worker: staged.stepsPerSecond, ratio: staged.stepsPerSecond / queue.stepsPerSecond, whole_run_ratio: queue.seconds / staged.seconds, identical: sameBits(queue.params, staged.params), utilization: staged.utilization, capacity };
      rows.push(row);
      console.log(
        `  queue ${row.queue.toFixed(1).padStart(9)} steps/s   worker ${row.worker.toFixed(1).padStart(9)} steps/s   ratio ${row.ratio.toFixed(2)} (whole run ${row.whole_run_ratio.toFixed(2)})   ` +
          `(${fmt(capacity)}; bit-identical: ${row.identical ? 'yes' : 'NO'}; stages busy ${row.utilization.map((u) => `${(100 * u).toFixed(0)}%`).join(', ')}` +
          `${row.utilization.length > 1 && row.utilization.slice(1).every((u) => u === 0) ? ': ran as one thread, the stages measured one core\'s worth at the start' : ''})`,
      );
    }
    const good = rows.filter((r) => r.capacity.min >= 1.9).map((r) => r.ratio);
    console.log(`  ratio worker / queue: ${range(rows.map((r) => r.ratio))} over ${rows.length} rounds${good.length ? `; ${range(good)} where the capacity was >= 1.9x` : '; no round had a capacity >= 1.9x'}; whole runs (start and warm-up included) ${range(rows.map((r) => r.whole_run_ratio))}`);
    results[c.key] = { network: api.describeSizes(c.topology), batch: c.topology.batch, steps: c.steps, stages: plan(c.topology), rounds: rows };
  }

  if (only.has('mnist')) {
    const split = api.loadMnist({ train: 8000, test: 2000, validation: 0, seed: 1 });
    const mnist = (delay: number) =>
      api.defineTopology({
        inputs: 784, batch: 64, loss: 'softmax-cross-entropy', optimizer: { kind: 'adam', lr: 1e-3, eps: 1e-8 },
        synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, delay },
        layers: [{ units: 256, activation: 'relu', decoupled: true }, { units: 256, activation: 'relu', decoupled: true }, { units: 10, activation: 'linear' }],
      });
    const mnistRounds = Number(at('--rounds') ?? 1);
    const run = async (topology: Topology, scheduler: SchedulerOption) => {
      const started = performance.now();
      const r = await api.fit({ topology, train: split.train, validation: split.test, epochs, seed: 1, shuffle: 1, scheduler });
      return { seconds: r.epochs.map((e) => e.seconds), wall: (performance.now() - started) / 1000, params: r.params, accuracy: r.epochs[r.epochs.length - 1].validation!.accuracy };
    };
    const rowsByDelay: Record<string, unknown> = {};
    for (const delay of [0, 1]) {
      const topology = mnist(delay);
      console.log(`\nMNIST through fit(), delay ${delay}: ${api.describeSizes(topology)}, batch 64, Adam, DNI, ${epochs} epochs of 125 steps, the 2,000 test digits evaluated after each; worker stages ${plan(topology)}`);
      const rows: unknown[] = [];
      for (let r = 0; r < mnistRounds; r++) {
        const { value, capacity } = await around(async () => ({ queue: await run(topology, 'queue'), staged: await run(topology, worker(topology)) }));
        const { queue, staged } = value;
        const q = median(queue.seconds), w = median(staged.seconds), identical = sameBits(queue.params, staged.params);
        const row = { queue_seconds_per_epoch: q, worker_seconds_per_epoch: w, ratio: q / w, queue_epochs: queue.seconds, worker_epochs: staged.seconds, queue_wall: queue.wall, worker_wall: staged.wall, ratio_wall: queue.wall / staged.wall, identical, capacity };
        rows.push(row);
        const list = (s: number[]) => s.map((x) => x.toFixed(3)).join(' ');
        console.log(`  queue  ${q.toFixed(3)} s/epoch (epochs ${list(queue.seconds)}; ${queue.wall.toFixed(2)} s in all, evaluations included)`);
        console.log(`  worker ${w.toFixed(3)} s/epoch (epochs ${list(staged.seconds)}; ${staged.wall.toFixed(2)} s in all)`);
        console.log(`  ratio worker / queue: ${(q / w).toFixed(2)} per epoch (median), ${(queue.wall / staged.wall).toFixed(2)} in all   (${fmt(capacity)}; bit-identical: ${identical ? 'yes' : 'NO'}; test accuracy ${(100 * staged.accuracy).toFixed(1)}%)`);
      }
      rowsByDelay[`delay${delay}`] = rows;
    }
    results.mnist = rowsByDelay;
  }
  if (json) console.log(JSON.stringify({ cores, kernels: api.backend().name, built, ...results }));
}

