/**
 * `npm run bench -- soak [--json] [--steps N]`: N (default 100,000) steps of the seed network
 * (24-128-64-12, batch 10, DNI) under each scheduler, each in a process of its own, reporting the
 * peak resident memory (RSS, sampled every 500 steps) over the first 10% of the steps and over
 * all of them. Bounded queues and reused buffers keep it flat: the goal is within 10%.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers/schedulers.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { backend } from '../lib/kernels/kernels.ts';
import { defineTopology } from '../lib/topology.ts';

/** `npm run bench -- soak --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- soak [--steps N] [--json]',
  about:
    'N steps of the seed network under each scheduler, each in a process of its own, with the peak resident memory over the\n' +
    'first 10% of the steps and over all of them (the goal: within 10%).',
  options: [
    ['--steps N', 'steps per scheduler (default 100,000)'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: "about half a minute (100,000 steps in 4-6 s per scheduler, plus each process's start)",
};

interface SoakResult {
  scheduler: SchedulerName;
  steps: number;
  seconds: number;
  peak_rss_mib_early: number;
  peak_rss_mib: number;
  growth: number;
}

async function soak(scheduler: SchedulerName, steps: number): Promise<SoakResult> {
  const topology = defineTopology({
    inputs: 24,
    batch: 10,
    lr: 0.5,
    synthesizer: { lr: 0.01 },
    layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
  });
  const early = Math.round(steps / 10);
  let peak = 0,
    peakEarly = 0;
  const t = createTraining({ topology, data: binaryAddition(1000, 12), steps, scheduler });
  t.metrics$.subscribe((m) => {
    if (m.batch % 500 !== 0 && m.batch !== steps - 1) return;
    peak = Math.max(peak, process.memoryUsage().rss);
    if (m.batch <= early) peakEarly = peak;
  });
  const started = performance.now();
  await t.run();
  const mib = (b: number) => b / 2 ** 20;
  return {
    scheduler,
    steps,
    seconds: (performance.now() - started) / 1000,
    peak_rss_mib_early: mib(peakEarly),
    peak_rss_mib: mib(peak),
    growth: peak / peakEarly - 1,
  };
}

export async function main(argv: string[]): Promise<void> {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const steps = Number(at('--steps') ?? 100_000);
  const child = at('--child') as SchedulerName | undefined;
  if (child) {
    console.log(JSON.stringify(await soak(child, steps)));
    return;
  }
  const me = fileURLToPath(new URL('./index.ts', import.meta.url));
  console.log(
    `soak: ${steps} steps of the seed network (24-128-64-12, batch 10, DNI) per scheduler, one process each; kernels: ${backend().name}`,
  );
  const results: SoakResult[] = [];
  for (const scheduler of SCHEDULERS) {
    const out = execFileSync(process.execPath, [...process.execArgv, me, 'soak', '--child', scheduler, '--steps', String(steps)], {
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as SoakResult;
    results.push(r);
    console.log(
      `  ${scheduler.padEnd(7)} ${r.seconds.toFixed(1).padStart(6)} s   peak RSS ${r.peak_rss_mib_early.toFixed(1)} MiB at ` +
        `${Math.round(steps / 10)} steps, ` +
        `${r.peak_rss_mib.toFixed(1)} MiB at ${steps}: ${r.growth >= 0 ? '+' : ''}${(100 * r.growth).toFixed(1)}% ` +
        `${Math.abs(r.growth) <= 0.1 ? '(flat)' : '(GROWS)'}`,
    );
  }
  if (argv.includes('--json')) console.log(JSON.stringify({ steps, kernels: backend().name, results }));
}
