/**
 * npm run reference -- CASE.json --out FINAL.json [--scheduler queue] [--scheduler nats --nats-servers URL
 *   [--nats-hosts A,B] [--nats-prefix P]]
 *
 * Train any case in the format of reference/*.json (dense chains, graphs, recurrent
 * networks: `config.kind` absent, "graph" or "rnn") through the actors and write
 * `{ "final": {...}, "losses": [...], "synthesizer_losses": [...] }`. If the case carries its
 * expected answers (any of `final`, `losses`, `synthesizer_losses`), also print the largest
 * deviations from them, and exit 3 when they exceed docs/maths.md's tolerances (lib/compare.ts:
 * parameters 1e-5 absolute, losses 1e-5 relative); answers of the wrong shape are refused up front.
 *
 * It never destroys its input and never exits 0 on a broken run: a bad argument or a case it
 * cannot run is refused in one line (`reference: FILE: what is wrong`) with exit code 2, before
 * any work and with nothing written; a training that fails (divergence, a worker's death) or a
 * result that cannot be written is one line with exit code 1, and no output file. A closed stdout
 * (`| head -c 1`) is not a failure.
 */
import { basename } from 'node:path';
import type { TrainingResult } from '../actors/trainer/training.ts';
import type { NatsSchedulerOptions } from '../actors/nats/natsStage.ts';
import type { SchedulerName } from '../actors/schedulers/schedulers.ts';
import { CASE_TOLERANCE, compareWithCase, disagreements } from '../lib/compare.ts';
import { CheckpointError, TrainingAbortedError } from '../lib/errors.ts';
import { checkEnvironment } from '../lib/io/environment.ts';
import { interruptSignal } from '../lib/io/interrupt.ts';
import { FileError, checkWritable, readTextBounded, sameFile, writeFileAtomic } from '../lib/io/files.ts';
import { type CommandHelp, exitOnHelp } from '../lib/io/help.ts';
import { MAX_CASE_BYTES } from '../lib/io/limits.ts';
import { tolerateClosedStdout } from '../lib/io/stdout.ts';
import { type AnyLoadedCase, type ReferenceCase, caseParametersFromJSON, caseParametersToJSON, loadAnyCase } from '../lib/reference.ts';
import { plural } from '../lib/text.ts';

// the actors (xstate, rxjs, threads) load only once the arguments and the case are known to be good
const schedulers = async () => (await import('../actors/schedulers/schedulers.ts')).SCHEDULERS as readonly string[];

const usage = async (): Promise<CommandHelp> => ({
  usage: `npm run reference -- CASE.json --out FINAL.json [--scheduler ${(await schedulers()).join('|')}|nats] [options]`,
  about:
    'Trains a case in the format of reference/*.json (a dense chain, a graph or a recurrent network) through the actors and\n' +
    'writes { final, losses, synthesizer_losses }; when the case carries its answers, prints the largest deviations from them.',
  options: [
    ['--out FILE', 'where to write the result (never the case file)'],
    ['--scheduler NAME', 'queue (default), async, worker or nats: the same bits'],
    ['--nats-servers URL', 'with --scheduler nats: the NATS servers the stage hosts (npm run stage) reach'],
    ['--nats-hosts A,B', 'with --scheduler nats: the stage hosts to use, by name (default: any that answer)'],
    ['--nats-prefix P', 'with --scheduler nats: the subject prefix the hosts serve'],
    ['--save-at STEP --checkpoint FILE', 'run to the end, saving a checkpoint at STEP'],
    ['--checkpoint FILE', 'where Ctrl+C saves the state it stops at'],
    ['--resume FILE', 'continue from a checkpoint to the last step'],
  ],
  takes: 'a few seconds for the reference cases (300 steps of a small network)',
  notes: [
    `A case file may be up to ${MAX_CASE_BYTES.bytes / 2 ** 20} MiB (${MAX_CASE_BYTES.env}=BYTES to raise it).`,
    'If the case carries answers (final, losses, synthesizer_losses), the result is compared with them:',
    `parameters within ${CASE_TOLERANCE.param.toExponential(0)} absolute, losses within ${CASE_TOLERANCE.loss.toExponential(0)} relative ` +
      `(docs/maths.md's float32 tolerance).`,
    "Exit codes: 0 done (and within tolerance of the case's answers), 1 the training or the write failed (nothing written),",
    "            2 a bad argument or a case it cannot run, 3 written, but the result disagrees with the case's answers,",
    '            130 stopped by Ctrl+C.',
  ],
});

interface Args {
  casePath: string;
  out: string;
  scheduler: SchedulerName | 'nats';
  /** --scheduler nats: its servers, hosts and prefix */
  nats: NatsSchedulerOptions | null;
  saveAt: number | null;
  checkpoint: string;
  resume: string;
}

/**
 * One line on stderr, then exit: 2 for what was refused before any work, 1 for a failure after, 3 for a disagreement with the case's
 * answers.
 */
function fail(message: string, code: 1 | 2 | 3 | 130 = 2): never {
  process.stderr.write(`reference: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

async function parse(argv: string[]): Promise<Args> {
  const values: Record<string, string> = {};
  let casePath = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') exitOnHelp([a], await usage());
    if (['--out', '--scheduler', '--checkpoint', '--resume', '--save-at', '--nats-servers', '--nats-hosts', '--nats-prefix'].includes(a)) {
      const v = argv[++i];
      if (v === undefined || v === '' || (v.startsWith('--') && v.length > 2)) fail(`${a} needs a value`);
      if (Object.hasOwn(values, a)) fail(`${a} given twice`);
      values[a] = v;
    } else if (a.startsWith('-') && a !== '-') fail(`unknown option ${a} (see --help)`);
    else if (!casePath) casePath = a;
    else fail(`unexpected argument ${a} (one case at a time)`);
  }
  if (!casePath) fail('missing CASE.json (see --help)');
  const out = values['--out'];
  if (!out) fail('missing --out FILE: where to write the result');
  const scheduler = values['--scheduler'] ?? 'queue';
  if (scheduler !== 'queue' && scheduler !== 'nats') {
    const names = await schedulers();
    if (!names.includes(scheduler)) fail(`unknown scheduler '${scheduler}' (expected one of ${names.join(', ')}, nats)`);
  }
  const natsGiven = ['--nats-servers', '--nats-hosts', '--nats-prefix'].filter((k) => k in values);
  if (scheduler !== 'nats' && natsGiven.length) fail(`${natsGiven[0]} applies to --scheduler nats`);
  if (scheduler === 'nats' && !values['--nats-servers']) fail('--scheduler nats needs --nats-servers URL (e.g. nats://10.0.0.1:4222)');
  const hosts = values['--nats-hosts']?.split(',').filter(Boolean);
  if (hosts && (hosts.length === 0 || hosts.some((h) => !/^[A-Za-z0-9_-]+$/.test(h))))
    fail(`--nats-hosts needs host names (letters, digits, '-', '_'), comma-separated, got '${values['--nats-hosts']}'`);
  const prefix = values['--nats-prefix'];
  if (prefix !== undefined && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix))
    fail(`--nats-prefix must be subject tokens (letters, digits, '-', '_', joined by '.'), got '${prefix}'`);
  const nats: NatsSchedulerOptions | null =
    scheduler === 'nats' ? { name: 'nats', servers: values['--nats-servers'].split(',').filter(Boolean), hosts, prefix } : null;
  let saveAt: number | null = null;
  if (values['--save-at'] !== undefined) {
    const raw = values['--save-at'];
    saveAt = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(saveAt) || saveAt < 1) fail(`--save-at needs an integer step >= 1, got '${raw}'`);
  }
  const checkpoint = values['--checkpoint'] ?? '';
  if (saveAt !== null && !checkpoint) fail('--save-at needs --checkpoint FILE');
  return { casePath, out, scheduler: scheduler as SchedulerName | 'nats', nats, saveAt, checkpoint, resume: values['--resume'] ?? '' };
}

/** Refuse any two roles that name the same file (by inode, so ./x, x, hard and symbolic links all count). */
function checkDistinct({ casePath, out, checkpoint, resume }: Args): void {
  if (sameFile(out, casePath)) fail(`--out ${out} is the case file ${casePath}: it would be overwritten`);
  if (checkpoint && sameFile(checkpoint, casePath))
    fail(`--checkpoint ${checkpoint} is the case file ${casePath}: it would be overwritten`);
  if (checkpoint && sameFile(out, checkpoint)) fail(`--out ${out} and --checkpoint ${checkpoint} are the same file`);
  if (resume && sameFile(out, resume)) fail(`--out ${out} is the checkpoint to resume from (--resume ${resume}): it would be overwritten`);
  if (resume && checkpoint && sameFile(checkpoint, resume))
    fail(`--checkpoint ${checkpoint} is the checkpoint to resume from (--resume ${resume}): it would be overwritten; save to another file`);
}

/** The case's expected answers, when it has any, must be comparable: checked now, not after training. */
function checkAnswers(json: ReferenceCase, c: AnyLoadedCase): void {
  if (json.final !== undefined) {
    caseParametersFromJSON(c, json.final, 'final');
    const extra = Object.keys(json.final).filter((k) => !Object.hasOwn(c.initial, k));
    if (extra.length) throw new Error(`final: '${extra[0]}' is not a parameter of this topology`);
  }
  for (const key of ['losses', 'synthesizer_losses'] as const) {
    const v = json[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) throw new Error(`${key} must be an array of numbers, got ${JSON.stringify(v)?.slice(0, 40)}`);
    v.forEach((n, i) => {
      if (typeof n !== 'number') throw new Error(`${key}[${i}] is ${JSON.stringify(n)?.slice(0, 40)}, expected a number`);
    });
    if (v.length !== c.steps) throw new Error(`${key} has ${v.length} values for ${c.steps} steps (one per step)`);
  }
}

/** The first non-finite number in what is about to be written, by name (JSON would write it as null). */
function firstNonFinite(written: {
  final: Record<string, number[][] | number[]>;
  losses: number[];
  synthesizer_losses: number[];
}): string | null {
  for (const [key, v] of Object.entries(written.final)) {
    const flat = (v as (number | number[])[]).flat();
    const i = flat.findIndex((x) => !Number.isFinite(x));
    if (i >= 0) return `final ${key}[${i}] is ${flat[i]}`;
  }
  for (const key of ['losses', 'synthesizer_losses'] as const) {
    const i = written[key].findIndex((x) => !Number.isFinite(x));
    if (i >= 0) return `${key}[${i}] is ${written[key][i]}`;
  }
  return null;
}

// `… | head -c 1` closes stdout: the training and --out decide the exit code, not the reader
tolerateClosedStdout();
const args = await parse(process.argv.slice(2));
try {
  checkEnvironment();
} catch (e) {
  fail((e as Error).message);
}
const { casePath, out, scheduler, nats, saveAt, checkpoint, resume } = args;
checkDistinct(args);

let text: string;
try {
  text = readTextBounded(casePath, MAX_CASE_BYTES);
} catch (e) {
  fail((e as Error).message);
}
let json: ReferenceCase;
try {
  json = JSON.parse(text) as ReferenceCase;
} catch (e) {
  fail(`${casePath}: not JSON (${(e as Error).message})`);
}
let c: AnyLoadedCase;
try {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(
      `not a case: expected an object with config, x, y and initial, got ${Array.isArray(json) ? 'an array' : JSON.stringify(json)}`,
    );
  c = loadAnyCase(json, basename(casePath, '.json'));
  checkAnswers(json, c);
} catch (e) {
  // loadCase names the case by its file's base name; the line names the file already
  fail(`${casePath}: ${(e as Error).message.replace(`${basename(casePath, '.json')}: `, '')}`);
}

// everything that can be known before training is checked before training
for (const path of checkpoint ? [out, checkpoint] : [out]) {
  try {
    checkWritable(path);
  } catch (e) {
    fail((e as Error).message);
  }
}
const { createTraining } = await import('../actors/trainer/training.ts');
const interrupt = interruptSignal(() =>
  console.error(
    `reference: stopping at the next consistent cut${checkpoint ? ` and saving it to ${checkpoint}` : ''} (Ctrl+C again to quit at once)`,
  ),
);
let training;
try {
  training = createTraining({
    topology: c.topology,
    data: c.data,
    steps: c.steps,
    scheduler: nats ?? (scheduler as SchedulerName),
    ...(resume ? { resume } : { params: c.initial }),
    ...(checkpoint ? { checkpoint: { path: checkpoint, at: saveAt !== null ? [saveAt] : [] } } : {}),
    signal: interrupt.signal,
  });
} catch (e) {
  // a checkpoint's error names its own file
  fail(e instanceof CheckpointError ? e.message : `${casePath}: ${(e as Error).message}`);
}

const started = performance.now();
let result: TrainingResult;
try {
  result = await training.run();
} catch (e) {
  if (e instanceof TrainingAbortedError) {
    fail(
      `stopped before step ${e.step} of ${c.steps}` +
        `${e.checkpoint ? `; the state there is in ${e.checkpoint} (go on with --resume ${e.checkpoint})` : ''}; nothing written to ${out}`,
      130,
    );
  }
  fail(`${(e as Error).message}; nothing written to ${out}`, 1);
} finally {
  interrupt.dispose();
}
const seconds = (performance.now() - started) / 1000;
const written = {
  final: caseParametersToJSON(c, result.params),
  losses: Array.from(result.losses),
  synthesizer_losses: Array.from(result.synthesizerLosses),
};
const bad = firstNonFinite(written);
if (bad) fail(`the training diverged: ${bad} (non-finite); nothing written to ${out}`, 1);
try {
  writeFileAtomic(out, JSON.stringify(written));
} catch (e) {
  fail(`${e instanceof FileError ? e.message : `${out}: ${(e as Error).message}`}; the training's result is lost`, 1);
}
console.log(
  `${c.name}: ${resume ? `resumed from ${resume}, ` : ''}${plural(c.steps, 'step')} under the ${scheduler} scheduler in ` +
    `${seconds.toFixed(2)} s → ${out}` +
    (saveAt !== null ? ` (checkpoint at step ${saveAt} → ${checkpoint})` : ''),
);
if (json.final !== undefined || json.losses !== undefined || json.synthesizer_losses !== undefined) {
  const d = compareWithCase(written, json);
  console.log(
    `vs the case's own answers: max |param diff| ${d.maxParamDiff.toExponential(2)}${d.worstParam ? ` (${d.worstParam})` : ''}, ` +
      `max relative loss diff ${d.maxLossRelDiff.toExponential(2)}, max synthesizer loss diff ` +
      `${d.maxSynthesizerLossDiff.toExponential(2)} (relative ${d.maxSynthesizerLossRelDiff.toExponential(2)})`,
  );
  const off = disagreements(d);
  if (off.length > 0) fail(`${casePath}: the result disagrees with the case's answers: ${off.join('; ')} (the result is in ${out})`, 3);
}
