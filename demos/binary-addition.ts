/**
 * The seed's network: 12-bit binary addition, 24-128-64-12 sigmoid, batch 10, 1,000 examples,
 * trained by backprop, DNI and cDNI side by side through the actors.
 *
 *   npm run demo                                  # all three methods, 60,000 steps each (~20 s)
 *   npm run demo -- --steps 5000                  # shorter
 *   npm run demo -- --scheduler async|worker      # same results, bit for bit
 *   npm run demo -- --steps 50 --trace out/add.jsonl   # record the actors (npm run inspect -- out/add.backprop.jsonl)
 *   npm run demo -- --inspect                     # watch them live: http://127.0.0.1:8080 (offline)
 */
import { createTraining } from '../actors/trainer/training.ts';
import { TrainingAbortedError } from '../lib/errors.ts';
import { interruptSignal } from '../lib/io/interrupt.ts';
import { batchesPerEpoch } from '../lib/data.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { defineTopology, describeSizes } from '../lib/topology.ts';
import { demoInspector, parseDemoArgs, schedulerOption, stepsOf } from './cli.ts';
import { explainResults } from './explain.ts';
import { ProgressLine, table } from './progress.ts';
import { plural } from '../lib/text.ts';

const args = parseDemoArgs(process.argv.slice(2), {
  name: 'binary-addition',
  takes: 'about 20 s on 2 cores (60,000 steps for each of the three methods)',
  usage: "The seed's 12-bit binary addition network trained by backprop, DNI and cDNI side by side.",
  defaults: { steps: 60_000 },
  options: {
    lr: { type: 'number', default: 1, help: 'learning rate of every layer' },
    synthesizerLr: { type: 'number', default: 0.003, help: 'learning rate of every synthesizer' },
    seed: { type: 'seed', default: 1, help: 'seed of the data and the initial weights', value: 'N' },
  },
});

const data = binaryAddition(1000, 12, args.seed);
const epoch = batchesPerEpoch(data, 10);
const steps = stepsOf(args, epoch);
const methods = [
  { name: 'backprop', decoupled: false, conditioned: false },
  { name: 'DNI', decoupled: true, conditioned: false },
  { name: 'cDNI', decoupled: true, conditioned: true },
];
const inspector = await demoInspector(args, 'binary-addition');
const rows: (string | number)[][] = [];
const results: Record<
  string,
  { loss: number; synthesizer_loss: number | null; bit_accuracy: number; steps_per_second: number; seconds: number }
> = {};

// Ctrl+C stops the running training at a consistent cut (a second one quits at once); the methods that finished are printed
const interrupt = interruptSignal(() =>
  console.error('\nbinary-addition: stopping at the next consistent cut (Ctrl+C again to quit at once)'),
);
let stopped: string | null = null;
for (const [i, m] of methods.entries()) {
  const topology = defineTopology({
    inputs: 24,
    batch: 10,
    lr: args.lr,
    synthesizer: { lr: args.synthesizerLr, conditioned: m.conditioned },
    layers: [
      { units: 128, activation: 'sigmoid', decoupled: m.decoupled },
      { units: 64, activation: 'sigmoid', decoupled: m.decoupled },
      { units: 12, activation: 'sigmoid' },
    ],
  });
  if (i === 0) {
    console.log(
      `binary addition, 12 bits: ${describeSizes(topology)} sigmoid, batch 10, ${data.x.rows} examples, ` +
        `${plural(steps, 'step')} (${plural(Math.round(steps / epoch), 'epoch')}) per method, ${args.scheduler} scheduler\n`,
    );
  }
  const inspection = inspector.forRun(methods.length > 1 ? m.name.toLowerCase() : undefined, { steps });
  const training = createTraining({
    topology,
    data,
    steps,
    seed: args.seed,
    scheduler: schedulerOption(args),
    inspect: inspection?.inspect,
    relay: inspection?.relay,
    signal: interrupt.signal,
  });
  inspection?.watch(training);
  const bar = new ProgressLine(m.name.padEnd(8), steps);
  // running means over the last epoch (every example seen once)
  let loss = 0,
    synth = 0,
    acc = 0;
  const mean = (a: number, v: number, n: number) => a + (v - a) / Math.min(n, epoch);
  const detail = () =>
    `loss ${loss.toFixed(4)}  synthesizer ${m.decoupled ? synth.toFixed(4) : '—'}  bit accuracy ${(100 * acc).toFixed(1)}%`;
  const every = Math.max(1, Math.floor(steps / 200));
  training.metrics$.subscribe((s) => {
    const n = s.batch + 1;
    loss = mean(loss, s.loss, n);
    synth = mean(synth, s.synthesizerLoss, n);
    acc = mean(acc, s.accuracy, n);
    if (n % every === 0) bar.update(n, detail());
  });
  const started = performance.now();
  const aborted = await training.run().then(
    () => null,
    (e: unknown) => {
      if (!(e instanceof TrainingAbortedError)) throw e;
      return e;
    },
  );
  if (aborted) {
    bar.done(detail());
    await inspection?.close();
    stopped = `${m.name} stopped before step ${aborted.step} of ${steps} (Ctrl+C)`;
    break;
  }
  const seconds = (performance.now() - started) / 1000;
  await inspection?.close();
  bar.done(detail());
  results[m.name.toLowerCase()] = {
    loss,
    synthesizer_loss: m.decoupled ? synth : null,
    bit_accuracy: acc,
    steps_per_second: steps / seconds,
    seconds,
  };
  rows.push([
    m.name,
    loss.toFixed(4),
    m.decoupled ? synth.toFixed(4) : '—',
    `${(100 * acc).toFixed(1)}%`,
    Math.round(steps / seconds),
    seconds.toFixed(1),
  ]);
}

interrupt.dispose();
if (rows.length) {
  console.log(`\n${table(['method', 'loss', 'synthesizer loss', 'bit accuracy', 'steps/s', 'seconds'], rows)}`);
  console.log('\n(loss, synthesizer loss and bit accuracy: means over the last epoch of training batches)');
}
if (stopped) {
  const unfinished = methods
    .slice(rows.length)
    .map((m) => m.name)
    .join(', ');
  console.error(
    `binary-addition: ${stopped}; not finished: ${unfinished}. ` +
      `${rows.length ? 'The table holds the methods that finished only' : 'No method finished: no table'}; no JSON line was written.`,
  );
  await inspector.finish(false);
  process.exit(130);
}
const why = explainResults(results, steps);
if (why.length) console.log(`\n${why.join('\n')}`);
if (args.json) console.log(JSON.stringify({ network: [24, 128, 64, 12], batch: 10, steps, scheduler: args.scheduler, methods: results }));
await inspector.finish();
