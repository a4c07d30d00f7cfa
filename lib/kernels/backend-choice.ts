/**
 * Which kernel backend this process uses: the process-wide WebAssembly backends (built on first
 * use, from kernels another thread compiled when it posted them), by name, or the fastest that loads.
 */
import { backendFromEnv, wasmMemoryFromEnv } from '../io/environment.ts';
import type { KernelBackend } from './kernels.ts';
import { typescriptBackend } from './kernels-typescript.ts';
import { type WasmKernelBackend, createWasmBackend } from './kernels-wasm.ts';

type WasmName = 'wasm' | 'wasm-fma';
const built: Record<WasmName, { backend?: WasmKernelBackend | null; reason?: string }> = { wasm: {}, 'wasm-fma': {} };

/** Kernels compiled elsewhere, for the process-wide backends not built yet ({@link adoptWasmModules}). */
const adopted: Partial<Record<WasmName, object>> = {};

/**
 * The compiled kernels of every WebAssembly backend this thread has built, by name: what a thread
 * that starts worker threads posts to them ({@link adoptWasmModules}), so they do not compile again.
 */
export function wasmModules(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const name of ['wasm', 'wasm-fma'] as const) if (built[name].backend) out[name] = built[name].backend!.module;
  return out;
}

/**
 * Build this thread's process-wide WebAssembly backends from these compiled kernels (from {@link wasmModules}) when they are first used.
 */
export function adoptWasmModules(modules: Record<string, object>): void {
  for (const name of ['wasm', 'wasm-fma'] as const) if (modules[name] && built[name].backend === undefined) adopted[name] = modules[name];
}

function lazily(name: WasmName): WasmKernelBackend | null {
  const slot = built[name];
  if (slot.backend === undefined) {
    // a memory size that cannot be used is refused (an EnvironmentError), not a reason to fall back to other kernels
    const memoryMiB = wasmMemoryFromEnv();
    try {
      slot.backend = createWasmBackend({ fma: name === 'wasm-fma', memoryMiB, module: adopted[name] });
    } catch (err) {
      slot.backend = null;
      slot.reason = (err as Error).message;
    }
  }
  return slot.backend;
}

/**
 * The process-wide WebAssembly backend (built on first use, synchronously), or null when it cannot
 * run here; {@link wasmUnavailableReason} then says why.
 *
 * @example
 * useBackend(wasmBackend() ?? typescriptBackend);
 */
export function wasmBackend(): WasmKernelBackend | null {
  return lazily('wasm');
}

/** Why {@link wasmBackend} returned null (undefined when it did not). */
export function wasmUnavailableReason(): string | undefined {
  wasmBackend();
  return built.wasm.reason;
}

/**
 * The process-wide WebAssembly backend with fused multiply-adds in its GEMMs (`wasm-fma`: relaxed
 * SIMD, which it switches on in V8), or null when it cannot run here or its madd does not fuse;
 * {@link wasmFmaUnavailableReason} then says why. Its own memory: matrices from one wasm backend
 * are copied in and out by the other, so build a training on one backend throughout.
 *
 * @example
 * useBackend(wasmFmaBackend() ?? wasmBackend() ?? typescriptBackend);
 */
export function wasmFmaBackend(): WasmKernelBackend | null {
  return lazily('wasm-fma');
}

/** Why {@link wasmFmaBackend} returned null (undefined when it did not). */
export function wasmFmaUnavailableReason(): string | undefined {
  wasmFmaBackend();
  return built['wasm-fma'].reason;
}

/**
 * The backend called `name` (`typescript`, `wasm` or `wasm-fma`), built on first use; throws when
 * it cannot load here, saying why, or when there is no such backend. Worker threads use it to run
 * the backend their trainer named.
 */
export function backendByName(name: string): KernelBackend {
  if (name === typescriptBackend.name) return typescriptBackend;
  if (name === 'wasm' || name === 'wasm-fma') {
    const b = lazily(name);
    if (!b) throw new Error(`the ${name} backend is unavailable: ${built[name].reason}`);
    return b;
  }
  throw new RangeError(`unknown kernel backend '${name}': expected typescript, wasm or wasm-fma`);
}

/**
 * The fastest backend available: wasm-fma when it loads and fuses, else wasm, else typescript.
 * `DNI_BACKEND=typescript|wasm|wasm-fma` overrides the choice (a wasm one throws when it cannot load
 * rather than falling back quietly). Falling back from wasm-fma is said once per process, on stderr
 * as a Node warning (`DNI_BACKEND_FALLBACK`) with the reason; an explicit choice is silent. It only
 * picks: pass the result to `useBackend` before building a training.
 *
 * @example
 * useBackend(autoBackend());
 */
export function autoBackend(): KernelBackend {
  const wanted = backendFromEnv();
  if (wanted !== undefined) {
    try {
      return backendByName(wanted);
    } catch (err) {
      throw new Error(`DNI_BACKEND=${wanted} but ${(err as Error).message}`);
    }
  }
  const chosen = wasmFmaBackend() ?? wasmBackend() ?? typescriptBackend;
  const warning = fallbackWarning(built['wasm-fma'].reason, built.wasm.reason);
  if (warning !== undefined && !warned) {
    warned = true;
    process.emitWarning(warning, { type: 'DniActorsWarning', code: 'DNI_BACKEND_FALLBACK' });
  }
  return chosen;
}

let warned = false;

/**
 * What {@link autoBackend} says on stderr (once per process, as a Node warning) when it cannot
 * pick wasm-fma, given why wasm-fma and wasm failed to load; undefined when wasm-fma loaded.
 * Choosing a backend explicitly (`DNI_BACKEND`, `useBackend`) is silent.
 */
export function fallbackWarning(fmaReason: string | undefined, wasmReason: string | undefined): string | undefined {
  if (fmaReason === undefined) return undefined;
  if (wasmReason === undefined) {
    return `dni-actors: using the wasm kernels, not wasm-fma (${fmaReason}). Set DNI_BACKEND=wasm to choose them and silence this.`;
  }
  return (
    `dni-actors: using the TypeScript kernels, several times slower: no WebAssembly kernels load here ` +
    `(${fmaReason}; ${wasmReason}). Set DNI_BACKEND=typescript to choose them and silence this.`
  );
}
