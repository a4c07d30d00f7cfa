// @ts-nocheck: AssemblyScript, compiled with the kernels (kernels.as.ts is the entry; scripts/build-wasm.mjs).
/** What every kernel shares: the multiply-add of this build, lane masks, and the scratch region the host hands over. */

/** acc + a·b: fused (one rounding) in the relaxed-SIMD build, mul then add in the plain one. */
// @ts-ignore: decorator
@inline export function madd(a: v128, b: v128, acc: v128): v128 {
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

export const KC: i32 = 256; // k rows per packed block
export const NC: i32 = 256; // columns per packed block (a multiple of 8)
export const PACK_MIN_ROWS: i32 = 32; // packing pays once a panel is reused by >= 8 row tiles
export const PACK_MIN_B: i32 = 8192; // ... and B is too big to stay in L1 while it is read in place

export let pack: usize = 0; // KC*NC floats of packed B
export let edge: usize = 0; // 4×8 floats for ragged tiles and vector tails
// Rows of A per packed panel: 6 with fused multiply-adds (12 accumulators keep enough of them in
// flight: ~57 instead of ~53 GFLOP/s here); 4 without (a separate multiply needs a register more,
// and 6 rows would spill).
export const PANEL_ROWS: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 4;
export const MC: i32 = PANEL_ROWS * 42; // rows of A packed at once: 252 or 168
export let packA: usize = 0; // MC×KC floats: A's rows in PANEL_ROWS-row panels, k-major within each
export let tileAcc: usize = 0; // 48 floats: a packed tile's accumulators on their way out

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


/** Lanes [0, rem) all ones, the rest zero (rem in 0..3). */
// @ts-ignore: decorator
@inline export function laneMask(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/** A tile's result out to C: `alpha · acc (+ beta · C)`, 4 lanes or one. */
// @ts-ignore: decorator
@inline export function finish(pc: usize, acc: v128, va: v128, vb: v128, useBeta: bool): void {
  let r = f32x4.mul(acc, va);
  if (useBeta) r = f32x4.add(r, f32x4.mul(v128.load(pc), vb));
  v128.store(pc, r);
}

// @ts-ignore: decorator
@inline export function finish1(pc: usize, acc: f32, alpha: f32, beta: f32, useBeta: bool): void {
  store<f32>(pc, useBeta ? alpha * acc + beta * load<f32>(pc) : alpha * acc);
}
