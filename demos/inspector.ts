/**
 * Watch the actors work: train the seed's DNI network (binary addition, 24-128-64-12, interfaces
 * after layers 0 and 1), record what every actor does, print the metrics stream (loss,
 * synthesizer loss, cosine between synthetic and true gradient, steps per second), then serve the
 * offline trace viewer for the recording. With `--inspect`, watch it live as it trains.
 *
 *   npx tsx demos/inspector.ts                          # 20 steps, then http://127.0.0.1:8090
 *   npx tsx demos/inspector.ts --steps 200 --sample 10 --trace out/dni.jsonl --no-serve
 *   npx tsx demos/inspector.ts --inspect --steps 30000 --sample 100   # live at http://127.0.0.1:8080 (offline)
 *   npx tsx demos/inspector.ts --inspect stately --scheduler worker    # in Stately's online inspector
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { createTraining } from '../actors/trainer/training.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { defineTopology, describeSizes } from '../lib/topology.ts';
import { serveInspector } from '../tools/inspector/server.ts';
import { demoInspector, parseDemoArgs, schedulerOption, stepsOf, untilInterrupted } from './cli.ts';
import { plural } from '../lib/text.ts';

const args = parseDemoArgs(process.argv.slice(2), {
  name: 'inspector',
  takes: 'a second or so of training; then it serves the page until Ctrl+C (--no-serve: stops at once)',
  usage:
    "Trains the seed's DNI network briefly, records every actor's events (default out/inspector.jsonl)\n" +
    'and serves the page that steps through them. With --inspect, a page shows the actors and the\n' +
    'metrics live while it trains (give it --steps 30000 to have time to look).',
  defaults: { steps: 20 },
  options: {
    noServe: { type: 'boolean', help: 'write the trace and stop: do not serve the page' },
    port: { type: 'number', default: 8090, help: 'port of the inspector page (0: any free one)', value: 'N' },
  },
});

const data = binaryAddition(1000, 12, 1);
const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 0.5,
  synthesizer: { lr: 0.01 },
  layers: [
    { units: 128, activation: 'sigmoid', decoupled: true },
    { units: 64, activation: 'sigmoid', decoupled: true },
    { units: 12, activation: 'sigmoid' },
  ],
});
const steps = stepsOf(args, Math.floor(data.x.rows / topology.batch));
const trace = args.trace ?? 'out/inspector.jsonl';
mkdirSync(dirname(trace), { recursive: true });

const inspector = await demoInspector({ ...args, trace }, 'inspector');
const inspection = inspector.forRun(undefined, { steps });
const training = createTraining({
  topology,
  data,
  steps,
  scheduler: schedulerOption(args),
  inspect: inspection?.inspect,
  relay: inspection?.relay,
});
inspection?.watch(training);

const every = Math.max(1, Math.floor(steps / 20));
const last: Record<string, number> = {};
if (!args.json)
  console.log(
    `${describeSizes(topology)} DNI, ${plural(steps, 'step')}, ${args.scheduler} scheduler\n\n` +
      ` batch      loss  synth loss  cos(ĝ, g) @ layer 1  steps/s`,
  );
training.metrics$.subscribe((m) => {
  Object.assign(last, {
    batch: m.batch,
    loss: m.loss,
    synthesizerLoss: m.synthesizerLoss,
    cosine: m.cosine[1],
    stepsPerSecond: m.stepsPerSecond,
  });
  if (args.json || (m.batch % every !== 0 && m.batch !== steps - 1)) return;
  console.log(
    `${String(m.batch).padStart(6)}  ${m.loss.toFixed(4).padStart(8)}  ${m.synthesizerLoss.toFixed(5).padStart(10)}  ` +
      `${(m.cosine[1] === undefined ? '—' : m.cosine[1].toFixed(3)).padStart(19)}  ${m.stepsPerSecond.toFixed(0).padStart(7)}`,
  );
});
await training.run();
await inspection?.close();

if (args.json) console.log(JSON.stringify({ demo: 'inspector', steps, scheduler: args.scheduler, trace, last }));
else console.log(`\n(cos: whole-batch cosine between layer 1's synthetic gradient and the true one, which its target is)`);

if (!args.noServe) {
  const page = await serveInspector({ trace, port: args.port });
  console.error(`inspector: open ${page.url} to step through ${trace} (Ctrl+C to stop)`);
  await untilInterrupted();
  await page.close();
}
await inspector.finish(args.noServe);
