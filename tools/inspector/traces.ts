/**
 * Which trace files a name given to `npm run inspect` means. A demo that runs several trainings
 * writes one trace each: `--trace out.jsonl` gives `out.backprop.jsonl`, `out.dni.jsonl`, … (see
 * `traceFileFor` in demos/cli.ts), and no `out.jsonl`. So: the file itself when it exists, else its
 * per-training siblings in the order they were written, else none.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function tracesFor(file: string): string[] {
  try {
    if (statSync(file).isFile()) return [file];
  } catch {
    // not there: look for the per-training traces below
  }
  const dir = dirname(file),
    base = basename(file);
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base,
    ext = dot > 0 ? base.slice(dot) : '';
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(`${stem}.`) && n.endsWith(ext) && n.length > stem.length + 1 + ext.length)
    .map((n) => join(dir, n))
    .filter((f) => statSync(f).isFile())
    .map((f) => ({ f, written: statSync(f).mtimeMs }))
    .sort((a, b) => a.written - b.written || a.f.localeCompare(b.f))
    .map(({ f }) => f);
}
