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
import type { Activation } from '../activations.ts';
import { wasmMemoryFromEnv } from '../io/environment.ts';
import type { KernelBackend } from './kernels.ts';
import { checkSameLength, typescriptBackend } from './kernels-typescript.ts';
import type { Matrix } from '../matrix.ts';
import { ALIGN, FreeList } from './wasm-arena.ts';
import { type Exports, checkGemmsFuse, instantiateKernels } from './wasm-module.ts';

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

const KIND: Record<Activation, number> = { sigmoid: 0, tanh: 1, relu: 2, linear: 3 };
const GUARD = 64; // bytes left unused at the top: vector tails may read up to 12 bytes past an operand

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

/**
 * `reserve(length, what)`: a block of `length` floats from the arena, or a RangeError that says how much was asked for and how much is
 * free.
 */
function reserveIn(name: string, arena: FreeList): (length: number, what: string) => number {
  return (length, what) => {
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
}

/**
 * Staging for operands outside the memory; grows on demand and is reused across calls, except
 * that a stage above STAGE_KEEP floats is given back after its call (see copyBack).
 */
function createStaging(arena: FreeList, reserve: (length: number, what: string) => number, buffer: ArrayBuffer, heap: Float32Array) {
  const STAGE_KEEP = 1 << 22;
  let stage = -1,
    stageFloats = 0,
    stageUsed = 0;
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
  return { stageBytes, stageReset, place, outside, copyBack };
}

/**
 * A new WebAssembly backend with its own memory, or throws with the reason it cannot be built
 * (missing .wasm, no SIMD, memory not available). Most code wants `wasmBackend` (lib/kernels/backend-choice.ts) instead.
 *
 * @example
 * const wasm = createWasmBackend({ memoryMiB: 64 });
 * const a = { rows: 2, cols: 2, data: wasm.alloc(4) };
 */
export function createWasmBackend(options: WasmBackendOptions = {}): WasmKernelBackend {
  const fma = options.fma ?? false;
  const name = fma ? 'wasm-fma' : 'wasm';
  const { wasm, buffer, module, path } = instantiateKernels(
    name,
    fma,
    options.memoryMiB ?? wasmMemoryFromEnv(),
    options.wasmPath,
    options.module,
  );
  const heap = new Float32Array(buffer);
  const base = Math.ceil(wasm.heapBase() / ALIGN) * ALIGN;
  const arena = new FreeList(base, buffer.byteLength - GUARD);
  const reserve = reserveIn(name, arena);

  const scratchFloats = wasm.scratchFloats();
  wasm.init(reserve(scratchFloats, 'for the kernel scratch'));
  const scratchBytes = arena.used;
  if (fma) {
    const at = reserve(64, 'for the load-time check');
    try {
      checkGemmsFuse(name, path, wasm, heap, at);
    } finally {
      arena.release(at, 64);
    }
  }
  const staging = createStaging(arena, reserve, buffer, heap);
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
      return { reservedBytes: buffer.byteLength, usedBytes: arena.used, ownBytes: scratchBytes + staging.stageBytes(), ...arena.free() };
    },

    ...kernelsOn(wasm, buffer, staging),
  };
  return backend;
}

type Staging = ReturnType<typeof createStaging>;

/**
 * The kernels of a backend on `buffer` (its memory): operands in the memory are used in place,
 * others staged in and out (GEMMs, row vectors, activations) or left to the TypeScript loops
 * (element-wise passes, optimiser steps).
 */
function kernelsOn(
  wasm: Exports,
  buffer: ArrayBuffer,
  { stageReset, place, outside, copyBack }: Staging,
): Omit<WasmKernelBackend, 'name' | 'module' | 'alloc' | 'free' | 'owns' | 'usage'> {
  type Gemm = 'matmul' | 'matmulTA' | 'matmulTB';
  const gemm = (op: Gemm, a: Matrix, b: Matrix, out: Matrix, m: number, k: number, n: number, alpha: number, beta: number): Matrix => {
    checkLength(op, 'A', a);
    checkLength(op, 'B', b);
    checkLength(op, 'out', out);
    const la = a.rows * a.cols,
      lb = b.rows * b.cols,
      lc = m * n;
    const A = a.data,
      B = b.data,
      C = out.data;
    if (A.buffer === buffer && B.buffer === buffer && C.buffer === buffer) {
      wasm[op](A.byteOffset, B.byteOffset, C.byteOffset, m, k, n, alpha, beta);
      return out;
    }
    stageReset(outside(A, la) + outside(B, lb) + outside(C, lc));
    const pa = place(A, la, true),
      pb = place(B, lb, true),
      pc = place(C, lc, beta !== 0);
    wasm[op](pa, pb, pc, m, k, n, alpha, beta);
    copyBack(C, pc, lc);
    return out;
  };

  return {
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
      const M = m.data,
        V = v.data,
        len = m.rows * m.cols;
      if (M.buffer === buffer && V.buffer === buffer) {
        wasm.addRowVector(M.byteOffset, V.byteOffset, m.rows, m.cols);
        return m;
      }
      stageReset(outside(M, len) + outside(V, m.cols));
      const pm = place(M, len, true),
        pv = place(V, m.cols, true);
      wasm.addRowVector(pm, pv, m.rows, m.cols);
      copyBack(M, pm, len);
      return m;
    },

    meanRows(m, out, alpha = 1, beta = 0) {
      if (out.data.length !== m.cols) throw new RangeError(`meanRows: output of ${out.data.length} for ${m.cols} columns`);
      checkLength('meanRows', 'm', m);
      const M = m.data,
        O = out.data,
        len = m.rows * m.cols;
      if (M.buffer === buffer && O.buffer === buffer) {
        wasm.meanRows(M.byteOffset, O.byteOffset, m.rows, m.cols, alpha, beta);
        return out;
      }
      stageReset(outside(M, len) + outside(O, m.cols));
      const pm = place(M, len, true),
        po = place(O, m.cols, beta !== 0);
      wasm.meanRows(pm, po, m.rows, m.cols, alpha, beta);
      copyBack(O, po, m.cols);
      return out;
    },

    activate(kind, z) {
      const code = KIND[kind];
      if (code === undefined) throw new RangeError(`activate: unknown activation ${String(kind)}`);
      const Z = z.data,
        len = Z.length;
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
      const H = h.data,
        G = g.data,
        O = out.data,
        len = H.length;
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
      const ph = place(H, len, true),
        pg = place(G, len, true),
        po = O === G ? pg : place(O, len, false);
      wasm.activationGrad(code, ph, pg, po, len);
      copyBack(O, po, len);
      return out;
    },

    // element-wise passes: arrays outside the memory take the TypeScript loop (one pass, no copies)
    subtract(a, b, out) {
      const A = a.data,
        B = b.data,
        O = out.data;
      checkSameLength('subtract', A, B, O);
      if (A.buffer !== buffer || B.buffer !== buffer || O.buffer !== buffer) return typescriptBackend.subtract(a, b, out);
      wasm.subtract(A.byteOffset, B.byteOffset, O.byteOffset, O.length);
      return out;
    },

    squaredDistance(a, b) {
      const A = a.data,
        B = b.data;
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
}
