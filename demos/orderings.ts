/**
 * The order in which the actors see their messages under each scheduler, for the first few
 * batches of the seed network (DNI: synthesizers after layers 0 and 1), numbered like the seed's
 * figures: under `queue` batch t finishes before batch t+1 enters (the sequential figure); under
 * `async` and `worker` batch t+1 enters while batch t is further down (the concurrent figure).
 * The numbers in a cell are the batch. Same parameters, bit for bit, in every case. Under `worker`
 * each event also shows when its actor handled it (µs from the first event): the seed's "blue box"
 * was after layer 1's refit running while layer 2 computes its forward, which here is
 * synthesizer:0 (its refits run as it predicts) on one thread while layer:1 forwards on another.
 *
 * The batches shown come after `--from` batches the actors have already handled (so that worker
 * threads, which start cold, show how they run once warm).
 *
 * `--unlock complete` makes both interfaces complete unlocks (a forward synthesizer beside each
 * synthesizer): layer:1 and layer:2 read `forward:0`'s and `forward:1`'s prediction of their input
 * from the data, so under `worker` a stage starts batch t without waiting for the stage below to
 * forward it; the demo counts the batches where that happened.
 *
 *   npx tsx demos/orderings.ts [--steps 3] [--delay 1] [--from 30] [--unlock dni|complete]
 */
import { traceObserver, type TraceEvent } from '../actors/inspect/inspection.ts';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers/schedulers.ts';
import { train } from '../actors/trainer/training.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { initParameters } from '../lib/params.ts';
import { defineTopology } from '../lib/topology.ts';
import { parseDemoArgs } from './cli.ts';

const args = parseDemoArgs(process.argv.slice(2), {
  name: 'orderings',
  takes: 'a few seconds (a few batches under each scheduler, worker threads included)',
  usage: 'The order of transitions under each scheduler, numbered, for the first few batches of the seed network.',
  defaults: { steps: 3 },
  options: {
    delay: { type: 'number', default: 1, help: 'how many batches the refits may lag', value: 'D' },
    from: { type: 'number', default: 30, help: 'batches handled before the ones shown (warm threads)', value: 'N' },
    unlock: {
      type: 'string',
      default: 'dni',
      help: 'dni (update unlock) or complete (forward synthesizers too: the forward unlock)',
      value: 'KIND',
    },
  },
});
if (args.unlock !== 'dni' && args.unlock !== 'complete') {
  console.error(`orderings: --unlock needs dni or complete, got '${args.unlock}' (see --help)`);
  process.exit(2);
}
const complete = args.unlock === 'complete';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 0.5,
  synthesizer: { lr: 0.01, delay: args.delay },
  layers: [{ units: 128, decoupled: true, complete }, { units: 64, decoupled: true, complete }, { units: 12 }],
});
const data = binaryAddition(1000, 12);
const params = initParameters(topology, 1);
const shown = args.steps ?? 3;
const from = args.from;
if (!Number.isInteger(from) || from < 0) throw new RangeError(`orderings: --from needs an integer >= 0, got ${from}`);
/** worker: the blue box is looked for over this many more batches after the ones shown */
const WATCHED = 20;
const steps = from + shown + WATCHED;
const columns = complete
  ? ['layer:0', 'synthesizer:0', 'forward:0', 'layer:1', 'synthesizer:1', 'forward:1', 'layer:2', 'head']
  : ['layer:0', 'synthesizer:0', 'layer:1', 'synthesizer:1', 'layer:2', 'head'];
const letter: Record<string, string> = { FORWARD: 'F', PREDICT: 'P', SYNTHETIC_GRADIENT: 'S', GRADIENT: 'G', REFIT: 'R' };
const figure: Record<SchedulerName, string> = {
  queue: "one batch in flight: the seed's sequential order",
  async: 'pipelined on the event loop: batch t+1 enters while batch t is further down',
  worker: 'pipeline stages on worker threads, running at the same time (ordered by the time each event was handled)',
};

console.log(
  `F forward · P predict (synthesizer; a forward synthesizer: from the data) · ` +
    `S synthetic update · G gradient update (backprop) · R refit target\n`,
);
let reference: Float32Array | null = null;
for (const scheduler of SCHEDULERS) {
  const watched: TraceEvent[] = [],
    snapshots: TraceEvent[] = [];
  const keep = (l: TraceEvent) => {
    if (l.batch === null || l.batch < from || l.batch >= from + shown + WATCHED) return;
    if (l.type === '@xstate.event' && letter[l.event!.type]) watched.push(l);
    else if (l.type === '@xstate.snapshot') snapshots.push(l);
  };
  // worker: two stages always (a default plan would run as one thread on a machine that gives one core's worth)
  const option = scheduler === 'worker' ? ({ name: 'worker', stages: 2 } as const) : scheduler;
  const result = await train({ topology, data, params, steps, scheduler: option, inspect: traceObserver(keep), relay: keep });
  watched.sort((a, b) => a.t - b.t);
  const lines = watched.filter((l) => l.batch! < from + shown);
  // an event is handled from its line to its actor's next snapshot
  const end = (l: TraceEvent) => snapshots.find((s) => s.actor === l.actor && s.t >= l.t && s.batch === l.batch)?.t ?? l.t;
  const t0 = lines[0]?.t ?? 0;
  const us = (t: number) => ((t - t0) * 1000).toFixed(0);
  const same = reference === null || result.params['layer0.W'].data.every((v, i) => v === reference![i]);
  reference ??= result.params['layer0.W'].data.slice();
  console.log(`${scheduler}: ${figure[scheduler]}${same ? '' : '  (DIFFERENT PARAMETERS!)'}`);
  const width = 14;
  console.log(`   #  ${columns.map((c) => c.padEnd(width)).join('')}${scheduler === 'worker' ? 'thread     µs' : ''}`);
  lines.forEach((l, n) => {
    const cells = columns.map((c) => (c === l.actor ? `${letter[l.event!.type]}${l.batch}` : '').padEnd(width));
    console.log(`  ${String(n + 1).padStart(2)}  ${cells.join('')}${l.thread ? `${l.thread.padEnd(11)}${us(l.t)}–${us(end(l))}` : ''}`);
  });
  if (scheduler === 'worker' && complete) {
    // the forward unlock: a layer on one thread forwards batch t before the layer below, on another, has forwarded it
    for (const [below, above] of [
      ['layer:0', 'layer:1'],
      ['layer:1', 'layer:2'],
    ]) {
      const forwards = (actor: string) =>
        new Map(watched.filter((l) => l.actor === actor && l.event!.type === 'FORWARD').map((l) => [l.batch!, l] as const));
      const lower = forwards(below),
        upper = forwards(above);
      const ahead = [...upper].filter(([t, u]) => lower.has(t) && u.thread !== lower.get(t)!.thread && u.t < lower.get(t)!.t);
      const threads = [...upper.values()][0]?.thread !== [...lower.values()][0]?.thread;
      console.log(
        !threads
          ? `  ${above} and ${below} share a thread here (the stage plan put them together)`
          : `  the forward unlock: ${above} (${[...upper.values()][0]?.thread}) forwarded ${ahead.length} of batches ` +
              `${from}–${from + shown + WATCHED - 1} before ${below} (${[...lower.values()][0]?.thread}) forwarded them` +
              (ahead.length
                ? `; the first: batch ${ahead[0][0]} at ${us(ahead[0][1].t)} µs, ${below}'s at ${us(lower.get(ahead[0][0])!.t)} µs`
                : ''),
      );
    }
  }
  if (scheduler === 'worker') {
    // the blue box: synthesizer:0 (refitting as it predicts: at a PREDICT, or at the REFIT a held prediction waited for) while
    // layer:1 forwards, on another thread
    const name = (l: TraceEvent) => `${l.actor} ${letter[l.event!.type]}${l.batch}`;
    const overlap = (a: TraceEvent, b: TraceEvent) => b.thread !== a.thread && b.t < end(a) && a.t < end(b);
    const blue = watched.flatMap((a) =>
      a.actor !== 'synthesizer:0'
        ? []
        : watched.filter((b) => b.actor === 'layer:1' && b.event!.type === 'FORWARD' && overlap(a, b)).map((b) => [a, b] as const),
    );
    const overlapping = lines.filter((a) => lines.some((b) => overlap(a, b))).length;
    console.log(`  ${overlapping} of these ${lines.length} events ran while the other thread was handling one of its own`);
    console.log(
      blue.length
        ? `  the blue box, over batches ${from}–${from + shown + WATCHED - 1}: ` +
            `synthesizer:0 refitting or predicting while layer:1 forwards, ${blue.length} times; the first: ` +
            `${name(blue[0][0])} (${blue[0][0].thread}, ${us(blue[0][0].t)}–${us(end(blue[0][0]))} µs) ` +
            `while ${name(blue[0][1])} (${blue[0][1].thread}, ${us(blue[0][1].t)}–${us(end(blue[0][1]))} µs)`
        : `  the blue box: over batches ${from}–${from + shown + WATCHED - 1} ` +
            `no synthesizer:0 refit or prediction ran at the same time as a layer:1 forward (a machine that gave one core?)`,
    );
  }
  const lastOfFirst = lines.reduce((m, l, i) => (l.batch === from ? i : m), -1);
  const firstOfSecond = lines.findIndex((l) => l.batch === from + 1);
  console.log(
    firstOfSecond > lastOfFirst
      ? `  batch ${from + 1} entered at #${firstOfSecond + 1}, after batch ${from}'s last event (#${lastOfFirst + 1})\n`
      : `  batch ${from + 1} entered at #${firstOfSecond + 1}, ` +
          `while batch ${from} was still in flight (its last event is #${lastOfFirst + 1})\n`,
  );
}
