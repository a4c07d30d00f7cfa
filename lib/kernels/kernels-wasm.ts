/**
 * The WebAssembly SIMD kernel backends (kernels in `lib/wasm/kernels.as.ts`, built on install by
 * `scripts/build-wasm.mjs` to `lib/wasm/kernels.wasm` and, with relaxed SIMD, `kernels-fma.wasm`).
 *
 * Two backends share all of the code below and differ only in the module they compile: `wasm`
 * (every multiply-add an f32x4.mul and an f32x4.add) and `wasm-fma`, whose GEMM inner loops use
 * f32x4.relaxed_madd (one FMA instruction, one rounding: ~1.15-1.25x the GEMM throughput here). Node 20
 * keeps relaxed SIMD behind `--experimental-wasm-relaxed-simd`; `wasm-fma` sets that V8 flag at run
 * time (process-wide, so worker threads see it too) and, once compiled, checks that the madd really
 * fuses, in the probe and in a GEMM, or refuses to load. Fused and unfused results differ in the
 * last bits: a training must use one backend throughout (the worker scheduler passes the name on).
 *
 * Storage lives in one WebAssembly memory that never grows: growing would detach every
 * Float32Array already handed out (a grown memory gets a new ArrayBuffer), so the memory is reserved
 * once at its full size (1 GiB by default; untouched pages cost no RAM) and `alloc` carves it with a
 * free list. When it is full, `alloc` throws and says how much was asked for and how much is free.
 * Matrices allocated here are used by the kernels in place, with no copies; operands from anywhere
 * else (a plain Float32Array, a subarray of a data set) are copied into a scratch region for the
 * call, and an output outside is copied back.
 *
 * Never post a Float32Array from `alloc` to a worker as it is: structured clone copies its whole
 * ArrayBuffer, which is the entire wasm memory (and listing it for transfer throws: a wasm memory's
 * buffer cannot be detached). Copy it out (`slice()`) and transfer the copy.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import type { Activation } from '../activations.ts';
import { MAX_WASM_MEMORY_MIB, backendFromEnv, wasmMemoryFromEnv } from '../io/environment.ts';
import type { KernelBackend } from './kernels.ts';
import { checkSameLength, typescriptBackend } from './kernels-typescript.ts';
import type { Matrix } from '../matrix.ts';

/** The WebAssembly backend: a KernelBackend plus its memory and allocator. */
export interface WasmKernelBackend extends KernelBackend {
  /** Give an array from `alloc` back (the array must not be used afterwards). */
  free(data: Float32Array): void;
  /** Whether `data` is a view into this backend's memory (so kernels use it without copying). */
  owns(data: Float32Array): boolean;
  /** SIMD optimiser steps on arrays in its memory (others take the TypeScript loops). */
  adamStep: NonNullable<KernelBackend['adamStep']>;
  momentumStep: NonNullable<KernelBackend['momentumStep']>;
  /**
   * Bytes reserved, in use, and free (the largest free block bounds one allocation); of those in
   * use, `ownBytes` are the backend's own (the kernels' scratch, the staging of operands that live
   * outside the memory), the rest are what `alloc` handed out and was not given back.
   */
  usage(): { reservedBytes: number; usedBytes: number; ownBytes: number; freeBytes: number; largestFreeBytes: number };
  /** The compiled kernels (a `WebAssembly.Module`): post it to a thread, which then skips compiling ({@link WasmBackendOptions.module}). */
  readonly module: object;
}

export interface WasmBackendOptions {
  /** Size of the (never growing) memory in MiB; default 1024, or `DNI_WASM_MEMORY_MB`. */
  memoryMiB?: number;
  /**
   * Fused multiply-adds in the GEMMs (relaxed SIMD): the `wasm-fma` backend, from
   * lib/wasm/kernels-fma.wasm. Throws when the engine cannot run it or the madd does not fuse.
   */
  fma?: boolean;
  /** Path of the compiled kernels; default lib/wasm/kernels.wasm (kernels-fma.wasm with `fma`). */
  wasmPath?: string;
  /**
   * The kernels already compiled (a `WebAssembly.Module`, e.g. another thread's backend's
   * `module`, posted here): used as it is, so a worker thread neither reads nor compiles the file.
   */
  module?: object;
}

interface Exports {
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

const KIND: Record<Activation, number> = { sigmoid: 0, tanh: 1, relu: 2, linear: 3 };
const ALIGN = 64; // bytes: a cache line, and 16-byte v128 alignment for every allocation
const GUARD = 64; // bytes left unused at the top: vector tails may read up to 12 bytes past an operand
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
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 0, 253, 15, 65, 0, 253, 15, 253,
  228, 1, 11,
]);

// `() -> v128 { f32x4.relaxed_madd(i8x16.splat(0) ×3) }`: validates only where relaxed SIMD is on.
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 15, 65, 0, 253, 15, 65,
  0, 253, 15, 253, 133, 2, 11,
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
const FUSE_A = 1 + 2 ** -23, FUSE_C = -(1 + 2 ** -22), FUSED = 2 ** -46;

/**
 * First-fit free list over [start, end) of the memory, in ALIGN-byte units. Blocks are kept sorted
 * by offset and merged with their neighbours on free, so a training that allocates once and frees at
 * the end never fragments.
 */
class FreeList {
  private readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  private readonly live = new Map<number, { bytes: number; length: number }>();
  used = 0;

  constructor(start: number, private readonly end: number) {
    this.starts.push(start);
    this.sizes.push(end - start);
  }

  alloc(bytes: number, length: number): number {
    const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.starts.length; i++) {
      if (this.sizes[i] < need) continue;
      const at = this.starts[i];
      if (this.sizes[i] === need) {
        this.starts.splice(i, 1);
        this.sizes.splice(i, 1);
      } else {
        this.starts[i] += need;
        this.sizes[i] -= need;
      }
      this.live.set(at, { bytes: need, length });
      this.used += need;
      return at;
    }
    return -1;
  }

  /** Size in bytes of the live block at `at` of `length` floats, or -1 when there is none. */
  release(at: number, length: number): number {
    const block = this.live.get(at);
    if (!block || block.length !== length) return -1;
    this.live.delete(at);
    this.used -= block.bytes;
    // binary search for the first free block after `at`, then merge with both neighbours
    let lo = 0, hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    let start = at, size = block.bytes;
    if (lo < this.starts.length && at + size === this.starts[lo]) {
      size += this.sizes[lo];
      this.starts.splice(lo, 1);
      this.sizes.splice(lo, 1);
    }
    if (lo > 0 && this.starts[lo - 1] + this.sizes[lo - 1] === start) {
      lo--;
      start = this.starts[lo];
      size += this.sizes[lo];
      this.starts.splice(lo, 1);
      this.sizes.splice(lo, 1);
    }
    this.starts.splice(lo, 0, start);
    this.sizes.splice(lo, 0, size);
    return block.bytes;
  }

  free(): { freeBytes: number; largestFreeBytes: number } {
    let freeBytes = 0, largestFreeBytes = 0;
    for (const s of this.sizes) {
      freeBytes += s;
      largestFreeBytes = Math.max(largestFreeBytes, s);
    }
    return { freeBytes, largestFreeBytes };
  }

  get capacity(): number {
    return this.end;
  }
}

function checkGemm(op: string, m: number, k: number, k2: number, n: number, out: Matrix): void {
  if (k !== k2 || out.rows !== m || out.cols !== n) {
    throw new RangeError(`${op}: inner sizes ${k} and ${k2} with output ${out.rows}x${out.cols} (expected ${m}x${n})`);
  }
}

function checkLength(op: string, name: string, x: Matrix): void {
  if (x.data.length < x.rows * x.cols) {
    throw new RangeError(`${op}: ${name} is ${x.rows}x${x.cols} but holds only ${x.data.length} values`);
  }
}

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
 * A new WebAssembly backend with its own memory, or throws with the reason it cannot be built
 * (missing .wasm, no SIMD, memory not available). Most code wants {@link wasmBackend} instead.
 *
 * @example
 * const wasm = createWasmBackend({ memoryMiB: 64 });
 * const a = { rows: 2, cols: 2, data: wasm.alloc(4) };
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmKernelBackend {
  const fma = options.fma ?? false;
  const name = fma ? 'wasm-fma' : 'wasm';
  const path = options.wasmPath ?? (fma ? DEFAULT_FMA_WASM : DEFAULT_WASM);
  const mib = options.memoryMiB ?? wasmMemoryFromEnv();
  if (!Number.isInteger(mib) || mib < 1 || mib > MAX_WASM_MEMORY_MIB) throw new RangeError(`${name} backend: memory of ${mib} MiB (must be 1..${MAX_WASM_MEMORY_MIB})`);
  if (!WebAssembly.validate(SIMD_PROBE)) throw new Error(`${name} backend: this engine has no WebAssembly SIMD`);
  if (fma && !enableRelaxedSimd()) throw new Error(`${name} backend: this engine has no relaxed SIMD (even with ${RELAXED_SIMD_FLAG})`);
  const module = options.module ?? compileKernels(name, path);
  const pages = (mib * 1024 * 1024) / PAGE;
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const wasm = instance.exports as unknown as Exports;
  // the build must be the one asked for: fused madds in the fma build, plain ones in the other
  const probe = wasm.maddProbe(FUSE_A, FUSE_A, FUSE_C);
  if (fma ? probe !== FUSED : probe !== 0) {
    throw new Error(`${name} backend: ${path} computes a·b + c = ${probe}, expected ${fma ? FUSED : 0} (${fma ? 'the madd does not fuse on this engine or CPU' : 'a relaxed-SIMD build?'})`);
  }

  // the memory never grows, so this buffer (and every view on it) stays valid for good
  const buffer = memory.buffer;
  const heap = new Float32Array(buffer);
  const base = Math.ceil(wasm.heapBase() / ALIGN) * ALIGN;
  const arena = new FreeList(base, buffer.byteLength - GUARD);

  const reserve = (length: number, what: string): number => {
    const at = arena.alloc(length * 4, length);
    if (at < 0) {
      const { freeBytes, largestFreeBytes } = arena.free();
      throw new RangeError(
        `${name} backend: out of memory ${what}: ${length} floats (${length * 4} bytes) requested, ` +
          `${arena.used} of ${arena.capacity} bytes in use, ${freeBytes} free, largest free block ${largestFreeBytes}; ` +
          `free() matrices you no longer need or raise DNI_WASM_MEMORY_MB`,
      );
    }
    return at;
  };

  const scratchFloats = wasm.scratchFloats();
  wasm.init(reserve(scratchFloats, 'for the kernel scratch'));
  const scratchBytes = arena.used;
  if (fma) {
    // the GEMM tiles themselves must fuse (both shapes of inner loop: register tiles, dot products):
    // a two-term sum a0·b0 + a1·b1 whose second product only a fused madd keeps
    const at = reserve(64, 'for the load-time check'), f = at >> 2;
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
    arena.release(at, 64);
    if (![...tiles, ...dots].every((x) => x === FUSED)) {
      throw new Error(`${name} backend: the GEMMs in ${path} do not fuse their multiply-adds (got ${[...tiles, ...dots].join(', ')}, expected ${FUSED})`);
    }
  }

  // staging for operands outside the memory; grows on demand and is reused across calls, except
  // that a stage above STAGE_KEEP floats is given back after its call (see copyBack)
  const STAGE_KEEP = 1 << 22;
  let stage = -1, stageFloats = 0, stageUsed = 0;
  const stageBytes = (): number => (stage < 0 ? 0 : Math.max(ALIGN, Math.ceil((stageFloats * 4) / ALIGN) * ALIGN));
  const stageReset = (floats: number): void => {
    if (floats > stageFloats) {
      const want = Math.max(floats, stageFloats * 2, 4096);
      if (stage >= 0) arena.release(stage, stageFloats);
      stage = -1;
      stageFloats = 0;
      stage = reserve(want, 'to stage operands that live outside it');
      stageFloats = want;
    }
    stageUsed = 0;
  };
  /** Byte offset of `x`'s first `len` floats in the memory, staging a copy when it lives elsewhere. */
  const place = (x: Float32Array, len: number, copyIn: boolean): number => {
    if (x.buffer === buffer) return x.byteOffset;
    const at = stage + stageUsed * 4;
    if (copyIn) heap.set(len === x.length ? x : x.subarray(0, len), at >> 2);
    stageUsed += Math.ceil(len / 16) * 16;
    return at;
  };
  const outside = (x: Float32Array, len: number): number => (x.buffer === buffer ? 0 : Math.ceil(len / 16) * 16);
  /** After a staged call: copy an output that lives elsewhere back, and give a huge stage back. */
  const copyBack = (x: Float32Array, at: number, len: number): void => {
    if (x.buffer !== buffer) x.set(heap.subarray(at >> 2, (at >> 2) + len));
    if (stageFloats > STAGE_KEEP) {
      arena.release(stage, stageFloats);
      stage = -1;
      stageFloats = 0;
    }
  };

  type Gemm = 'matmul' | 'matmulTA' | 'matmulTB';
  const gemm = (op: Gemm, a: Matrix, b: Matrix, out: Matrix, m: number, k: number, n: number, alpha: number, beta: number): Matrix => {
    checkLength(op, 'A', a);
    checkLength(op, 'B', b);
    checkLength(op, 'out', out);
    const la = a.rows * a.cols, lb = b.rows * b.cols, lc = m * n;
    const A = a.data, B = b.data, C = out.data;
    if (A.buffer === buffer && B.buffer === buffer && C.buffer === buffer) {
      wasm[op](A.byteOffset, B.byteOffset, C.byteOffset, m, k, n, alpha, beta);
      return out;
    }
    stageReset(outside(A, la) + outside(B, lb) + outside(C, lc));
    const pa = place(A, la, true), pb = place(B, lb, true), pc = place(C, lc, beta !== 0);
    wasm[op](pa, pb, pc, m, k, n, alpha, beta);
    copyBack(C, pc, lc);
    return out;
  };

  const backend: WasmKernelBackend = {
    name,
    module,

    alloc(length) {
      if (!Number.isInteger(length) || length < 0) throw new RangeError(`${name} backend: alloc(${length})`);
      if (length === 0) return new Float32Array(buffer, base, 0);
      const at = reserve(length, 'in alloc');
      const data = new Float32Array(buffer, at, length);
      data.fill(0); // a recycled block holds old values
      return data;
    },

    free(data) {
      if (data.length === 0 && data.buffer === buffer) return;
      if (data.buffer !== buffer || arena.release(data.byteOffset, data.length) < 0) {
        throw new RangeError(`${name} backend: free() of ${data.length} floats that alloc() did not return (or freed twice)`);
      }
    },

    owns: (data) => data.buffer === buffer,

    usage() {
      return { reservedBytes: buffer.byteLength, usedBytes: arena.used, ownBytes: scratchBytes + stageBytes(), ...arena.free() };
    },

    matmul(a, b, out, alpha = 1, beta = 0) {
      checkGemm('matmul', a.rows, a.cols, b.rows, b.cols, out);
      return gemm('matmul', a, b, out, a.rows, a.cols, b.cols, alpha, beta);
    },

    matmulTA(a, b, out, alpha = 1, beta = 0) {
      checkGemm('matmulTA', a.cols, a.rows, b.rows, b.cols, out);
      return gemm('matmulTA', a, b, out, a.cols, a.rows, b.cols, alpha, beta);
    },

    matmulTB(a, b, out, alpha = 1, beta = 0) {
      checkGemm('matmulTB', a.rows, a.cols, b.cols, b.rows, out);
      return gemm('matmulTB', a, b, out, a.rows, a.cols, b.rows, alpha, beta);
    },

    addRowVector(m, v) {
      if (v.data.length !== m.cols) throw new RangeError(`addRowVector: vector of ${v.data.length} for ${m.cols} columns`);
      checkLength('addRowVector', 'm', m);
      const M = m.data, V = v.data, len = m.rows * m.cols;
      if (M.buffer === buffer && V.buffer === buffer) {
        wasm.addRowVector(M.byteOffset, V.byteOffset, m.rows, m.cols);
        return m;
      }
      stageReset(outside(M, len) + outside(V, m.cols));
      const pm = place(M, len, true), pv = place(V, m.cols, true);
      wasm.addRowVector(pm, pv, m.rows, m.cols);
      copyBack(M, pm, len);
      return m;
    },

    meanRows(m, out, alpha = 1, beta = 0) {
      if (out.data.length !== m.cols) throw new RangeError(`meanRows: output of ${out.data.length} for ${m.cols} columns`);
      checkLength('meanRows', 'm', m);
      const M = m.data, O = out.data, len = m.rows * m.cols;
      if (M.buffer === buffer && O.buffer === buffer) {
        wasm.meanRows(M.byteOffset, O.byteOffset, m.rows, m.cols, alpha, beta);
        return out;
      }
      stageReset(outside(M, len) + outside(O, m.cols));
      const pm = place(M, len, true), po = place(O, m.cols, beta !== 0);
      wasm.meanRows(pm, po, m.rows, m.cols, alpha, beta);
      copyBack(O, po, m.cols);
      return out;
    },

    activate(kind, z) {
      const code = KIND[kind];
      if (code === undefined) throw new RangeError(`activate: unknown activation ${String(kind)}`);
      const Z = z.data, len = Z.length;
      if (Z.buffer === buffer) return wasm.activate(code, Z.byteOffset, len);
      stageReset(outside(Z, len));
      const pz = place(Z, len, true);
      const sum = wasm.activate(code, pz, len);
      copyBack(Z, pz, len);
      return sum;
    },

    activationGrad(kind, h, g, out) {
      const code = KIND[kind];
      if (code === undefined) throw new RangeError(`activationGrad: unknown activation ${String(kind)}`);
      const H = h.data, G = g.data, O = out.data, len = H.length;
      if (G.length < len || O.length < len) {
        throw new RangeError(`activationGrad: h has ${len} values, g ${G.length}, out ${O.length}`);
      }
      if (kind === 'linear') {
        if (O !== G) O.set(G.length === len ? G : G.subarray(0, len));
        return out;
      }
      if (H.buffer === buffer && G.buffer === buffer && O.buffer === buffer) {
        wasm.activationGrad(code, H.byteOffset, G.byteOffset, O.byteOffset, len);
        return out;
      }
      stageReset(outside(H, len) + outside(G, len) + outside(O, len));
      const ph = place(H, len, true), pg = place(G, len, true), po = O === G ? pg : place(O, len, false);
      wasm.activationGrad(code, ph, pg, po, len);
      copyBack(O, po, len);
      return out;
    },

    // element-wise passes: arrays outside the memory take the TypeScript loop (one pass, no copies)
    subtract(a, b, out) {
      const A = a.data, B = b.data, O = out.data;
      checkSameLength('subtract', A, B, O);
      if (A.buffer !== buffer || B.buffer !== buffer || O.buffer !== buffer) return typescriptBackend.subtract(a, b, out);
      wasm.subtract(A.byteOffset, B.byteOffset, O.byteOffset, O.length);
      return out;
    },

    squaredDistance(a, b) {
      const A = a.data, B = b.data;
      checkSameLength('squaredDistance', A, B);
      if (A.buffer !== buffer || B.buffer !== buffer) return typescriptBackend.squaredDistance(a, b);
      return wasm.squaredDistance(A.byteOffset, B.byteOffset, A.length);
    },

    sum(m) {
      const M = m.data;
      return M.buffer === buffer ? wasm.sum(M.byteOffset, M.length) : typescriptBackend.sum(m);
    },

    // optimiser state lives where its parameters do: arrays outside the memory take the TypeScript
    // loop rather than four copies in and three back
    adamStep(p, g, m, v, lr, beta1, beta2, eps) {
      checkSameLength('adamStep', p, g, m, v);
      if (p.buffer !== buffer || g.buffer !== buffer || m.buffer !== buffer || v.buffer !== buffer) {
        return typescriptBackend.adamStep!(p, g, m, v, lr, beta1, beta2, eps);
      }
      wasm.adamStep(p.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, p.length, lr, beta1, beta2, eps);
    },

    momentumStep(p, g, v, lr, momentum) {
      checkSameLength('momentumStep', p, g, v);
      if (p.buffer !== buffer || g.buffer !== buffer || v.buffer !== buffer) return typescriptBackend.momentumStep!(p, g, v, lr, momentum);
      wasm.momentumStep(p.byteOffset, g.byteOffset, v.byteOffset, p.length, lr, momentum);
    },
  };
  return backend;
}

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

/** Build this thread's process-wide WebAssembly backends from these compiled kernels (from {@link wasmModules}) when they are first used. */
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
