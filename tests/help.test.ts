/**
 * Every command takes `--help`: every bench (`npm run bench -- NAME --help`), every demo, the
 * reference CLI, the trace viewer's CLI and the package's `dni-actors` command print what they do,
 * their options and roughly how long they take, and exit 0 without starting any work (no thread,
 * child process or server; nothing else printed). All of them run in one child process
 * (tests/_help-runner.ts), so the test costs one start of tsx.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const scripts = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_'))
    .sort();
const benches = scripts('bench')
  .filter((f) => f !== 'index.ts')
  .map((f) => f.slice(0, -3));
// a demo is a file of demos/ that reads its command line (outside a comment); the rest are their helpers
const demos = scripts('demos').filter((f) => /^(?!\s*(\*|\/\/)).*process\.argv/m.test(readFileSync(join(root, 'demos', f), 'utf8')));

const commands: string[][] = [
  ...benches.map((b) => ['bench/index.ts', b, '--help']),
  ...demos.map((d) => [`demos/${d}`, '--help']),
  ['bin/reference.ts', '--help'],
  ['tools/inspector/cli.ts', '--help'],
  ['bin/dni-actors.ts', '--help'],
  ['bin/dni-actors.ts', 'inspect', '--help'],
  ['bin/dni-actors.ts', 'stage', '--help'],
  ['bench/index.ts', '--help'],
  ['demos/mnist.ts', '-h'],
];

describe('--help', () => {
  it('finds the commands', () => {
    expect(benches).toEqual(
      expect.arrayContaining(['copy_experiment', 'fuzz', 'inspection', 'kernels', 'mnist', 'rnn', 'schedulers', 'seed', 'soak']),
    );
    expect(demos).toEqual(
      expect.arrayContaining(['binary-addition.ts', 'copy.ts', 'inspector.ts', 'mnist.ts', 'multitask.ts', 'orderings.ts']),
    );
  });

  it('prints what each command does, its options and how long it takes, exits 0, and starts nothing', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'tests', '_help-runner.ts'), JSON.stringify(commands)], {
      cwd: root,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(r.stdout) as {
      command: string;
      code: number | null;
      stdout: string;
      stderr: string;
      work: string[];
      error: string | null;
    }[];
    expect(results.map((x) => x.command)).toEqual(commands.map((c) => c.join(' ')));
    for (const x of results) {
      expect({ command: x.command, code: x.code, error: x.error, work: x.work, stderr: x.stderr }).toEqual({
        command: x.command,
        code: 0,
        error: null,
        work: [],
        stderr: '',
      });
      expect(x.stdout, x.command).toMatch(/^usage: \S/);
      expect(x.stdout, x.command).toMatch(/\n  -h, --help +this text \(nothing is run\)\n/);
      expect(x.stdout, x.command).toMatch(/\nTakes [^\n]+\.\n/);
    }
    const of = (command: string) => results.find((x) => x.command === command)!.stdout;
    expect(of('bench/index.ts copy_experiment --help')).toContain('--smoke');
    expect(of('bench/index.ts mnist --help')).toContain('--epochs N');
    expect(of('demos/binary-addition.ts --help')).toContain('--scheduler NAME');
    expect(of('bin/dni-actors.ts inspect --help')).toMatch(/^usage: npx dni-actors inspect TRACE\.jsonl/);
    expect(of('tools/inspector/cli.ts --help')).toMatch(/^usage: npm run inspect -- TRACE\.jsonl/);
  }, 150_000);
});
