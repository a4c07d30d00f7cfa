/**
 * The reference CLI never destroys its input and never exits 0 on a broken run: every case it
 * cannot run and every bad argument is refused in one line with exit code 2 (no stack trace,
 * nothing written); a training or write failure is one line with exit code 1 and no output file.
 */
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliServer } from './_cli.ts';
import { REFERENCE_DIR } from './helpers.ts';
import { tinyCase, tinyRecurrentCase } from '../bench/fuzz/_cases.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'reference.ts');
/** tsx by absolute URL: the CLI runs in temporary folders */
const tsx = import.meta.resolve('tsx');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Run the CLI (under `bash -c 'ulimit …; exec …'` when `ulimit` is given), killed after 60 s;
 * `closedStdout`: its reader goes away at once (as `… | head -c 1` does).
 */
function cli(args: string[], options: { cwd?: string; ulimit?: string; closedStdout?: boolean } = {}): Promise<Run> {
  const t0 = performance.now();
  const argv = [process.execPath, '--import', tsx, bin, ...args];
  const child = options.ulimit
    ? spawn('bash', ['-c', `ulimit ${options.ulimit}; exec "$@"`, 'bash', ...argv], { cwd: options.cwd ?? root, timeout: 60_000 })
    : spawn(argv[0], argv.slice(1), { cwd: options.cwd ?? root, timeout: 60_000 });
  let stdout = '',
    stderr = '';
  if (options.closedStdout) child.stdout.destroy();
  else child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr, ms: performance.now() - t0 })));
}

/**
 * The same CLI, run in one process for the whole file (tests/_cli.ts): for refusals and short runs whose answer is
 * their exit code and output. What only a process of its own shows keeps {@link cli}: one refusal (exit 2), a failed
 * write (exit 1, under a ulimit), a disagreement (exit 3), a run that succeeds (exit 0), a closed stdout.
 */
const server = cliServer('bin/reference.ts');
afterAll(() => server.close());
const run = (args: string[], options: { cwd?: string } = {}): Promise<Run> => server.run(args, options.cwd ?? root);

/** Exit `code`, one line on stderr matching `message`, no stack trace, nothing on stdout. */
function refused(r: Run, code: number, message: RegExp) {
  expect(r.stderr, r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr.trimEnd()).toMatch(message);
  expect(r.stderr).toMatch(/^reference: /);
  expect(r.stdout).toBe('');
  expect(r.status).toBe(code);
}

const fresh = () => mkdtempSync(join(tmpdir(), 'dni-cli-'));
/** a folder with the tiny case in it; returns the folder and the case's path */
function withCase(c: object = tinyCase(3)): { dir: string; path: string; text: string } {
  const dir = fresh(),
    path = join(dir, 'case.json'),
    text = JSON.stringify(c);
  writeFileSync(path, text);
  return { dir, path, text };
}

describe('the CLI never destroys its input', () => {
  it('--out equal to the case file, by any name (./x, x, a hard link, a symlink): exit 2, the case intact', async () => {
    const { dir, path, text } = withCase();
    linkSync(path, join(dir, 'hard.json'));
    symlinkSync(path, join(dir, 'soft.json'));
    const runs = await Promise.all([
      cli(['case.json', '--out', 'case.json'], { cwd: dir }),
      run(['./case.json', '--out', 'case.json'], { cwd: dir }),
      run(['case.json', '--out', join(dir, 'sub', '..', 'case.json')], { cwd: dir }),
      run(['case.json', '--out', 'hard.json'], { cwd: dir }),
      run(['soft.json', '--out', 'case.json'], { cwd: dir }),
    ]);
    for (const r of runs) refused(r, 2, /^reference: --out .* is the case file .*: it would be overwritten$/);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'hard.json', 'soft.json']);
  });

  it('--checkpoint equal to the case file, --out equal to --checkpoint, --resume equal to --out: exit 2', async () => {
    const { dir, path, text } = withCase();
    writeFileSync(join(dir, 'run.ckpt'), 'not touched');
    const [a, b, c] = await Promise.all([
      run(['case.json', '--out', 'out.json', '--save-at', '2', '--checkpoint', './case.json'], { cwd: dir }),
      run(['case.json', '--out', 'same.json', '--save-at', '2', '--checkpoint', 'same.json'], { cwd: dir }),
      run(['case.json', '--out', 'run.ckpt', '--resume', './run.ckpt'], { cwd: dir }),
    ]);
    refused(a, 2, /^reference: --checkpoint \.\/case\.json is the case file case\.json: it would be overwritten$/);
    refused(b, 2, /^reference: --out same\.json and --checkpoint same\.json are the same file$/);
    refused(c, 2, /^reference: --out run\.ckpt is the checkpoint to resume from \(--resume \.\/run\.ckpt\): it would be overwritten$/);
    expect(readFileSync(path, 'utf8')).toBe(text);
    expect(readFileSync(join(dir, 'run.ckpt'), 'utf8')).toBe('not touched');
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'run.ckpt']);
  });

  it('--resume equal to --checkpoint, by any name (x, ./x, a folder round trip, a symlink): exit 2, the checkpoint untouched', async () => {
    const { dir } = withCase();
    writeFileSync(join(dir, 'run.ckpt'), 'not touched');
    symlinkSync(join(dir, 'run.ckpt'), join(dir, 'link.ckpt'));
    mkdirSync(join(dir, 'sub'));
    const runs = await Promise.all(
      [
        ['run.ckpt', 'run.ckpt'],
        ['run.ckpt', './run.ckpt'],
        ['./run.ckpt', join(dir, 'sub', '..', 'run.ckpt')],
        ['link.ckpt', 'run.ckpt'],
      ].map(([resume, checkpoint]) =>
        run(['case.json', '--out', 'out.json', '--save-at', '2', '--resume', resume, '--checkpoint', checkpoint], { cwd: dir }),
      ),
    );
    for (const r of runs)
      refused(
        r,
        2,
        /^reference: --checkpoint \S+ is the checkpoint to resume from \(--resume \S+\): it would be overwritten; save to another file$/,
      );
    expect(readFileSync(join(dir, 'run.ckpt'), 'utf8')).toBe('not touched');
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'link.ckpt', 'run.ckpt', 'sub']);
  });

  it('a symlink planted at the old temporary name OUT.tmp is not written through', async () => {
    const { dir } = withCase();
    writeFileSync(join(dir, 'victim'), 'precious');
    symlinkSync(join(dir, 'victim'), join(dir, 'out.json.tmp'));
    const r = await run(['case.json', '--out', 'out.json'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(join(dir, 'victim'), 'utf8')).toBe('precious');
    expect(Object.keys(JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')))).toEqual(['final', 'losses', 'synthesizer_losses']);
  });
});

describe('outputs are checked before training, and a failed write loses nothing', () => {
  it('--out or --checkpoint in a missing folder, or naming a folder: exit 2 at once', async () => {
    const { dir } = withCase();
    mkdirSync(join(dir, 'taken'));
    const runs = await Promise.all([
      run(['case.json', '--out', 'nope/out.json'], { cwd: dir }),
      run(['case.json', '--out', 'taken'], { cwd: dir }),
      run(['case.json', '--out', 'out.json', '--save-at', '2', '--checkpoint', 'nope/run.ckpt'], { cwd: dir }),
      run(['case.json', '--out', '/proc/out.json'], { cwd: dir }),
    ]);
    refused(runs[0], 2, /^reference: .*nope\/out\.json: its folder .*nope cannot be used \(ENOENT/);
    refused(runs[1], 2, /^reference: taken: is a folder/);
    refused(runs[2], 2, /^reference: .*nope\/run\.ckpt: its folder .*nope cannot be used/);
    refused(runs[3], 2, /^reference: \/proc\/out\.json: cannot be written in \/proc/);
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'taken']);
  });

  it('a write that fails after training (file size limit: EFBIG): one line, exit 1, no partial file', async () => {
    const big = tinyCase(4, { steps: 4000 }); // ~100 kB of losses: more than ulimit -f 64 allows
    const { dir } = withCase(big);
    const r = await cli(['case.json', '--out', 'out.json'], { cwd: dir, ulimit: '-f 64' });
    refused(r, 1, /^reference: out\.json: cannot be written \(EFBIG: .*\); the training's result is lost$/);
    expect(readdirSync(dir)).toEqual(['case.json']);
  });
});

describe('cases it cannot run: one line, exit 2', () => {
  it('a case of another kind, valid JSON that is not a case, not JSON, an empty file', async () => {
    const dir = fresh();
    const files: Record<string, string> = {
      'array.json': '[1, 2, 3]',
      'null.json': 'null',
      'string.json': '"case"',
      'empty.json': '',
      'broken.json': '{"config": ',
      'number.json': '42',
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const names = Object.keys(files);
    const otherKind = join(dir, 'transformer.json');
    writeFileSync(
      otherKind,
      JSON.stringify({
        ...JSON.parse(readFileSync(join(REFERENCE_DIR, 'rnn-dni.json'), 'utf8')),
        config: { kind: 'transformer', steps: 3 },
      }),
    );
    const runs = await Promise.all([
      run([otherKind, '--out', join(dir, 'out.json')]),
      ...names.map((n) => run([n, '--out', 'out.json'], { cwd: dir })),
    ]);
    refused(runs[0], 2, /^reference: .*transformer\.json: config\.kind 'transformer' is not a case this loader runs/);
    runs.slice(1).forEach((r, i) => refused(r, 2, new RegExp(`^reference: ${names[i].replace('.', '\\.')}: `)));
    expect(runs[4].stderr).toMatch(/not JSON/);
    expect(readdirSync(dir).sort()).toEqual([...names, 'transformer.json'].sort());
  });

  it('non-numbers in x, y or initial are refused by position, never coerced', async () => {
    const c = tinyCase(5);
    const bad = [
      { ...c, x: c.x.map((row, i) => (i === 3 ? row.map((v, j) => (j === 2 ? '1' : v)) : row)) },
      { ...c, y: (c.y as number[][]).map((row, i) => (i === 1 ? [null, row[1]] : row)) },
      { ...c, initial: { ...c.initial, 'layer0.b': [0, true, 0, 0] } },
      { ...c, x: c.x.map((row, i) => (i === 0 ? [[1], row[1], row[2]] : row)) },
    ];
    const dir = fresh();
    bad.forEach((b, i) => writeFileSync(join(dir, `bad${i}.json`), JSON.stringify(b)));
    const runs = await Promise.all(bad.map((_, i) => run([`bad${i}.json`, '--out', 'out.json'], { cwd: dir })));
    refused(runs[0], 2, /^reference: bad0\.json: .*x\[3\]\[2\] is "1", expected a number/);
    refused(runs[1], 2, /^reference: bad1\.json: .*y\[1\]\[0\] is null, expected a number/);
    refused(runs[2], 2, /^reference: bad2\.json: .*layer0\.b.*\[1\] is true, expected a number/);
    refused(runs[3], 2, /^reference: bad3\.json: .*x\[0\]\[0\] is \[1\], expected a number/);
    expect(readdirSync(dir)).toHaveLength(bad.length);
  });

  it('/dev/zero as the case or the checkpoint to resume: refused at once', async () => {
    const { dir } = withCase();
    const [a, b] = await Promise.all([
      run(['/dev/zero', '--out', 'out.json'], { cwd: dir }),
      run(['case.json', '--out', 'out.json', '--resume', '/dev/zero'], { cwd: dir }),
    ]);
    refused(a, 2, /^reference: \/dev\/zero: is a character device, not a regular file: a case file must be a file$/);
    refused(b, 2, /^reference: checkpoint \/dev\/zero: is a character device, not a regular file/);
    expect(Math.max(a.ms, b.ms)).toBeLessThan(20_000);
    expect(readdirSync(dir)).toEqual(['case.json']);
  });

  it('malformed expected answers (final, losses) are refused before training', async () => {
    const c = tinyCase(6);
    const dir = fresh();
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ ...c, final: 'done' }));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ ...c, final: c.initial, losses: [1, 'x'] }));
    const [a, b] = await Promise.all([
      run(['a.json', '--out', 'out.json'], { cwd: dir }),
      run(['b.json', '--out', 'out.json'], { cwd: dir }),
    ]);
    refused(a, 2, /^reference: a\.json: final: /);
    refused(b, 2, /^reference: b\.json: losses\[1\] is "x", expected a number/);
    expect(readdirSync(dir).sort()).toEqual(['a.json', 'b.json']);
  });
});

describe('bad arguments: one line, exit 2', () => {
  it.each([
    [[], /missing CASE\.json/],
    [['case.json'], /missing --out FILE/],
    [['case.json', '--out'], /--out needs a value/],
    [['case.json', '--out', 'a.json', '--out', 'b.json'], /--out given twice/],
    [['case.json', '--out', 'a.json', '--frobnicate'], /unknown option --frobnicate/],
    [['case.json', 'other.json', '--out', 'a.json'], /unexpected argument other\.json/],
    [['case.json', '--out', 'a.json', '--scheduler', 'fast'], /unknown scheduler 'fast'/],
    [['case.json', '--out', 'a.json', '--save-at', 'abc', '--checkpoint', 'c'], /--save-at needs an integer step >= 1, got 'abc'/],
    [['case.json', '--out', 'a.json', '--save-at', '2'], /--save-at needs --checkpoint FILE$/],
    [
      ['case.json', '--out', 'a.json', '--save-at', '99', '--checkpoint', 'c.ckpt'],
      /case\.json: checkpoint: step 99 is not between the first batch 0 and the last 7/,
    ],
    [['case.json', '--out', ''], /--out needs a value/],
  ] as [string[], RegExp][])('%j', async (args, message) => {
    const { dir } = withCase();
    const r = await run(args, { cwd: dir });
    refused(r, 2, new RegExp(`^reference: ${message.source}`));
    expect(readdirSync(dir)).toEqual(['case.json']);
  });

  it('--help prints the usage on stdout and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run reference -- CASE\.json --out FINAL\.json/);
  });
});

describe('training failures: one line, exit 1, nothing written', () => {
  it('divergence in the last steps (lr_synthesizer 1e6, 6 steps of dni.json) never writes nulls', async () => {
    const json = JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8'));
    // the answers are dni.json's 300 steps': a 6-step run has none to compare with
    const { dir } = withCase({
      ...json,
      final: undefined,
      losses: undefined,
      synthesizer_losses: undefined,
      config: { ...json.config, lr_synthesizer: 1e6, steps: 6 },
    });
    const r = await run(['case.json', '--out', 'out.json'], { cwd: dir });
    refused(r, 1, /^reference: .*(non-finite|diverged).*; nothing written to out\.json$/);
    expect(readdirSync(dir)).toEqual(['case.json']);
  });

  it('a run that works exits 0 and writes finite numbers only', async () => {
    const { dir } = withCase();
    const r = await cli(['case.json', '--out', 'out.json', '--save-at', '3', '--checkpoint', 'run.ckpt'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['case.json', 'out.json', 'run.ckpt']);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(out.losses).toHaveLength(8);
    expect(JSON.stringify(out)).not.toMatch(/null/);
    const resumed = await run(['case.json', '--out', 'again.json', '--resume', 'run.ckpt'], { cwd: dir });
    expect(resumed.status).toBe(0);
    expect(readFileSync(join(dir, 'again.json'), 'utf8')).toBe(readFileSync(join(dir, 'out.json'), 'utf8'));
  });
});

describe('a closed stdout is not a failure of the training', () => {
  it('`npm run reference … | head -c 1`: exit 0, no EPIPE stack trace, --out written', async () => {
    const { dir } = withCase();
    const r = await cli(['case.json', '--out', 'out.json'], { cwd: dir, closedStdout: true });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')).losses).toHaveLength(8);
  });

  it('--help into a closed pipe exits 0 quietly too', async () => {
    const r = await cli(['--help'], { closedStdout: true });
    expect([r.status, r.stderr]).toEqual([0, '']);
  });
});

describe("a case's own answers are checked: exit 3 when the result disagrees, exit 2 when they cannot be compared", () => {
  it.each([
    ['a chain', tinyCase(7), 'layer0.W'],
    ['an rnn', tinyRecurrentCase(7), 'core.Wh'],
  ] as const)(
    '%s case: its true answers exit 0; a parameter off by 10 or a loss off by 3x exit 3, the result written',
    async (_, c, key) => {
      const { dir } = withCase(c);
      const first = await run(['case.json', '--out', 'answers.json'], { cwd: dir });
      expect([first.status, first.stderr]).toEqual([0, '']);
      const answers = JSON.parse(readFileSync(join(dir, 'answers.json'), 'utf8'));
      const off = JSON.parse(JSON.stringify(answers));
      off.final[key][1][2] += 10;
      const lossy = { ...answers, losses: answers.losses.map((v: number, i: number) => (i === 3 ? v * 3 : v)) };
      const synth = { ...answers, synthesizer_losses: answers.synthesizer_losses.map((v: number, i: number) => (i === 2 ? v * 3 + 1 : v)) };
      for (const [name, a] of Object.entries({ right: answers, off, lossy, synth }))
        writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...c, ...a }));
      const [right, param, loss, synthesizer] = await Promise.all(
        ['right', 'off', 'lossy', 'synth'].map((n) => (n === 'off' ? cli : run)([`${n}.json`, '--out', `out-${n}.json`], { cwd: dir })),
      );
      expect([right.status, right.stderr]).toEqual([0, '']);
      expect(right.stdout).toMatch(/vs the case's own answers: max \|param diff\| 0\.00e\+0/);
      const disagrees = (r: Run, what: RegExp, name: string) => {
        expect(r.status, r.stderr).toBe(3);
        expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).toMatch(
          new RegExp(
            `^reference: ${name}\\.json: the result disagrees with the case's answers: ` +
              `${what.source} \\(the result is in out-${name}\\.json\\)\n$`,
          ),
        );
        expect(readFileSync(join(dir, `out-${name}.json`), 'utf8')).toBe(readFileSync(join(dir, 'answers.json'), 'utf8'));
      };
      disagrees(param, new RegExp(`final ${key.replace('.', '\\.')} is off by 1\\.00e\\+1 \\(tolerance 1e-5 absolute\\)`), 'off');
      disagrees(loss, /a loss is off by 6\.67e-1 relative \(tolerance 1e-5\)/, 'lossy');
      disagrees(synthesizer, /a synthesizer loss is off by .* relative \(tolerance 1e-5\)/, 'synth');
    },
  );

  it(
    'answers of the wrong shape are refused before training: losses of the wrong length, ' +
      'a final without a key, a final with an own key like constructor',
    async () => {
      const chain = tinyCase(8),
        rnn = tinyRecurrentCase(8);
      const dir = fresh();
      const bad: Record<string, object> = {
        long: { ...chain, losses: Array(9).fill(0.5) },
        short: { ...chain, synthesizer_losses: Array(3).fill(0.5) },
        partial: { ...chain, final: { ...chain.initial, 'layer1.b': undefined } },
        ctor: { ...rnn, final: { ...rnn.initial, constructor: [[1]] } },
        tostring: { ...rnn, initial: { ...rnn.initial, toString: [[1]] } },
      };
      for (const [name, c] of Object.entries(bad)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(c));
      const runs = await Promise.all(Object.keys(bad).map((n) => run([`${n}.json`, '--out', 'out.json'], { cwd: dir })));
      refused(runs[0], 2, /^reference: long\.json: losses has 9 values for 8 steps \(one per step\)$/);
      refused(runs[1], 2, /^reference: short\.json: synthesizer_losses has 3 values for 8 steps \(one per step\)$/);
      refused(runs[2], 2, /^reference: partial\.json: final: 'layer1\.b' is missing/);
      refused(runs[3], 2, /^reference: ctor\.json: final: 'constructor' not in the topology$/);
      refused(runs[4], 2, /^reference: tostring\.json: parameters: 'toString' not in the topology$/);
      expect(readdirSync(dir).sort()).toEqual(
        Object.keys(bad)
          .map((n) => `${n}.json`)
          .sort(),
      );
    },
  );

  it('rnn case files with coerced values, a missing or an unknown config key: one line, exit 2', async () => {
    const c = tinyRecurrentCase(9);
    const dir = fresh();
    const noLoss = JSON.parse(JSON.stringify(c));
    delete noLoss.config.loss;
    const bad: Record<string, object> = {
      dni: { ...c, config: { ...c.config, dni: 'false' } },
      mask: { ...c, mask: c.mask.map((m, i) => (i === 1 ? m.map((v) => [v]) : m)) },
      loss: noLoss,
      typo: { ...c, config: { ...c.config, lr_synthesiser: 0.1 } },
    };
    for (const [name, b] of Object.entries(bad)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(b));
    const runs = await Promise.all(Object.keys(bad).map((n) => run([`${n}.json`, '--out', 'out.json'], { cwd: dir })));
    refused(runs[0], 2, /^reference: dni\.json: config\.dni must be true or false, got 'false'$/);
    refused(runs[1], 2, /^reference: mask\.json: sequences: mask\[1\]\[0\] is \[0\], expected a number$/);
    refused(runs[2], 2, /^reference: loss\.json: config lacks 'loss'/);
    refused(runs[3], 2, /^reference: typo\.json: config has 'lr_synthesiser', which a case file does not hold/);
    expect(readdirSync(dir)).toHaveLength(4);
  });
});
