/**
 * The examples in examples/*.mjs and the README blocks that show them. Each example ends with a
 * comment that says what it prints (`// Prints …:` then one `// line` per printed line); a README
 * block preceded by `<!-- example: examples/NAME.mjs -->` must be that file, character for
 * character. Adding an example is adding its file: the tests find it, type-check it (tsconfig.json
 * includes examples/), run it and compare what it prints.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const EXAMPLES_DIR = join(ROOT, 'examples');

export interface Example {
  /** e.g. `custom-topology.mjs` */
  name: string;
  source: string;
  /** what the trailing `// Prints …:` comment says it prints */
  prints: string[];
}

export function examples(): Example[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.mjs'))
    .sort()
    .map((name) => {
      const source = readFileSync(join(EXAMPLES_DIR, name), 'utf8');
      return { name, source, prints: printsOf(name, source) };
    });
}

/** The lines of the closing `// Prints …:` comment. */
export function printsOf(name: string, source: string): string[] {
  const lines = source.trimEnd().split('\n');
  const at = lines.map((l) => /^\/\/ Prints\b.*:$/.test(l)).lastIndexOf(true);
  if (at < 0) throw new Error(`examples/${name}: no closing '// Prints …:' comment saying what it prints`);
  const prints = lines.slice(at + 1);
  const bad = prints.find((l) => !l.startsWith('// '));
  if (bad !== undefined || prints.length === 0)
    throw new Error(`examples/${name}: after '// Prints …:' every line must be '// <printed line>' (got ${JSON.stringify(bad ?? '')})`);
  return prints.map((l) => l.slice(3));
}

/** README blocks marked `<!-- example: examples/NAME.mjs -->`, by NAME. */
export function readmeExamples(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const m of readme.matchAll(/<!-- example: examples\/([\w.-]+\.mjs) -->\n```js\n([\s\S]*?)```\n/g)) {
    blocks.set(m[1]!, m[2]!);
  }
  return blocks;
}

const NUMBER = /-?\d+(?:\.\d+)?/g;

/**
 * Whether `actual` (what a run printed) matches `expected` (the Prints comment): the same lines,
 * the same words, and every number within one unit of its last printed digit, so a last-bit
 * difference between kernel backends that moves a rounding does not count; integers exactly.
 * Returns the first mismatch, or undefined.
 */
export function mismatch(actual: string[], expected: string[]): string | undefined {
  if (actual.length !== expected.length) return `printed ${actual.length} lines, expected ${expected.length}:\n${actual.join('\n')}`;
  for (const [i, want] of expected.entries()) {
    const got = actual[i]!;
    const words = (s: string) => s.replace(NUMBER, '#');
    const a = got.match(NUMBER) ?? [],
      e = want.match(NUMBER) ?? [];
    const close =
      a.length === e.length &&
      e.every((x, j) => {
        const decimals = x.split('.')[1]?.length ?? 0;
        return decimals === 0 ? x === a[j] : Math.abs(Number(x) - Number(a[j])) <= 1.001 * 10 ** -decimals;
      });
    if (words(got) !== words(want) || !close) return `line ${i + 1}: printed\n  ${got}\nexpected\n  ${want}`;
  }
  return undefined;
}
