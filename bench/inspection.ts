/**
 * `npm run bench -- inspection [--steps N] [--rounds R] [--backend typescript|wasm|wasm-fma] [--scheduler queue|async] [--no-stately]
 * [--json]`
 * (default: the library's default kernels):
 * what watching the actors costs, on the seed network (24-128-64-12 DNI, batch 10,
 * `reference/dni.json`). The faster the kernels, the larger the share of inspection.
 *
 * Arms, run interleaved in one process (each round runs every arm once, in a shuffled order, after
 * a full garbage collection so no run pays for the previous one's garbage), each compared with the
 * `off` run of the same round (the median of those ratios is printed):
 * - `off`: no inspection, nobody on `metrics$` (what a training costs by default);
 * - `off again`: the same, a second time: the ratio off-again / off is the noise floor, and the
 *   figure for "inspection off costs nothing" (the off path runs no inspection code at all);
 * - `metrics`: `metrics$` subscribed (loss, synthesizer loss, cosine, steps per second);
 * - `no-op observer`: an inspection observer that does nothing: what xstate itself spends;
 * - `trace`: the trace recorder writing every event to a JSONL file;
 * - `trace, sample 10`: the same, keeping every 10th batch's events;
 * - `stately`: `@statelyai/inspect` through our relay (no page connected);
 * - `live`: the live inspector (`--inspect`: tools/inspector/live.ts) with `metrics$` charted, no
 *   page open; `live, page open`: the same with a page (an EventSource reading /events) following
 *   it. Under `--scheduler queue` (the default) its updates wait for the end of the training, as a
 *   page's would; `--scheduler async` is what `--inspect` trains on.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Inspection, createTraceRecorder } from '../actors/inspect/inspection.ts';
import type { SchedulerName } from '../actors/schedulers/schedulers.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { backend, useBackend } from '../lib/kernels/kernels.ts';
import { backendByName } from '../lib/kernels/backend-choice.ts';
import { type LoadedCase, loadCase } from '../lib/reference.ts';

/** `npm run bench -- inspection --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- inspection [options]',
  about:
    'What watching the actors costs on the seed network (reference/dni.json): inspection off, metrics$, a no-op\n' +
    "observer, the trace recorder (every event; every 10th batch), Stately's relay and the live page, interleaved, each as a\n" +
    'ratio to the off run of the same round.',
  options: [
    ['--steps N', 'steps per run (default 500)'],
    ['--rounds R', 'rounds of every arm (default 10)'],
    ['--backend typescript|wasm|wasm-fma', "kernels (default: the library's default)"],
    ['--scheduler queue|async', "scheduler (default queue; the demos' --inspect uses async)"],
    ['--no-stately', 'leave out the Stately arm'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'about half a minute on 2 cores with the defaults (10 rounds of 9 arms of 500 steps)',
};

interface Arm {
  name: string;
  /** an inspection for one run, and what it wrote; `watch` is handed the training (the live page's charts) */
  make?: () => Promise<{
    inspection: Inspection;
    watch?: (training: ReturnType<typeof createTraining>) => void;
    done(): { lines?: number; bytes?: number };
  }>;
  metrics?: boolean;
}

interface Result {
  arm: string;
  /** median µs per step over the rounds */
  microsPerStep: number;
  /** median over rounds of (this arm ÷ `off` in the same round): paired, so slow drifts of a shared machine cancel */
  ratio: number;
  linesPerStep?: number;
  bytesPerStep?: number;
}

function option(args: string[], name: string, fallback: number): number {
  const i = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (i < 0) return fallback;
  const raw = args[i].includes('=') ? args[i].split('=')[1] : args[i + 1];
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`--${name} needs a positive integer, got ${raw}`);
  return n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// a full collection between runs (outside the timed part)
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The arms' order for round r: a fixed-seed shuffle, so every run of the bench is alike. */
function shuffled<T>(xs: T[], r: number): T[] {
  const out = [...xs];
  let s = (r + 1) * 2654435761;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s ^ (s >>> 15), 2246822519) + 1) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function runOnce(
  c: LoadedCase,
  steps: number,
  arm: Arm,
  scheduler: SchedulerName,
): Promise<{ seconds: number; lines?: number; bytes?: number }> {
  gc();
  const made = arm.make ? await arm.make() : null;
  const training = createTraining({
    topology: c.topology,
    data: c.data,
    params: c.initial,
    steps,
    scheduler,
    inspect: made?.inspection.inspect,
  });
  made?.watch?.(training);
  const sub = arm.metrics ? training.metrics$.subscribe(() => {}) : null;
  const t0 = performance.now();
  await training.run();
  // what an inspector defers to timers belongs to the run: let those timers fire (every arm waits alike)
  await new Promise((r) => setTimeout(r, 1));
  await made?.inspection.close();
  const seconds = (performance.now() - t0) / 1e3;
  sub?.unsubscribe();
  return { seconds, ...made?.done() };
}

export async function main(args: string[]): Promise<void> {
  const steps = option(args, 'steps', 500);
  const rounds = option(args, 'rounds', 10);
  const json = args.includes('--json');
  const s = args.find((a, i) => args[i - 1] === '--scheduler' || a.startsWith('--scheduler='))?.replace('--scheduler=', '') ?? 'queue';
  if (s !== 'queue' && s !== 'async') throw new RangeError(`--scheduler must be queue or async, got ${s}`);
  const scheduler: SchedulerName = s;
  const file = join(tmpdir(), `dni-bench-trace-${process.pid}.jsonl`);
  const b = args.find((a, i) => args[i - 1] === '--backend' || a.startsWith('--backend='));
  const wanted = b?.replace('--backend=', '');
  if (wanted !== undefined) useBackend(backendByName(wanted));
  const kernels = backend().name;
  const c = loadCase(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'reference', 'dni.json'), 'utf8')));

  const recorder =
    (sample: number): Arm['make'] =>
    async () => {
      const r = createTraceRecorder({ file, sample });
      return { inspection: r, done: () => ({ lines: r.lines, bytes: statSync(file).size }) };
    };
  const arms: Arm[] = [
    { name: 'off' },
    { name: 'off again' },
    { name: 'metrics', metrics: true },
    // xstate's own share: it builds inspection events (event, action, microstep, snapshot) once anyone listens
    {
      name: 'no-op observer',
      make: async () => ({
        inspection: { inspect: () => {}, attach: () => ({ unsubscribe() {} }), relay() {}, close: async () => {} },
        done: () => ({}),
      }),
    },
    { name: 'trace', make: recorder(1) },
    { name: 'trace, sample 10', make: recorder(10) },
  ];
  const { serveLiveInspector } = await import('../tools/inspector/live.ts');
  const alone = await serveLiveInspector({ port: 0 });
  const followed = await serveLiveInspector({ port: 0 });
  // a page following it: an EventSource's request, read as it comes
  const page = await fetch(`${followed.url}events`);
  const reading = page.body!.pipeTo(new WritableStream()).catch(() => {});
  const liveArm = (name: string, server: typeof alone): Arm => ({
    name,
    make: async () => {
      const run = server.run(name);
      return { inspection: run, watch: (t) => void run.watch(t), done: () => ({}) };
    },
  });
  arms.push(liveArm('live', alone), liveArm('live, page open', followed));
  if (!args.includes('--no-stately')) {
    const { attachStatelyInspector } = await import('../actors/inspect/stately.ts');
    arms.push({ name: 'stately', make: async () => ({ inspection: await attachStatelyInspector({ port: 0 }), done: () => ({}) }) });
  }

  // warm-up: JIT tiers for every path
  for (const arm of arms) await runOnce(c, Math.min(steps, 100), arm, scheduler);
  const times = new Map<string, number[]>(arms.map((a) => [a.name, []]));
  const written = new Map<string, { lines?: number; bytes?: number }>();
  for (let r = 0; r < rounds; r++) {
    for (const arm of shuffled(arms, r)) {
      const { seconds, ...w } = await runOnce(c, steps, arm, scheduler);
      times.get(arm.name)!.push(seconds / steps);
      written.set(arm.name, w);
    }
    if (!json) process.stderr.write(`round ${r + 1}/${rounds}\r`);
  }
  rmSync(file, { force: true });
  await alone.close();
  await followed.close();
  await reading;

  const off = times.get('off')!;
  const results: Result[] = arms.map((a) => {
    const mine = times.get(a.name)!;
    const w = written.get(a.name) ?? {};
    const out: Result = { arm: a.name, microsPerStep: median(mine) * 1e6, ratio: median(mine.map((t, r) => t / off[r])) };
    if (w.lines !== undefined) out.linesPerStep = w.lines / steps;
    if (w.bytes !== undefined) out.bytesPerStep = w.bytes / steps;
    return out;
  });

  if (!json) {
    console.log(
      `inspection cost, seed network 24-128-64-12 DNI, ${kernels} kernels, ${scheduler} scheduler, ${steps} steps x ${rounds} ` +
        `interleaved rounds (median µs per step; × off: median of per-round ratios)\n`,
    );
    console.log(
      `${'arm'.padEnd(18)} ${'µs/step'.padStart(9)} ${'× off'.padStart(7)} ${'lines/step'.padStart(11)} ${'bytes/step'.padStart(11)}`,
    );
    for (const r of results) {
      console.log(
        `${r.arm.padEnd(18)} ${r.microsPerStep.toFixed(1).padStart(9)} ${r.ratio.toFixed(3).padStart(7)} ` +
          `${r.linesPerStep === undefined ? '' : r.linesPerStep.toFixed(1).padStart(11)} ` +
          `${r.bytesPerStep === undefined ? '' : r.bytesPerStep.toFixed(0).padStart(11)}`,
      );
    }
    console.log('\n"off again" ÷ "off" is the noise floor: with inspection off no inspection code runs.');
  }
  console.log(JSON.stringify({ bench: 'inspection', kernels, scheduler, steps, rounds, results }));
}
