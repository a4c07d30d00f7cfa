/**
 * `npm run bench -- fuzz [--seconds N] [--seed S] [--json]`: a fuzz campaign for a fixed time
 * (default 60 s, shared out among the kinds of input: chain, graph and rnn case files, checkpoints,
 * chain and recurrent specs, data sets and sequences, command lines), larger than the one in the tests
 * (tests/fuzz/). Every input is a valid one broken in a way that must be refused
 * (bench/fuzz/_generators.ts), so each kind's count of inputs accepted silently should be 0, and
 * so should its count of inputs refused other than by name (a TypeError from inside; for a
 * command line: an exit code other than 2, more than one line, a stack trace, a timeout, or a
 * file changed). Prints, per kind, the inputs tried and how each ended, and the first few that
 * were not refused by name, with the seed that makes each again.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineTopology } from '../lib/topology.ts';
import { tinyCase } from './fuzz/_cases.ts';
import {
  NAMED_ERRORS,
  type Verdict,
  malformedCase,
  malformedCheckpoint,
  malformedData,
  malformedDemoArgs,
  malformedInspectArgs,
  malformedReferenceArgs,
  malformedTopology,
} from './fuzz/_generators.ts';
import { brokenCheckpoint, checkpointBases, resumeBroken } from './fuzz/_checkpoints.ts';
import {
  fullRecurrentSpec,
  malformedGraphCase,
  malformedRecurrentCase,
  malformedRecurrentSpec,
  malformedSequences,
} from './fuzz/_recurrent.ts';
import {
  type CliRun,
  ROOT,
  baseCheckpoints,
  inParallel,
  runAnyCase,
  runCase,
  runCheckpoint,
  runCli,
  runData,
  runDemoArgs,
  runRecurrent,
  runSequences,
  runTopology,
} from './fuzz/_run.ts';
import { defineRecurrent } from '../lib/recurrent/topology.ts';

/** `npm run bench -- fuzz --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- fuzz [--seconds N] [--seed S] [--json]',
  about:
    'A fuzz campaign: valid inputs (cases, checkpoints, topologies, data sets, demo flags, command lines) broken in\n' +
    'ways that must be refused; counts, per kind, the inputs accepted silently or refused other than by name (both should be 0).',
  options: [
    ['--seconds N', 'how long, shared out among the kinds of input (default 60)'],
    ['--seed S', 'seed of the first input'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'the --seconds asked for (default 60 s), plus a few seconds to start',
};

type Outcome = 'refused' | 'other' | 'accepted';

interface Tally {
  kind: string;
  tried: number;
  /** refused with one of the library's named errors (command lines: exit 2, one line) */
  refused: number;
  /** ended otherwise: an unnamed error; a command line's other exit code, extra lines, stack trace, timeout or changed file */
  other: number;
  /** accepted silently: the goal is 0 */
  accepted: number;
  /** the first few inputs not refused by name */
  examples: { seed: number; outcome: Outcome; input: string; detail: string }[];
  /** command lines: the largest peak resident memory of one run, MB */
  maxRssMB?: number;
}

const verdictOutcome = (v: Verdict, also: string[] = []): [Outcome, string] =>
  v.kind === 'accepted'
    ? ['accepted', '']
    : [
        [...NAMED_ERRORS, ...also].includes(v.name) && !v.message.includes('\n') ? 'refused' : 'other',
        `${v.name}: ${v.message}`.slice(0, 300),
      ];

function snapshot(dir: string): string {
  const h = createHash('sha256');
  for (const name of (readdirSync(dir, { recursive: true }) as string[]).sort()) {
    const p = join(dir, name),
      s = statSync(p);
    h.update(
      `${name}\0${s.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : s.isDirectory() ? 'folder' : 'special'}\0`,
    );
  }
  return h.digest('hex');
}

function cliOutcome(r: CliRun, prefix: string, usage: boolean, changed: boolean): [Outcome, string] {
  const detail = (
    `exit ${r.status ?? r.signal}${r.timedOut ? ' (timed out)' : ''}${changed ? ', changed a file' : ''}: ` +
    `${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`
  ).slice(0, 300);
  if (r.status === 0 && !changed) return ['accepted', detail];
  const ok =
    r.status === 2 &&
    !r.timedOut &&
    !changed &&
    !/^\s+at /m.test(r.stderr) &&
    new RegExp(`^${prefix}: \\S`).test(r.stderr) &&
    (usage || r.stderr.trimEnd().split('\n').length === 1);
  return [ok ? 'refused' : 'other', detail];
}

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const seconds = Number(at('--seconds') ?? 60);
  const firstSeed = Number(at('--seed') ?? Math.floor(Math.random() * 2 ** 31));
  if (!(seconds > 0) || !Number.isSafeInteger(firstSeed) || firstSeed < 0) {
    console.error('usage: npm run bench -- fuzz [--seconds N] [--seed S] [--json]');
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dni-bench-fuzz-'));
  const { texts, bases } = await baseCheckpoints(dir);
  const everyKind = await checkpointBases(mkdtempSync(join(dir, 'every-kind-')));
  const topology = defineTopology({
    inputs: 3,
    batch: 2,
    layers: [{ units: 4, decoupled: true, synthesizer: { conditioned: true } }, { units: 2 }],
  });
  const recurrent = defineRecurrent(fullRecurrentSpec());
  const template = join(dir, 'template');
  mkdirSync(template);
  writeFileSync(join(template, 'case.json'), JSON.stringify(tinyCase(3)));
  writeFileSync(join(template, 'case.ckpt'), texts[0]);
  writeFileSync(join(template, 'trace.jsonl'), '{"type":"@trace.meta"}\n');
  let runs = 0;
  const folder = () => {
    const d = join(dir, `run-${runs++}`);
    cpSync(template, d, { recursive: true });
    execFileSync('mkfifo', [join(d, 'fifo')]);
    return d;
  };

  /** an in-process kind: one input per seed, one after another */
  const inProcess = (kind: string, run: (seed: number) => Promise<[Outcome, string, string]>, share = 0.07) => ({
    kind,
    width: 1,
    share,
    run,
  });
  /** a command line: each input in a fresh folder, two at a time */
  const process_ = (
    kind: string,
    script: string,
    make: (seed: number) => { label: string; args: string[]; env?: Record<string, string>; text?: string },
    prefix: string,
    usage = false,
  ) => ({
    kind,
    width: 2,
    share: 0.074,
    run: async (seed: number): Promise<[Outcome, string, string, number | null]> => {
      const input = make(seed),
        cwd = folder();
      if (input.text !== undefined) writeFileSync(join(cwd, 'case.json'), input.text);
      const before = snapshot(cwd);
      const r = await runCli(join(ROOT, ...script.split('/')), input.args, { cwd, env: input.env, timeout: 20_000 });
      const [outcome, detail] = cliOutcome(r, prefix, usage, snapshot(cwd) !== before);
      rmSync(cwd, { recursive: true, force: true });
      return [outcome, input.label, detail, r.maxRSS];
    },
  });

  const kinds = [
    inProcess('case file (loadCase, then training)', async (s) => {
      const i = malformedCase(s);
      return pack(verdictOutcome(await runCase(i.text)), i.label);
    }),
    inProcess(
      'checkpoint (decode, then resume)',
      async (s) => {
        const k = s % texts.length,
          i = malformedCheckpoint(texts[k], s);
        return pack(verdictOutcome(await runCheckpoint(i.text, bases[k])), i.label);
      },
      0.06,
    ),
    inProcess(
      'checkpoint, every kind (file or in memory)',
      async (s) => {
        const base = everyKind[s % everyKind.length],
          i = brokenCheckpoint(base, s);
        return pack(verdictOutcome(await resumeBroken(i, base)), i.label);
      },
      0.06,
    ),
    inProcess('topology spec (defineTopology, then training)', async (s) => {
      const i = malformedTopology(s);
      return pack(verdictOutcome(await runTopology(i.spec)), i.label);
    }),
    inProcess('data set (training)', async (s) => {
      const i = malformedData(s);
      return pack(verdictOutcome(await runData(topology, i.data)), i.label);
    }),
    inProcess('rnn case file (loadAnyCase, then training)', async (s) => {
      const i = malformedRecurrentCase(s);
      return pack(verdictOutcome(await runAnyCase(i.text)), i.label);
    }),
    inProcess('graph case file (loadAnyCase, then training)', async (s) => {
      const i = malformedGraphCase(s);
      return pack(verdictOutcome(await runAnyCase(i.text)), i.label);
    }),
    inProcess('recurrent spec (defineRecurrent, then training)', async (s) => {
      const i = malformedRecurrentSpec(s);
      return pack(verdictOutcome(await runRecurrent(i.spec)), i.label);
    }),
    inProcess('sequence data set (training)', async (s) => {
      const i = malformedSequences(s);
      return pack(verdictOutcome(await runSequences(recurrent, i.data)), i.label);
    }),
    inProcess('demo flags (tryParseDemoArgs)', async (s) => {
      const i = malformedDemoArgs(s);
      return pack(verdictOutcome(runDemoArgs(i.args), ['UsageError']), i.label);
    }),
    process_('npm run reference: arguments', 'bin/reference.ts', malformedReferenceArgs, 'reference'),
    process_(
      'npm run reference: case files',
      'bin/reference.ts',
      (s) => ({ ...malformedCase(s), args: ['case.json', '--out', 'out.json', '--save-at', '1', '--checkpoint', 'run.ckpt'] }),
      'reference',
    ),
    process_(
      'npm run reference: rnn and graph case files',
      'bin/reference.ts',
      (s) => ({
        ...(s % 2 ? malformedRecurrentCase(s, { answers: true }) : malformedGraphCase(s)),
        args: ['case.json', '--out', 'out.json', '--save-at', '1', '--checkpoint', 'run.ckpt'],
      }),
      'reference',
    ),
    process_('npm run inspect: arguments', 'tools/inspector/cli.ts', malformedInspectArgs, 'inspect'),
    process_('demos/binary-addition.ts: flags', 'demos/binary-addition.ts', malformedDemoArgs, 'binary-addition', true),
  ];

  const tallies: Tally[] = [];
  let seed = firstSeed;
  for (const k of kinds) {
    const t: Tally = { kind: k.kind, tried: 0, refused: 0, other: 0, accepted: 0, examples: [] };
    const deadline = performance.now() + seconds * 1000 * k.share;
    while (performance.now() < deadline) {
      const batch = Array.from({ length: k.width * 4 }, () => seed++ >>> 0);
      const results = await inParallel(batch, k.width, async (s) => [s, await k.run(s)] as const);
      for (const [s, [outcome, input, detail, rss]] of results as (readonly [number, [Outcome, string, string, (number | null)?]])[]) {
        t.tried++;
        t[outcome]++;
        if (outcome !== 'refused' && t.examples.length < 5) t.examples.push({ seed: s, outcome, input, detail });
        if (typeof rss === 'number') t.maxRssMB = Math.max(t.maxRssMB ?? 0, Math.round(rss / 2 ** 20));
      }
    }
    tallies.push(t);
    if (!json) {
      console.log(
        `${t.kind.padEnd(48)} tried ${String(t.tried).padStart(6)}  refused by name ${String(t.refused).padStart(6)}  otherwise ` +
          `${String(t.other).padStart(3)}  accepted silently ${t.accepted}${t.maxRssMB ? `  (peak RSS ${t.maxRssMB} MB)` : ''}`,
      );
      for (const e of t.examples) console.log(`    seed ${e.seed} ${e.outcome}: ${e.input}${e.detail ? ` -> ${e.detail}` : ''}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  const result = {
    seconds,
    firstSeed,
    inProcessPeakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    kinds: tallies,
    totals: {
      tried: tallies.reduce((a, t) => a + t.tried, 0),
      refused: tallies.reduce((a, t) => a + t.refused, 0),
      other: tallies.reduce((a, t) => a + t.other, 0),
      accepted: tallies.reduce((a, t) => a + t.accepted, 0),
    },
  };
  if (json) console.log(JSON.stringify(result));
  else
    console.log(
      `total: ${result.totals.tried} inputs, ${result.totals.refused} refused by name, ${result.totals.other} otherwise, ` +
        `${result.totals.accepted} accepted silently (seeds from ${firstSeed}; peak RSS of this process ${result.inProcessPeakRssMB} MB)`,
    );
}

const pack = ([outcome, detail]: [Outcome, string], label: string): [Outcome, string, string] => [outcome, label, detail];
