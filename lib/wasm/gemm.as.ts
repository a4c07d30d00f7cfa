// @ts-nocheck: AssemblyScript, compiled with the kernels (kernels.as.ts is the entry; scripts/build-wasm.mjs).
/** The GEMMs: register tiles, packed panels; A·Bᵀ with few rows goes to dot.as.ts (see kernels.as.ts). */
import { KC, MC, NC, PACK_MIN_B, PACK_MIN_ROWS, PANEL_ROWS, edge, finish, finish1, madd, pack, packA, tileAcc } from './common.as';
import { gemmDotTB } from './dot.as';

// ---------------------------------------------------------------------------------------------
// GEMM tiles. MR is a literal at every call site; the branches on it fold away after inlining.

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
        for (let c = 0; c < 8; c++) {
          store<f32>(dst + <usize>p * 32 + <usize>c * 4, load<f32>(pb + (<usize>(j0 + c) * <usize>ldb + <usize>(kb + p)) * 4));
        }
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
      for (let r = 0; r < PANEL_ROWS; r++) {
        store<f32>(dst + <usize>p * step + <usize>r * 4, load<f32>(src + <usize>r * ars + <usize>p * aps));
      }
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
          for (let q = 0; q < full; q += 8) {
            strip8(ai, ars, aps, pack + <usize>q * <usize>kc * 4, 32, ci + <usize>q * 4, cs, mc - packed, kc, va, vb, useBeta);
          }
        }
        if (full < nc) {
          const bq = pack + <usize>full * <usize>kc * 4, cq = pc + <usize>mb * cs + <usize>(jb + full) * 4;
          raggedPanel(ak + <usize>mb * ars, ars, aps, bq, cq, cs, mc, kc, nc - full, va, vb, useBeta);
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

const SHORT_DOT: i32 = 16; // below this k, dot products are mostly horizontal sums and masks

/** out = alpha · A·Bᵀ + beta · out  (A m×k, B n×k, out m×n) */
export function matmulTB(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
  if (packs(m, k, n)) gemmPacked(pa, <usize>k * 4, 4, pb, k, true, pc, m, k, n, alpha, beta);
  else if (k > 0 && k < SHORT_DOT && m >= 4 && n >= 8 && k * n <= KC * NC) {
    // short k (a layer's upstream gradient from a narrow output): transpose B into the scratch
    // once, then run the register tiles over Bᵀ read in place
    for (let j = 0; j < n; j++) {
      for (let p = 0; p < k; p++) {
        store<f32>(pack + (<usize>p * <usize>n + <usize>j) * 4, load<f32>(pb + (<usize>j * <usize>k + <usize>p) * 4));
      }
    }
    gemmDirect(pa, <usize>k * 4, 4, pack, <usize>n * 4, pc, <usize>n * 4, m, k, n, alpha, beta, beta != 0);
  } else gemmDotTB(pa, pb, pc, m, k, n, alpha, beta);
}
