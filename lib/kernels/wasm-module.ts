/**
 * The compiled WebAssembly kernels (lib/wasm/kernels.as.ts, built to lib/wasm/kernels.wasm and
 * kernels-fma.wasm): what they export, the engine probes (SIMD, relaxed SIMD), compiling and
 * instantiating them on a memory, and the load-time checks that a build fuses its madds or not.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { MAX_WASM_MEMORY_MIB } from '../io/environment.ts';

export interface Exports {
  maddProbe(a: number, b: number, c: number): number;
  scratchFloats(): number;
  init(scratch: number): void;
  heapBase(): number;
  matmul(pa: number, pb: number, pc: number, m: number, k: number, n: number, alpha: number, beta: number): void;
  matmulTA(pa: number, pb: number, pc: number, m: number, k: number, n: number, alpha: number, beta: number): void;
  matmulTB(pa: number, pb: number, pc: number, m: number, k: number, n: number, alpha: number, beta: number): void;
  addRowVector(pm: number, pv: number, rows: number, cols: number): void;
  meanRows(pm: number, pout: number, rows: number, cols: number, alpha: number, beta: number): void;
  activate(kind: number, p: number, len: number): number;
  activationGrad(kind: number, ph: number, pg: number, pout: number, len: number): void;
  subtract(pa: number, pb: number, pout: number, len: number): void;
  squaredDistance(pa: number, pb: number, len: number): number;
  sum(p: number, len: number): number;
  adamStep(pp: number, pg: number, pm: number, pv: number, len: number, lr: number, beta1: number, beta2: number, eps: number): void;
  momentumStep(pp: number, pg: number, pv: number, len: number, lr: number, momentum: number): void;
}

/**
 * The part of WebAssembly's JavaScript API used here. Node has the `WebAssembly` global, but
 * TypeScript types it only in the DOM lib, which a Node library should neither need nor impose on
 * the projects that install it.
 */
interface WebAssemblyApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Memory: new (descriptor: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { readonly exports: object };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

const PAGE = 65536;
const DEFAULT_WASM = fileURLToPath(new URL('../wasm/kernels.wasm', import.meta.url));
const DEFAULT_FMA_WASM = fileURLToPath(new URL('../wasm/kernels-fma.wasm', import.meta.url));
const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';
// in the repository (this module is .ts) the .wasm files are built by `npm ci`; the npm package ships them
const MISSING_BUILD_ADVICE = import.meta.url.endsWith('.ts')
  ? 'run `npm run build:wasm`'
  : 'this installation of dni-actors is incomplete (its package ships the .wasm files): reinstall it';

// `() -> v128 { f32x4.add(i8x16.splat(0), i8x16.splat(0)) }`: validates only where wasm SIMD exists.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 0, 253, 15, 65, 0, 253, 15, 253, 228, 1, 11,
]);

// `() -> v128 { f32x4.relaxed_madd(i8x16.splat(0) ×3) }`: validates only where relaxed SIMD is on.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65, 0, 253, 15, 253,
  133, 2, 11,
]);

/**
 * Turn relaxed SIMD on in V8 (Node 20 ships it behind a flag; later versions have it on). The flag
 * is process-wide and must be set before a module that uses it is compiled; setting it again (in a
 * worker) is harmless. Returns whether the engine now validates a relaxed_madd.
 */
function enableRelaxedSimd(): boolean {
  if (WebAssembly.validate(RELAXED_PROBE)) return true;
  try {
    setFlagsFromString(RELAXED_SIMD_FLAG);
  } catch {
    return false;
  }
  return WebAssembly.validate(RELAXED_PROBE);
}

/** a = b = 1 + 2⁻²³, c = -(1 + 2⁻²²): a·b + c is 2⁻⁴⁶ exactly when fused, 0 when a·b is rounded first. */
const FUSE_A = 1 + 2 ** -23,
  FUSE_C = -(1 + 2 ** -22),
  FUSED = 2 ** -46;

function compileKernels(name: string, path: string): object {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new Error(`${name} backend: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? err}); ${MISSING_BUILD_ADVICE}`);
  }
  return new WebAssembly.Module(bytes);
}

/**
 * The kernels compiled (or taken as compiled) and instantiated on a new memory of `mib` MiB that
 * never grows; throws, saying why, when the engine lacks SIMD (relaxed SIMD for `fma`), the file is
 * missing, or the build is not the one asked for (fused madds in the fma build, plain ones otherwise).
 */
export function instantiateKernels(
  name: string,
  fma: boolean,
  mib: number,
  wasmPath?: string,
  compiled?: object,
): { wasm: Exports; buffer: ArrayBuffer; module: object; path: string } {
  const path = wasmPath ?? (fma ? DEFAULT_FMA_WASM : DEFAULT_WASM);
  if (!Number.isInteger(mib) || mib < 1 || mib > MAX_WASM_MEMORY_MIB)
    throw new RangeError(`${name} backend: memory of ${mib} MiB (must be 1..${MAX_WASM_MEMORY_MIB})`);
  if (!WebAssembly.validate(SIMD_PROBE)) throw new Error(`${name} backend: this engine has no WebAssembly SIMD`);
  if (fma && !enableRelaxedSimd()) throw new Error(`${name} backend: this engine has no relaxed SIMD (even with ${RELAXED_SIMD_FLAG})`);
  const module = compiled ?? compileKernels(name, path);
  const pages = (mib * 1024 * 1024) / PAGE;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const wasm = instance.exports as unknown as Exports;
  // the build must be the one asked for: fused madds in the fma build, plain ones in the other
  const probe = wasm.maddProbe(FUSE_A, FUSE_A, FUSE_C);
  if (fma ? probe !== FUSED : probe !== 0) {
    throw new Error(
      `${name} backend: ${path} computes a·b + c = ${probe}, expected ${fma ? FUSED : 0} ` +
        `(${fma ? 'the madd does not fuse on this engine or CPU' : 'a relaxed-SIMD build?'})`,
    );
  }
  // the memory never grows, so this buffer (and every view on it) stays valid for good
  return { wasm, buffer: memory.buffer, module, path };
}

/**
 * Throws unless the GEMM tiles themselves fuse (both shapes of inner loop: register tiles, dot
 * products), using the 64 floats at byte offset `at` as scratch: a two-term sum a0·b0 + a1·b1
 * whose second product only a fused madd keeps.
 */
export function checkGemmsFuse(name: string, path: string, wasm: Exports, heap: Float32Array, at: number): void {
  const f = at >> 2;
  heap.fill(0, f, f + 64);
  heap.set([FUSE_C, FUSE_A], f); // A 1×2
  heap.fill(1, f + 16, f + 24); // B 2×8: a row of ones, a row of FUSE_A
  heap.fill(FUSE_A, f + 24, f + 32);
  wasm.matmul(at, at + 64, at + 192, 1, 2, 8, 1, 0);
  const tiles = Array.from(heap.subarray(f + 48, f + 56));
  heap.fill(0, f, f + 64);
  heap[f] = FUSE_C; // A 1×8
  heap[f + 4] = FUSE_A;
  for (let j = 0; j < 4; j++) heap.set([1, 0, 0, 0, FUSE_A], f + 16 + 8 * j); // B 4×8
  wasm.matmulTB(at, at + 64, at + 192, 1, 8, 4, 1, 0);
  const dots = Array.from(heap.subarray(f + 48, f + 52));
  if (![...tiles, ...dots].every((x) => x === FUSED)) {
    throw new Error(
      `${name} backend: the GEMMs in ${path} do not fuse their multiply-adds (got ${[...tiles, ...dots].join(', ')}, expected ${FUSED})`,
    );
  }
}
