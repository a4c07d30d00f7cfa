/**
 * The repository's reference cases (reference/*.json, what its tests, benches and README use) against
 * the independent numpy side's originals in ../shared/reference, where a checkout has them beside it:
 * every case there must be here, byte for byte or as the same JSON. A clone alone has no ../shared:
 * the comparison is then skipped, and its title says why.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REFERENCE_DIR } from './helpers.ts';

const SHARED = join(import.meta.dirname, '..', '..', 'shared', 'reference');
const present = existsSync(SHARED);
const jsonFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();

/** '' when the two files hold the same case, else what differs. */
function drift(name: string): string {
  const ours = join(REFERENCE_DIR, name);
  if (!existsSync(ours)) return `${name}: in ../shared/reference but not in reference/`;
  const a = readFileSync(ours),
    b = readFileSync(join(SHARED, name));
  if (a.equals(b)) return '';
  return isDeepStrictEqual(JSON.parse(a.toString('utf8')), JSON.parse(b.toString('utf8')))
    ? ''
    : `${name}: reference/ differs from ../shared/reference`;
}

describe('reference/ holds the reference cases', () => {
  it('every kind of case the tests read: chains, graphs (unlocks included) and recurrent cores', () => {
    expect(jsonFiles(REFERENCE_DIR)).toEqual(
      expect.arrayContaining([
        'backprop.json',
        'cdni.json',
        'dni-all.json',
        'dni-delay2.json',
        'dni.json',
        'graph-branch.json',
        'graph-unlock.json',
        'rnn-bptt.json',
        'rnn-dni.json',
      ]),
    );
  });

  it.skipIf(!present)(
    present
      ? 'is the same as ../shared/reference: no case missing, none changed'
      : 'skipped: no ../shared/reference beside this checkout (a clone alone), nothing to compare with',
    () => {
      const names = jsonFiles(SHARED);
      expect(names.length).toBeGreaterThan(0);
      expect(names.map(drift).filter(Boolean)).toEqual([]);
    },
  );
});
