/**
 * `npm run bench -- copy_experiment [--task copy|repeat-copy] [--budget N] [--seed S[,S…]] [--T 2,3,4,5,8]
 *   [--methods bptt,dni,dni-aux] [--full] [--jobs 2] [--hidden 256] [--batch 16] [--lr 5e-4]
 *   [--synthesizer-lr 3e-3] [--scale 0.1] [--aux-weight 0.1] [--smoke] [--json]`:
 * the paper's copy-task table in the bare loop (lib/recurrent/curriculum.ts): for each truncation T
 * and method, the longest length the curriculum reaches within the budget of training sequences
 * (start at 1, +1 when the mean error of the last 10 batches is below 0.15 bits per sequence),
 * same seeds and budget for every method. The defaults are `COPY_EXPERIMENT` (LSTM 256, batch 16,
 * Adam 5e-4, clip 1; linear synthesizer over [h | c], Adam 3e-3, scale 0.1; aux weight 0.1; budget
 * 300,000; seed 1); docs/recurrent.md has the table and the levers tried.
 * `--full` adds untruncated BPTT (T = the longest sequence the budget could reach) as a reference row:
 * how far the model gets in the budget when truncation is no limit.
 * `--jobs N` runs N curricula at once in child processes (each run is deterministic, so the table is
 * the same for any N; wall and CPU seconds are per run). The last line of `--json` is
 * `{"task", "budget_sequences", "config", "rows": [{"method", "T", "seed", "max_length", "sequences",
 * "wall_seconds", "cpu_seconds", "curve"}]}` (curve: [sequences, length] each time the length grew).
 * `--smoke`: about a second (LSTM 32, Adam 3e-3, budget 6,000, T = 3, the three methods; each reaches length 1) for CI.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  COPY_EXPERIMENT,
  COPY_METHODS,
  type CopyExperimentConfig,
  type CopyMethod,
  copyExperimentTopology,
  runCurriculum,
} from '../lib/recurrent/curriculum.ts';

/** `npm run bench -- copy_experiment --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- copy_experiment [options]',
  about:
    "The paper's copy-task table in the bare loop: for each truncation T and method (bptt, dni, dni-aux), the\n" +
    'longest length a curriculum reaches within a budget of training sequences; same seeds and budget for every method.',
  options: [
    ['--task copy|repeat-copy', 'the task (default copy)'],
    ['--budget N', 'training sequences per run (default 300,000)'],
    ['--seed S[,S…]', 'seeds; the table shows the median (default 1)'],
    ['--T 2,3,4,5,8', 'truncations'],
    ['--methods bptt,dni,dni-aux', 'methods'],
    ['--full', 'add untruncated BPTT as a reference row'],
    ['--jobs N', 'runs at once, in child processes (default 1)'],
    ['--hidden N, --batch N, --lr X', "the LSTM's size, batch and Adam rate (256, 16, 5e-4)"],
    ['--synthesizer-lr X, --scale X, --aux-weight X', "the synthesizer's Adam rate, scale and the aux weight (3e-3, 0.1, 0.1)"],
    ['--smoke', 'about a second: LSTM 32, budget 6,000, T = 3'],
    ['--json', 'one JSON object (rows and curves) as the last line'],
  ],
  takes: "about 51 CPU minutes for seed 1's table (--jobs 2 shares them between 2 cores; --smoke: about a second)",
};

type Method = CopyMethod | 'full';
interface Job {
  task: 'copy' | 'repeat-copy';
  method: Method;
  T: number;
  seed: number;
  config: CopyExperimentConfig;
}
interface Row {
  method: Method;
  T: number;
  seed: number;
  max_length: number;
  sequences: number;
  wall_seconds: number;
  cpu_seconds: number;
  curve: [number, number][];
}

/** Untruncated BPTT: a window as long as any sequence a curriculum can reach in the budget. */
const FULL_T = 64;

function runJob(j: Job): Row {
  const topology = copyExperimentTopology(j.task, j.method === 'full' ? 'bptt' : j.method, j.method === 'full' ? FULL_T : j.T, j.config);
  const r = runCurriculum(topology, {
    task: j.task,
    width: j.config.width,
    budget: j.config.budget,
    seed: j.seed,
    threshold: j.config.threshold,
  });
  return {
    method: j.method,
    T: j.method === 'full' ? FULL_T : j.T,
    seed: j.seed,
    max_length: r.maxLength,
    sequences: r.sequences,
    wall_seconds: round(r.wallSeconds),
    cpu_seconds: round(r.cpuSeconds),
    curve: r.curve,
  };
}

function inChild(j: Job): Promise<Row> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--one', JSON.stringify(j)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!))
        : reject(new Error(`copy_experiment: run ${JSON.stringify({ ...j, config: undefined })} exited with ${code}`)),
    );
  });
}

const round = (v: number) => Math.round(v * 100) / 100;

export async function main(argv: string[]): Promise<void> {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const num = (flag: string, d: number) => (at(flag) !== undefined ? Number(at(flag)) : d);
  const smoke = argv.includes('--smoke');
  const task = (at('--task') ?? 'copy') as 'copy' | 'repeat-copy';
  if (task !== 'copy' && task !== 'repeat-copy') throw new Error(`--task: expected copy or repeat-copy, got '${task}'`);
  const base = COPY_EXPERIMENT;
  const config: CopyExperimentConfig = {
    ...base,
    hidden: num('--hidden', smoke ? 32 : base.hidden),
    batch: num('--batch', base.batch),
    lr: num('--lr', smoke ? 3e-3 : base.lr),
    synthesizerLr: num('--synthesizer-lr', base.synthesizerLr),
    scale: num('--scale', base.scale),
    auxWeight: num('--aux-weight', base.auxWeight),
    budget: num('--budget', smoke ? 6000 : base.budget),
    truncations: (at('--T') ?? (smoke ? '3' : base.truncations.join(','))).split(',').map(Number),
    seeds: (at('--seed') ?? base.seeds.join(',')).split(',').map(Number),
  };
  const methods = (at('--methods') ?? COPY_METHODS.join(',')).split(',') as Method[];
  for (const m of methods)
    if (!(COPY_METHODS as readonly string[]).includes(m))
      throw new Error(`--methods: unknown '${m}' (expected ${COPY_METHODS.join(', ')})`);
  const jobs: Job[] = [];
  for (const T of config.truncations)
    for (const method of methods) for (const seed of config.seeds) jobs.push({ task, method, T, seed, config });
  if (argv.includes('--full')) for (const seed of config.seeds) jobs.push({ task, method: 'full', T: FULL_T, seed, config });
  const parallel = Math.max(1, Math.min(num('--jobs', 1), jobs.length));

  console.log(
    `${task}, LSTM ${config.hidden}, batch ${config.batch}, Adam ${config.lr}, clip ${config.clip}; synthesizer linear, Adam ` +
      `${config.synthesizerLr}, scale ${config.scale}; aux weight ${config.auxWeight}`,
  );
  console.log(`budget ${config.budget} sequences per run; seeds ${config.seeds.join(', ')}; ${jobs.length} runs, ${parallel} at a time`);
  const rows: Row[] = new Array(jobs.length);
  const report = (r: Row) =>
    console.log(
      `  T=${String(r.T).padEnd(2)} ${r.method.padEnd(8)} seed ${r.seed}: max length ${String(r.max_length).padStart(2)}   ` +
        `(${r.sequences} sequences, ${r.wall_seconds.toFixed(0)} s wall, ${r.cpu_seconds.toFixed(0)} s CPU)   reached at ` +
        `${r.curve.map(([s, l]) => `${l}@${s}`).join(' ')}`,
    );
  if (parallel === 1) {
    jobs.forEach((j, i) => report((rows[i] = runJob(j))));
  } else {
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) {
        const i = next++;
        report((rows[i] = await inChild(jobs[i])));
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
  }

  const shown = [...methods, ...(argv.includes('--full') ? ['full' as const] : [])];
  console.log(
    `\nlongest length reached in ${config.budget} sequences (median over seeds` +
      `${shown.includes('full') ? `; full = untruncated BPTT, T = ${FULL_T}` : ''})`,
  );
  console.log(`  T   ${methods.map((m) => m.padStart(8)).join(' ')}`);
  const med = (T: number, m: Method) => {
    const v = rows
      .filter((r) => r.T === T && r.method === m)
      .map((r) => r.max_length)
      .sort((a, b) => a - b);
    return v.length ? v[Math.floor((v.length - 1) / 2)] : NaN;
  };
  for (const T of config.truncations)
    console.log(`  ${String(T).padEnd(3)} ${methods.map((m) => String(med(T, m)).padStart(8)).join(' ')}`);
  if (shown.includes('full')) console.log(`  full: ${med(FULL_T, 'full')}`);
  if (argv.includes('--json')) console.log(JSON.stringify({ task, budget_sequences: config.budget, config, rows }));
}

// one run in a child process (--jobs): print its row as the last line
if (process.argv.includes('--one')) {
  const j = JSON.parse(process.argv[process.argv.indexOf('--one') + 1]) as Job;
  console.log(JSON.stringify(runJob(j)));
}
