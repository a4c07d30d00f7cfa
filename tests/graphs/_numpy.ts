/**
 * The independent numpy implementation of graph DNI (bench/dni_numpy.py, bench/dni_graph_numpy.py)
 * as the graph tests call it, and how a run is compared with its answers: parameters absolute,
 * losses and synthesizer losses relative with a floor (as tests/reference.test.ts does).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ParameterJSON } from '../../lib/params.ts';
import type { ReferenceCase } from '../../lib/reference.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
/**
 * How close a float32 run of a graph case lands to numpy's float64 answers (parameters absolute, losses
 * relative): DESIGN.md's ~1e-6. Measured at most 8.3e-7 (parameters) and 1.23e-6 (a synthesizer loss) on
 * graph-branch and graph-unlock through `npm run reference` under every scheduler, 6.2e-7 over 200 random
 * graphs (numpy-random.test.ts); the headroom is for the other kernel backends' rounding.
 */
export const GRAPH_TOLERANCE = 3e-6;
const SCRIPT = join(ROOT, 'bench', 'dni_numpy.py');
/** one BLAS thread: the machine's cores are shared, and the answers must not depend on threading */
const ENV = { ...process.env, OPENBLAS_NUM_THREADS: '1' };

/** Whether python3 with numpy runs here; the graph tests that need it say so in their titles. */
export const HAS_NUMPY = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore', env: ENV }).status === 0;
export const NO_NUMPY = ' (SKIPPED: python3 with numpy is not installed, so the independent implementation cannot run)';

/** Run bench/dni_numpy.py with these arguments (numpy's overflow warnings of untamed tries silenced). */
export function numpy(args: string[]): string {
  return execFileSync('python3', ['-W', 'ignore::RuntimeWarning', SCRIPT, ...args], { env: ENV, encoding: 'utf8', maxBuffer: 1 << 28 });
}

/** Random graph cases of seeds first..last, written and answered by numpy in one process, read back. */
export function randomGraphCases(first: number, last: number, steps: number, dir: string): { name: string; json: ReferenceCase }[] {
  numpy(['--random-graph', `${first}-${last}`, '--steps', String(steps), '--out', dir]);
  return readdirSync(dir)
    .filter((f) => f.startsWith('random-graph-') && f.endsWith('.json'))
    .map((f) => ({ name: f.slice(0, -5), json: JSON.parse(readFileSync(join(dir, f), 'utf8')) as ReferenceCase }))
    .sort((a, b) => Number(a.name.split('-').pop()) - Number(b.name.split('-').pop()));
}

export interface Answers {
  final: ParameterJSON;
  losses: ArrayLike<number>;
  synthesizer_losses: ArrayLike<number>;
}

export interface Deviations {
  /** largest |got - want| over every parameter, and where */
  param: number;
  worstParam: string;
  /** largest |got - want| / max(|want|, 1e-3) over the per-step losses */
  loss: number;
  synthesizerLoss: number;
}

/** Relative deviation with a floor, so exact zeros (no synthesizer) compare by absolute difference. */
export function maxRelative(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let m = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-3);
    if (!(d <= m)) m = d; // NaN counts as the worst
  }
  return m;
}

/** How far `got` lands from `want`; a key of one missing from the other, or a shape that differs, is Infinity. */
export function deviations(got: Answers, want: Answers): Deviations {
  let param = 0,
    worstParam = '';
  const keys = new Set([...Object.keys(got.final), ...Object.keys(want.final)]);
  for (const k of keys) {
    const a = got.final[k]?.flat() as number[] | undefined,
      b = want.final[k]?.flat() as number[] | undefined;
    if (!a || !b || a.length !== b.length) return { param: Infinity, worstParam: k, loss: Infinity, synthesizerLoss: Infinity };
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= param)) ((param = d), (worstParam = k));
    }
  }
  return {
    param,
    worstParam,
    loss: maxRelative(got.losses, want.losses),
    synthesizerLoss: maxRelative(got.synthesizer_losses, want.synthesizer_losses),
  };
}
