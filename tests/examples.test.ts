/**
 * examples/*.mjs: each runs (here from the repository's TypeScript through tsx, with 'dni-actors'
 * mapped to index.ts by tsconfig.json's `paths`; tests/package.test.ts runs the README's copies
 * from the installed package with plain node) and prints what its closing comment says, and each
 * README block marked as an example is its file. `tsc --noEmit` type-checks them (tsconfig.json
 * includes examples/).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLES_DIR, ROOT, examples, mismatch, printsOf, readmeExamples } from './examples.ts';

const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const work = mkdtempSync(join(tmpdir(), 'dni-actors-examples-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('examples/', () => {
  const all = examples();

  it('holds the README examples, and the README shows each marked one as it is', () => {
    const shown = readmeExamples();
    expect([...shown.keys()]).toContain('custom-topology.mjs');
    for (const [name, block] of shown) {
      const example = all.find((e) => e.name === name);
      expect(example, `README shows examples/${name}, which does not exist`).toBeDefined();
      expect(block, `README's block for examples/${name} differs from the file: copy the file into it`).toBe(example!.source);
    }
  });

  for (const example of all) {
    it(`${example.name} prints what it says`, () => {
      // its own folder: examples write files (checkpoints, traces) where they run
      const cwd = mkdtempSync(join(work, example.name.replace('.mjs', '-')));
      const out = execFileSync(process.execPath, ['--import', tsx, join(EXAMPLES_DIR, example.name)], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
      });
      expect(mismatch(out.trimEnd().split('\n'), example.prints)).toBeUndefined();
    });
  }
});

describe('the example checks themselves', () => {
  it('compare words exactly and numbers to their last printed digit', () => {
    const want = ['batch 5000: loss 1.300, accuracy 0.60'];
    expect(mismatch(['batch 5000: loss 1.301, accuracy 0.59'], want)).toBeUndefined();
    expect(mismatch(['batch 5000: loss 1.302, accuracy 0.60'], want)).toMatch(/line 1/);
    expect(mismatch(['batch 5001: loss 1.300, accuracy 0.60'], want)).toMatch(/line 1/);
    expect(mismatch(['batch 5000: loss 1.300, accuracy 0.60!'], want)).toMatch(/line 1/);
    expect(mismatch([...want, 'more'], want)).toMatch(/printed 2 lines, expected 1/);
  });

  it('refuse an example without a Prints comment, and a README block that is not the file', () => {
    expect(() => printsOf('x.mjs', 'console.log(1);\n')).toThrow(/examples\/x.mjs: no closing '\/\/ Prints …:' comment/);
    expect(printsOf('x.mjs', 'console.log(1);\n\n// Prints:\n// 1\n')).toEqual(['1']);
    const readme = '<!-- example: examples/x.mjs -->\n```js\nconsole.log(1);\n```\n';
    expect(readmeExamples(readme).get('x.mjs')).toBe('console.log(1);\n');
  });
});
