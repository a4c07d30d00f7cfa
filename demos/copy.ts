/**
 * The DNI paper's copy-task table (Jaderberg et al. 2017, table 1), trained through the actors:
 * plain truncated BPTT (`bptt`), a synthesizer at every truncation boundary (`dni`) and DNI with
 * the auxiliary task (`dni-aux`), at truncations T ∈ {2, 3, 4, 5, 8}. Each cell trains a fresh LSTM
 * on the curriculum of actors/trainer/curriculum.ts (start at length 1, +1 when the mean error over the last
 * 10 batches is below 0.15 bits per sequence, fresh sequences every batch) until its budget of
 * training sequences is spent; its figure is the longest length solved. Every cell has the same
 * seed: the same initial parameters where the topologies agree, and the same sequences as long as
 * two cells stay at the same length.
 *
 *   npm run demo:copy                                   # 15 cells, 10,000 sequences each (a few minutes)
 *   npm run demo:copy -- --budget 300000                # the full table (1–4 CPU minutes per cell)
 *   npm run demo:copy -- --task repeat-copy --json      # the JSON object is the last stdout line
 *   npm run demo:copy -- --truncations 3 --methods bptt,dni --plot copy.svg --trace out/copy.jsonl
 *
 * Cells run in child processes, `--jobs` at a time: each child is this script with the hidden
 * flag `--child-cell METHOD:T[,METHOD:T…]`; it trains those cells, `--jobs` at a time, and reports on
 * stdout as JSON lines (`progress`, then `cell`, per cell). Under `--scheduler worker` one child
 * trains every cell, so the cells share its stage pool: threads start and warm up once. Progress
 * goes to stderr; the table and the JSON line to stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'xstate';
import { type ActorCurriculumOptions, trainCurriculum } from '../actors/trainer/curriculum.ts';
import type { TraceEvent } from '../actors/inspect/inspection.ts';
import { defaultStagePool } from '../actors/stage/stagePool.ts';
import { DniError, TrainingAbortedError } from '../lib/errors.ts';
import { interruptSignal } from '../lib/io/interrupt.ts';
import { autoBackend } from '../lib/kernels/backend-choice.ts';
import { COPY_EXPERIMENT, type CopyMethod, copyExperimentTopology } from '../lib/recurrent/curriculum.ts';
import { type DemoInspection, UsageError, demoInspector, natsFlags, quietOnClosedPipe, schedulerOption } from './cli.ts';
import { CHILD_FLAG, type Cell, FULL_BUDGET, TRACE_BATCHES, copyUsage, copyUsageLine, parseCopyArgs } from './copy-args.ts';
import { type ProgressEntry, ProgressBoard, table } from './progress.ts';
import { chartSvg } from './svg-chart.ts';
import { plural } from '../lib/text.ts';

/** One line on stderr, exit code 2. */
function usageError(message: string): never {
  process.stderr.write(`${copyUsageLine(message)}\n`);
  process.exit(2);
}

// the command line: everything is checked before any work, and a bad flag writes nothing
quietOnClosedPipe();
let parsed;
try {
  parsed = parseCopyArgs(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) usageError(err.message);
  throw err;
}
if (!parsed) {
  console.log(copyUsage());
  process.exit(0);
}
const { args, task, budget, truncations, methods, childCells } = parsed;

// -------------------------------------------------------------------------------------------------
// a cell: what a child trains and reports

/** What a child reports on stdout, one JSON object a line; `cell` names the cell (`dni T=3`). */
type ChildMessage =
  | { type: 'progress'; cell: string; sequences: number; length: number }
  | {
      type: 'cell';
      method: CopyMethod;
      T: number;
      max_length: number;
      sequences: number;
      steps: number;
      wall_seconds: number;
      cpu_seconds: number;
      curve: [number, number][];
    }
  | { type: 'stopped'; cell: string; sequences: number }
  | { type: 'pool'; threads_started: number };
type CellResult = Extract<ChildMessage, { type: 'cell' }>;

const cellName = (c: Cell) => `${c.method} T=${c.T}`;
const send = (m: ChildMessage) => process.stdout.write(`${JSON.stringify(m)}\n`);

/**
 * Train `cells` here, `--jobs` at a time, and report each on stdout (the child's side). Under the
 * worker scheduler one child trains every cell, so all their trainings share this process's stage
 * pool: its threads start (and warm up) once for the whole table, not once per cell.
 */
async function runChild(cells: Cell[]): Promise<void> {
  const stop = new AbortController();
  // Ctrl+C reaches the children too (and the parent passes it on): stop at the end of the running batch
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => stop.abort(new Error(`interrupted (${s})`)));
  // --jobs at a time (their trainings share the pool's threads); --trace: the first cell's first batches
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cells.length; i = next++) await runCell(cells[i], stop.signal, i === 0 && args.trace !== undefined);
  };
  await Promise.all(Array.from({ length: Math.min(args.jobs, cells.length) }, worker));
  if (args.scheduler === 'worker' && !args.nats) send({ type: 'pool', threads_started: defaultStagePool().stats().started });
}

/** Train one cell and report it on stdout; exits the process when it is stopped (130) or fails (1). */
async function runCell(cell: Cell, signal: AbortSignal, trace: boolean): Promise<void> {
  const name = cellName(cell);
  const topology = copyExperimentTopology(task, cell.method, cell.T);

  // --trace: each of the first TRACE_BATCHES batches' trainings (its own actor system) in a file of its own
  const inspector = trace ? await demoInspector(args, 'copy') : null;
  let traced: { inspection: DemoInspection; sub: Subscription } | null = null;
  let started = 0;
  const closing: Promise<void>[] = [];
  const endTrace = () => {
    if (!traced) return;
    traced.sub.unsubscribe();
    closing.push(traced.inspection.close());
    traced = null;
  };
  const relay = (line: TraceEvent) => traced?.inspection.relay(line);

  let sent = 0,
    sentLength = 0,
    sequences = 0;
  const options: ActorCurriculumOptions = {
    task,
    budget,
    seed: args.seed,
    width: COPY_EXPERIMENT.width,
    threshold: COPY_EXPERIMENT.threshold,
    scheduler: schedulerOption(args),
    signal,
    // read for each batch's training: worker-hosted actors relay their events only while a batch is traced
    get relay() {
      return inspector && started < TRACE_BATCHES ? relay : undefined;
    },
    onTraining: (training, k) => {
      started = k + 1;
      if (!inspector || k >= TRACE_BATCHES) return;
      const inspection = inspector.forRun(`${cell.method}-T${cell.T}-batch${k}`, {
        task,
        method: cell.method,
        T: cell.T,
        batch: k,
        budget,
        seed: args.seed,
      })!;
      traced = { inspection, sub: inspection.attach(training.actor) };
    },
    onBatch: (n, length) => {
      endTrace();
      sequences = n;
      const now = performance.now();
      if (length !== sentLength || now - sent >= 250) {
        send({ type: 'progress', cell: name, sequences: n, length });
        ((sent = now), (sentLength = length));
      }
    },
  };
  try {
    // CPU time as well as wall time: on a shared machine the wall time says more about the neighbours
    const cpu0 = process.cpuUsage();
    const r = await trainCurriculum(topology, options);
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(closing);
    await inspector?.finish(false);
    send({
      type: 'cell',
      method: cell.method,
      T: cell.T,
      max_length: r.maxLength,
      sequences: r.sequences,
      steps: r.steps,
      wall_seconds: +r.wallSeconds.toFixed(2),
      cpu_seconds: +((cpu.user + cpu.system) / 1e6).toFixed(2),
      curve: r.curve,
    });
  } catch (err) {
    endTrace();
    await Promise.all(closing);
    if (err instanceof TrainingAbortedError) {
      send({ type: 'stopped', cell: name, sequences });
      process.exit(130);
    }
    process.stderr.write(`copy: ${name}: ${err instanceof DniError ? err.message : ((err as Error)?.stack ?? String(err))}\n`);
    process.exit(1);
  }
}

// -------------------------------------------------------------------------------------------------
// the table: cells in child processes, --jobs at a time

interface Outcome {
  results: Map<string, CellResult>;
  failed: { cell: Cell; why: string }[];
  interrupted: boolean;
  /** the worker threads the children's stage pools started (null under another scheduler) */
  threadsStarted: number | null;
}

/**
 * How the cells go to child processes: a child each, `jobs` at a time; but under the worker
 * scheduler one child trains them all, `jobs` at a time, on one stage pool (whose threads use
 * the cores): a child each would start (and warm up) a pool's threads per cell, and two children's
 * pools at once would ask for twice the cores there are.
 */
function childGroups(cells: Cell[]): Cell[][] {
  return args.scheduler === 'worker' && !args.nats ? [cells] : cells.map((c) => [c]);
}

/** Run the cells' children, `jobs` at a time; stop them all on Ctrl+C or at the first failure. */
function runCells(cells: Cell[], jobs: number, board: ProgressBoard, signal: AbortSignal): Promise<Outcome> {
  const script = fileURLToPath(import.meta.url);
  // the children load TypeScript as this process does, from wherever it was started
  const loader = ['--import', import.meta.resolve('tsx')];
  const out: Outcome = { results: new Map(), failed: [], interrupted: false, threadsStarted: null };
  const queue = childGroups(cells),
    running = new Set<ChildProcess>();
  let stopping = false,
    launched = 0;
  const stopAll = () => {
    stopping = true;
    for (const c of running) c.kill('SIGINT');
  };
  signal.addEventListener('abort', () => {
    out.interrupted = true;
    stopAll();
  });
  return new Promise((resolveAll) => {
    const next = () => {
      while (!stopping && running.size < jobs && queue.length) launch(queue.shift()!, launched++ === 0);
      if (running.size === 0) resolveAll(out);
    };
    const launch = (group: Cell[], first: boolean) => {
      const childArgs = [
        ...loader,
        script,
        '--task',
        task,
        '--budget',
        String(budget),
        '--seed',
        String(args.seed),
        '--scheduler',
        args.scheduler,
        ...natsFlags(args),
        ...(first && args.trace ? ['--trace', args.trace, '--sample', String(args.sample)] : []),
        CHILD_FLAG,
        group.map((c) => `${c.method}:${c.T}`).join(','),
      ];
      const child = spawn(process.execPath, childArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
      running.add(child);
      // a bar per cell once its child trains it (the group's first at once)
      const bars = new Map<string, ProgressEntry>();
      const barOf = (name: string) => bars.get(name) ?? bars.set(name, board.add(name.padEnd(12), budget)).get(name)!;
      barOf(cellName(group[0]));
      const finished = new Set<string>();
      const errors: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let m: ChildMessage;
        try {
          m = JSON.parse(line);
        } catch {
          board.log(`[${group.length === 1 ? cellName(group[0]) : 'cells'}] ${line}`);
          return;
        }
        if (m.type === 'progress')
          barOf(m.cell).update(
            m.sequences,
            `${m.sequences.toLocaleString('en-US')}/${budget.toLocaleString('en-US')} sequences  length ${m.length}`,
          );
        else if (m.type === 'pool') out.threadsStarted = (out.threadsStarted ?? 0) + m.threads_started;
        else if (m.type === 'cell') {
          const name = cellName(m);
          finished.add(name);
          out.results.set(name, m);
          barOf(name).finish(
            `${name.padEnd(12)} max length ${m.max_length}  ` +
              `(${m.sequences.toLocaleString('en-US')} sequences, ${m.wall_seconds.toFixed(1)} s)`,
          );
        }
      });
      createInterface({ input: child.stderr! }).on('line', (line) => {
        errors.push(line);
        if (errors.length > 20) errors.shift();
        board.log(`[${group.length === 1 ? cellName(group[0]) : 'cells'}] ${line}`);
      });
      let ended = false;
      const end = (code: number | null, why: string | null) => {
        if (ended) return;
        ended = true;
        running.delete(child);
        // the cell the child was training when it ended (none when it finished them all)
        const cell = group.find((c) => !finished.has(cellName(c)));
        if (cell && code === 0 && !why) why = 'ended without reporting its cell';
        if (cell) {
          const name = cellName(cell);
          if (stopping) {
            // stopped by Ctrl+C, or because another cell failed: not a failure of its own
            barOf(name).finish(`${name.padEnd(12)} stopped (${out.interrupted ? 'Ctrl+C' : 'another cell failed'})`);
          } else {
            const reason = why ?? `exit code ${code}`;
            out.failed.push({ cell, why: `${reason}${errors.length ? `: ${errors[errors.length - 1]}` : ''}` });
            barOf(name).finish(`${name.padEnd(12)} FAILED (${reason})`);
            stopAll();
          }
        }
        next();
      };
      child.on('error', (err) => end(null, `could not start: ${err.message}`));
      child.on('close', (code, sig) => end(code, sig ? `killed by ${sig}` : null));
    };
    next();
  });
}

// -------------------------------------------------------------------------------------------------
// what the table means

/** The paragraphs under the table: what DNI does at the boundary, then what these rows show (and what they do not). */
function explain(rows: CellResult[]): string[] {
  const c = COPY_EXPERIMENT;
  const about = [
    `Each cell trains a fresh LSTM until ${budget.toLocaleString('en-US')} sequences are spent; ` +
      `its figure is the longest length n it solved ` +
      `(under ${c.threshold} wrong bits per sequence over 10 batches). ` +
      `Truncated BPTT trains in windows of T steps and passes no gradient ` +
      'back across a window boundary: once a bit and its recall are n + 1 >= T steps apart, no window holds both, and nothing tells ' +
      'the state carried into a window what later windows needed from it.',
  ];
  if (methods.some((m) => m !== 'bptt')) {
    about.push(
      'DNI puts a synthesizer at each boundary: it predicts that missing gradient (of all future loss with respect to the carried ' +
        `[h | c]) from the state itself; the window's BPTT starts from the prediction (times ${c.scale}) instead of zero, and ` +
        "the synthesizer is refitted on the gradient that reaches the next window's start, which already holds the next prediction " +
        '(bootstrapped), so it can come to see past many windows.' +
        (methods.includes('dni-aux')
          ? " DNI + aux also trains the core to predict, from its first output in a window, the synthetic gradient at that window's end."
          : ''),
    );
  }
  const lines: string[] = [];
  const at = (method: CopyMethod, T: number) => rows.find((r) => r.method === method && r.T === T)?.max_length;
  for (const method of ['dni', 'dni-aux'] as const) {
    const pairs = truncations
      .map((T) => [T, at('bptt', T), at(method, T)] as const)
      .filter(([, b, d]) => b !== undefined && d !== undefined) as [number, number, number][];
    if (!pairs.length) continue;
    const longer = pairs.filter(([, b, d]) => d > b),
      shorter = pairs.filter(([, b, d]) => d < b);
    const list = (ps: [number, number, number][]) => ps.map(([T, b, d]) => `T = ${T} (${d} vs ${b})`).join(', ');
    const name = method === 'dni' ? 'DNI' : 'DNI + aux';
    if (longer.length) lines.push(`${name} reached longer sequences than BPTT at ${list(longer)}.`);
    if (shorter.length) lines.push(`${name} reached shorter sequences than BPTT at ${list(shorter)}.`);
    if (!longer.length && !shorter.length) lines.push(`${name} reached the same length as BPTT at every T here.`);
  }
  if (budget < FULL_BUDGET) {
    lines.push(
      `${budget.toLocaleString('en-US')} sequences per cell and one seed is a short look ` +
        `(a few thousand more sequences can lengthen a cell: see "solved at"); ` +
        `the paper-scale table: npm run demo:copy -- --budget ${FULL_BUDGET}`,
    );
  }
  return [...about.map((p) => wrap(p)), ...(lines.length ? [lines.join('\n')] : [])];
}

/** A paragraph in lines of at most `width` characters. */
function wrap(text: string, width = 110): string {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) (out.push(line), (line = word));
    else line = line ? `${line} ${word}` : word;
  }
  return [...out, line].join('\n');
}

/** The curriculum curves: a panel per method, a line per T (the longest length solved, as a step function). */
function plot(file: string, rows: CellResult[]): void {
  const thousands = (v: number) => (v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : String(v));
  const panels = methods.map((method) => ({
    title: method,
    xLabel: 'training sequences',
    yLabel: 'longest length solved',
    formatX: thousands,
    formatY: (v: number) => (Number.isInteger(v) ? String(v) : ''),
    series: rows
      .filter((r) => r.method === method)
      .map((r) => {
        const points: [number, number][] = [[0, 0]];
        for (const [s, length] of r.curve) points.push([s, length - 1], [s, length]);
        points.push([r.sequences, r.max_length]);
        return { name: `T = ${r.T}`, points };
      }),
  }));
  const c = COPY_EXPERIMENT;
  writeFileSync(
    file,
    chartSvg(`${task}: LSTM ${c.hidden}, batch ${c.batch}, budget ${budget.toLocaleString('en-US')} sequences, seed ${args.seed}`, panels),
  );
}

// -------------------------------------------------------------------------------------------------

if (childCells !== undefined) {
  await runChild(childCells);
} else {
  const cells = truncations.flatMap((T) => methods.map((method) => ({ method, T })));
  const jobs = Math.min(args.jobs, childGroups(cells).length);
  // cells trained at once: by that many children, or (under worker) by one child on its pool
  const atOnce = Math.min(args.jobs, cells.length),
    oneChild = childGroups(cells).length === 1 && cells.length > 1;
  const c = COPY_EXPERIMENT;
  // the children choose their kernels by the same rule (DNI_BACKEND, else the fastest that loads):
  // a bad DNI_BACKEND fails here, before any work
  let kernels: string;
  try {
    kernels = autoBackend().name;
  } catch (err) {
    usageError((err as Error).message);
  }
  console.log(
    `${task === 'copy' ? 'Copy' : 'Repeat copy'}, bit width ${c.width}: ` +
      `LSTM ${c.hidden}, batch ${c.batch}, Adam ${c.lr} (core and readout), clip ${c.clip}; ` +
      `dni: a linear synthesizer over [h | c] at each truncation boundary, Adam ${c.synthesizerLr}, scale ${c.scale}; ` +
      `dni-aux: aux weight ${c.auxWeight}\n` +
      `curriculum from length 1, +1 when the mean error over the last 10 batches is under ${c.threshold} bits per sequence; ` +
      `${budget.toLocaleString('en-US')} sequences per cell, seed ${args.seed}\n` +
      `${plural(cells.length, 'cell')} (T ${truncations.join(', ')} × ${methods.join(', ')}), ` +
      `${oneChild ? `${atOnce} at a time in one child process, on one stage pool` : `${jobs} at a time in child processes`}, ` +
      `${args.scheduler} scheduler, ${kernels} kernels\n`,
  );
  const board = new ProgressBoard();
  const started = performance.now();
  // Ctrl+C: every child stops at the end of its running batch; the finished cells are printed (a second one quits at once)
  const interrupt = interruptSignal(() => board.log('copy: stopping every cell (Ctrl+C again to quit at once)'));
  const outcome = await runCells(cells, jobs, board, interrupt.signal);
  interrupt.dispose();
  const rows = cells.map((cell) => outcome.results.get(cellName(cell))).filter((r): r is CellResult => r !== undefined);
  const complete = rows.length === cells.length;

  const cellOf = (method: CopyMethod, T: number) => rows.find((r) => r.method === method && r.T === T);
  console.log(`\nlongest length solved within ${budget.toLocaleString('en-US')} sequences (${task})`);
  console.log(
    table(
      ['T', ...methods],
      truncations.map((T) => [T, ...methods.map((m) => cellOf(m, T)?.max_length ?? '—')]),
    ),
  );
  console.log(
    `\n${table(
      ['method', 'T', 'max length', 'solved at (sequences)', 'sequences', 'wall s', 'CPU s'],
      cells.map(({ method, T }) => {
        const r = cellOf(method, T);
        const at = r?.curve[r.curve.length - 1]?.[0];
        return [
          method,
          T,
          r?.max_length ?? '—',
          at?.toLocaleString('en-US') ?? '—',
          r?.sequences.toLocaleString('en-US') ?? '—',
          r?.wall_seconds.toFixed(1) ?? '—',
          r?.cpu_seconds.toFixed(1) ?? '—',
        ];
      }),
    )}`,
  );
  console.log(
    '\n(solved at: the sequences trained when the longest length was solved; wall s and CPU s: the training in its child process,\n' +
      `${atOnce > 1 ? `with ${atOnce} cells at a time sharing the cores` : 'one cell at a time'}; ` +
      `total wall ${((performance.now() - started) / 1000).toFixed(0)} s` +
      `${outcome.threadsStarted !== null ? `; worker threads started: ${outcome.threadsStarted}` : ''})`,
  );
  if (rows.length) console.log(`\n${explain(rows).join('\n\n')}`);

  if (!complete) {
    const missing = cells.filter((cell) => !outcome.results.has(cellName(cell))).map(cellName);
    for (const f of outcome.failed) console.error(`copy: cell ${cellName(f.cell)} failed (${f.why})`);
    console.error(
      `copy: ${outcome.interrupted ? 'stopped (Ctrl+C)' : 'a cell failed'}; not finished: ${missing.join(', ')}. ` +
        `The table above holds the finished cells only; ` +
        `no ${[args.plot ? 'plot' : '', args.json ? 'JSON line' : ''].filter(Boolean).join(' and ') || 'further output'} was written.`,
    );
    process.exit(outcome.failed.length ? 1 : 130);
  }
  if (args.plot) {
    plot(args.plot, rows);
    console.log(`\ncurriculum curves written to ${args.plot}`);
  }
  if (args.json) {
    console.log(
      JSON.stringify({
        task,
        budget_sequences: budget,
        scheduler: args.scheduler,
        wall_seconds: (performance.now() - started) / 1000,
        rows: rows.map((r) => ({
          method: r.method,
          T: r.T,
          max_length: r.max_length,
          sequences: r.sequences,
          wall_seconds: r.wall_seconds,
        })),
      }),
    );
  }
}
