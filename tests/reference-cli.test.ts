/**
 * `npm run reference` works for any case in the reference format, not only the shipped five:
 * random topologies (every activation, any mix of decoupled and backprop layers, conditioned,
 * delays 0-2) are trained by our CLI and by the independent numpy script bench/dni_numpy.py,
 * and must agree to the parity tolerances of tests/reference.test.ts (measured over these six: 1.8e-7
 * parameters, 1.1e-7 losses, 2.4e-7 synthesizer losses).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareWithCase, type RunOutput } from '../lib/compare.ts';
import { ACTIVATIONS } from '../lib/activations.ts';
import { Rng } from '../lib/rng.ts';
import type { ReferenceCase } from '../lib/reference.ts';

const root = join(import.meta.dirname, '..');
const hasNumpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' }).status === 0;

function randomCase(seed: number): ReferenceCase {
  const rng = new Rng(seed);
  const int = (lo: number, hi: number) => lo + (rng.nextUint32() % (hi - lo + 1));
  const layers = int(1, 4);
  const sizes = Array.from({ length: layers + 1 }, () => int(2, 16));
  const activations = sizes.slice(1).map(() => ACTIVATIONS[int(0, ACTIVATIONS.length - 1)]);
  const decoupled = sizes.slice(1).map(() => rng.next() < 0.6);
  const conditioned = rng.next() < 0.5;
  const batch = int(2, 6),
    rows = batch * int(3, 6),
    labels = sizes[layers];
  const mat = (r: number, c: number, s: number) => Array.from({ length: r }, () => Array.from({ length: c }, () => rng.uniform(-s, s)));
  const initial: Record<string, number[][] | number[]> = {};
  for (let i = 0; i < layers; i++) {
    initial[`layer${i}.W`] = mat(sizes[i], sizes[i + 1], 0.5);
    initial[`layer${i}.b`] = mat(1, sizes[i + 1], 0.1)[0];
    if (!decoupled[i]) continue;
    initial[`synth${i}.M`] = mat(sizes[i + 1], sizes[i + 1], 0.05);
    initial[`synth${i}.c`] = mat(1, sizes[i + 1], 0.05)[0];
    if (conditioned) initial[`synth${i}.N`] = mat(labels, sizes[i + 1], 0.05);
  }
  return {
    case: `random-${seed}`,
    config: { sizes, activations, decoupled, conditioned, delay: int(0, 2), batch, lr: 0.1, lr_synthesizer: 0.05, steps: 40 },
    x: mat(rows, sizes[0], 1),
    y: mat(rows, labels, 1),
    initial,
  };
}

describe.skipIf(!hasNumpy)('npm run reference on random cases (against bench/dni_numpy.py)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dni-ref-'));
  it.each([11, 12, 13, 14, 15, 16])('case seed %i', (seed) => {
    const c = randomCase(seed);
    const casePath = join(dir, `case-${seed}.json`),
      ours = join(dir, `ours-${seed}.json`),
      numpy = join(dir, `numpy-${seed}.json`);
    writeFileSync(casePath, JSON.stringify(c));
    execFileSync('python3', [join(root, 'bench', 'dni_numpy.py'), casePath, '--emit', numpy]);
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bin', 'reference.ts'), casePath, '--out', ours], { cwd: root });
    const got = JSON.parse(readFileSync(ours, 'utf8')) as RunOutput,
      want = JSON.parse(readFileSync(numpy, 'utf8')) as RunOutput;
    expect(Object.keys(got.final).sort()).toEqual(Object.keys(want.final).sort());
    const d = compareWithCase(got, want);
    expect(d.maxParamDiff, `${JSON.stringify(c.config)}: worst ${d.worstParam}`).toBeLessThan(2e-6);
    const rel = (a: number[], b: number[]) => Math.max(...b.map((v, i) => Math.abs(a[i] - v) / Math.max(Math.abs(v), 1e-3)));
    expect(rel(got.losses, want.losses)).toBeLessThan(1e-6);
    expect(rel(got.synthesizer_losses, want.synthesizer_losses)).toBeLessThan(1e-6);
  });
});
