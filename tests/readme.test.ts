/**
 * The README's first lines. Its code examples are examples/*.mjs, checked and run by
 * tests/examples.test.ts here and by tests/package.test.ts from the installed package.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('README', () => {
  it('opens with the two command lines: the demo and the tests', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const first = /```sh\n([^`]*)```/.exec(readme)![1]!.trim().split('\n');
    expect(first.map((l) => l.replace(/\s+#.*$/, ''))).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(scripts.demo).toBe('tsx demos/binary-addition.ts');
    expect(scripts.test).toBe('vitest run');
  });
});

describe('what the README says about --inspect', () => {
  it('holds: --inspect keeps the scheduler asked for (queue by default), and the page is served as it trains', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme).toContain('It does not change the scheduler: the demos train on what\n  `--scheduler` says (default `queue`)');
    expect(readme).not.toMatch(/train on the `async` scheduler/);
    const demo = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), '--steps', '20', '--inspect', '--inspect-port', '0'],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '',
      stderr = '';
    demo.stdout.on('data', (d) => (stdout += d));
    demo.stderr.on('data', (d) => (stderr += d));
    try {
      await new Promise<void>((resolve, reject) => {
        demo.stderr.on('data', () => /still serves the live inspector/.test(stderr) && resolve());
        demo.on('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
      });
      expect(stdout).toMatch(/per method, queue scheduler\n/);
      const url = /live inspector: open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)![1];
      const state = (await (await fetch(`${url}state.json`)).json()) as { runs: { meta: { scheduler: string }; batch: number }[] };
      expect(state.runs.map((r) => [r.meta.scheduler, r.batch])).toEqual([
        ['queue', 19],
        ['queue', 19],
        ['queue', 19],
      ]);
    } finally {
      demo.kill('SIGINT');
    }
  }, 120_000);
});
