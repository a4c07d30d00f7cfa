// @ts-nocheck: AssemblyScript (v128, f32, usize, @inline), compiled by scripts/build-wasm.mjs with asc, not by tsc.
/**
 * WebAssembly SIMD kernels behind `lib/kernels/kernels-wasm.ts`. Same semantics as the TypeScript backend in
 * `lib/kernels/kernels.ts`; row-major float32 matrices; every pointer is a byte offset into the memory the
 * host imports (`env.memory`). No allocation here: the host owns the memory and hands over one
 * scratch region (`init`) for packed panels and ragged edges.
 *
 * GEMM: a 4×8 register tile (8 f32x4 accumulators, 2 loads of B and 4 broadcasts of A per step):
 * V8 gives wasm 16 xmm registers, and 4×8 leaves room for the operands without spills. Small
 * problems (the DNI seed: 10 rows) read B in place; tall ones pack KC×NC blocks of B into 8-wide
 * panels first so the inner loop streams contiguous memory. A·Bᵀ with few rows uses dot products
 * along k (both operands contiguous) instead of packing a transposed B it would use only once,
 * except when k is short: then Bᵀ is small, and transposing it once feeds the register tiles.
 * The GEMM multiply-adds go through `madd`, chosen when the module is compiled: this source builds
 * twice (scripts/build-wasm.mjs). kernels.wasm uses an f32x4.mul and an f32x4.add (Node 20 has no
 * relaxed SIMD by default, and two instructions per four multiply-adds is what bounds it, ~12 flops
 * per cycle here); kernels-fma.wasm is built with `--enable relaxed-simd` and uses
 * f32x4.relaxed_madd, which V8 compiles to one FMA where the CPU has FMA3 (one rounding instead of
 * two; the host checks at load time that it really fuses). Everything else is the same code in
 * both builds: activations, row vectors and optimiser steps never fuse.
 *
 * Optimiser steps (Adam, SGD with momentum) run over whole parameter arrays in f32 lanes.
 */

export { heapBase, init, maddProbe, scratchFloats } from './common.as';
export * from './gemm.as';
export * from './elementwise.as';
