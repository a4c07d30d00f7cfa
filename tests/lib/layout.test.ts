/**
 * The shape of the source tree (issue 23): each file in lib/ and actors/ holds one idea, under
 * ~500 lines; and no actor reads another actor's context (each publishes what others need, see
 * Backlog in actors/machines/events.ts and MetricsSource in actors/trainer/metrics.ts).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const MAX_LINES = 500;
const EXEMPT = new Set<string>();

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name).slice(ROOT.length + 1));
}

describe('source layout', () => {
  const files = [...sources('lib'), ...sources('actors')];

  it('finds the sources', () => {
    expect(files).toContain('lib/graph.ts');
    expect(files).toContain('actors/stage/stageMachine.ts');
  });

  it(`no file in lib/ or actors/ is over ${MAX_LINES} lines`, () => {
    const long = files
      .filter((f) => !EXEMPT.has(f))
      .map((f) => [f, readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1] as const)
      .filter(([, n]) => n > MAX_LINES);
    expect(long).toEqual([]);
  });

  it("no actor reads another actor's context (the inspectors trace snapshots; xstateInternals probes its own machine)", () => {
    const readers = files
      .filter((f) => f.startsWith('actors/') && !f.startsWith('actors/inspect/') && f !== 'actors/machines/xstateInternals.ts')
      .flatMap((f) =>
        readFileSync(join(ROOT, f), 'utf8')
          .split('\n')
          .flatMap((line, i) => (/getSnapshot\(\)\s*\.context/.test(line) ? [`${f}:${i + 1}`] : [])),
      );
    expect(readers).toEqual([]);
  });
});
