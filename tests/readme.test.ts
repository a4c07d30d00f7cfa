/** The README's example runs exactly as written (imported by package name, as a user would). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

describe('README', () => {
  it('opens with the two command lines: the demo and the tests', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const first = /```sh\n([^`]*)```/.exec(readme)![1].trim().split('\n');
    expect(first.map((l) => l.replace(/\s+#.*$/, ''))).toEqual(['npm ci && npm run demo', 'npm ci && npm test']);
    const scripts = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts;
    expect(scripts.demo).toBe('tsx demos/binary-addition.ts');
    expect(scripts.test).toBe('vitest run');
  });

  it('"Compose and train a custom topology" runs and trains', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Compose and train a custom topology'));
    const code = /```ts\n([\s\S]*?)\n```/.exec(section)![1];
    expect(code).toContain("from 'dni-actors'");
    // inside the package (out/ is ignored by git), so 'dni-actors' resolves to this package
    mkdirSync(join(root, 'out'), { recursive: true });
    const file = join(root, 'out', 'readme-example.ts');
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines.slice(0, 3).map((l) => Number(l.split(' ')[0]))).toEqual([999, 1999, 2999]);
    const final = Number(/final loss ([\d.]+)/.exec(out)![1]);
    expect(final).toBeGreaterThan(0);
    expect(final).toBeLessThan(1.6);
  });
});
