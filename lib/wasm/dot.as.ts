// @ts-nocheck: AssemblyScript, compiled with the kernels (kernels.as.ts is the entry; scripts/build-wasm.mjs).
/** A·Bᵀ with few rows, by dot products along k (matmulTB in gemm.as.ts chooses it). */
import { finish, finish1, laneMask, madd } from './common.as';

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

export function gemmDotTB(pa: usize, pb: usize, pc: usize, m: i32, k: i32, n: i32, alpha: f32, beta: f32): void {
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
