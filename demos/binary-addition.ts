/**
 * The seed's network: 12-bit binary addition, 24-128-64-12 sigmoid, batch 10, 1,000 examples,
 * trained by backprop, DNI and cDNI side by side through the actors.
 *
 *   npm run demo                       # all three methods, default steps
 *   npm run demo -- --steps 2000       # shorter
 *   npm run demo -- --scheduler queue
 */
import { createTraining } from '../actors/training.ts';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { batchesPerEpoch } from '../lib/data.ts';
import { defineTopology, describeSizes } from '../lib/topology.ts';
import { ProgressLine, table } from './progress.ts';

const usage = `usage: npm run demo -- [--steps N] [--scheduler ${SCHEDULERS.join('|')}] [--lr X] [--synthesizer-lr X] [--seed N]`;
const options = { steps: 20_000, scheduler: 'queue' as SchedulerName, lr: 0.5, synthesizerLr: 0.01, seed: 1 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const [flag, value] = [argv[i], argv[i + 1]];
  const num = () => {
    i++;
    const v = Number(value);
    if (value === undefined || !Number.isFinite(v)) exit(`${flag} needs a number, got ${value ?? 'nothing'}`);
    return v;
  };
  if (flag === '--steps') options.steps = num();
  else if (flag === '--lr') options.lr = num();
  else if (flag === '--synthesizer-lr') options.synthesizerLr = num();
  else if (flag === '--seed') options.seed = num();
  else if (flag === '--scheduler') {
    i++;
    if (!(SCHEDULERS as readonly string[]).includes(value)) exit(`unknown scheduler '${value}'`);
    options.scheduler = value as SchedulerName;
  } else if (flag === '--help' || flag === '-h') exit('', 0);
  else exit(`unknown option ${flag}`);
}

function exit(message: string, code = 2): never {
  if (message) console.error(`binary-addition: ${message}`);
  console.error(usage);
  process.exit(code);
}

const data = binaryAddition(1000, 12, options.seed);
const methods = [
  { name: 'backprop', decoupled: false, conditioned: false },
  { name: 'DNI', decoupled: true, conditioned: false },
  { name: 'cDNI', decoupled: true, conditioned: true },
];
const epoch = batchesPerEpoch(data, 10);
const rows: (string | number)[][] = [];
let first = true;

for (const m of methods) {
  const topology = defineTopology({
    inputs: 24,
    batch: 10,
    lr: options.lr,
    synthesizer: { lr: options.synthesizerLr, conditioned: m.conditioned },
    layers: [
      { units: 128, activation: 'sigmoid', decoupled: m.decoupled },
      { units: 64, activation: 'sigmoid', decoupled: m.decoupled },
      { units: 12, activation: 'sigmoid' },
    ],
  });
  if (first) {
    console.log(
      `binary addition, 12 bits: ${describeSizes(topology)} sigmoid, batch 10, ${data.x.rows} examples, ` +
        `${options.steps} steps (${(options.steps / epoch).toFixed(0)} epochs) per method, ${options.scheduler} scheduler\n`,
    );
    first = false;
  }
  const training = createTraining({ topology, data, steps: options.steps, seed: options.seed, scheduler: options.scheduler });
  const bar = new ProgressLine(m.name.padEnd(8), options.steps);
  // running means over the last epoch (every example seen once)
  let loss = 0, synth = 0, acc = 0;
  const mean = (a: number, v: number, n: number) => a + (v - a) / Math.min(n, epoch);
  const detail = () => `loss ${loss.toFixed(4)}  synthesizer ${m.decoupled ? synth.toFixed(4) : '—'}  bit accuracy ${(100 * acc).toFixed(1)}%`;
  const every = Math.max(1, Math.floor(options.steps / 200));
  training.metrics$.subscribe((s) => {
    const n = s.batch + 1;
    loss = mean(loss, s.loss, n);
    synth = mean(synth, s.synthesizerLoss, n);
    acc = mean(acc, s.accuracy, n);
    if (n % every === 0) bar.update(n, detail());
  });
  const started = performance.now();
  await training.run();
  const seconds = (performance.now() - started) / 1000;
  bar.done(detail());
  rows.push([
    m.name,
    loss.toFixed(4),
    m.decoupled ? synth.toFixed(4) : '—',
    `${(100 * acc).toFixed(1)}%`,
    Math.round(options.steps / seconds),
    seconds.toFixed(1),
  ]);
}

console.log(`\n${table(['method', 'loss', 'synthesizer loss', 'bit accuracy', 'steps/s', 'seconds'], rows)}`);
console.log('\n(loss, synthesizer loss and bit accuracy: means over the last epoch of training batches)');
