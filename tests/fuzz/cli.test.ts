/**
 * Fuzz of the command lines: malformed argument lists for `npm run reference`, `npm run inspect`
 * and a demo, and malformed case files for `npm run reference`. Each run must exit with code 2 and
 * one line saying what is wrong (the demos add their usage below it), without a stack trace, within
 * a timeout, within a memory bound, and change no file in its folder. `npm run inspect` and the demo
 * run in processes of their own (each start costs ~0.4 s, so fewer runs than in-process); the
 * reference CLI's runs share one process (tests/_cli.ts: its peak memory after a run bounds the
 * run's, and a run that hangs fails). FUZZ_SEED=N repeats a run.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyCase } from '../../bench/fuzz/_cases.ts';
import { malformedCase, malformedDemoArgs, malformedInspectArgs, malformedReferenceArgs } from '../../bench/fuzz/_generators.ts';
import { malformedGraphCase, malformedRecurrentCase } from '../../bench/fuzz/_recurrent.ts';
import { type CliRun, ROOT, baseCheckpoints, inParallel, runCli } from '../../bench/fuzz/_run.ts';
import { cliServer } from '../_cli.ts';

const seeds = (n: number) =>
  fc.sample(fc.integer({ min: 0, max: 2 ** 32 - 1 }), {
    numRuns: n,
    ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  });
const WIDTH = 2; // the machine's cores

/** Every file under `dir` with a hash of its content (FIFOs and devices by kind only). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, name),
      s = statSync(p);
    out[name] = s.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : s.isDirectory() ? 'folder' : 'special';
  }
  return out;
}

/** Exit 2, `prefix: …` on the first line (and nothing else unless `usage`), no stack trace, no timeout, bounded memory. */
function expectRefused(r: CliRun, prefix: string, label: string, usage = false): void {
  const what = `${label}\n--- stderr:\n${r.stderr}`;
  expect(r.timedOut, what).toBe(false);
  expect(r.stderr, what).not.toMatch(/^\s+at /m);
  expect(r.stderr, what).toMatch(new RegExp(`^${prefix}: \\S`));
  if (!usage) expect(r.stderr.trimEnd().split('\n'), what).toHaveLength(1);
  expect(r.status, what).toBe(2);
  expect(r.maxRSS, what).not.toBeNull();
  expect(r.maxRSS!, what).toBeLessThan(512 * 2 ** 20);
}

/** The reference CLI's runs, in one process for the file (killed, failing the test, if a run takes over 30 s). */
const reference = cliServer('bin/reference.ts', 30_000);
afterAll(() => reference.close());
const runReference = async (args: string[], cwd: string): Promise<CliRun> => ({
  ...(await reference.run(args, cwd)),
  signal: null,
  timedOut: false,
});

describe('command lines: malformed arguments exit 2 in one line, changing nothing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dni-fuzz-cli-'));
  const template = join(dir, 'template');

  beforeAll(async () => {
    mkdirSync(template);
    writeFileSync(join(template, 'case.json'), JSON.stringify(tinyCase(3)));
    const { texts } = await baseCheckpoints(dir);
    writeFileSync(join(template, 'case.ckpt'), texts[0]);
    writeFileSync(join(template, 'trace.jsonl'), '{"type":"@trace.meta"}\n');
  });

  /** a fresh copy of the template folder (FIFO included) for one run */
  const folder = (() => {
    let n = 0;
    return () => {
      const d = join(dir, `run-${n++}`);
      cpSync(template, d, { recursive: true });
      execFileSync('mkfifo', [join(d, 'fifo')]);
      return d;
    };
  })();

  it('npm run reference: argument lists', async () => {
    const inputs = seeds(10).map((s, i) => ({ seed: s, first: i === 0, ...malformedReferenceArgs(s) }));
    await inParallel(inputs, WIDTH, async (input) => {
      const cwd = folder(),
        before = snapshot(cwd);
      // the first in a process of its own: how that process ends is the CLI's, not the shared one's
      const r = input.first ? await runCli(join(ROOT, 'bin', 'reference.ts'), input.args, { cwd }) : await runReference(input.args, cwd);
      expectRefused(r, 'reference', `seed ${input.seed}: ${input.label}`);
      expect(snapshot(cwd), input.label).toEqual(before);
    });
  });

  it.each([
    ['chain', (s: number) => malformedCase(s)],
    ['rnn and graph', (s: number) => (s % 2 ? malformedRecurrentCase(s, { answers: true }) : malformedGraphCase(s))],
  ])('npm run reference: malformed %s case files', async (_, generate) => {
    const inputs = seeds(8).map((s) => ({ seed: s, ...generate(s) }));
    await inParallel(inputs, WIDTH, async (input) => {
      const cwd = folder();
      writeFileSync(join(cwd, 'case.json'), input.text);
      const before = snapshot(cwd);
      const r = await runReference(['case.json', '--out', 'out.json', '--save-at', '1', '--checkpoint', 'run.ckpt'], cwd);
      expectRefused(r, 'reference', `seed ${input.seed}: ${input.label}`);
      expect(snapshot(cwd), input.label).toEqual(before);
    });
  });

  it('npm run inspect', async () => {
    const inputs = seeds(8).map((s) => ({ seed: s, ...malformedInspectArgs(s) }));
    await inParallel(inputs, WIDTH, async (input) => {
      const cwd = folder(),
        before = snapshot(cwd);
      const r = await runCli(join(ROOT, 'tools', 'inspector', 'cli.ts'), input.args, { cwd, env: input.env, timeout: 15_000 });
      expectRefused(r, 'inspect', `seed ${input.seed}: ${input.label}`);
      expect(snapshot(cwd), input.label).toEqual(before);
    });
  });

  it('a demo (binary-addition): flags', async () => {
    const inputs = seeds(4).map((s) => ({ seed: s, ...malformedDemoArgs(s) }));
    await inParallel(inputs, WIDTH, async (input) => {
      const cwd = folder(),
        before = snapshot(cwd);
      const r = await runCli(join(ROOT, 'demos', 'binary-addition.ts'), input.args, { cwd, timeout: 20_000 });
      expectRefused(r, 'binary-addition', `seed ${input.seed}: ${input.label}`, true);
      expect(snapshot(cwd), input.label).toEqual(before);
    });
  });
});
