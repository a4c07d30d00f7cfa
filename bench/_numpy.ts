/**
 * Running the numpy side of a benchmark fairly: one OpenBLAS thread where ours uses one core
 * (`threads` undefined: OpenBLAS's default, e.g. MNIST where both sides may use both cores), and
 * without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, which this environment may set and which force an
 * older, 25-35% slower kernel. Changed for that child process only.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function numpyEnv(threads?: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (threads !== undefined) env.OPENBLAS_NUM_THREADS = String(threads);
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** What the numpy side ran with, for the report. */
export function numpySettings(threads?: number): string {
  return (
    `${threads === undefined ? "OpenBLAS's default threads" : `OPENBLAS_NUM_THREADS=${threads}`}, OPENBLAS_CORETYPE and ` +
    `OPENBLAS_L2_SIZE unset`
  );
}

/**
 * Run `bench/SCRIPT` with python3 and parse the JSON object on its last stdout line, or say why
 * not (no python3 with numpy, or the script failed).
 */
export function runNumpy<T>(script: string, args: string[], threads?: number): T | string {
  const env = numpyEnv(threads);
  if (spawnSync('python3', ['-c', 'import numpy'], { env }).status !== 0) return 'python3 with numpy not found';
  const path = join(dirname(fileURLToPath(import.meta.url)), script);
  const run = spawnSync('python3', [path, ...args], { env, encoding: 'utf8' });
  if (run.status !== 0) return `${script} failed: ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`;
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as T;
}
