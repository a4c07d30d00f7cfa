/**
 * The environment variables the library reads, read like options: a malformed value is an
 * {@link EnvironmentError} naming the variable, its value and what it may be, never silently the
 * default (`DNI_WASM_MEMORY_MB=abc` once fell back to the TypeScript kernels, which round
 * differently). Unset or empty: the default.
 *
 * | variable | what | values |
 * |---|---|---|
 * | `DNI_BACKEND` | the kernels {@link autoBackend} picks | `typescript`, `wasm`, `wasm-fma` |
 * | `DNI_WASM_MEMORY_MB` | a WebAssembly backend's memory | an integer, 1 … 4095 (default 1024) |
 * | `DNI_MAX_*_BYTES` | read and allocation limits (lib/io/limits.ts) | an integer >= 0 |
 * | `DNI_WORKER_BUNDLE` | in the repository: threads start on a bundle (workerBundle.ts) or through tsx | `on` (default), `off` |
 */
import { EnvironmentError } from '../errors.ts';

/** `name`'s value when set and not empty. */
function raw(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** One of `allowed`, or undefined when unset. */
export function envChoice<T extends string>(name: string, allowed: readonly T[]): T | undefined {
  const v = raw(name);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw new EnvironmentError(name, v, `one of ${allowed.join(', ')}`);
  return v as T;
}

/** A decimal integer in [min, max] (`what` describes it in the error), or undefined when unset. */
export function envInteger(name: string, min: number, max: number, what = `an integer from ${min} to ${max}`): number | undefined {
  const v = raw(name);
  if (v === undefined) return undefined;
  const n = Number(v.trim());
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) throw new EnvironmentError(name, v, what);
  return n;
}

export const BACKEND_NAMES = ['typescript', 'wasm', 'wasm-fma'] as const;
/** The largest WebAssembly memory (MiB) a backend takes: 32-bit addresses, less a guard. */
export const MAX_WASM_MEMORY_MIB = 4095;

/** `DNI_BACKEND`: the backend asked for, or undefined. */
export const backendFromEnv = (): (typeof BACKEND_NAMES)[number] | undefined => envChoice('DNI_BACKEND', BACKEND_NAMES);

/** `DNI_WASM_MEMORY_MB`: a WebAssembly backend's memory in MiB (default 1024). */
export const wasmMemoryFromEnv = (): number =>
  envInteger('DNI_WASM_MEMORY_MB', 1, MAX_WASM_MEMORY_MIB, `a whole number of MiB from 1 to ${MAX_WASM_MEMORY_MIB}`) ?? 1024;

/** `DNI_MAX_…_BYTES`: a limit in bytes (lib/io/limits.ts), or undefined when unset. */
export const bytesFromEnv = (name: string): number | undefined =>
  envInteger(name, 0, Number.MAX_SAFE_INTEGER, 'a number of bytes (an integer >= 0)');

/** `DNI_WORKER_BUNDLE`: whether the repository's worker threads start on a bundle (actors/stage/workerBundle.ts; default on). */
export const workerBundleFromEnv = (): boolean => envChoice('DNI_WORKER_BUNDLE', ['on', 'off']) !== 'off';

/**
 * Check every variable the library reads at once (a command line calls it first, so a typo is
 * one line and exit code 2, not a failure halfway or a silent default).
 *
 * @example
 * try { checkEnvironment(); } catch (e) { if (e instanceof EnvironmentError) { console.error(e.message); process.exit(2); } throw e; }
 */
export function checkEnvironment(): void {
  backendFromEnv();
  wasmMemoryFromEnv();
  workerBundleFromEnv();
  for (const name of Object.keys(process.env)) if (/^DNI_MAX_\w+_BYTES$/.test(name)) bytesFromEnv(name);
}
