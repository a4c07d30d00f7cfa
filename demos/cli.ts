/**
 * The command line every demo shares: `--steps N` or `--epochs N`, `--scheduler NAME`,
 * `--trace FILE` (and `--sample N`), `--inspect [stately]` (and `--inspect-port N`), `--json`,
 * plus the demo's own options. A bad or unknown flag prints the usage and exits with code 2.
 */
import { parseArgs } from 'node:util';
import type { Observable } from 'rxjs';
import { type Inspection, combineInspections, createTraceRecorder } from '../actors/inspect/inspection.ts';
import type { JsonValue } from '../actors/inspect/summarize.ts';
import type { FitOptions } from '../actors/trainer/fit.ts';
import type { TrainingMetrics } from '../actors/trainer/metrics.ts';
import type { NatsSchedulerOptions } from '../actors/nats/natsStage.ts';
import { SCHEDULERS, type SchedulerName, type SchedulerOption } from '../actors/schedulers/schedulers.ts';
import { checkEnvironment } from '../lib/io/environment.ts';
import { EnvironmentError } from '../lib/errors.ts';
import { helpText } from '../lib/io/help.ts';
import { MAX_SEED } from '../lib/rng.ts';
import { quietOnClosedPipe } from '../lib/io/stdout.ts';
import { plural } from '../lib/text.ts';

/** A demo's own option: `--learning-rate X` is `learningRate` in the result. */
export interface DemoOption {
  /** `'seed'`: an integer in [0, 2^32 - 1] (a number in the result) */
  type: 'number' | 'string' | 'boolean' | 'seed';
  /** one line for the usage text */
  help: string;
  /** the value's name in the usage text (`X`, `FILE`) */
  value?: string;
  default?: number | string | boolean;
}

type ValueOf<O extends DemoOption> = O['type'] extends 'number' | 'seed' ? number : O['type'] extends 'boolean' ? boolean : string;
type DemoValues<E extends Record<string, DemoOption>> = {
  -readonly [K in keyof E]: E[K] extends { default: number | string | boolean } ? ValueOf<E[K]> : ValueOf<E[K]> | undefined;
};

export interface DemoArgs {
  /** `--steps N`: batch steps; undefined when `--epochs` was given instead */
  steps: number | undefined;
  /** `--epochs N`: passes over the data; undefined when `--steps` was given instead */
  epochs: number | undefined;
  /** the scheduler's name (`nats`: stages on stage hosts, see `nats`) */
  scheduler: SchedulerName | 'nats';
  /** `--scheduler nats --nats-servers URL [--nats-hosts A,B] [--nats-prefix P] [--nats-creds FILE]`: the nats scheduler's options */
  nats: NatsSchedulerOptions | undefined;
  /** `--trace FILE`: write the actors' inspection events as JSON lines */
  trace: string | undefined;
  /** `--sample N`: with --trace or --inspect, keep only every Nth batch's events */
  sample: number;
  /**
   * `--inspect`: `'live'`, our own page on 127.0.0.1 (the actors and the metrics as they train,
   * nothing from the network); `--inspect stately`: Stately's online inspector through a page on
   * 127.0.0.1; false without the flag
   */
  inspect: InspectMode | false;
  inspectPort: number;
  /** `--json`: results as one JSON object on the last stdout line */
  json: boolean;
  /** the arguments that are not options (only when the spec allows them) */
  positionals: string[];
}

/** The options of the demos that train on MNIST: the split, and the seeds of the parameters, the split and the shuffle. */
export const MNIST_SPLIT_OPTIONS = {
  train: { type: 'number', value: 'N', default: 8000, help: 'digits in the training split' },
  validation: { type: 'number', value: 'N', default: 0, help: 'digits of the training split held out for validation (for tuning)' },
  test: { type: 'number', value: 'N', default: 2000, help: 'digits in the test split' },
  seed: { type: 'seed', value: 'N', default: 1, help: 'seed of the initial parameters (the same for every method)' },
  splitSeed: { type: 'seed', value: 'N', default: 1, help: 'seed of the train/test split' },
  shuffleSeed: { type: 'seed', value: 'N', default: 1, help: 'seed of the per-epoch shuffle' },
} as const satisfies Record<string, DemoOption>;

export interface DemoSpec<E extends Record<string, DemoOption> = Record<never, DemoOption>> {
  /** the demo's file name without `.ts`, e.g. `binary-addition` */
  name: string;
  /** what the demo does, a line or two, printed above the options */
  usage?: string;
  /** defaults of the shared options (steps 1000 when neither steps nor epochs has one) */
  defaults?: { steps?: number; epochs?: number; scheduler?: SchedulerName; sample?: number; inspectPort?: number };
  /** the demo's own options */
  options?: E;
  /** what positional arguments mean (e.g. `[FILE]`); without it any is an error */
  positionals?: string;
  /** roughly how long a run with the defaults takes, for `--help` (e.g. `about 20 s on 2 cores`) */
  takes: string;
}

/** What `--inspect` serves: our live page (the default), or Stately's online inspector. */
export const INSPECT_MODES = ['live', 'stately'] as const;
export type InspectMode = (typeof INSPECT_MODES)[number];

/** A bad command line; `exitCode` is 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The usage text of a demo. */
export function demoUsage(spec: DemoSpec<Record<string, DemoOption>>): string {
  const d = spec.defaults ?? {};
  const rows: [string, string][] = [
    [
      '--steps N',
      `batch steps to train${d.steps !== undefined ? ` (default ${d.steps})` : d.epochs === undefined ? ' (default 1000)' : ''}`,
    ],
    ['--epochs N', `passes over the data, instead of --steps${d.epochs !== undefined ? ` (default ${d.epochs})` : ''}`],
    ['--scheduler NAME', `${SCHEDULERS.join(' | ')} | nats (default ${d.scheduler ?? 'queue'})`],
    [
      '--nats-servers URL',
      'with --scheduler nats: the NATS servers the stage hosts serve on (nats://[USER:PASS@]HOST:4222, comma-separated)',
    ],
    ['--nats-hosts A,B', 'with --scheduler nats: the stage hosts to use, one stage each (default: every host that answers, 2 stages)'],
    ['--nats-prefix P', 'with --scheduler nats: the subject prefix the hosts serve (default dni)'],
    ['--nats-creds FILE', 'with --scheduler nats: a NATS .creds file'],
    ['--trace FILE', 'record what every actor does as JSON lines; view with: npm run inspect -- FILE'],
    ['--sample N', `with --trace or --inspect: keep every Nth batch's actor events only (default ${d.sample ?? 1})`],
    ['--inspect', 'watch the actors and the metrics live: open the printed http://127.0.0.1 page (offline)'],
    ['--inspect stately', "the same actors in Stately's online inspector instead (the page needs internet)"],
    ['--inspect-port N', `port of that page (default ${d.inspectPort ?? 8080})`],
    ['--json', 'print the results as one JSON object on the last line'],
  ];
  for (const [key, o] of Object.entries(spec.options ?? {})) {
    const flag =
      `--${kebab(key)}` + `${o.type === 'boolean' ? '' : ` ${o.value ?? (o.type === 'number' ? 'X' : o.type === 'seed' ? 'N' : 'VALUE')}`}`;
    rows.push([flag, `${o.help}${o.default !== undefined && o.type !== 'boolean' ? ` (default ${o.default})` : ''}`]);
  }
  return helpText({
    usage: `npx tsx demos/${spec.name}.ts [options]${spec.positionals ? ` ${spec.positionals}` : ''}`,
    about: spec.usage ?? `The ${spec.name} demo.`,
    options: rows,
    takes: spec.takes,
  });
}

/**
 * Parse a demo's arguments, or throw a {@link UsageError} (see {@link parseDemoArgs} for the
 * version that prints the usage and exits). Returns null for `--help`.
 */
export function tryParseDemoArgs<E extends Record<string, DemoOption> = Record<never, DemoOption>>(
  argv: readonly string[],
  spec: Omit<DemoSpec<E>, 'takes'>,
): (DemoArgs & DemoValues<E>) | null {
  try {
    checkEnvironment(); // a typo in DNI_BACKEND or DNI_WASM_MEMORY_MB is a bad command line too
  } catch (err) {
    if (err instanceof EnvironmentError) throw new UsageError(err.message);
    throw err;
  }
  const extra = Object.entries(spec.options ?? {}) as [string, DemoOption][];
  const shared = [
    'steps',
    'epochs',
    'scheduler',
    'nats-servers',
    'nats-hosts',
    'nats-prefix',
    'nats-creds',
    'trace',
    'sample',
    'inspect',
    'inspect-port',
    'json',
    'help',
  ];
  for (const [key] of extra)
    if (shared.includes(kebab(key))) throw new TypeError(`${spec.name}: option '${key}' is one of the shared ones`);
  // `--inspect` takes an optional word: parseArgs has no such option type, so take it out first
  const args = [...argv];
  let mode: InspectMode | undefined;
  for (let i = 0; i < args.length && args[i] !== '--'; i++) {
    const a = args[i];
    if (a === '--inspect' && (INSPECT_MODES as readonly string[]).includes(args[i + 1] ?? '')) {
      mode = args[i + 1] as InspectMode;
      args.splice(i + 1, 1);
    } else if (a.startsWith('--inspect=')) {
      const value = a.slice('--inspect='.length);
      if (!(INSPECT_MODES as readonly string[]).includes(value)) {
        throw new UsageError(`--inspect takes nothing (the live page) or 'stately', got '${value}'`);
      }
      mode = value as InspectMode;
      args[i] = '--inspect';
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      tokens: true,
      options: {
        steps: { type: 'string' },
        epochs: { type: 'string' },
        scheduler: { type: 'string' },
        'nats-servers': { type: 'string' },
        'nats-hosts': { type: 'string' },
        'nats-prefix': { type: 'string' },
        'nats-creds': { type: 'string' },
        trace: { type: 'string' },
        sample: { type: 'string' },
        inspect: { type: 'boolean' },
        'inspect-port': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...Object.fromEntries(
          extra.map(([k, o]) => [kebab(k), { type: o.type === 'boolean' ? ('boolean' as const) : ('string' as const) }]),
        ),
      },
    });
  } catch (err) {
    // node's messages name the flag: "Unknown option '--stpes'", "Option '--steps <value>' argument missing"
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\s*\n\s*/g, ' '));
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) return null;
  // parseArgs keeps the last of a repeated option: `--steps abc --steps 10` would pass
  const seen = new Set<string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option') continue;
    if (seen.has(t.name)) throw new UsageError(`${t.rawName} given twice`);
    seen.add(t.name);
  }
  if (parsed.positionals.length && !spec.positionals) throw new UsageError(`unexpected argument '${parsed.positionals[0]}'`);
  const d = spec.defaults ?? {};

  if (v.steps !== undefined && v.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  // 0 steps would train nothing and print a table of zeros that reads like a perfect score
  let steps = v.steps !== undefined ? integer(v.steps as string, '--steps', 1) : undefined;
  const epochs = v.epochs !== undefined ? positive(v.epochs as string, '--epochs') : undefined;
  if (steps === undefined && epochs === undefined && d.epochs === undefined) steps = d.steps ?? 1000;
  const scheduler = (v.scheduler ?? d.scheduler ?? 'queue') as string;
  if (!(SCHEDULERS as readonly string[]).includes(scheduler) && scheduler !== 'nats') {
    throw new UsageError(`unknown scheduler '${scheduler}' (expected one of ${SCHEDULERS.join(', ')}, nats)`);
  }
  const nats = natsOf(scheduler, v);
  const trace = v.trace as string | undefined;
  if (trace === '') throw new UsageError('--trace needs a file name');
  const sample = v.sample !== undefined ? integer(v.sample as string, '--sample', 1) : (d.sample ?? 1);
  const inspectPort =
    v['inspect-port'] !== undefined ? integer(v['inspect-port'] as string, '--inspect-port', 0, 65535) : (d.inspectPort ?? 8080);
  if (v.sample !== undefined && !trace && !v.inspect) throw new UsageError('--sample applies to --trace or --inspect: give one of them');

  const out: Record<string, unknown> = {
    steps,
    epochs: epochs ?? (steps === undefined ? d.epochs : undefined),
    scheduler,
    nats,
    trace,
    sample,
    inspect: v.inspect ? (mode ?? 'live') : false,
    inspectPort,
    json: Boolean(v.json),
    positionals: parsed.positionals,
  };
  for (const [key, o] of extra) {
    const raw = v[kebab(key)];
    if (raw === undefined) out[key] = o.type === 'boolean' ? Boolean(o.default) : o.default;
    else if (o.type === 'seed') {
      const n = /^\d+$/.test(String(raw)) ? Number(raw) : NaN;
      if (!(n <= MAX_SEED)) throw new UsageError(`--${kebab(key)} needs a seed, an integer in 0..${MAX_SEED}, got '${String(raw)}'`);
      out[key] = n;
    } else if (o.type === 'number') {
      const n = Number(raw);
      if (raw === '' || !Number.isFinite(n)) throw new UsageError(`--${kebab(key)} needs a number, got '${String(raw)}'`);
      out[key] = n;
    } else out[key] = raw;
  }
  return out as DemoArgs & DemoValues<E>;
}

/** `--scheduler nats` and its `--nats-…` options (refused without it, or without servers). */
function natsOf(scheduler: string, v: Record<string, string | boolean | undefined>): NatsSchedulerOptions | undefined {
  const given = ['nats-servers', 'nats-hosts', 'nats-prefix', 'nats-creds'].filter((k) => v[k] !== undefined);
  if (scheduler !== 'nats') {
    if (given.length) throw new UsageError(`--${given[0]} applies to --scheduler nats`);
    return undefined;
  }
  const servers = String(v['nats-servers'] ?? '')
    .split(',')
    .filter(Boolean);
  if (servers.length === 0) throw new UsageError('--scheduler nats needs --nats-servers URL (e.g. nats://10.0.0.1:4222)');
  const hosts = v['nats-hosts'] !== undefined ? String(v['nats-hosts']).split(',').filter(Boolean) : undefined;
  if (hosts && (hosts.length === 0 || hosts.some((h) => !/^[A-Za-z0-9_-]+$/.test(h))))
    throw new UsageError(`--nats-hosts needs host names (letters, digits, '-', '_'), comma-separated, got '${v['nats-hosts']}'`);
  const prefix = v['nats-prefix'] as string | undefined;
  if (prefix !== undefined && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
    throw new UsageError(`--nats-prefix must be subject tokens (letters, digits, '-', '_', joined by '.'), got '${prefix}'`);
  return { name: 'nats', servers, hosts, prefix, creds: v['nats-creds'] as string | undefined };
}

/** The scheduler option a demo trains with: the nats scheduler's options, or the name. */
export function schedulerOption(args: Pick<DemoArgs, 'scheduler' | 'nats'>): SchedulerOption {
  return args.nats ?? (args.scheduler as SchedulerName);
}

/** The `--nats-…` flags that give a child process the same nats scheduler (none for another scheduler). */
export function natsFlags(args: Pick<DemoArgs, 'nats'>): string[] {
  const n = args.nats;
  if (!n) return [];
  return [
    ['--nats-servers', [n.servers].flat().join(',')],
    ['--nats-hosts', n.hosts?.join(',')],
    ['--nats-prefix', n.prefix],
    ['--nats-creds', n.creds],
  ].flatMap(([k, v]) => (v ? [k!, v] : []));
}

/**
 * Parse a demo's arguments. On `--help` print the usage and exit 0; on a bad or unknown flag
 * print what is wrong and the usage to stderr and exit 2.
 *
 * @example
 * const args = parseDemoArgs(process.argv.slice(2), {
 *   name: 'binary-addition',
 *   usage: 'The seed network trained by backprop, DNI and cDNI side by side.',
 *   takes: 'about 20 s',
 *   defaults: { steps: 20_000 },
 *   options: { lr: { type: 'number', default: 0.5, help: 'learning rate of every layer' } },
 * });
 * args.steps; args.scheduler; args.trace; args.lr;
 */
export function parseDemoArgs<E extends Record<string, DemoOption> = Record<never, DemoOption>>(
  argv: readonly string[],
  spec: DemoSpec<E>,
): DemoArgs & DemoValues<E> {
  quietOnClosedPipe();
  try {
    const args = tryParseDemoArgs(argv, spec);
    if (args) return args;
    console.log(demoUsage(spec));
    process.exit(0);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${spec.name}: ${err.message}\n\n${demoUsage(spec)}`);
    process.exit(err.exitCode);
  }
}

export { quietOnClosedPipe };

/**
 * The steps to train: `--steps`, or `--epochs` times the batches in one pass over the data. Fewer
 * than one step (a tiny `--epochs`) trains nothing: it says so and exits with code 2.
 */
/**
 * A fit() demo's method stopped by Ctrl+C at `step`: the epoch it was in (for its progress bar)
 * and the line the demo prints after the table of the methods that finished.
 */
export function fitStopped(
  method: string,
  step: number,
  o: { steps: number; perEpoch: number; epochs: number },
): { epoch: number; line: string } {
  const epoch = Math.floor(step / o.perEpoch) + 1;
  return { epoch, line: `${method} stopped before step ${step} of ${o.steps} (epoch ${epoch} of ${o.epochs}; Ctrl+C)` };
}

export function stepsOf(args: Pick<DemoArgs, 'steps' | 'epochs'>, batchesPerEpoch: number): number {
  const steps = args.steps ?? Math.round((args.epochs ?? 1) * batchesPerEpoch);
  if (steps < 1) {
    console.error(
      `--epochs ${args.epochs} is ${plural(steps, 'step')} ` +
        `(an epoch is ${plural(batchesPerEpoch, 'batch', 'batches')}): nothing would be trained`,
    );
    process.exit(2);
  }
  return steps;
}

/** `out.jsonl` with label `dni` is `out.dni.jsonl`: one trace per training when a demo runs several. */
export function traceFileFor(file: string, label?: string): string {
  if (!label) return file;
  const safe = label.replace(/[^\w.-]+/g, '-');
  const dot = file.lastIndexOf('.');
  return dot > file.lastIndexOf('/') ? `${file.slice(0, dot)}.${safe}${file.slice(dot)}` : `${file}.${safe}`;
}

/** One training's inspection, as a demo hands it to `createTraining`. */
export interface DemoInspection extends Inspection {
  /** with the live page (`--inspect`): chart this training's metrics; a no-op otherwise */
  watch(training: { readonly metrics$: Observable<TrainingMetrics> }): void;
  /**
   * All of it as fit() takes it: its actors (`inspect`), the worker-hosted ones (`relay`) and its
   * one training's metrics (`onTraining`), so a fit under any scheduler is drawn and charted.
   */
  readonly fit: Required<Pick<FitOptions, 'inspect' | 'relay' | 'onTraining'>>;
}

export interface DemoInspector {
  /**
   * The inspection of one training (null when neither --trace nor --inspect was given): its
   * own trace file (suffixed with `label` when given, see {@link traceFileFor}) and the shared
   * live page or Stately relay. Close it when that training has finished.
   */
  forRun(label?: string, meta?: { [key: string]: JsonValue }): DemoInspection | null;
  /**
   * With --inspect: keep serving the page until Ctrl+C (a page opened late still gets the last
   * state), then stop it. `wait: false` stops it at once (the demo waited already).
   */
  finish(wait?: boolean): Promise<void>;
}

/**
 * What `--trace`, `--sample` and `--inspect` ask for, ready to hand to each training. A port
 * already in use ends the demo with one line and exit code 2.
 *
 * @example
 * const inspector = await demoInspector(args, 'binary-addition');
 * const inspection = inspector.forRun();
 * const training = createTraining({
 *   topology, data, steps, scheduler: args.scheduler, inspect: inspection?.inspect, relay: inspection?.relay,
 * });
 * inspection?.watch(training);
 * await training.run();
 * await inspection?.close();
 * await inspector.finish();
 */
export async function demoInspector(args: DemoArgs, demo: string): Promise<DemoInspector> {
  let page: { url: string; close(): Promise<void> } | null = null;
  let live: import('../tools/inspector/live.ts').LiveInspector | null = null;
  let stately: import('../actors/inspect/stately.ts').StatelyInspector | null = null;
  try {
    if (args.inspect === 'stately') {
      page = stately = await (
        await import('../actors/inspect/stately.ts')
      ).attachStatelyInspector({ port: args.inspectPort, sample: args.sample });
    } else if (args.inspect === 'live') {
      page = live = await (await import('../tools/inspector/live.ts')).serveLiveInspector({ port: args.inspectPort, sample: args.sample });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'is in use: pick another with --inspect-port N (0: any free port)'
        : `cannot be listened on (${code ?? (err as Error).message})`;
    console.error(`${demo}: --inspect: port ${args.inspectPort} on 127.0.0.1 ${why}`);
    process.exit(2);
  }
  if (stately) {
    console.error(
      `${demo}: Stately inspector: open ${stately.url} in a browser with internet access ` +
        '(the page embeds https://stately.ai/inspect; every event is replayed to a page opened later)',
    );
  }
  if (live) {
    console.error(
      `${demo}: live inspector: open ${live.url} ` +
        `(the actors and the metrics as they train; served from this machine, nothing from the network)`,
    );
  }
  // Ctrl+C while training: tell the pages the demo has gone (rather than cut their streams), then
  // exit as the signal would have (every scheduler gives the event loop a turn while it trains)
  const interrupted = () => void page!.close().finally(() => process.exit(130));
  if (page) {
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
  }
  const traces: string[] = [];
  return {
    forRun(label, meta) {
      const file = args.trace ? traceFileFor(args.trace, label) : null;
      if (file) traces.push(file);
      const recorder = file
        ? createTraceRecorder({
            file,
            sample: args.sample,
            meta: { demo, scheduler: args.scheduler, ...(label ? { run: label } : {}), ...meta },
          })
        : null;
      if (!recorder && !page) return null;
      if (file) console.error(`${demo}: recording the actors to ${file} (view: npm run inspect -- ${file})`);
      // the page outlives each training: closing a run closes its trace file (and marks the run finished)
      const run = live?.run(label, { demo, scheduler: args.scheduler, sample: args.sample, ...meta }) ?? null;
      const shared = stately ? { ...stately, close: async () => {} } : null;
      const inspection = combineInspections(recorder, shared, run);
      const watch = (training: { readonly metrics$: Observable<TrainingMetrics> }) => void run?.watch(training);
      return Object.assign(inspection, { watch, fit: { inspect: inspection.inspect, relay: inspection.relay, onTraining: watch } });
    },
    async finish(wait = true) {
      // one trace per training: say how to open each (`npm run inspect -- FILE` also lists them)
      if (traces.length > 1)
        console.error(`${demo}: traces written; open each with\n${traces.map((f) => `  npm run inspect -- ${f}`).join('\n')}`);
      else if (traces.length === 1) console.error(`${demo}: trace written; open it with npm run inspect -- ${traces[0]}`);
      if (!page) return;
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
      if (wait) {
        console.error(
          `${demo}: training finished; ${page.url} still serves the ${stately ? 'Stately' : 'live'} inspector. Ctrl+C to stop.`,
        );
        await untilInterrupted();
      }
      await page.close();
    },
  };
}

/** Resolves on the first Ctrl+C (SIGINT) or SIGTERM. */
export function untilInterrupted(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

function integer(raw: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} needs an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`}, got '${raw}'`);
  }
  return n;
}

function positive(raw: string, flag: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} needs a number > 0, got '${raw}'`);
  return n;
}
