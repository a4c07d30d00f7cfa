/**
 * demo:copy's command line (demos/copy.ts): its options, its usage text and every check of them, all
 * made before any work. A bad flag throws a {@link UsageError}; the demo prints its message as one
 * line ({@link copyUsageLine}) and exits with code 2. Apart from the demo, so that its tests check
 * each refusal in-process.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { COPY_EXPERIMENT, COPY_METHODS, type CopyMethod } from '../lib/recurrent/curriculum.ts';
import { type DemoOption, type DemoSpec, UsageError, demoUsage, tryParseDemoArgs } from './cli.ts';

export const TASKS = ['copy', 'repeat-copy'] as const;
export type Task = (typeof TASKS)[number];

/**
 * A few minutes' look. Measured here (2 cores): 20,000 sequences per cell cost 680 CPU seconds over
 * the 15 cells (about 6 minutes with both cores free; 20 minutes on the machine shared with others).
 */
const DEFAULT_BUDGET = 10_000;
/** The full table's budget per cell. */
export const FULL_BUDGET = COPY_EXPERIMENT.budget;
/** `--trace FILE` records this many of the first cell's batches, a trace each. */
export const TRACE_BATCHES = 3;
/** The hidden flag a child runs with: `--child-cell METHOD:T`. */
export const CHILD_FLAG = '--child-cell';

const defaultJobs = Math.min(2, availableParallelism());
const spec = {
  name: 'copy',
  takes: 'a few minutes (about 6 minutes measured with both cores free; 1-4 CPU minutes per cell at --budget 300000)',
  usage:
    "The DNI paper's copy-task table through the actors: truncated BPTT (bptt), DNI at every truncation boundary (dni)\n" +
    'and DNI + aux (dni-aux) at T = 2, 3, 4, 5, 8. A cell is the longest length the curriculum reaches within the budget\n' +
    `of training sequences. The default budget (${DEFAULT_BUDGET}) takes a few minutes; the full table:\n` +
    `  npm run demo:copy -- --budget ${FULL_BUDGET}        (1–4 CPU minutes per cell; 15 cells, --jobs at a time)\n` +
    `--trace FILE records the actors of the first cell's first ${TRACE_BATCHES} curriculum batches, ` +
    `a trace each (FILE.bptt-T2-batch0.jsonl, …;\n` +
    'add --truncations 2 --methods dni to see a synthesizer at work).\n' +
    '(npm run demo:copy -- [options]) Progress on stderr; the table, and with --json one JSON object as the last line, on stdout.',
  options: {
    task: { type: 'string', value: TASKS.join('|'), default: 'copy', help: `the task, bit width ${COPY_EXPERIMENT.width}` },
    budget: {
      type: 'number',
      value: 'N',
      default: DEFAULT_BUDGET,
      help: `training sequences per cell (whole batches of ${COPY_EXPERIMENT.batch}); the full table: ${FULL_BUDGET}`,
    },
    truncations: {
      type: 'string',
      value: 'LIST',
      default: COPY_EXPERIMENT.truncations.join(','),
      help: 'comma-separated truncations T (steps per window)',
    },
    methods: { type: 'string', value: 'LIST', default: COPY_METHODS.join(','), help: `comma-separated, any of ${COPY_METHODS.join(', ')}` },
    seed: { type: 'seed', value: 'N', default: 1, help: 'seed of the sequences and the initial parameters (the same for every cell)' },
    jobs: {
      type: 'number',
      value: 'N',
      default: defaultJobs,
      help: 'cells trained at once, each in a child process of its own (under --scheduler worker: all in one child, on one stage pool)',
    },
    plot: { type: 'string', value: 'FILE.svg', help: 'write the curriculum curves (a panel per method, a line per T) to this SVG file' },
  },
} satisfies DemoSpec<Record<string, DemoOption>>;

/** A cell of the table: a method at a truncation. */
export interface Cell {
  readonly method: CopyMethod;
  readonly T: number;
}

/** What the command line asks for, checked. */
export interface CopyCommandLine {
  args: NonNullable<ReturnType<typeof tryParseDemoArgs<typeof spec.options>>>;
  task: Task;
  budget: number;
  truncations: number[];
  methods: CopyMethod[];
  /** in a child process (the hidden `--child-cell` flag): the cells it trains */
  childCells: Cell[] | undefined;
}

/** The shared usage without the shared flags this demo refuses. */
export function copyUsage(): string {
  return demoUsage(spec)
    .split('\n')
    .filter((l) => !/^\s+--(steps|epochs|inspect)\b/.test(l))
    .join('\n')
    .replace('with --trace or --inspect:', 'with --trace:');
}

/** The one stderr line of a bad command line. */
export function copyUsageLine(message: string): string {
  return `copy: ${message.replace(/\s*\n\s*/g, ' ')} (npm run demo:copy -- --help lists the options)`;
}

/**
 * Parse and check demo:copy's arguments (the command line after the script), or throw a {@link UsageError}.
 * Returns null for `--help`. Reads the file system (the folders of `--plot` and `--trace`), writes nothing.
 */
export function parseCopyArgs(argv: readonly string[]): CopyCommandLine | null {
  const rest = [...argv];
  const childAt = rest.findIndex((a) => a === CHILD_FLAG || a.startsWith(`${CHILD_FLAG}=`));
  let childCell: string | undefined;
  if (childAt >= 0) {
    childCell = rest[childAt].includes('=') ? rest[childAt].slice(CHILD_FLAG.length + 1) : rest[childAt + 1];
    rest.splice(childAt, rest[childAt].includes('=') ? 1 : 2);
  }
  for (let i = 0; i < rest.length && rest[i] !== '--'; i++) {
    const flag = rest[i].split('=')[0];
    if (flag === '--steps' || flag === '--epochs') {
      throw new UsageError(`${flag} means nothing here: each cell trains until its budget of sequences is spent (give --budget N)`);
    }
    if (flag === '--inspect' || flag === '--inspect-port') {
      throw new UsageError(
        `${flag} is not available here (the cells train in child processes): ` +
          `record the first cell's first batches with --trace FILE and view them with npm run inspect -- FILE`,
      );
    }
    // `--budget -1` would otherwise be refused as "ambiguous" rather than as a bad budget
    if (['--budget', '--jobs', '--seed', '--truncations'].includes(rest[i]) && /^-\d/.test(rest[i + 1] ?? ''))
      rest.splice(i, 2, `${rest[i]}=${rest[i + 1]}`);
  }
  const args = tryParseDemoArgs(rest, spec);
  if (!args) return null;

  if (!(TASKS as readonly string[]).includes(args.task))
    throw new UsageError(`--task: unknown task '${args.task}' (expected ${TASKS.join(' or ')})`);
  const batch = COPY_EXPERIMENT.batch;
  if (!Number.isInteger(args.budget) || args.budget < batch)
    throw new UsageError(`--budget needs a whole number of sequences >= ${batch} (one batch), got ${args.budget}`);
  const truncations = listOf(
    args.truncations,
    '--truncations',
    (s) => (/^\d+$/.test(s) && Number(s) >= 1 ? Number(s) : null),
    'truncations T >= 1 (steps per window) like 2,3,4,5,8',
  );
  const methods = listOf(
    args.methods,
    '--methods',
    (s) => ((COPY_METHODS as readonly string[]).includes(s) ? (s as CopyMethod) : null),
    `methods among ${COPY_METHODS.join(', ')}`,
  );
  if (!Number.isInteger(args.jobs) || args.jobs < 1)
    throw new UsageError(`--jobs needs an integer >= 1 (cells trained at once), got ${args.jobs}`);
  if (args.plot !== undefined) checkWritable(args.plot, '--plot', '.svg');
  if (args.trace !== undefined) {
    if (isDirectory(args.trace))
      throw new UsageError(
        `--trace ${args.trace} is a directory: give a file name (the traces are written beside it: FILE.bptt-T2-batch0.jsonl, …)`,
      );
    const folder = existingAncestor(dirname(resolve(args.trace)));
    if (!isDirectory(folder) || !canWrite(folder))
      throw new UsageError(`--trace ${args.trace}: ${folder} cannot be written, so the folder for the traces cannot be made there`);
  }
  const childCells = childCell?.split(',').map((c) => {
    const [m, t] = c.split(':');
    if (!(COPY_METHODS as readonly string[]).includes(m) || !/^\d+$/.test(t ?? '') || Number(t) < 1)
      throw new UsageError(`${CHILD_FLAG} needs METHOD:T[,METHOD:T…], got '${childCell}'`);
    return { method: m as CopyMethod, T: Number(t) };
  });
  return { args, task: args.task as Task, budget: args.budget, truncations, methods, childCells };
}

/** A comma-separated list, each item checked, none twice. */
function listOf<V>(raw: string, flag: string, item: (s: string) => V | null, what: string): V[] {
  const out: V[] = [];
  for (const s of raw.split(',').map((x) => x.trim())) {
    const v = item(s);
    if (v === null) throw new UsageError(`${flag} needs ${what}, got '${s}'${raw.includes(',') ? ` in '${raw}'` : ''}`);
    if (out.includes(v)) throw new UsageError(`${flag} lists '${s}' twice`);
    out.push(v);
  }
  return out;
}

/** The path itself when it exists, else its nearest existing ancestor (what a recursive mkdir would write into). */
function existingAncestor(path: string): string {
  for (let p = path; ; p = dirname(p)) {
    try {
      statSync(p);
      return p;
    } catch {
      if (dirname(p) === p) return p;
    }
  }
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The file can be written at the end: its folder exists and is writable, and it is not a folder. */
function checkWritable(file: string, flag: string, ext: string): void {
  if (!file.toLowerCase().endsWith(ext))
    throw new UsageError(`${flag} writes ${ext.slice(1).toUpperCase()}: give a file name ending in ${ext}, got '${file}'`);
  if (isDirectory(file)) throw new UsageError(`${flag} ${file} is a directory`);
  const folder = dirname(resolve(file));
  if (!isDirectory(folder) || !canWrite(folder))
    throw new UsageError(`${flag} ${file}: the folder ${folder} does not exist or cannot be written`);
}
