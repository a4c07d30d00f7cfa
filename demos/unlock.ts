/**
 * The paper's unlocks on MNIST: the same network (default 784-256-256-10 ReLU, softmax
 * cross-entropy, batch 64, Adam) trained four ways on the same seeded split of the `mnist`
 * package's digits, under `queue` and `worker`:
 *
 * - `backprop`: no interface; every layer waits for the forward pass below and the gradient above.
 * - `dni`: a synthesizer after every hidden layer (the update unlock: a layer updates at once),
 *   conditioned on the labels (cDNI, as in the paper's complete-unlock experiments; `--unconditioned`
 *   for plain DNI: measured on a validation split, cDNI 92.0% and its complete unlock 90.0–90.6%
 *   after 2 epochs, plain DNI 88.0% and its complete unlock 84.4%).
 * - `complete`: the same synthesizers, and beside the first `--complete-layers` (default 1) a
 *   forward synthesizer `ĥ = x M + c` that predicts the layer's output from the pixels, so the layer
 *   above need not wait for it either (the complete unlock: forward and update). One is enough to
 *   cut the network in two parts neither of which waits for the other; with one after every hidden
 *   layer the output layer would learn from a linear function of the pixels only (measured: 75.8%
 *   against DNI's 89.0% after 300 steps, 87.8% with one).
 * - `dni-warmup`: DNI whose layers learn from the true gradient for the first `--warmup` steps
 *   (default one epoch) while their synthesizers fit it, then from the synthesizers alone: the
 *   synthesizers start at zero, so without a warm-up the first steps teach the layers nothing.
 *
 * Each method trains once per scheduler: the parameters are the same bits under both (checked), so
 * the test accuracy is one number; the speed is the steps per second of each training from its
 * first finished step to its end (so the threads' start is left out), the process's CPU time
 * per step over the same span (every thread: the work, which load does not inflate as it does
 * wall time), and under `worker` each stage's busy share.
 *
 *   npx tsx demos/unlock.ts                      # 3 epochs per method and scheduler
 *   npx tsx demos/unlock.ts --epochs 5 --json    # the last stdout line is one JSON object
 *
 * Batches go through the training split in order, every epoch alike (no shuffle). Progress goes to
 * stderr; the table and the JSON line to stdout.
 */
import type { SchedulerOption } from '../actors/schedulers/schedulers.ts';
import { first } from 'rxjs';
import { createTraining } from '../actors/trainer/training.ts';
import { batchesPerEpoch } from '../lib/data.ts';
import { loadMnist } from '../lib/datasets/mnist.ts';
import { evaluate } from '../lib/evaluate.ts';
import { useBackend } from '../lib/kernels/kernels.ts';
import { autoBackend } from '../lib/kernels/backend-choice.ts';
import { initParameters } from '../lib/params.ts';
import { type Topology, defineTopology, describeSizes } from '../lib/topology.ts';
import { type DemoOption, type DemoSpec, MNIST_SPLIT_OPTIONS, demoUsage, parseDemoArgs, stepsOf } from './cli.ts';
import { table } from './progress.ts';

const METHODS = ['backprop', 'dni', 'complete', 'dni-warmup'] as const;
type Method = (typeof METHODS)[number];
const SCHEDULERS = ['queue', 'worker'] as const;

const spec = {
  name: 'unlock',
  usage:
    "The paper's unlocks on MNIST: backprop, DNI (update unlock), " +
    'the complete unlock (forward synthesizers too) and DNI with a warm-up, under queue and worker.\n' +
    '(npx tsx demos/unlock.ts [options]) Progress on stderr; the table, and with --json one JSON object as the last line, on stdout.',
  defaults: { epochs: 3 },
  takes: 'about a minute on 2 cores (4 methods × 2 schedulers, 3 epochs each; --epochs N to change)',
  options: {
    methods: { type: 'string', value: 'LIST', default: METHODS.join(','), help: `comma-separated, any of ${METHODS.join(', ')}` },
    hidden: { type: 'string', value: 'N,N', default: '256,256', help: 'hidden layer widths (relu)' },
    batch: { type: 'number', value: 'N', default: 64, help: 'rows per batch' },
    lr: { type: 'number', default: 1e-3, help: "the layers' Adam learning rate" },
    synthesizerLr: { type: 'number', default: 3e-3, help: "the synthesizers' (and forward synthesizers') Adam learning rate" },
    unconditioned: { type: 'boolean', help: 'synthesizers see the layer only, not the labels (plain DNI; default: cDNI)' },
    warmup: { type: 'number', value: 'N', help: 'dni-warmup: steps on the true gradient first (default: one epoch)' },
    completeLayers: {
      type: 'number',
      value: 'N',
      default: 1,
      help: 'complete: how many hidden layers (from the bottom) get a forward synthesizer',
    },
    stages: { type: 'number', value: 'N', help: 'worker: stage threads (default: the library plan for this machine)' },
    ...MNIST_SPLIT_OPTIONS,
  },
} satisfies DemoSpec<Record<string, DemoOption>>;
const args = parseDemoArgs(process.argv.slice(2), spec);

function usageError(message: string): never {
  console.error(`${spec.name}: ${message}\n\n${demoUsage(spec)}`);
  process.exit(2);
}
// it trains every method under both schedulers itself, and watches nothing
if (process.argv.includes('--scheduler'))
  usageError('--scheduler: this demo trains every method under queue and under worker (use --stages for worker)');
if (args.trace !== undefined || args.inspect)
  usageError('--trace and --inspect are not offered here (demos/mnist.ts and demos/multitask.ts offer them)');
const methods = args.methods.split(',').map((m) => m.trim().toLowerCase()) as Method[];
for (const m of methods) if (!METHODS.includes(m)) usageError(`unknown method '${m}' (expected ${METHODS.join(', ')})`);
const hidden = args.hidden
  .split(',')
  .map((w) =>
    /^\d+$/.test(w.trim()) && Number(w) > 0 ? Number(w) : usageError(`--hidden needs widths like 256,256, got '${args.hidden}'`),
  );
const whole = (v: number | undefined, flag: string, min: number) =>
  v === undefined || (Number.isInteger(v) && v >= min) ? v : usageError(`--${flag} needs an integer >= ${min}, got ${v}`);
whole(args.batch, 'batch', 1);
whole(args.stages, 'stages', 1);
whole(args.warmup, 'warmup', 0);
whole(args.completeLayers, 'complete-layers', 1);
for (const [v, flag] of [
  [args.lr, 'lr'],
  [args.synthesizerLr, 'synthesizer-lr'],
] as const)
  if (!(v >= 0)) usageError(`--${flag} must be >= 0, got ${v}`);

useBackend(autoBackend());
const split = loadMnist({ train: args.train, test: args.test, validation: args.validation, seed: args.splitSeed });
const perEpoch = batchesPerEpoch(split.train, args.batch);
const steps = stepsOf(args, perEpoch);
const warmup = args.warmup ?? perEpoch;

function topologyFor(method: Method): Topology {
  const decoupled = method !== 'backprop',
    complete = (i: number) => method === 'complete' && i < args.completeLayers;
  return defineTopology({
    inputs: 784,
    batch: args.batch,
    loss: 'softmax-cross-entropy',
    optimizer: { kind: 'adam', lr: args.lr },
    synthesizer: {
      optimizer: { kind: 'adam', lr: args.synthesizerLr },
      conditioned: !args.unconditioned,
      ...(method === 'dni-warmup' ? { warmup } : {}),
    },
    layers: [
      ...hidden.map((units, i) => ({ units, activation: 'relu' as const, decoupled, complete: complete(i) })),
      { units: 10, activation: 'linear' as const },
    ],
  });
}

console.log(
  `MNIST (the mnist package's digits, split seed ${args.splitSeed}): train ${split.train.x.rows}, test ${split.test.x.rows}; ` +
    `${describeSizes(topologyFor('backprop'))} relu, softmax cross-entropy, batch ${args.batch}, Adam lr ${args.lr}; ` +
    `linear synthesizers${args.unconditioned ? '' : ' conditioned on the labels (cDNI)'}, Adam lr ${args.synthesizerLr}\n` +
    `${steps} steps (${(steps / perEpoch).toFixed(1)} epochs) per method and scheduler; ` +
    `complete: forward synthesizers after ${Math.min(args.completeLayers, hidden.length)} hidden layer(s); ` +
    `dni-warmup: ${warmup} steps on the true gradient first\n`,
);

interface Run {
  stepsPerSecond: number;
  /** CPU time of the whole process (every thread) per step: the work, which a loaded machine does not distort as it does wall time */
  cpuMsPerStep: number;
  utilization: number[];
  params: Record<string, Float32Array>;
}
const results = new Map<Method, { testAccuracy: number; runs: Partial<Record<(typeof SCHEDULERS)[number], Run>> }>();
for (const method of methods) {
  const topology = topologyFor(method),
    params = initParameters(topology, args.seed);
  const entry = { testAccuracy: NaN, runs: {} as Partial<Record<(typeof SCHEDULERS)[number], Run>> };
  for (const scheduler of SCHEDULERS) {
    process.stderr.write(`${method} under ${scheduler}…`);
    const option: SchedulerOption =
      scheduler === 'worker' && args.stages !== undefined ? { name: 'worker', stages: args.stages } : scheduler;
    const training = createTraining({ topology, data: split.train, params, steps, scheduler: option });
    let started = NaN,
      cpu: NodeJS.CpuUsage | undefined;
    training.metrics$.pipe(first()).subscribe(() => ((started = performance.now()), (cpu = process.cpuUsage())));
    const r = await training.run();
    const seconds = (performance.now() - started) / 1000,
      used = process.cpuUsage(cpu);
    entry.runs[scheduler] = {
      stepsPerSecond: (steps - 1) / seconds,
      cpuMsPerStep: (used.user + used.system) / 1000 / (steps - 1),
      utilization: r.stageUtilization,
      params: Object.fromEntries(Object.entries(r.params).map(([k, m]) => [k, m.data])),
    };
    if (scheduler === 'queue') entry.testAccuracy = evaluate(r.params, topology, split.test).accuracy;
    process.stderr.write(` ${((steps - 1) / seconds).toFixed(1)} steps/s\n`);
  }
  const [a, b] = SCHEDULERS.map((s) => entry.runs[s]!.params);
  if (!Object.keys(a).every((k) => a[k].every((v, i) => v === b[k][i])))
    throw new Error(`unlock: ${method}: queue and worker gave different parameters`);
  results.set(method, entry);
}

const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : '—');
const busy = (u: number[]) => (u.length ? u.map((x) => `${Math.round(100 * x)}%`).join(' | ') : '—');
console.log(
  table(
    ['method', 'test accuracy', 'steps/s queue', 'steps/s worker', 'worker stages busy', 'CPU ms/step queue', 'CPU ms/step worker'],
    [...results].map(([m, r]) => [
      m,
      pct(r.testAccuracy),
      r.runs.queue!.stepsPerSecond.toFixed(1),
      r.runs.worker!.stepsPerSecond.toFixed(1),
      busy(r.runs.worker!.utilization),
      r.runs.queue!.cpuMsPerStep.toFixed(2),
      r.runs.worker!.cpuMsPerStep.toFixed(2),
    ]),
  ),
);
console.log(
  '(same parameters, bit for bit, under both schedulers: one test accuracy per method; steps/s from the first finished step to the end; ' +
    'CPU ms/step: the process’s CPU time over the same span (every thread), the work a step costs whatever else the machine runs)',
);

if (args.json) {
  const round = (v: number, d = 4) => (Number.isFinite(v) ? +v.toFixed(d) : null);
  console.log(
    JSON.stringify({
      methods: Object.fromEntries(
        [...results].map(([m, r]) => [
          m,
          {
            test_accuracy: round(r.testAccuracy),
            steps_per_second: { queue: round(r.runs.queue!.stepsPerSecond, 2), worker: round(r.runs.worker!.stepsPerSecond, 2) },
          },
        ]),
      ),
    }),
  );
}
