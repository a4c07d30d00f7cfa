/**
 * The order in which the actors see their messages under each scheduler, for the first few
 * batches of the seed network (DNI: synthesizers after layers 0 and 1), numbered like the seed's
 * figures: under `queue` batch t finishes before batch t+1 enters (the sequential figure); under
 * `async` and `worker` batch t+1 enters while batch t is further down (the concurrent figure).
 * The numbers in a cell are the batch. Same parameters, bit for bit, in every case.
 *
 *   npx tsx demos/orderings.ts [--steps 3] [--delay 1]
 */
import { traceObserver, type TraceEvent } from '../actors/inspection.ts';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers.ts';
import { train } from '../actors/training.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { initParameters } from '../lib/params.ts';
import { defineTopology } from '../lib/topology.ts';
import { parseDemoArgs } from './cli.ts';

const args = parseDemoArgs(process.argv.slice(2), {
  name: 'orderings',
  usage: 'The order of transitions under each scheduler, numbered, for the first few batches of the seed network.',
  defaults: { steps: 3 },
  options: { delay: { type: 'number', default: 1, help: 'how many batches the refits may lag', value: 'D' } },
});

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 0.5,
  synthesizer: { lr: 0.01, delay: args.delay },
  layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
});
const data = binaryAddition(1000, 12);
const params = initParameters(topology, 1);
const steps = args.steps ?? 3;
const columns = ['layer:0', 'synthesizer:0', 'layer:1', 'synthesizer:1', 'layer:2', 'head'];
const letter: Record<string, string> = { FORWARD: 'F', PREDICT: 'P', SYNTHETIC_GRADIENT: 'S', GRADIENT: 'G', REFIT: 'R' };
const figure: Record<SchedulerName, string> = {
  queue: 'one batch in flight: the seed\'s sequential order',
  async: 'pipelined on the event loop: batch t+1 enters while batch t is further down',
  worker: 'pipeline stages on worker threads, running at the same time (ordered by the time each event was handled)',
};

console.log(`F forward · P predict (synthesizer) · S synthetic update · G gradient update (backprop) · R refit target\n`);
let reference: Float32Array | null = null;
for (const scheduler of SCHEDULERS) {
  const lines: TraceEvent[] = [];
  const keep = (l: TraceEvent) => l.type === '@xstate.event' && l.batch !== null && letter[l.event!.type] && lines.push(l);
  const result = await train({ topology, data, params, steps, scheduler, inspect: traceObserver(keep), relay: keep });
  lines.sort((a, b) => a.t - b.t);
  const same = reference === null || result.params['layer0.W'].data.every((v, i) => v === reference![i]);
  reference ??= result.params['layer0.W'].data.slice();
  console.log(`${scheduler}: ${figure[scheduler]}${same ? '' : '  (DIFFERENT PARAMETERS!)'}`);
  const width = 14;
  console.log(`   #  ${columns.map((c) => c.padEnd(width)).join('')}${scheduler === 'worker' ? 'thread' : ''}`);
  lines.forEach((l, n) => {
    const cells = columns.map((c) => (c === l.actor ? `${letter[l.event!.type]}${l.batch}` : '').padEnd(width));
    console.log(`  ${String(n + 1).padStart(2)}  ${cells.join('')}${l.thread ?? ''}`);
  });
  const lastOfFirst = lines.reduce((m, l, i) => (l.batch === 0 ? i : m), -1);
  const firstOfSecond = lines.findIndex((l) => l.batch === 1);
  console.log(
    firstOfSecond > lastOfFirst
      ? `  batch 1 entered at #${firstOfSecond + 1}, after batch 0's last event (#${lastOfFirst + 1})\n`
      : `  batch 1 entered at #${firstOfSecond + 1}, while batch 0 was still in flight (its last event is #${lastOfFirst + 1})\n`,
  );
}
