/**
 * `npm run demo:copy`: the copy-task table through the actors, cells in child processes. The JSON
 * last line has exactly the schema; the curves are an SVG; the schedulers and --jobs give
 * the same cells; a child's failure and Ctrl+C are reported by cell; bad flags exit 2 with one line
 * and write nothing.
 *
 * A run of the demo costs seconds (tsx starts in it and in each cell's child), so runs are shared: a run,
 * made by the first test that needs it, is read by every test it answers; and each bad flag is checked
 * in-process against the demo's own parser (demos/copy-args.ts), one of them also end to end.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTrace } from '../../actors/inspect/inspection.ts';
import { UsageError } from '../../demos/cli.ts';
import { copyUsageLine, parseCopyArgs } from '../../demos/copy-args.ts';
import { tracesFor } from '../../tools/inspector/traces.ts';
import { thrownBy } from '../helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const script = join(root, 'demos', 'copy.ts');
const dir = mkdtempSync(join(tmpdir(), 'copy-demo-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const folderNamedSvg = join(dir, 'folder.svg');
mkdirSync(folderNamedSvg);

const demo = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: root, encoding: 'utf8' });
/** A run of the demo made by the first test that asks for it, and read by every test that asks again. */
const shared = (...args: string[]) => {
  let r: ReturnType<typeof demo> | undefined;
  return () => (r ??= demo(...args));
};
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!);
/** the cells as the JSON gives them, without the wall time (which no two runs share) */
const cellsOf = (out: { rows: Record<string, unknown>[] }) => out.rows.map(({ wall_seconds: _, ...r }) => r);
/** the detail table's rows: method, T, max length, solved at */
const detailRows = (stdout: string) =>
  [...stdout.matchAll(/^(bptt|dni|dni-aux)\s+(\d+)\s+(\d+)\s+([\d,]+|—)\s/gm)].map((m) => m.slice(1, 5));

// 50 batches: enough for a length to be solved (the criterion needs 10 batches under 0.15 bits), so
// the comparisons below compare curricula that moved, not two zeros
const SMALL = ['--budget', '800', '--truncations', '2', '--methods', 'bptt,dni'];

// the --trace run is the queue run the worker scheduler's cells are compared with: 4 batches, the dni cell first (traced)
const TINY = ['--budget', '64', '--truncations', '2', '--methods', 'dni,bptt', '--json'];
const traceFile = join(dir, 'traces', 'copy.jsonl');

describe('demo:copy', () => {
  const queue = shared(...SMALL, '--json', '--plot', join(dir, 'curves.svg'));
  // the async scheduler, one cell at a time: each child trains its cell under the scheduler it is given, whatever
  // the parent's --jobs, so this one run answers both comparisons with queue (--jobs 2)
  const asyncSerial = shared(...SMALL, '--json', '--scheduler', 'async', '--jobs', '1');
  const traced = shared(...TINY, '--trace', traceFile);

  it(
    'prints the table and ends stdout with one JSON object of exactly {task, budget_sequences, scheduler, wall_seconds, rows}; ' +
      '--plot writes the curves',
    () => {
      const svg = join(dir, 'curves.svg');
      const r = queue();
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/longest length solved within 800 sequences \(copy\)\nT\s+bptt\s+dni\n/);
      expect(r.stdout).toMatch(/method\s+T\s+max length\s+solved at \(sequences\)\s+sequences\s+wall s\s+CPU s/);
      expect(r.stdout).toContain('DNI puts a synthesizer at each boundary');
      const out = lastJson(r.stdout);
      expect(Object.keys(out)).toEqual(['task', 'budget_sequences', 'scheduler', 'wall_seconds', 'rows']);
      expect(out.task).toBe('copy');
      expect(out.scheduler).toBe('queue');
      expect(out.wall_seconds).toBeGreaterThan(0);
      expect(out.budget_sequences).toBe(800);
      expect(out.rows.map((r: Record<string, unknown>) => [r.method, r.T])).toEqual([
        ['bptt', 2],
        ['dni', 2],
      ]);
      for (const r of out.rows) {
        expect(Object.keys(r)).toEqual(['method', 'T', 'max_length', 'sequences', 'wall_seconds']);
        expect(Number.isInteger(r.max_length) && r.max_length >= 1, JSON.stringify(r)).toBe(true);
        expect(r.sequences).toBe(800);
        expect(r.wall_seconds).toBeGreaterThan(0);
      }
      // the table says what the JSON says
      expect(detailRows(r.stdout).map(([m, T, max]) => [m, Number(T), Number(max)])).toEqual(
        out.rows.map((r: Record<string, unknown>) => [r.method, r.T, r.max_length]),
      );

      const chart = readFileSync(svg, 'utf8');
      expect(chart).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>[\s\S]*<\/svg>$/);
      // a panel per method, a line per T in each
      expect(chart).toMatch(/>bptt<\/text>[\s\S]*>dni<\/text>/);
      expect(chart.match(/<path /g)).toHaveLength(2);
      expect(chart).toContain('T = 2');
      expect(chart).toContain('longest length solved');
    },
  );

  it('--scheduler async gives the same cells as queue (the actors are bit-identical)', () => {
    const async = asyncSerial();
    expect(async.status, async.stderr).toBe(0);
    expect(async.stdout).toContain('async scheduler');
    expect(cellsOf(lastJson(async.stdout))).toEqual(cellsOf(lastJson(queue().stdout)));
    expect(detailRows(async.stdout)).toEqual(detailRows(queue().stdout));
  });

  it('--jobs 1 gives the same cells as --jobs 2', () => {
    expect(queue().stdout).toContain('2 cells (T 2 × bptt, dni), 2 at a time');
    const serial = asyncSerial();
    expect(serial.status, serial.stderr).toBe(0);
    expect(serial.stdout).toContain('2 cells (T 2 × bptt, dni), 1 at a time');
    expect(cellsOf(lastJson(serial.stdout))).toEqual(cellsOf(lastJson(queue().stdout)));
    expect(detailRows(serial.stdout)).toEqual(detailRows(queue().stdout));
  });

  it('--scheduler worker gives the same cells as queue, both in one child whose stage pool starts its threads once', () => {
    // a child per cell would start a pool's threads for each cell (and 2 children's pools at once on 2 cores)
    const queued = traced();
    expect(queued.status, queued.stderr).toBe(0);
    const worker = demo(...TINY, '--scheduler', 'worker', '--jobs', '2');
    expect(worker.status, worker.stderr).toBe(0);
    expect(worker.stdout).toContain('2 cells (T 2 × dni, bptt), 2 at a time in one child process, on one stage pool, worker scheduler');
    expect(worker.stdout).toContain(`worker threads started: ${Math.max(2, availableParallelism())})`);
    expect(cellsOf(lastJson(worker.stdout))).toEqual(cellsOf(lastJson(queued.stdout)));
    expect(detailRows(worker.stdout)).toEqual(detailRows(queued.stdout));
  }, 120_000);

  it('--task repeat-copy trains its own widths (10 inputs, 9 outputs), DNI + aux included', () => {
    const r = demo('--task', 'repeat-copy', '--budget', '48', '--truncations', '3', '--methods', 'dni-aux', '--json');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Repeat copy, bit width 8/);
    const out = lastJson(r.stdout);
    expect(out).toMatchObject({ task: 'repeat-copy', budget_sequences: 48, rows: [{ method: 'dni-aux', T: 3, sequences: 48 }] });
  });

  it('--trace records the first cell’s first batches, a trace each, that npm run inspect finds', () => {
    const trace = traceFile;
    const r = traced();
    expect(r.status, r.stderr).toBe(0);
    const files = [0, 1, 2].map((k) => join(dir, 'traces', `copy.dni-T2-batch${k}.jsonl`));
    expect(readdirSync(join(dir, 'traces')).sort()).toEqual(files.map((f) => f.slice(f.lastIndexOf('/') + 1)));
    expect(tracesFor(trace)).toEqual(files);
    expect(r.stderr).toContain(`npm run inspect -- ${files[0]}`);
    for (const [k, f] of files.entries()) {
      const lines = parseTrace(readFileSync(f, 'utf8'));
      expect(lines[0].meta).toMatchObject({ demo: 'copy', run: `dni-T2-batch${k}`, method: 'dni', T: 2, batch: k });
      const actors = new Set(lines.filter((l) => l.type === '@xstate.actor').map((l) => l.actor));
      expect([...actors]).toEqual(expect.arrayContaining(['trainer', 'layer:core', 'synthesizer:synth', 'head:readout']));
      // length 1 at T = 2: two windows, the first ends in a synthetic gradient
      expect(lines.some((l) => l.actor === 'layer:core' && l.event?.type === 'FORWARD')).toBe(true);
      expect(lines.filter((l) => l.actor === 'synthesizer:synth' && l.type === '@xstate.event' && l.batch !== null).length).toBeGreaterThan(
        0,
      );
    }
  });

  const BAD: [string[], string][] = [
    [['--truncations', '0'], "--truncations needs truncations T >= 1 (steps per window) like 2,3,4,5,8, got '0'"],
    [['--truncations', '2,x'], "--truncations needs truncations T >= 1 (steps per window) like 2,3,4,5,8, got 'x' in '2,x'"],
    [['--truncations', '3,3'], "--truncations lists '3' twice"],
    [['--methods', 'foo'], "--methods needs methods among bptt, dni, dni-aux, got 'foo'"],
    [['--budget', '-1'], '--budget needs a whole number of sequences >= 16 (one batch), got -1'],
    [['--budget', '100.5'], '--budget needs a whole number of sequences >= 16 (one batch), got 100.5'],
    [['--steps', '5'], '--steps means nothing here: each cell trains until its budget of sequences is spent'],
    [['--epochs', '2'], '--epochs means nothing here'],
    [['--task', 'nope'], "--task: unknown task 'nope' (expected copy or repeat-copy)"],
    [['--jobs', '0'], '--jobs needs an integer >= 1'],
    [['--scheduler', 'fast'], "unknown scheduler 'fast'"],
    [['--inspect'], '--inspect is not available here'],
    [['--plot', join(dir, 'curves.png')], '--plot writes SVG: give a file name ending in .svg'],
    [['--plot', join(dir, 'missing', 'curves.svg')], `the folder ${join(dir, 'missing')} does not exist`],
    [['--plot', folderNamedSvg], 'is a directory'],
    [['--budgett', '5'], "Unknown option '--budgett'"],
  ];
  /** The command line of a bad-flag case: it also asks for a plot and a trace in `out` (unless the bad flag is one of them) */
  const withOutputs = (bad: string[], out: string) => {
    const given = (flag: string) => bad.some((a) => a === flag);
    return [
      ...(given('--budget') ? [] : ['--budget', '32']),
      ...(given('--plot') ? [] : ['--plot', join(out, 'curves.svg')]),
      '--trace',
      join(out, 'trace.jsonl'),
      ...bad,
    ];
  };
  /** What the demo's parser throws for a command line (it is what the demo prints, on one line, before exiting with code 2). */
  const refusal = (argv: string[]) => thrownBy(() => parseCopyArgs(argv));

  it.each(BAD)('refuses %j with a usage error of one line, writing nothing', (bad, message) => {
    const out = mkdtempSync(join(dir, 'bad-'));
    const err = refusal(withOutputs(bad, out));
    expect(err).toBeInstanceOf(UsageError);
    const lines = copyUsageLine((err as UsageError).message).split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^copy: /);
    expect(lines[0]).toContain(message);
    // the plot and the trace asked for: neither may appear
    expect(readdirSync(out)).toEqual([]);
  });

  it('prints that usage error as its only line, exits with code 2 before any work, and writes nothing', () => {
    // a check made late (after the budget, truncations and methods), with a plot and a trace asked for
    const out = mkdtempSync(join(dir, 'bad-'));
    const argv = withOutputs(['--jobs', '0'], out);
    const err = refusal(argv);
    expect(err).toBeInstanceOf(UsageError);
    const r = demo(...argv);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${copyUsageLine((err as UsageError).message)}\n`);
    expect(r.stderr).toContain('--jobs needs an integer >= 1');
    expect(readdirSync(out)).toEqual([]);
  });

  it('--help lists its own flags, not --steps, --epochs or --inspect', () => {
    const r = demo('--help');
    expect(r.status).toBe(0);
    for (const flag of [
      '--task',
      '--budget N',
      '--truncations LIST',
      '--methods LIST',
      '--seed N',
      '--jobs N',
      '--plot FILE.svg',
      '--scheduler NAME',
      '--trace FILE',
      '--json',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stdout).toContain('npm run demo:copy -- --budget 300000');
    expect(r.stdout).not.toMatch(/--steps|--epochs|--inspect/);
  });
});

/** Spawn the demo in a process group of its own (as a terminal runs it), collecting its output. */
function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: root,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '',
    err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

async function until(what: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now();
  while (!what()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('demo:copy stops', () => {
  it('on Ctrl+C (relayed again by npm and tsx): every child stops, the finished cells are printed, no JSON line, exit 130', async () => {
    const run = start(['--budget', '480', '--truncations', '2', '--methods', 'bptt,dni', '--jobs', '1', '--json']);
    try {
      // --jobs 1: the dni cell starts once the bptt cell has finished
      await until(() => /^bptt T=2\s+max length \d+/m.test(run.err()) && /^dni T=2\s+[█░]/m.test(run.err()));
      process.kill(-run.child.pid!, 'SIGINT'); // the terminal's Ctrl+C: the whole process group
      // under npm run the same key press arrives again, relayed by npm and tsx: still one Ctrl+C
      setTimeout(() => run.child.exitCode === null && process.kill(run.child.pid!, 'SIGINT'), 40);
      expect(await run.exit).toBe(130);
    } finally {
      if (run.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    }
    expect(run.err()).toMatch(/dni T=2\s+stopped \(Ctrl\+C\)/);
    expect(run.err()).toContain('copy: stopped (Ctrl+C); not finished: dni T=2.');
    const rows = detailRows(run.out());
    expect(rows.map(([m]) => m)).toEqual(['bptt']);
    expect(run.out()).toMatch(/^dni\s+2\s+—/m);
    expect(run.out().trim().split('\n').at(-1)).not.toMatch(/^\{/);
  });

  it.skipIf(!existsSync('/proc/self/task'))('when a child dies: names its cell, stops the others, exits 1', async () => {
    const run = start(['--budget', '16000', '--truncations', '2', '--methods', 'bptt,dni', '--json']);
    try {
      await until(() => /^bptt T=2\s+[█░]/m.test(run.err()));
      const pid = run.child.pid!;
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
      const cells = children.map((c) => [c, readFileSync(`/proc/${c}/cmdline`, 'utf8')] as const);
      const bptt = cells.find(([, cmd]) => cmd.includes('bptt:2'))![0];
      process.kill(bptt, 'SIGKILL');
      expect(await run.exit).toBe(1);
    } finally {
      if (run.child.exitCode === null) process.kill(-run.child.pid!, 'SIGKILL');
    }
    expect(run.err()).toMatch(/bptt T=2\s+FAILED \(killed by SIGKILL\)/);
    expect(run.err()).toContain('copy: cell bptt T=2 failed (killed by SIGKILL)');
    expect(run.err()).toMatch(/dni T=2\s+stopped \(another cell failed\)/);
    expect(run.out().trim().split('\n').at(-1)).not.toMatch(/^\{/);
  });
});
