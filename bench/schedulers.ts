/**
 * `npm run bench -- schedulers [--json] [--steps N]`: the same training under the queue scheduler
 * (one thread, the seed's sequential order) and the worker scheduler (pipeline stages on worker
 * threads), same seed, in one run:
 *
 * - the wide network 784-1024-1024-1024-10, batch 64, a synthesizer after every hidden layer,
 *   delay 1: enough work per message for threads to pay;
 * - the seed's small network 24-128-64-12, batch 10, DNI: message cost dominates.
 *
 * Steps per second are measured in steady state (from the metrics of step `warm` to the last
 * step), and the two runs must end with bit-identical parameters. `ratio` = worker ÷ queue on
 * the wide network.
 */
import { availableParallelism, cpus } from 'node:os';
import { createTraining } from '../actors/training.ts';
import type { SchedulerOption } from '../actors/schedulers.ts';
import type { Dataset } from '../lib/data.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { backend } from '../lib/kernels.ts';
import { zeros } from '../lib/matrix.ts';
import { initParameters } from '../lib/params.ts';
import { defaultStageCount, planStages } from '../lib/placement.ts';
import { parallelCapacity } from './_parallel.ts';
import { Rng } from '../lib/rng.ts';
import { type Topology, defineTopology, describeSizes } from '../lib/topology.ts';

interface Measured {
  stepsPerSecond: number;
  utilization: number[];
  wallSeconds: number;
  params: Float32Array[];
}

async function measure(topology: Topology, data: Dataset, steps: number, warm: number, scheduler: SchedulerOption): Promise<Measured> {
  const t = createTraining({ topology, data, steps, seed: 7, scheduler });
  let from = 0, to = 0;
  t.metrics$.subscribe((m) => {
    if (m.batch === warm) from = performance.now();
    if (m.batch === steps - 1) to = performance.now();
  });
  const started = performance.now();
  const r = await t.run();
  return {
    stepsPerSecond: (steps - 1 - warm) / ((to - from) / 1000),
    utilization: r.stageUtilization,
    wallSeconds: (performance.now() - started) / 1000,
    params: Object.keys(r.params).sort().map((k) => r.params[k].data),
  };
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === b[i].length && x.every((v, j) => Object.is(v, b[i][j])));
}

function randomData(rows: number, inputs: number, classes: number): Dataset {
  const rng = new Rng(3), x = zeros(rows, inputs), y = zeros(rows, classes);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.next();
  for (let r = 0; r < rows; r++) y.data[r * classes + (rng.nextUint32() % classes)] = 1;
  return { x, y };
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const stepsArg = argv.includes('--steps') ? Number(argv[argv.indexOf('--steps') + 1]) : undefined;
  const stagesArg = argv.includes('--stages') ? Number(argv[argv.indexOf('--stages') + 1]) : undefined;
  const wide = defineTopology({
    inputs: 784, batch: 64, labels: 10, lr: 0.01, synthesizer: { lr: 0.001, delay: 1 },
    layers: [
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 1024, activation: 'relu', decoupled: true },
      { units: 10, activation: 'linear' },
    ],
  });
  const seed = defineTopology({
    inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01 },
    layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
  });
  void initParameters; // parameters come from createTraining's seeded initialiser (same seed for both runs)
  const cases = [
    { name: 'wide', topology: wide, data: randomData(64 * 16, 784, 10), steps: stepsArg ?? 120, warm: 10 },
    { name: 'seed', topology: seed, data: binaryAddition(1000, 12), steps: (stepsArg ?? 120) * 50, warm: 500 },
  ];
  const cores = availableParallelism();
  console.log(`${cores} cores (${cpus()[0]?.model ?? 'unknown CPU'}), kernels: ${backend().name}`);
  const results: Record<string, unknown> = {};
  for (const c of cases) {
    const stages = planStages(c.topology, stagesArg ?? defaultStageCount(c.topology, cores));
    const worker: SchedulerOption = { name: 'worker', stages: stages.map((st) => [...st.actors]) };
    // warm up both paths once (JIT, wasm compile, thread start), then measure
    await measure(c.topology, c.data, c.warm + 5, 0, 'queue');
    await measure(c.topology, c.data, c.warm + 5, 0, worker);
    const capacityBefore = await parallelCapacity();
    const queue = await measure(c.topology, c.data, c.steps, c.warm, 'queue');
    const staged = await measure(c.topology, c.data, c.steps, c.warm, worker);
    const capacity = Math.min(capacityBefore, await parallelCapacity());
    const ratio = staged.stepsPerSecond / queue.stepsPerSecond;
    const identical = sameBits(queue.params, staged.params);
    results[c.name] = {
      network: describeSizes(c.topology),
      batch: c.topology.batch,
      steps: c.steps,
      stages: stages.map((s) => s.actors),
      queue_steps_per_second: queue.stepsPerSecond,
      worker_steps_per_second: staged.stepsPerSecond,
      stage_utilization: staged.utilization,
      ratio,
      queue_wall_seconds: queue.wallSeconds,
      worker_wall_seconds: staged.wallSeconds,
      bit_identical: identical,
      machine_parallel_capacity: capacity,
    };
    console.log(`\n${c.name}: ${describeSizes(c.topology)}, batch ${c.topology.batch}, ${c.steps} steps (steady state from step ${c.warm})`);
    console.log(`  stages: ${stages.map((s) => `[${s.actors.join(' ')}]`).join(' | ')}`);
    console.log(`  queue   ${queue.stepsPerSecond.toFixed(1).padStart(9)} steps/s   (${queue.wallSeconds.toFixed(2)} s wall)`);
    console.log(`  worker  ${staged.stepsPerSecond.toFixed(1).padStart(9)} steps/s   (${staged.wallSeconds.toFixed(2)} s wall, threads started included; stages busy ${staged.utilization.map((u) => `${(100 * u).toFixed(0)}%`).join(', ')})`);
    console.log(`  ratio worker / queue: ${ratio.toFixed(2)}   parameters bit-identical: ${identical ? 'yes' : 'NO'}`);
    console.log(`  the machine's parallel capacity around this run: ${capacity.toFixed(2)}x (two threads of plain compute vs one; the ceiling for any speed-up)`);
  }
  const w = results.wide as { ratio: number };
  if (json) console.log(JSON.stringify({ ratio: w.ratio, cores, kernels: backend().name, ...results }));
}
