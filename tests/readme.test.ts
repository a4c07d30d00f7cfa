/**
 * The README's first lines. Its code examples are examples/*.mjs, checked and run by
 * tests/examples.test.ts here and by tests/package.test.ts from the installed package.
 */
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
