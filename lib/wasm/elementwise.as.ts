// @ts-nocheck: AssemblyScript, compiled with the kernels (kernels.as.ts is the entry; scripts/build-wasm.mjs).
/** Row vectors, activations, the synthesizers' element-wise passes and the optimiser steps (see kernels.as.ts). */
import { edge, laneMask } from './common.as';

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
