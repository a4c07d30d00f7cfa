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

/** acc + a·b: fused (one rounding) in the relaxed-SIMD build, mul then add in the plain one. */
// @ts-ignore: decorator
@inline function madd(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

/**
 * a·b + c through `madd` (lane 0): the host compares it with the exact value to tell whether this
 * build fuses (with a = b = 1 + 2⁻²³ and c = -(1 + 2⁻²²), fused gives 2⁻⁴⁶, unfused 0).
 */
export function maddProbe(a: f32, b: f32, c: f32): f32 {
  return f32x4.extract_lane(madd(f32x4.splat(a), f32x4.splat(b), f32x4.splat(c)), 0);
}

const KC: i32 = 256; // k rows per packed block
const NC: i32 = 256; // columns per packed block (a multiple of 8)
const PACK_MIN_ROWS: i32 = 32; // packing pays once a panel is reused by >= 8 row tiles
const PACK_MIN_B: i32 = 8192; // ... and B is too big to stay in L1 while it is read in place

let pack: usize = 0; // KC*NC floats of packed B
let edge: usize = 0; // 4×8 floats for ragged tiles and vector tails
// Rows of A per packed panel: 6 with fused multiply-adds (12 accumulators keep enough of them in
// flight: ~57 instead of ~53 GFLOP/s here); 4 without (a separate multiply needs a register more,
// and 6 rows would spill).
const PANEL_ROWS: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 4;
const MC: i32 = PANEL_ROWS * 42; // rows of A packed at once: 252 or 168
let packA: usize = 0; // MC×KC floats: A's rows in PANEL_ROWS-row panels, k-major within each
let tileAcc: usize = 0; // 48 floats: a packed tile's accumulators on their way out

/** Floats the host must reserve for `init`. */
export function scratchFloats(): i32 {
  return KC * NC + 32 + MC * KC + 48;
}

/** Hand over the scratch region (64-byte aligned, `scratchFloats()` long). */
export function init(scratch: usize): void {
  pack = scratch;
  edge = scratch + <usize>(KC * NC) * 4;
  packA = edge + 32 * 4;
  tileAcc = packA + <usize>(MC * KC) * 4;
}

/** First byte after this module's static data: the host's allocator starts above it. */
export function heapBase(): usize {
  return __heap_base;
}

// ---------------------------------------------------------------------------------------------
// GEMM tiles. MR is a literal at every call site; the branches on it fold away after inlining.

// @ts-ignore: decorator
@inline function finish(pc: usize, acc: v128, va: v128, vb: v128, useBeta: bool): void {
  let r = f32x4.mul(acc, va);
  if (useBeta) r = f32x4.add(r, f32x4.mul(v128.load(pc), vb));
  v128.store(pc, r);
}

/**
 * C[0:MR, 0:8] = alpha * Σ_p A(r, p) B(p, 0:8) (+ beta * C): A(r, p) at pa + r*ars + p*aps,
 * B row p at pb + p*bps, C row r at pc + r*cs (all strides in bytes).
 */
// @ts-ignore: decorator
@inline function tile8(
  MR: i32, pa: usize, ars: usize, aps: usize, pb: usize, bps: usize, pc: usize, cs: usize,
  k: i32, va: v128, vb: v128, useBeta: bool,
): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  let a0 = pa, a1 = pa + ars, a2 = pa + 2 * ars, a3 = pa + 3 * ars;
  for (let p = 0; p < k; p++) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(a0);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    if (MR > 1) {
      a = v128.load32_splat(a1);
      c10 = madd(a, b0, c10);
      c11 = madd(a, b1, c11);
    }
    if (MR > 2) {
      a = v128.load32_splat(a2);
      c20 = madd(a, b0, c20);
      c21 = madd(a, b1, c21);
    }
    if (MR > 3) {
      a = v128.load32_splat(a3);
      c30 = madd(a, b0, c30);
      c31 = madd(a, b1, c31);
    }
    a0 += aps; a1 += aps; a2 += aps; a3 += aps; pb += bps;
  }
  finish(pc, c00, va, vb, useBeta);
  finish(pc + 16, c01, va, vb, useBeta);
  if (MR > 1) { finish(pc + cs, c10, va, vb, useBeta); finish(pc + cs + 16, c11, va, vb, useBeta); }
  if (MR > 2) { finish(pc + 2 * cs, c20, va, vb, useBeta); finish(pc + 2 * cs + 16, c21, va, vb, useBeta); }
  if (MR > 3) { finish(pc + 3 * cs, c30, va, vb, useBeta); finish(pc + 3 * cs + 16, c31, va, vb, useBeta); }
}

/** As tile8 for 4 columns. */
// @ts-ignore: decorator
@inline function tile4(
  MR: i32, pa: usize, ars: usize, aps: usize, pb: usize, bps: usize, pc: usize, cs: usize,
  k: i32, va: v128, vb: v128, useBeta: bool,
): void {
  let c0 = f32x4.splat(0), c1 = c0, c2 = c0, c3 = c0;
  let a0 = pa, a1 = pa + ars, a2 = pa + 2 * ars, a3 = pa + 3 * ars;
  for (let p = 0; p < k; p++) {
    const b = v128.load(pb);
    c0 = madd(v128.load32_splat(a0), b, c0);
    if (MR > 1) c1 = madd(v128.load32_splat(a1), b, c1);
    if (MR > 2) c2 = madd(v128.load32_splat(a2), b, c2);
    if (MR > 3) c3 = madd(v128.load32_splat(a3), b, c3);
    a0 += aps; a1 += aps; a2 += aps; a3 += aps; pb += bps;
  }
  finish(pc, c0, va, vb, useBeta);
  if (MR > 1) finish(pc + cs, c1, va, vb, useBeta);
  if (MR > 2) finish(pc + 2 * cs, c2, va, vb, useBeta);
  if (MR > 3) finish(pc + 3 * cs, c3, va, vb, useBeta);
}

// @ts-ignore: decorator
@inline function finish1(pc: usize, acc: f32, alpha: f32, beta: f32, useBeta: bool): void {
  store<f32>(pc, useBeta ? alpha * acc + beta * load<f32>(pc) : alpha * acc);
}

/** As tile8 for one column (scalar). */
// @ts-ignore: decorator
@inline function tile1(
  MR: i32, pa: usize, ars: usize, aps: usize, pb: usize, bps: usize, pc: usize, cs: usize,
  k: i32, alpha: f32, beta: f32, useBeta: bool,
): void {
  let c0: f32 = 0, c1: f32 = 0, c2: f32 = 0, c3: f32 = 0;
  let a0 = pa, a1 = pa + ars, a2 = pa + 2 * ars, a3 = pa + 3 * ars;
  for (let p = 0; p < k; p++) {
    const b = load<f32>(pb);
    c0 += load<f32>(a0) * b;
    if (MR > 1) c1 += load<f32>(a1) * b;
    if (MR > 2) c2 += load<f32>(a2) * b;
    if (MR > 3) c3 += load<f32>(a3) * b;
    a0 += aps; a1 += aps; a2 += aps; a3 += aps; pb += bps;
  }
  finish1(pc, c0, alpha, beta, useBeta);
  if (MR > 1) finish1(pc + cs, c1, alpha, beta, useBeta);
  if (MR > 2) finish1(pc + 2 * cs, c2, alpha, beta, useBeta);
  if (MR > 3) finish1(pc + 3 * cs, c3, alpha, beta, useBeta);
}

/** Row tails (m % 4) of one column strip, so every caller reads as "4 rows at a time". */
// @ts-ignore: decorator
@inline function strip8(
  pa: usize, ars: usize, aps: usize, pb: usize, bps: usize, pc: usize, cs: usize,
  m: i32, k: i32, va: v128, vb: v128, useBeta: bool,
): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) tile8(4, pa + <usize>i * ars, ars, aps, pb, bps, pc + <usize>i * cs, cs, k, va, vb, useBeta);
  const r = m - i, ai = pa + <usize>i * ars, ci = pc + <usize>i * cs;
  if (r == 3) tile8(3, ai, ars, aps, pb, bps, ci, cs, k, va, vb, useBeta);
  else if (r == 2) tile8(2, ai, ars, aps, pb, bps, ci, cs, k, va, vb, useBeta);
  else if (r == 1) tile8(1, ai, ars, aps, pb, bps, ci, cs, k, va, vb, useBeta);
}

/**
 * C = alpha * A·B + beta * C with B read in place (row p of B at pb + p*bps; columns contiguous).
 * `useBeta` false means C is write-only (beta == 0 ignores whatever C held, NaN included).
 */
function gemmDirect(
  pa: usize, ars: usize, aps: usize, pb: usize, bps: usize, pc: usize, cs: usize,
  m: i32, k: i32, n: i32, alpha: f32, beta: f32, useBeta: bool,
): void {
  const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
  let j = 0;
  for (; j + 8 <= n; j += 8) strip8(pa, ars, aps, pb + <usize>j * 4, bps, pc + <usize>j * 4, cs, m, k, va, vb, useBeta);
  if (j + 4 <= n) {
    const bj = pb + <usize>j * 4, cj = pc + <usize>j * 4;
    let i = 0;
    for (; i + 4 <= m; i += 4) tile4(4, pa + <usize>i * ars, ars, aps, bj, bps, cj + <usize>i * cs, cs, k, va, vb, useBeta);
    for (; i < m; i++) tile4(1, pa + <usize>i * ars, ars, aps, bj, bps, cj + <usize>i * cs, cs, k, va, vb, useBeta);
    j += 4;
  }
  for (; j < n; j++) {
    const bj = pb + <usize>j * 4, cj = pc + <usize>j * 4;
    let i = 0;
    for (; i + 4 <= m; i += 4) tile1(4, pa + <usize>i * ars, ars, aps, bj, bps, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
    for (; i < m; i++) tile1(1, pa + <usize>i * ars, ars, aps, bj, bps, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
  }
}

/** Store the transpose of the 4×4 block with rows r0..r3: its column c at out + c*stride. */
// @ts-ignore: decorator
@inline function storeTransposed4(r0: v128, r1: v128, r2: v128, r3: v128, out: usize, stride: usize): void {
  const t0 = f32x4.shuffle(r0, r1, 0, 4, 1, 5), t1 = f32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = f32x4.shuffle(r2, r3, 0, 4, 1, 5), t3 = f32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(out, f32x4.shuffle(t0, t2, 0, 1, 4, 5));
  v128.store(out + stride, f32x4.shuffle(t0, t2, 2, 3, 6, 7));
  v128.store(out + 2 * stride, f32x4.shuffle(t1, t3, 0, 1, 4, 5));
  v128.store(out + 3 * stride, f32x4.shuffle(t1, t3, 2, 3, 6, 7));
}

/**
 * Pack B(kb:kb+kc, jb:jb+nc) into 8-wide panels, panel q at pack + q*kc*32, row p of it 32 bytes;
 * columns past n are zero. B(p, j) is at pb + (p*ldb + j)*4, or pb + (j*ldb + p)*4 when transposed.
 */
function packB(pb: usize, ldb: i32, trans: bool, kb: i32, kc: i32, jb: i32, nc: i32, n: i32): void {
  for (let q = 0; q < nc; q += 8) {
    const dst = pack + <usize>q * <usize>kc * 4, j0 = jb + q, w = min(8, n - j0);
    if (!trans && w == 8) {
      let src = pb + (<usize>kb * <usize>ldb + <usize>j0) * 4;
      for (let p = 0; p < kc; p++) {
        v128.store(dst + <usize>p * 32, v128.load(src));
        v128.store(dst + <usize>p * 32, v128.load(src, 16), 16);
        src += <usize>ldb * 4;
      }
    } else if (trans && w == 8) {
      // Bᵀ rows j0..j0+7 hold B's columns: 4×4 blocks transposed in registers, 4 k rows at a time
      const ld = <usize>ldb * 4, k4 = kc & ~3;
      for (let p = 0; p < k4; p += 4) {
        for (let h = 0; h < 2; h++) {
          const src = pb + (<usize>(j0 + 4 * h) * <usize>ldb + <usize>(kb + p)) * 4, out = dst + <usize>p * 32 + <usize>h * 16;
          storeTransposed4(v128.load(src), v128.load(src + ld), v128.load(src + 2 * ld), v128.load(src + 3 * ld), out, 32);
        }
      }
      for (let p = k4; p < kc; p++) {
        for (let c = 0; c < 8; c++) store<f32>(dst + <usize>p * 32 + <usize>c * 4, load<f32>(pb + (<usize>(j0 + c) * <usize>ldb + <usize>(kb + p)) * 4));
      }
    } else {
      if (w < 8) memory.fill(dst, 0, <usize>kc * 32);
      for (let c = 0; c < w; c++) {
        const j = j0 + c;
        for (let p = 0; p < kc; p++) {
          const src = trans ? pb + (<usize>j * <usize>ldb + <usize>(kb + p)) * 4 : pb + (<usize>(kb + p) * <usize>ldb + <usize>j) * 4;
          store<f32>(dst + <usize>p * 32 + <usize>c * 4, load<f32>(src));
        }
      }
    }
  }
}

/** A ragged last panel (w < 8 columns of C): compute into the edge tile, copy the w columns back. */
function raggedPanel(
  pa: usize, ars: usize, aps: usize, pp: usize, pc: usize, cs: usize,
  m: i32, kc: i32, w: i32, va: v128, vb: v128, useBeta: bool,
): void {
  for (let i = 0; i < m; i += 4) {
    const rows = min(4, m - i);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < w; c++) store<f32>(edge + <usize>(r * 8 + c) * 4, load<f32>(pc + <usize>(i + r) * cs + <usize>c * 4));
    }
    strip8(pa + <usize>i * ars, ars, aps, pp, 32, edge, 32, rows, kc, va, vb, useBeta);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < w; c++) store<f32>(pc + <usize>(i + r) * cs + <usize>c * 4, load<f32>(edge + <usize>(r * 8 + c) * 4));
    }
  }
}

/**
 * Pack A's rows mb..mb+mc (mc a multiple of MR) for k rows kb..kb+kc (`ak`: A at column kb) into
 * MR-row panels, k-major: panel t at packA + t*kc*4, MR floats per k row, so a tile reads its A
 * values at one pointer. A(r, p) is at ak + r*ars + p*aps: side by side when transposed (ars 4:
 * one 16-byte load per k row, and an 8-byte one for rows 5-6), else rows apart (a row-major A, aps
 * 4: 4×4 blocks of the first 4 rows transposed in registers, rows 5-6 interleaved in pairs).
 */
function packPanelsA(ak: usize, ars: usize, aps: usize, mb: i32, mc: i32, kc: i32): void {
  const step = <usize>PANEL_ROWS * 4;
  for (let t = 0; t < mc; t += PANEL_ROWS) {
    const src = ak + <usize>(mb + t) * ars, dst = packA + <usize>t * <usize>kc * 4;
    if (ars == 4) {
      for (let p = 0; p < kc; p++) {
        const q = src + <usize>p * aps, o = dst + <usize>p * step;
        v128.store(o, v128.load(q));
        if (PANEL_ROWS == 6) v128.store64_lane(o, v128.load64_zero(q, 16), 0, 16);
      }
      continue;
    }
    let p = 0;
    if (aps == 4) {
      for (; p + 4 <= kc; p += 4) {
        const q = src + <usize>p * 4, o = dst + <usize>p * step;
        storeTransposed4(v128.load(q), v128.load(q + ars), v128.load(q + 2 * ars), v128.load(q + 3 * ars), o, step);
        if (PANEL_ROWS == 6) {
          const r4 = v128.load(q + 4 * ars), r5 = v128.load(q + 5 * ars);
          const lo = f32x4.shuffle(r4, r5, 0, 4, 1, 5), hi = f32x4.shuffle(r4, r5, 2, 6, 3, 7);
          v128.store64_lane(o, lo, 0, 16);
          v128.store64_lane(o, lo, 1, 40);
          v128.store64_lane(o, hi, 0, 64);
          v128.store64_lane(o, hi, 1, 88);
        }
      }
    }
    for (; p < kc; p++) {
      for (let r = 0; r < PANEL_ROWS; r++) store<f32>(dst + <usize>p * step + <usize>r * 4, load<f32>(src + <usize>r * ars + <usize>p * aps));
    }
  }
}

/**
 * C[0:MR, 0:8] = alpha * Σ_p A(·, p) B(p, ·) (+ beta * C) from a packed A panel (MR floats per k
 * row) and a packed B panel (8 floats per k row): two pointers and immediate offsets, 2·MR
 * independent accumulators, so the loop is little more than its multiply-adds.
 */
// alpha and beta of the packed tiles, as globals: they are read after the loop, so no register
// holds them while the 12 accumulators, 2 B vectors and an A value need 15 of the 16
let tileAlpha: f32 = 1;
let tileBeta: f32 = 0;

// Exported so that it stays a function of its own: inlined into the packed GEMM (one large function),
// the engine's register allocator spilled its accumulators (38 instead of 57 GFLOP/s here).
export function tilePacked(pa: usize, pb: usize, pc: usize, cs: usize, k: i32, useBeta: bool): void {
  let c00 = f32x4.splat(0), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  let c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const end = pa + <usize>k * <usize>PANEL_ROWS * 4;
  while (pa < end) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    if (PANEL_ROWS == 6) {
      a = v128.load32_splat(pa, 16);
      c40 = madd(a, b0, c40);
      c41 = madd(a, b1, c41);
      a = v128.load32_splat(pa, 20);
      c50 = madd(a, b0, c50);
      c51 = madd(a, b1, c51);
    }
    pa += <usize>PANEL_ROWS * 4;
    pb += 32;
  }
  const va = f32x4.splat(tileAlpha), vb = f32x4.splat(tileBeta);
  if (PANEL_ROWS == 4) {
    finish(pc, c00, va, vb, useBeta);
    finish(pc + 16, c01, va, vb, useBeta);
    finish(pc + cs, c10, va, vb, useBeta);
    finish(pc + cs + 16, c11, va, vb, useBeta);
    finish(pc + 2 * cs, c20, va, vb, useBeta);
    finish(pc + 2 * cs + 16, c21, va, vb, useBeta);
    finish(pc + 3 * cs, c30, va, vb, useBeta);
    finish(pc + 3 * cs + 16, c31, va, vb, useBeta);
    return;
  }
  // 6 rows: out through memory; scaling in registers would need alpha, beta and C beside the 12
  // accumulators, and the engine then spills accumulators inside the loop
  v128.store(tileAcc, c00);
  v128.store(tileAcc, c01, 16);
  v128.store(tileAcc, c10, 32);
  v128.store(tileAcc, c11, 48);
  v128.store(tileAcc, c20, 64);
  v128.store(tileAcc, c21, 80);
  v128.store(tileAcc, c30, 96);
  v128.store(tileAcc, c31, 112);
  v128.store(tileAcc, c40, 128);
  v128.store(tileAcc, c41, 144);
  v128.store(tileAcc, c50, 160);
  v128.store(tileAcc, c51, 176);
  for (let r = 0; r < 6; r++) {
    const acc = tileAcc + <usize>r * 32, row = pc + <usize>r * cs;
    finish(row, v128.load(acc), va, vb, useBeta);
    finish(row + 16, v128.load(acc, 16), va, vb, useBeta);
  }
}

/**
 * C = alpha * A·op(B) + beta * C through packed blocks: KC×NC of B in 8-wide panels, and MC×KC of A
 * in MR-row panels (rows past the last multiple of MR read A in place, 4 at a time).
 */
function gemmPacked(
  pa: usize, ars: usize, aps: usize, pb: usize, ldb: i32, transB: bool, pc: usize,
  m: i32, k: i32, n: i32, alpha: f32, beta: f32,
): void {
  const cs = <usize>n * 4, va = f32x4.splat(alpha);
  for (let kb = 0; kb < k; kb += KC) {
    const kc = min(KC, k - kb);
    // the first k block applies beta; later ones accumulate onto it
    const useBeta = kb > 0 || beta != 0, kbBeta: f32 = kb > 0 ? 1 : beta, vb = f32x4.splat(kbBeta);
    tileAlpha = alpha;
    tileBeta = kbBeta;
    const ak = pa + <usize>kb * aps;
    for (let mb = 0; mb < m; mb += MC) {
      const mc = min(MC, m - mb), packed = mc - mc % PANEL_ROWS;
      packPanelsA(ak, ars, aps, mb, packed, kc);
      for (let jb = 0; jb < n; jb += NC) {
        const nc = min(NC, n - jb);
        packB(pb, ldb, transB, kb, kc, jb, nc, n);
        const full = nc & ~7;
        for (let i = mb; i < mb + packed; i += PANEL_ROWS) {
          const ci = pc + <usize>i * cs + <usize>jb * 4, pi = packA + <usize>(i - mb) * <usize>kc * 4;
          for (let q = 0; q < full; q += 8) tilePacked(pi, pack + <usize>q * <usize>kc * 4, ci + <usize>q * 4, cs, kc, useBeta);
        }
        if (packed < mc) {
          // the rows past the last panel, 4 at a time, reading A in place
          const tail = mb + packed, ai = ak + <usize>tail * ars, ci = pc + <usize>tail * cs + <usize>jb * 4;
          for (let q = 0; q < full; q += 8) strip8(ai, ars, aps, pack + <usize>q * <usize>kc * 4, 32, ci + <usize>q * 4, cs, mc - packed, kc, va, vb, useBeta);
        }
        if (full < nc) {
          raggedPanel(ak + <usize>mb * ars, ars, aps, pack + <usize>full * <usize>kc * 4, pc + <usize>mb * cs + <usize>(jb + full) * 4, cs, mc, kc, nc - full, va, vb, useBeta);
        }
      }
    }
  }
}

// @ts-ignore: decorator
@inline function packs(m: i32, k: i32, n: i32): bool {
  return m >= PACK_MIN_ROWS && k > 0 && n >= 8 && <i64>k * <i64>n >= PACK_MIN_B;
}

/** out = alpha · A·B + beta · out   (A m×k, B k×n, out m×n) */
export function matmul(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
  if (packs(m, k, n)) gemmPacked(pa, <usize>k * 4, 4, pb, n, false, pc, m, k, n, alpha, beta);
  else gemmDirect(pa, <usize>k * 4, 4, pb, <usize>n * 4, pc, <usize>n * 4, m, k, n, alpha, beta, beta != 0);
}

/** out = alpha · Aᵀ·B + beta · out  (A k×m, B k×n, out m×n) */
export function matmulTA(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
  if (packs(m, k, n)) gemmPacked(pa, 4, <usize>m * 4, pb, n, false, pc, m, k, n, alpha, beta);
  else gemmDirect(pa, 4, <usize>m * 4, pb, <usize>n * 4, pc, <usize>n * 4, m, k, n, alpha, beta, beta != 0);
}

// ---------------------------------------------------------------------------------------------
// A·Bᵀ with few rows: dot products along k, 2 rows × 4 columns of C per tile.

/** [Σ c0, Σ c1, Σ c2, Σ c3] (lane sums). */
// @ts-ignore: decorator
@inline function hsum4(c0: v128, c1: v128, c2: v128, c3: v128): v128 {
  const s01 = f32x4.add(f32x4.shuffle(c0, c1, 0, 4, 1, 5), f32x4.shuffle(c0, c1, 2, 6, 3, 7));
  const s23 = f32x4.add(f32x4.shuffle(c2, c3, 0, 4, 1, 5), f32x4.shuffle(c2, c3, 2, 6, 3, 7));
  return f32x4.add(f32x4.shuffle(s01, s23, 0, 1, 4, 5), f32x4.shuffle(s01, s23, 2, 3, 6, 7));
}

// @ts-ignore: decorator
@inline function hsum1(c: v128): f32 {
  const s = f32x4.add(c, f32x4.shuffle(c, c, 2, 3, 0, 1));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1);
}

/** Lanes [0, rem) all ones, the rest zero (rem in 0..3). */
// @ts-ignore: decorator
@inline function laneMask(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/**
 * C[0:MR, 0:NR] for A rows at pa (+lda), B rows at pb (+ldb), NR 4 (vector store) or 1.
 * k runs in steps of 4; the last partial step loads 4 lanes and masks the ones past k (reading
 * up to 12 bytes past a row stays inside the memory: the host keeps a guard at its top).
 */
// @ts-ignore: decorator
@inline function dotTile(
  MR: i32, NR: i32, pa: usize, lda: usize, pb: usize, ldb: usize, pc: usize, cs: usize,
  k: i32, alpha: f32, beta: f32, useBeta: bool,
): void {
  let c00 = f32x4.splat(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
  const a1 = pa + lda, b1 = pb + ldb, b2 = pb + 2 * ldb, b3 = pb + 3 * ldb;
  const k4 = k & ~3;
  let o: usize = 0;
  for (; o < <usize>k4 * 4; o += 16) {
    const x0 = v128.load(pa + o);
    const y0 = v128.load(pb + o);
    c00 = madd(x0, y0, c00);
    if (NR > 1) {
      const y1 = v128.load(b1 + o), y2 = v128.load(b2 + o), y3 = v128.load(b3 + o);
      c01 = madd(x0, y1, c01);
      c02 = madd(x0, y2, c02);
      c03 = madd(x0, y3, c03);
      if (MR > 1) {
        const x1 = v128.load(a1 + o);
        c10 = madd(x1, y0, c10);
        c11 = madd(x1, y1, c11);
        c12 = madd(x1, y2, c12);
        c13 = madd(x1, y3, c13);
      }
    } else if (MR > 1) {
      c10 = madd(v128.load(a1 + o), y0, c10);
    }
  }
  if (k4 < k) {
    const mask = laneMask(k - k4);
    const x0 = v128.and(v128.load(pa + o), mask), y0 = v128.and(v128.load(pb + o), mask);
    c00 = madd(x0, y0, c00);
    if (NR > 1) {
      const y1 = v128.and(v128.load(b1 + o), mask), y2 = v128.and(v128.load(b2 + o), mask), y3 = v128.and(v128.load(b3 + o), mask);
      c01 = madd(x0, y1, c01);
      c02 = madd(x0, y2, c02);
      c03 = madd(x0, y3, c03);
      if (MR > 1) {
        const x1 = v128.and(v128.load(a1 + o), mask);
        c10 = madd(x1, y0, c10);
        c11 = madd(x1, y1, c11);
        c12 = madd(x1, y2, c12);
        c13 = madd(x1, y3, c13);
      }
    } else if (MR > 1) {
      c10 = madd(v128.and(v128.load(a1 + o), mask), y0, c10);
    }
  }
  if (NR > 1) {
    const va = f32x4.splat(alpha), vb = f32x4.splat(beta);
    finish(pc, hsum4(c00, c01, c02, c03), va, vb, useBeta);
    if (MR > 1) finish(pc + cs, hsum4(c10, c11, c12, c13), va, vb, useBeta);
  } else {
    finish1(pc, hsum1(c00), alpha, beta, useBeta);
    if (MR > 1) finish1(pc + cs, hsum1(c10), alpha, beta, useBeta);
  }
}

function gemmDotTB(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
  const lda = <usize>k * 4, ldb = <usize>k * 4, cs = <usize>n * 4, useBeta = beta != 0;
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const bj = pb + <usize>j * ldb, cj = pc + <usize>j * 4;
    let i = 0;
    for (; i + 2 <= m; i += 2) dotTile(2, 4, pa + <usize>i * lda, lda, bj, ldb, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
    if (i < m) dotTile(1, 4, pa + <usize>i * lda, lda, bj, ldb, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
  }
  for (; j < n; j++) {
    const bj = pb + <usize>j * ldb, cj = pc + <usize>j * 4;
    let i = 0;
    for (; i + 2 <= m; i += 2) dotTile(2, 1, pa + <usize>i * lda, lda, bj, ldb, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
    if (i < m) dotTile(1, 1, pa + <usize>i * lda, lda, bj, ldb, cj + <usize>i * cs, cs, k, alpha, beta, useBeta);
  }
}

const SHORT_DOT: i32 = 16; // below this k, dot products are mostly horizontal sums and masks

/** out = alpha · A·Bᵀ + beta · out  (A m×k, B n×k, out m×n) */
export function matmulTB(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
  if (packs(m, k, n)) gemmPacked(pa, <usize>k * 4, 4, pb, k, true, pc, m, k, n, alpha, beta);
  else if (k > 0 && k < SHORT_DOT && m >= 4 && n >= 8 && k * n <= KC * NC) {
    // short k (a layer's upstream gradient from a narrow output): transpose B into the scratch
    // once, then run the register tiles over Bᵀ read in place
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) store<f32>(pack + (<usize>p * <usize>n + <usize>j) * 4, load<f32>(pb + (<usize>j * <usize>k + <usize>p) * 4));
    }
    gemmDirect(pa, <usize>k * 4, 4, pack, <usize>n * 4, pc, <usize>n * 4, m, k, n, alpha, beta, beta != 0);
  } else gemmDotTB(pa, pb, pc, m, k, n, alpha, beta);
}

// ---------------------------------------------------------------------------------------------
// Row vectors. meanRows and activationGrad run in f64 lanes with the TypeScript backend's operation
// order, so they agree with it bit for bit (f64 products of f32 values are exact; one rounding).

// @ts-ignore: decorator
@inline function promoteHigh(v: v128): v128 {
  return f64x2.promote_low_f32x4(i64x2.shuffle(v, v, 1, 1));
}

// @ts-ignore: decorator
@inline function demote2(lo: v128, hi: v128): v128 {
  return i64x2.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 2);
}

/** m[i, :] += v for every row i */
export function addRowVector(pm: usize, pv: usize, rows: i32, cols: i32): void {
  const c4 = cols & ~3;
  for (let i = 0; i < rows; i++) {
    const row = pm + <usize>i * <usize>cols * 4;
    let j = 0;
    for (; j < c4; j += 4) {
      const o = <usize>j * 4;
      v128.store(row + o, f32x4.add(v128.load(row + o), v128.load(pv + o)));
    }
    for (; j < cols; j++) {
      const o = <usize>j * 4;
      store<f32>(row + o, load<f32>(row + o) + load<f32>(pv + o));
    }
  }
}

/** out[j] = alpha/rows · Σ_i m[i, j] + beta · out[j] (beta == 0 ignores out) */
export function meanRows(pm: usize, pout: usize, rows: i32, cols: i32, alpha: f64, beta: f64): void {
  const s = alpha / <f64>rows, vs = f64x2.splat(s), vbeta = f64x2.splat(beta), rs = <usize>cols * 4;
  const c4 = cols & ~3;
  let j = 0;
  for (; j < c4; j += 4) {
    let lo = f64x2.splat(0), hi = lo, p = pm + <usize>j * 4;
    for (let i = 0; i < rows; i++) {
      const v = v128.load(p);
      lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
      hi = f64x2.add(hi, promoteHigh(v));
      p += rs;
    }
    const po = pout + <usize>j * 4;
    let tlo = f64x2.splat(0), thi = tlo;
    if (beta != 0) {
      const o = v128.load(po);
      tlo = f64x2.mul(vbeta, f64x2.promote_low_f32x4(o));
      thi = f64x2.mul(vbeta, promoteHigh(o));
    }
    v128.store(po, demote2(f64x2.add(f64x2.mul(vs, lo), tlo), f64x2.add(f64x2.mul(vs, hi), thi)));
  }
  for (; j < cols; j++) {
    let acc: f64 = 0;
    for (let i = 0; i < rows; i++) acc += <f64>load<f32>(pm + (<usize>i * <usize>cols + <usize>j) * 4);
    const po = pout + <usize>j * 4;
    store<f32>(po, <f32>(s * acc + (beta == 0 ? 0 : beta * <f64>load<f32>(po))));
  }
}

// ---------------------------------------------------------------------------------------------
// Activations. Kinds: 0 sigmoid, 1 tanh, 2 relu, 3 linear (the host maps the names).

// Constants of the activation loops, read with one broadcast load each: V8 rebuilds a v128.const
// at every use inside a loop (three instructions), and TurboFan does not hoist it out.
const K_MIN = 0, K_LOG2E = 1, K_LN2_HI = 2, K_LN2_LO = 3, K_E0 = 4, K_ONE = 10, K_BIAS = 11, K_SIGN = 12;
const K_T0 = 13, K_TANH_SMALL = 18, K_MINUS2 = 19, K_ZERO = 20, K_MAGIC = 21;
const K: usize = memory.data<f32>([
  -104, // exp(-104) is below half the smallest subnormal
  1.44269504088896341, 0.693359375, -2.12194440e-4, // log2(e); ln 2 in two parts (n * hi is exact)
  1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1, // Cephes expf
  1,
  reinterpret<f32>(127), reinterpret<f32>(0x80000000), // exponent bias; sign bit
  -5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1, // Cephes tanhf
  0.625, -2, 0,
  12582912, // 1.5·2^23
]);

// @ts-ignore: decorator
@inline function kv(i: i32): v128 {
  return v128.load32_splat(K + <usize>i * 4);
}

/**
 * exp(x) for x <= 0 (NaN stays NaN): Cephes expf (range reduction by ln 2 in two parts, degree-6
 * polynomial), scaled by 2^n in two halves so results down to the subnormals round once.
 */
// @ts-ignore: decorator
@inline function expNonPositive(x0: v128): v128 {
  const x = f32x4.pmax(x0, kv(K_MIN)); // pmax keeps a NaN in x0 and is a single maxps
  // n = round(x log2 e): adding 1.5·2^23 rounds to an integer held in the low mantissa bits
  const t = f32x4.add(f32x4.mul(x, kv(K_LOG2E)), kv(K_MAGIC));
  const n = f32x4.sub(t, kv(K_MAGIC));
  let r = f32x4.sub(x, f32x4.mul(n, kv(K_LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, kv(K_LN2_LO)));
  let y = kv(K_E0);
  y = f32x4.add(f32x4.mul(y, r), kv(K_E0 + 1));
  y = f32x4.add(f32x4.mul(y, r), kv(K_E0 + 2));
  y = f32x4.add(f32x4.mul(y, r), kv(K_E0 + 3));
  y = f32x4.add(f32x4.mul(y, r), kv(K_E0 + 4));
  y = f32x4.add(f32x4.mul(y, r), kv(K_E0 + 5));
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), kv(K_ONE));
  const ni = i32x4.sub(t, kv(K_MAGIC));
  const n1 = i32x4.shr_s(ni, 1), n2 = i32x4.sub(ni, n1);
  const bias = kv(K_BIAS);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23), s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/** 1/(1+e^-z) = (z >= 0 ? 1 : e) / (1 + e) with e = e^-|z| (never overflows). */
// @ts-ignore: decorator
@inline function sigmoid4(z: v128): v128 {
  const one = kv(K_ONE);
  const e = expNonPositive(v128.or(z, kv(K_SIGN)));
  const num = v128.bitselect(one, e, f32x4.ge(z, kv(K_ZERO)));
  return f32x4.div(num, f32x4.add(one, e));
}

/** tanh: Cephes tanhf's odd polynomial below 0.625, (1 - e)/(1 + e) with e = e^-2|z| above; sign of z. */
// @ts-ignore: decorator
@inline function tanh4(z: v128): v128 {
  const sign = kv(K_SIGN), one = kv(K_ONE);
  const a = v128.andnot(z, sign);
  const zz = f32x4.mul(a, a);
  let p = kv(K_T0);
  p = f32x4.add(f32x4.mul(p, zz), kv(K_T0 + 1));
  p = f32x4.add(f32x4.mul(p, zz), kv(K_T0 + 2));
  p = f32x4.add(f32x4.mul(p, zz), kv(K_T0 + 3));
  p = f32x4.add(f32x4.mul(p, zz), kv(K_T0 + 4));
  p = f32x4.add(f32x4.mul(f32x4.mul(p, zz), a), a);
  const e = expNonPositive(f32x4.mul(a, kv(K_MINUS2)));
  const q = f32x4.div(f32x4.sub(one, e), f32x4.add(one, e));
  const t = v128.bitselect(p, q, f32x4.lt(a, kv(K_TANH_SMALL)));
  return v128.or(t, v128.and(z, sign));
}

// @ts-ignore: decorator
@inline function activate4(kind: i32, z: v128): v128 {
  if (kind == 0) return sigmoid4(z);
  if (kind == 1) return tanh4(z);
  if (kind == 2) return v128.and(z, f32x4.gt(z, kv(K_ZERO))); // NaN -> 0, as `z > 0 ? z : 0`
  return z;
}

// @ts-ignore: decorator
@inline function activateKind(kind: i32, p: usize, len: i32): f64 {
  let lo = f64x2.splat(0), hi = lo;
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const q = p + <usize>i * 4;
    const h = activate4(kind, v128.load(q));
    v128.store(q, h);
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(h));
    hi = f64x2.add(hi, promoteHigh(h));
  }
  if (n4 < len) {
    // the tail goes through the same vector code (same result for an element wherever it sits)
    const rem = len - n4, q = p + <usize>n4 * 4;
    v128.store(edge, f32x4.splat(0));
    memory.copy(edge, q, <usize>rem * 4);
    const h = v128.and(activate4(kind, v128.load(edge)), laneMask(rem));
    v128.store(edge, h);
    memory.copy(q, edge, <usize>rem * 4);
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(h));
    hi = f64x2.add(hi, promoteHigh(h));
  }
  const s = f64x2.add(lo, hi);
  return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
}

/** h = f(z) in place; returns the sum of h (non-finite when any element is). */
export function activate(kind: i32, p: usize, len: i32): f64 {
  if (kind == 0) return activateKind(0, p, len);
  if (kind == 1) return activateKind(1, p, len);
  if (kind == 2) return activateKind(2, p, len);
  return activateKind(3, p, len);
}

/** f'(h) * g in f64 lanes, in the TypeScript backend's order: g * (h * (1 - h)), g * (1 - h * h). */
// @ts-ignore: decorator
@inline function gradHalf(kind: i32, h: v128, g: v128): v128 {
  const one = f64x2.splat(1);
  if (kind == 0) return f64x2.mul(g, f64x2.mul(h, f64x2.sub(one, h)));
  return f64x2.mul(g, f64x2.sub(one, f64x2.mul(h, h)));
}

// @ts-ignore: decorator
@inline function grad4(kind: i32, h: v128, g: v128): v128 {
  if (kind == 2) return v128.and(g, f32x4.gt(h, f32x4.splat(0)));
  const lo = gradHalf(kind, f64x2.promote_low_f32x4(h), f64x2.promote_low_f32x4(g));
  const hi = gradHalf(kind, promoteHigh(h), promoteHigh(g));
  return demote2(lo, hi);
}

// @ts-ignore: decorator
@inline function gradKind(kind: i32, ph: usize, pg: usize, pout: usize, len: i32): void {
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    v128.store(pout + o, grad4(kind, v128.load(ph + o), v128.load(pg + o)));
  }
  for (let i = n4; i < len; i++) {
    // scalar tail: the same operations on one element
    const o = <usize>i * 4, h = <f64>load<f32>(ph + o), g = <f64>load<f32>(pg + o);
    let r: f32;
    if (kind == 0) r = <f32>(g * (h * (1 - h)));
    else if (kind == 1) r = <f32>(g * (1 - h * h));
    else r = h > 0 ? load<f32>(pg + o) : 0;
    store<f32>(pout + o, r);
  }
}

/** out = g * f'(h) element-wise, f' from the output h; `out` may alias `g` (same pointer). */
export function activationGrad(kind: i32, ph: usize, pg: usize, pout: usize, len: i32): void {
  if (kind == 0) gradKind(0, ph, pg, pout, len);
  else if (kind == 1) gradKind(1, ph, pg, pout, len);
  else if (kind == 2) gradKind(2, ph, pg, pout, len);
  else if (pout != pg) memory.copy(pout, pg, <usize>len * 4);
}

// ---------------------------------------------------------------------------------------------
// Element-wise passes of the synthesizers' bookkeeping (error, loss, finiteness).

/** out = a - b element-wise; `out` may be `a` or `b` (f32 subtraction: the same bits as any backend). */
export function subtract(pa: usize, pb: usize, pout: usize, len: i32): void {
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    v128.store(pout + o, f32x4.sub(v128.load(pa + o), v128.load(pb + o)));
  }
  for (let i = n4; i < len; i++) {
    const o = <usize>i * 4;
    store<f32>(pout + o, load<f32>(pa + o) - load<f32>(pb + o));
  }
}

/** Σ (a - b)², each difference and the sum in f64 (a float64 loop's result, to rounding of the sum's order). */
export function squaredDistance(pa: usize, pb: usize, len: i32): f64 {
  let lo = f64x2.splat(0), hi = lo;
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4, a = v128.load(pa + o), b = v128.load(pb + o);
    const dl = f64x2.sub(f64x2.promote_low_f32x4(a), f64x2.promote_low_f32x4(b));
    const dh = f64x2.sub(promoteHigh(a), promoteHigh(b));
    lo = f64x2.add(lo, f64x2.mul(dl, dl));
    hi = f64x2.add(hi, f64x2.mul(dh, dh));
  }
  const s = f64x2.add(lo, hi);
  let sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (let i = n4; i < len; i++) {
    const o = <usize>i * 4, d = <f64>load<f32>(pa + o) - <f64>load<f32>(pb + o);
    sum += d * d;
  }
  return sum;
}

/** Σ p in f64: non-finite exactly when an element is (f32 values cannot overflow an f64 sum). */
export function sum(p: usize, len: i32): f64 {
  let lo = f64x2.splat(0), hi = lo;
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const v = v128.load(p + <usize>i * 4);
    lo = f64x2.add(lo, f64x2.promote_low_f32x4(v));
    hi = f64x2.add(hi, promoteHigh(v));
  }
  const s = f64x2.add(lo, hi);
  let total = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  for (let i = n4; i < len; i++) total += <f64>load<f32>(p + <usize>i * 4);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Optimiser steps over whole parameter arrays (p, g and the moments all `len` floats).

/**
 * Adam with the bias corrections folded into lr and eps: m = β1 m + (1-β1) g, v = β2 v + (1-β2) g²,
 * p -= lr m / (√v + eps). In f32 lanes, in the TypeScript backend's order of operations (that one
 * rounds once per stored value; this one at every operation: the results agree to float32 rounding).
 */
export function adamStep(pp: usize, pg: usize, pm: usize, pv: usize, len: i32, lr64: f64, b164: f64, b264: f64, eps64: f64): void {
  // 1 - β in f64 first: in f32, 1 - 0.999f is 1.3e-5 away from 0.001 in relative terms
  const lr = <f32>lr64, eps = <f32>eps64, b1 = <f32>b164, b2 = <f32>b264, a1 = <f32>(1 - b164), a2 = <f32>(1 - b264);
  const vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), va1 = f32x4.splat(a1), va2 = f32x4.splat(a2);
  const vlr = f32x4.splat(lr), veps = f32x4.splat(eps);
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    const g = v128.load(pg + o);
    const m = f32x4.add(f32x4.mul(vb1, v128.load(pm + o)), f32x4.mul(va1, g));
    const v = f32x4.add(f32x4.mul(vb2, v128.load(pv + o)), f32x4.mul(f32x4.mul(va2, g), g));
    v128.store(pm + o, m);
    v128.store(pv + o, v);
    const step = f32x4.div(f32x4.mul(vlr, m), f32x4.add(f32x4.sqrt(v), veps));
    v128.store(pp + o, f32x4.sub(v128.load(pp + o), step));
  }
  for (let i = n4; i < len; i++) {
    const o = <usize>i * 4, g = load<f32>(pg + o);
    const m = b1 * load<f32>(pm + o) + a1 * g;
    const v = b2 * load<f32>(pv + o) + a2 * g * g;
    store<f32>(pm + o, m);
    store<f32>(pv + o, v);
    store<f32>(pp + o, load<f32>(pp + o) - (lr * m) / (Mathf.sqrt(v) + eps));
  }
}

/** SGD with momentum μ (PyTorch's form): v = μ v + g, p -= lr v. */
export function momentumStep(pp: usize, pg: usize, pv: usize, len: i32, lr: f32, mu: f32): void {
  const vmu = f32x4.splat(mu), vlr = f32x4.splat(lr);
  const n4 = len & ~3;
  for (let i = 0; i < n4; i += 4) {
    const o = <usize>i * 4;
    const v = f32x4.add(f32x4.mul(vmu, v128.load(pv + o)), v128.load(pg + o));
    v128.store(pv + o, v);
    v128.store(pp + o, f32x4.sub(v128.load(pp + o), f32x4.mul(vlr, v)));
  }
  for (let i = n4; i < len; i++) {
    const o = <usize>i * 4;
    const v = mu * load<f32>(pv + o) + load<f32>(pg + o);
    store<f32>(pv + o, v);
    store<f32>(pp + o, load<f32>(pp + o) - lr * v);
  }
}
