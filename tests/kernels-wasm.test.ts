/**
 * The WebAssembly SIMD backends against the TypeScript backend (and a float64 recomputation):
 * every op, odd and seed-sized shapes, alpha/beta, aliasing, operands outside the wasm memory,
 * the allocator, backend selection, and the reference trainings run on wasm kernels. The GEMM and
 * reference tests run on both `wasm` and `wasm-fma` (fused multiply-adds: one rounding where the
 * other has two, so the same tolerances hold).
 */
import { describe, expect, it } from 'vitest';
import { ACTIVATIONS, type Activation } from '../lib/activations.ts';
import { compareWithCase } from '../lib/compare.ts';
import { type KernelBackend, typescriptBackend as ts, useBackend } from '../lib/kernels/kernels.ts';
import {
  autoBackend,
  backendByName,
  fallbackWarning,
  wasmBackend,
  wasmFmaBackend,
  wasmFmaUnavailableReason,
  wasmUnavailableReason,
} from '../lib/kernels/backend-choice.ts';
import { type WasmKernelBackend, createWasmBackend } from '../lib/kernels/kernels-wasm.ts';
import type { Matrix } from '../lib/matrix.ts';
import { buildNetwork } from '../lib/network.ts';
import { initParameters, parametersToJSON } from '../lib/params.ts';
import { defineTopology } from '../lib/topology.ts';
import { loadCase } from '../lib/reference.ts';
import { trainSequential } from '../lib/sequential.ts';
import { referenceCases } from './helpers.ts';

const maybeWasm = wasmBackend();
// No skip when the .wasm is missing: `npm install` builds it, and a silently skipped backend test
// could never fail.
if (!maybeWasm) throw new Error(`wasm backend unavailable: ${wasmUnavailableReason()}`);
const wasm = maybeWasm;
// wasm-fma may be missing for a reason of the machine (no relaxed SIMD, no FMA3 in the CPU), never
// for a missing build: that is checked below, and every GEMM test runs on it when it loads
const fma = wasmFmaBackend();
const WASMS: readonly WasmKernelBackend[] = fma ? [wasm, fma] : [wasm];

type Gemm = 'matmul' | 'matmulTA' | 'matmulTB';
const GEMMS: readonly Gemm[] = ['matmul', 'matmulTA', 'matmulTB'];
const U = 2 ** -24; // float32 unit roundoff

/** Deterministic uniform(-1, 1) numbers (xorshift32), so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 31 - 1;
  };
}

function filled(b: KernelBackend | 'plain', rows: number, cols: number, next: () => number): Matrix {
  const data = b === 'plain' ? new Float32Array(rows * cols) : b.alloc(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = next();
  return { rows, cols, data };
}

function copy(b: KernelBackend | 'plain', m: Matrix): Matrix {
  const data = b === 'plain' ? new Float32Array(m.data.length) : b.alloc(m.data.length);
  data.set(m.data);
  return { rows: m.rows, cols: m.cols, data };
}

/** A view at an odd offset inside a larger plain array (not 16-byte aligned, not in wasm memory). */
function offsetView(m: Matrix): Matrix {
  const big = new Float32Array(m.data.length + 8);
  big.fill(Number.NaN);
  const data = big.subarray(3, 3 + m.data.length);
  data.set(m.data);
  return { rows: m.rows, cols: m.cols, data };
}

/** One-hot rows as a plain matrix (outside any backend's memory). */
function oneHotOf(classes: number[], n: number): Matrix {
  const data = new Float32Array(classes.length * n);
  classes.forEach((c, i) => (data[i * n + c] = 1));
  return { rows: classes.length, cols: n, data };
}

const bits = (x: Float32Array): number[] => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

function shapes(op: Gemm, m: number, k: number, n: number): [[number, number], [number, number]] {
  return [op === 'matmulTA' ? [k, m] : [m, k], op === 'matmulTB' ? [n, k] : [k, n]];
}

/** Each output's exact sum of its k products (float64) and the sum of their magnitudes, row by row. */
function products(op: Gemm, m: number, k: number, n: number, a: Matrix, b: Matrix): { exact: Float64Array; mag: Float64Array } {
  const A = (i: number, p: number) => (op === 'matmulTA' ? a.data[p * m + i] : a.data[i * k + p]);
  const B = (p: number, j: number) => (op === 'matmulTB' ? b.data[j * k + p] : b.data[p * n + j]);
  const exact = new Float64Array(m * n),
    mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0,
        abs = 0;
      for (let p = 0; p < k; p++) {
        sum += A(i, p) * B(p, j);
        abs += Math.abs(A(i, p) * B(p, j));
      }
      exact[i * n + j] = sum;
      mag[i * n + j] = abs;
    }
  }
  return { exact, mag };
}

/**
 * Each output is a sum of k float32 products. Both backends round at every step (unit roundoff u),
 * so each differs from the exact sum by at most about k·u·Σ|terms| in the worst case and, for the
 * random-sign inputs here, by a random walk of about u·sqrt(k)·Σ|terms|. The bound below is that
 * random-walk figure times 4 (plus 2u for applying alpha and beta): tight enough that a wrong index
 * or a dropped term (an error of one whole term, ~Σ|terms|/k) fails for every k used here.
 * `sums`: {@link products} of the operands.
 */
function checkGemm(
  op: Gemm,
  m: number,
  k: number,
  n: number,
  alpha: number,
  beta: number,
  got: Float32Array,
  want: Float32Array,
  sums: { exact: Float64Array; mag: Float64Array },
  c0: Float32Array,
): void {
  let worst = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const old = beta === 0 ? 0 : beta * c0[i * n + j];
      const exact = alpha * sums.exact[i * n + j] + old;
      const scale = Math.abs(alpha) * sums.mag[i * n + j] + Math.abs(old);
      const tol = (4 * Math.sqrt(k + 1) + 2) * U * scale + 1e-30;
      const e = Math.abs(got[i * n + j] - exact);
      worst = Math.max(worst, e / tol);
      if (!(e <= tol) || !(Math.abs(got[i * n + j] - want[i * n + j]) <= 2 * tol)) {
        throw new Error(
          `${op} ${m}x${k}·${n} alpha ${alpha} beta ${beta}: C[${i},${j}] = ${got[i * n + j]}, ` +
            `typescript ${want[i * n + j]}, exact ${exact} (tolerance ${tol})`,
        );
      }
    }
  }
  expect(worst).toBeLessThanOrEqual(1);
}

/**
 * Random A and B of a shape, then for each (alpha, beta) a random C: the backend's GEMM against the
 * typescript backend's and the exact sums. The pairs share A and B, so the exact sums (most of the time
 * a check takes) are computed once for them all.
 */
function runGemm(
  op: Gemm,
  m: number,
  k: number,
  n: number,
  alphaBetas: readonly (readonly [number, number])[],
  place: 'wasm' | 'plain' | 'views',
  seed: number,
  w: WasmKernelBackend = wasm,
): void {
  const next = rng(seed);
  const [[ar, ac], [br, bc]] = shapes(op, m, k, n);
  const a = filled('plain', ar, ac, next),
    b = filled('plain', br, bc, next);
  const sums = products(op, m, k, n, a, b);
  const on = (x: Matrix) => (place === 'wasm' ? copy(w, x) : place === 'views' ? offsetView(x) : copy('plain', x));
  const [onA, onB] = [on(a), on(b)];
  for (const [alpha, beta] of alphaBetas) {
    const c = filled('plain', m, n, next);
    if (beta === 0) c.data.fill(Number.NaN); // beta 0 must ignore whatever out held
    const want = copy('plain', c);
    ts[op](a, b, want, alpha, beta);
    const got = on(c);
    const ret = w[op](onA, onB, got, alpha, beta);
    expect(ret).toBe(got);
    checkGemm(op, m, k, n, alpha, beta, got.data, want.data, sums, c.data);
    if (place === 'wasm') w.free(got.data);
  }
  if (place === 'wasm') for (const x of [onA, onB]) w.free(x.data);
}

const ODD = [1, 3, 7, 13, 17, 33, 127];
// the DNI seed (24-128-64-12, batch 10): forward x·W, weight step xᵀ·d, upstream d·Wᵀ
const SEED: [number, number, number][] = [
  [10, 24, 128],
  [10, 128, 128],
  [10, 128, 64],
  [10, 64, 12],
  [24, 10, 128],
  [128, 10, 128],
  [64, 10, 12],
];
// packed path with several k blocks (KC 256), several column blocks (NC 256) and a ragged last panel;
// more rows than one packed block of a transposed A (MC 256), with a row tail
const PACKED: [number, number, number][] = [
  [37, 300, 261],
  [64, 513, 520],
  [35, 257, 9],
  [256, 256, 256],
  [518, 230, 37],
  [261, 300, 40],
];
const ALPHA_BETA: [number, number][] = [
  [1, 0],
  [0.5, 0],
  [-0.01, 1],
  [0.7, 0.3],
  [2, -1.5],
];

describe.each(WASMS)('$name backend: GEMMs agree with the typescript backend', (wasm) => {
  it('loads with SIMD and hands out views into its own memory', () => {
    expect(wasm.name).toMatch(/^wasm(-fma)?$/);
    const x = wasm.alloc(5);
    expect(wasm.owns(x)).toBe(true);
    expect(x.buffer).toBeInstanceOf(ArrayBuffer);
    expect(x.buffer.byteLength).toBeGreaterThanOrEqual(64 * 1024 * 1024);
    wasm.free(x);
  });

  describe.each(GEMMS)('%s', (op) => {
    it('every odd shape (m, k, n in 1, 3, 7, 13, 17, 33, 127)', () => {
      let seed = 1;
      for (const m of ODD) for (const k of ODD) for (const n of ODD) runGemm(op, m, k, n, [[1, 0]], 'wasm', seed++, wasm);
    });

    it('the seed shapes and packed-path shapes, every alpha/beta', () => {
      let seed = 1000;
      for (const [m, k, n] of [...SEED, ...PACKED]) runGemm(op, m, k, n, ALPHA_BETA, 'wasm', seed++, wasm);
    });

    it('defaults alpha = 1, beta = 0', () => {
      const next = rng(7);
      const [[ar, ac], [br, bc]] = shapes(op, 10, 24, 13);
      const a = filled(wasm, ar, ac, next),
        b = filled(wasm, br, bc, next);
      const got = filled(wasm, 10, 13, () => Number.NaN),
        want = filled('plain', 10, 13, () => Number.NaN);
      wasm[op](a, b, got);
      ts[op](copy('plain', a), copy('plain', b), want);
      checkGemm(op, 10, 24, 13, 1, 0, got.data, want.data, products(op, 10, 24, 13, a, b), want.data);
    });

    it('operands outside wasm memory: plain arrays and unaligned subarray views', () => {
      let seed = 5000;
      for (const [m, k, n] of [
        [10, 128, 64],
        [3, 7, 13],
        [33, 127, 17],
        [37, 300, 261],
      ] as const) {
        for (const [alpha, beta] of [
          [1, 0],
          [0.7, 0.3],
        ] as const) {
          runGemm(op, m, k, n, [[alpha, beta]], 'plain', seed++, wasm);
          runGemm(op, m, k, n, [[alpha, beta]], 'views', seed++, wasm);
        }
      }
      // mixed: A in wasm memory, B a plain view, out in wasm memory
      const next = rng(9);
      const [[ar, ac], [br, bc]] = shapes(op, 10, 24, 128);
      const a = filled(wasm, ar, ac, next),
        b = offsetView(filled('plain', br, bc, next)),
        c = filled(wasm, 10, 128, next);
      const before = copy('plain', c),
        want = copy('plain', c);
      ts[op](a, b, want, 0.5, 1);
      wasm[op](a, b, c, 0.5, 1);
      checkGemm(op, 10, 24, 128, 0.5, 1, c.data, want.data, products(op, 10, 24, 128, a, b), before.data);
    });

    it('k = 0 leaves beta · out; shape mismatches throw like the typescript backend', () => {
      const [[ar, ac], [br, bc]] = shapes(op, 3, 0, 4);
      const a = { rows: ar, cols: ac, data: wasm.alloc(0) },
        b = { rows: br, cols: bc, data: wasm.alloc(0) };
      const c = filled(wasm, 3, 4, () => 2);
      wasm[op](a, b, c, 1, 0.5);
      expect(Array.from(c.data)).toEqual(new Array(12).fill(1));
      const bad = filled(wasm, 3, 5, () => 0);
      expect(() => wasm[op](a, b, bad)).toThrow(RangeError);
      expect(() => ts[op](a, b, bad)).toThrow(RangeError);
    });
  });
});

describe('wasm-fma backend', () => {
  it('loads here, or says why (a machine without relaxed SIMD or FMA, never a missing build)', () => {
    if (fma) expect(fma.name).toBe('wasm-fma');
    else expect(wasmFmaUnavailableReason()).toMatch(/no relaxed SIMD|do(es)? not fuse/);
  });

  it.runIf(fma)('fuses: its GEMMs round once per multiply-add, so they differ from the wasm ones in the last bits', () => {
    const f = fma!;
    const next = rng(31);
    const a = filled('plain', 64, 256, next),
      b = filled('plain', 256, 64, next);
    const c1 = filled(wasm, 64, 64, () => 0),
      c2 = filled(f, 64, 64, () => 0);
    wasm.matmul(copy(wasm, a), copy(wasm, b), c1);
    f.matmul(copy(f, a), copy(f, b), c2);
    const differ = bits(c1.data).filter((x, i) => x !== bits(c2.data)[i]).length;
    expect(differ).toBeGreaterThan(0);
    // the same call twice gives the same bits (a training is deterministic on it)
    const c3 = filled(f, 64, 64, () => 0);
    f.matmul(copy(f, a), copy(f, b), c3);
    expect(bits(c3.data)).toEqual(bits(c2.data));
  });

  it.runIf(fma)('shares every non-GEMM kernel with the wasm backend bit for bit (activations, row vectors, optimisers)', () => {
    const f = fma!;
    const next = rng(77);
    const z = filled('plain', 13, 37, () => 6 * next()),
      g = filled('plain', 13, 37, next),
      v = filled('plain', 1, 37, next);
    for (const kind of ACTIVATIONS) {
      const h1 = copy(wasm, z),
        h2 = copy(f, z);
      expect(f.activate(kind, h2)).toBe(wasm.activate(kind, h1));
      expect(bits(h2.data)).toEqual(bits(h1.data));
      const o1 = copy(wasm, g),
        o2 = copy(f, g);
      wasm.activationGrad(kind, h1, copy(wasm, g), o1);
      f.activationGrad(kind, h2, copy(f, g), o2);
      expect(bits(o2.data)).toEqual(bits(o1.data));
    }
    const r1 = copy(wasm, z),
      r2 = copy(f, z);
    wasm.addRowVector(r1, copy(wasm, v));
    f.addRowVector(r2, copy(f, v));
    expect(bits(r2.data)).toEqual(bits(r1.data));
    const m1 = copy(wasm, v),
      m2 = copy(f, v);
    wasm.meanRows(r1, m1, 0.7, 0.3);
    f.meanRows(r2, m2, 0.7, 0.3);
    expect(bits(m2.data)).toEqual(bits(m1.data));
    const st = (b: WasmKernelBackend) => [z, g, z, g].map((x) => copy(b, x).data);
    const [p1, g1, mm1, v1] = st(wasm),
      [p2, g2, mm2, v2] = st(f);
    for (const x of [v1, v2]) for (let i = 0; i < x.length; i++) x[i] = Math.abs(x[i]);
    wasm.adamStep(p1, g1, mm1, v1, 1e-3, 0.9, 0.999, 1e-8);
    f.adamStep(p2, g2, mm2, v2, 1e-3, 0.9, 0.999, 1e-8);
    wasm.momentumStep(p1, g1, mm1, 0.05, 0.9);
    f.momentumStep(p2, g2, mm2, 0.05, 0.9);
    expect([bits(p2), bits(mm2), bits(v2)]).toEqual([bits(p1), bits(mm1), bits(v1)]);
  });

  it('a relaxed-SIMD build is refused as plain wasm, and a plain build as wasm-fma', () => {
    const dir = new URL('../lib/wasm/', import.meta.url).pathname;
    expect(() => createWasmBackend({ memoryMiB: 2, wasmPath: `${dir}kernels-fma.wasm` })).toThrow(/a relaxed-SIMD build/);
    expect(() => createWasmBackend({ memoryMiB: 2, fma: true, wasmPath: `${dir}kernels.wasm` })).toThrow(/does not fuse/);
  });
});

describe('wasm backend: row-vector ops agree bit for bit', () => {
  const SHAPES = [
    [1, 1],
    [3, 7],
    [10, 128],
    [10, 12],
    [17, 33],
    [5, 3],
  ] as const;

  it('addRowVector', () => {
    let seed = 1;
    for (const [r, c] of SHAPES) {
      for (const place of ['wasm', 'plain', 'views'] as const) {
        const next = rng(seed++);
        const m = filled('plain', r, c, next),
          v = filled('plain', 1, c, next);
        const want = copy('plain', m);
        ts.addRowVector(want, v);
        const on = (x: Matrix) => (place === 'wasm' ? copy(wasm, x) : place === 'views' ? offsetView(x) : copy('plain', x));
        const got = on(m);
        expect(wasm.addRowVector(got, on(v))).toBe(got);
        expect(bits(got.data)).toEqual(bits(want.data));
      }
    }
    expect(() => wasm.addRowVector(filled(wasm, 2, 3, Math.random), filled(wasm, 1, 4, Math.random))).toThrow(RangeError);
  });

  it('meanRows, every alpha/beta, out in and outside memory', () => {
    let seed = 100;
    for (const [r, c] of SHAPES) {
      for (const [alpha, beta] of ALPHA_BETA) {
        for (const place of ['wasm', 'plain', 'views'] as const) {
          const next = rng(seed++);
          const m = filled('plain', r, c, next),
            out = filled('plain', 1, c, next);
          if (beta === 0) out.data.fill(Number.NaN);
          const want = copy('plain', out);
          ts.meanRows(m, want, alpha, beta);
          const on = (x: Matrix) => (place === 'wasm' ? copy(wasm, x) : place === 'views' ? offsetView(x) : copy('plain', x));
          const got = on(out);
          expect(wasm.meanRows(on(m), got, alpha, beta)).toBe(got);
          expect(bits(got.data)).toEqual(bits(want.data));
        }
      }
    }
    const m = filled(wasm, 4, 5, rng(3)),
      a = filled(wasm, 1, 5, () => 0),
      b = filled('plain', 1, 5, () => 0);
    wasm.meanRows(m, a);
    ts.meanRows(m, b);
    expect(bits(a.data)).toEqual(bits(b.data));
  });

  it('activationGrad for every activation, with out aliasing g, in and outside memory', () => {
    let seed = 200;
    for (const kind of ACTIVATIONS) {
      for (const len of [1, 3, 4, 7, 1280, 1283]) {
        for (const place of ['wasm', 'plain', 'views'] as const) {
          for (const alias of [false, true]) {
            const next = rng(seed++);
            const z = filled('plain', 1, len, () => 4 * next());
            ts.activate(kind, z); // h is an activation output, as in training
            z.data[0] = kind === 'relu' ? 0 : z.data[0]; // relu' at exactly 0
            const g = filled('plain', 1, len, next);
            const want = copy('plain', g);
            ts.activationGrad(kind, z, g, want);
            const on = (x: Matrix) => (place === 'wasm' ? copy(wasm, x) : place === 'views' ? offsetView(x) : copy('plain', x));
            const h2 = on(z),
              g2 = on(g),
              out = alias ? g2 : on(filled('plain', 1, len, () => Number.NaN));
            expect(wasm.activationGrad(kind, h2, g2, out)).toBe(out);
            expect(bits(out.data), `${kind} ${len} ${place} alias ${alias}`).toEqual(bits(want.data));
            if (!alias) expect(bits(g2.data)).toEqual(bits(g.data));
          }
        }
      }
    }
  });

  it('relu grad passes NaN in g where h > 0 and zeroes it elsewhere, like the typescript backend', () => {
    const h = copy(wasm, { rows: 1, cols: 5, data: new Float32Array([1, 0, -1, Number.NaN, 2]) });
    const g = copy(wasm, { rows: 1, cols: 5, data: new Float32Array([Number.NaN, Number.NaN, 3, 4, -0]) });
    const want = copy('plain', g);
    ts.activationGrad('relu', h, g, want);
    const out = filled(wasm, 1, 5, () => 7);
    wasm.activationGrad('relu', h, g, out);
    expect(bits(out.data)).toEqual(bits(want.data));
  });
});

describe("wasm backends: the synthesizers' element-wise passes", () => {
  const LENGTHS = [1, 3, 4, 7, 640, 1280, 1283];
  const on = (b: WasmKernelBackend, place: 'wasm' | 'plain' | 'views', x: Matrix) =>
    place === 'wasm' ? copy(b, x) : place === 'views' ? offsetView(x) : copy('plain', x);

  it.each(WASMS.map((b) => [b.name, b] as const))(
    '%s: subtract bit for bit (out aliasing either operand), sums to float64 rounding',
    (_, b) => {
      let seed = 900;
      for (const len of LENGTHS) {
        for (const place of ['wasm', 'plain', 'views'] as const) {
          const next = rng(seed++);
          const x = filled('plain', 1, len, () => 3 * next()),
            y = filled('plain', 1, len, () => 3 * next());
          const want = filled('plain', 1, len, () => 0);
          ts.subtract(x, y, want);
          for (const alias of ['none', 'a', 'b'] as const) {
            const a = on(b, place, x),
              c = on(b, place, y);
            const out =
              alias === 'a'
                ? a
                : alias === 'b'
                  ? c
                  : on(
                      b,
                      place,
                      filled('plain', 1, len, () => Number.NaN),
                    );
            expect(b.subtract(a, c, out)).toBe(out);
            expect(bits(out.data), `${len} ${place} alias ${alias}`).toEqual(bits(want.data));
          }
          // float64 sums in another order of additions: agreement to a float64 sum's rounding (n ε Σ|terms|)
          const bound = (terms: number) => 4 * len * Number.EPSILON * terms;
          const d2 = ts.squaredDistance(x, y);
          expect(Math.abs(b.squaredDistance(on(b, place, x), on(b, place, y)) - d2)).toBeLessThanOrEqual(bound(d2));
          const magnitude = x.data.reduce((t, v) => t + Math.abs(v), 0);
          expect(Math.abs(b.sum(on(b, place, x)) - ts.sum(x))).toBeLessThanOrEqual(bound(magnitude));
        }
      }
      expect(() => b.subtract(filled(b, 1, 4, Math.random), filled(b, 1, 5, Math.random), filled(b, 1, 4, Math.random))).toThrow(
        /subtract: arrays of 4, 5, 4 values/,
      );
      expect(() => b.squaredDistance(filled(b, 1, 4, Math.random), filled(b, 1, 3, Math.random))).toThrow(
        /squaredDistance: arrays of 4, 3 values/,
      );
    },
  );

  it.each(WASMS.map((b) => [b.name, b] as const))(
    '%s: sum is non-finite exactly when an element is, wherever it sits, and never overflows',
    (_, b) => {
      for (const len of [1, 5, 8, 1283]) {
        for (const at of [0, len - 1, Math.floor(len / 2)]) {
          for (const bad of [Number.NaN, Infinity, -Infinity]) {
            const m = filled(b, 1, len, () => 1);
            m.data[at] = bad;
            expect(Number.isFinite(b.sum(m)), `${len} ${at} ${bad}`).toBe(false);
          }
        }
        const big = Math.fround(3.4e38);
        expect(b.sum(filled(b, 1, len, () => big)) / (big * len)).toBeCloseTo(1, 12);
      }
    },
  );
});

/** Distance in float32 ulps (representations ordered as integers; +0 and -0 are 0 apart). */
function ulps(a: number, b: number): number {
  const f = new Float32Array([a, b]),
    i = new Int32Array(f.buffer);
  const ord = (x: number) => (x < 0 ? -(x & 0x7fffffff) : x);
  return Math.abs(ord(i[0]) - ord(i[1]));
}

describe('wasm backend: activate', () => {
  // correctly rounded float32 of the float64 function
  const exact: Record<Activation, (z: number) => number> = {
    sigmoid: (z) => Math.fround(1 / (1 + Math.exp(-z))),
    tanh: (z) => Math.fround(Math.tanh(z)),
    relu: (z) => (z > 0 ? z : 0),
    linear: (z) => z,
  };

  function inputs(): Float32Array {
    const xs: number[] = [];
    for (let z = -30; z <= 30; z += 1 / 512) xs.push(z); // dense where sigmoid and tanh bend
    for (let e = -40; e <= 7; e += 0.01) xs.push(2 ** e, -(2 ** e)); // tiny to huge, both signs
    const next = rng(42);
    for (let i = 0; i < 20000; i++) xs.push(10 * next());
    xs.push(0, -0, 87, 87.5, 88.7, 89, 103, 104, 105, 1e30, -87, -88.7, -89, -103.9, -104, -150, -1e30, 1e-45, -1e-45, 0.625, -0.625);
    return new Float32Array(xs);
  }

  // Measured here: sigmoid at most 2 ulp and tanh at most 2 ulp from the correctly rounded value
  // (the typescript backend, which computes in float64, is within 1 ulp of it).
  it.each(['sigmoid', 'tanh'] as const)('%s stays within 3 ulp of the correctly rounded value', (kind) => {
    const z = inputs();
    const h = copy(wasm, { rows: 1, cols: z.length, data: z });
    const sum = wasm.activate(kind, h);
    let worst = 0,
      at = 0,
      total = 0;
    for (let i = 0; i < z.length; i++) {
      const want = exact[kind](z[i]);
      const d = ulps(h.data[i], want);
      if (d > worst) [worst, at] = [d, z[i]];
      total += h.data[i];
    }
    expect(worst, `worst at z = ${at}`).toBeLessThanOrEqual(3);
    expect(Math.abs(sum - total)).toBeLessThanOrEqual(1e-9 * Math.abs(total) + 1e-9);
    // and against the typescript backend on the same inputs
    const t = copy('plain', { rows: 1, cols: z.length, data: z });
    ts.activate(kind, t);
    let vsTs = 0;
    for (let i = 0; i < z.length; i++) vsTs = Math.max(vsTs, ulps(h.data[i], t.data[i]));
    expect(vsTs).toBeLessThanOrEqual(3);
  });

  it.each(['relu', 'linear'] as const)('%s is bit-identical to the typescript backend', (kind) => {
    const z = inputs();
    const h = copy(wasm, { rows: 1, cols: z.length, data: z }),
      t = copy('plain', h);
    const s = wasm.activate(kind, h),
      st = ts.activate(kind, t);
    expect(bits(h.data)).toEqual(bits(t.data));
    expect(Math.abs(s - st)).toBeLessThanOrEqual(1e-9 * Math.abs(st));
  });

  it('works on every length (vector tails) and on operands outside memory', () => {
    for (const kind of ACTIVATIONS) {
      for (const len of [0, 1, 2, 3, 5, 8, 13, 1283]) {
        const next = rng(len + 1);
        const z = filled('plain', 1, len, () => 6 * next());
        const ref = new Float32Array(len);
        for (let i = 0; i < len; i++) ref[i] = exact[kind](z.data[i]);
        for (const place of ['wasm', 'plain', 'views'] as const) {
          const h = place === 'wasm' ? copy(wasm, z) : place === 'views' ? offsetView(z) : copy('plain', z);
          const s = wasm.activate(kind, h);
          let want = 0;
          for (let i = 0; i < len; i++) {
            expect(ulps(h.data[i], ref[i]), `${kind} ${len} ${place} [${i}]`).toBeLessThanOrEqual(3);
            want += h.data[i];
          }
          expect(Math.abs(s - want)).toBeLessThanOrEqual(1e-9 * Math.abs(want) + 1e-12);
        }
      }
    }
  });

  it('an element gets the same value wherever it sits (vector body or tail)', () => {
    const z = filled(wasm, 1, 7, rng(5));
    const alone = copy(wasm, { rows: 1, cols: 1, data: z.data.subarray(6, 7) });
    wasm.activate('sigmoid', z);
    wasm.activate('sigmoid', alone);
    expect(bits(alone.data)).toEqual(bits(z.data.subarray(6, 7)));
  });

  it('returns a non-finite sum for non-finite values, as the typescript backend does', () => {
    const cases: [Activation, number][] = [
      ['sigmoid', Number.NaN],
      ['tanh', Number.NaN],
      ['linear', Number.NaN],
      ['linear', Infinity],
      ['relu', Infinity],
      ['relu', Number.NaN],
    ];
    for (const [kind, bad] of cases) {
      const z = filled(wasm, 2, 5, rng(1));
      z.data[7] = bad;
      const t = copy('plain', z);
      const s = wasm.activate(kind, z),
        st = ts.activate(kind, t);
      expect(Number.isFinite(s), `${kind} ${bad}`).toBe(Number.isFinite(st));
      // the same value (any NaN is a NaN: its sign and payload carry no meaning)
      expect(z.data[7], `${kind} ${bad}`).toEqual(t.data[7]);
    }
    const inf = filled(wasm, 1, 4, () => 0);
    inf.data.set([Infinity, -Infinity, 1e38, -1e38]);
    wasm.activate('sigmoid', inf);
    expect(Array.from(inf.data)).toEqual([1, 0, 1, 0]);
    inf.data.set([Infinity, -Infinity, -0, 0]);
    wasm.activate('tanh', inf);
    expect(bits(inf.data)).toEqual(bits(new Float32Array([1, -1, -0, 0])));
  });
});

describe('wasm backend: optimiser steps agree with the typescript loops to float32 rounding', () => {
  /** Random state for one parameter array: p, g of mixed magnitudes (tiny to large, zeros), m, v >= 0. */
  function state(b: KernelBackend | 'plain', n: number, seed: number) {
    const next = rng(seed),
      mk = () => (b === 'plain' ? new Float32Array(n) : b.alloc(n));
    const p = mk(),
      g = mk(),
      m = mk(),
      v = mk();
    for (let i = 0; i < n; i++) {
      p[i] = next();
      g[i] = i % 11 === 0 ? 0 : next() * 10 ** Math.round(3 * next() - 2);
      m[i] = 0.1 * next();
      v[i] = 0.01 * Math.abs(next());
    }
    return { p, g, m, v };
  }
  const copyOf = (s: ReturnType<typeof state>) => ({ p: s.p.slice(), g: s.g.slice(), m: s.m.slice(), v: s.v.slice() });
  const LENGTHS = [1, 3, 4, 7, 64, 1001, 4099];

  it.each(LENGTHS)('adamStep over %i values, five steps with bias-corrected lr and eps', (n) => {
    const w = state(wasm, n, 100 + n),
      t = copyOf(w);
    const b1 = 0.9,
      b2 = 0.999;
    for (let step = 1; step <= 5; step++) {
      const before = copyOf(t);
      const c1 = 1 - b1 ** step,
        c2 = Math.sqrt(1 - b2 ** step),
        lr = (1e-3 * c2) / c1,
        eps = 1e-8 * c2;
      // both start this step from the typescript state, so each step's error is measured alone
      (w.p.set(before.p), w.m.set(before.m), w.v.set(before.v));
      wasm.adamStep(w.p, w.g, w.m, w.v, lr, b1, b2, eps);
      ts.adamStep!(t.p, t.g, t.m, t.v, lr, b1, b2, eps);
      for (let i = 0; i < n; i++) {
        // each side rounds a handful of times: bound each result by a few units of roundoff of its terms
        const mTerms = Math.abs(b1 * before.m[i]) + Math.abs((1 - b1) * before.g[i]);
        const vTerms = Math.abs(b2 * before.v[i]) + Math.abs((1 - b2) * before.g[i] ** 2);
        const stepSize = (lr * mTerms) / (Math.sqrt(t.v[i]) + eps);
        expect(Math.abs(w.m[i] - t.m[i]), `m[${i}]`).toBeLessThanOrEqual(4 * U * mTerms);
        expect(Math.abs(w.v[i] - t.v[i]), `v[${i}]`).toBeLessThanOrEqual(4 * U * vTerms);
        expect(Math.abs(w.p[i] - t.p[i]), `p[${i}]`).toBeLessThanOrEqual(2 * U * Math.abs(before.p[i]) + 12 * U * stepSize);
      }
      // a step that moved nothing would pass the bounds above: it must move every p whose gradient history is not zero
      expect(w.p.some((x, i) => x !== before.p[i])).toBe(true);
    }
  });

  it.each(LENGTHS)('momentumStep over %i values', (n) => {
    const w = state(wasm, n, 200 + n),
      t = copyOf(w),
      before = copyOf(w);
    wasm.momentumStep(w.p, w.g, w.v, 0.05, 0.9);
    ts.momentumStep!(t.p, t.g, t.v, 0.05, 0.9);
    for (let i = 0; i < n; i++) {
      const vTerms = Math.abs(0.9 * before.v[i]) + Math.abs(before.g[i]);
      expect(Math.abs(w.v[i] - t.v[i]), `v[${i}]`).toBeLessThanOrEqual(3 * U * vTerms);
      expect(Math.abs(w.p[i] - t.p[i]), `p[${i}]`).toBeLessThanOrEqual(2 * U * Math.abs(before.p[i]) + 6 * U * 0.05 * vTerms);
    }
    expect(w.p.some((x, i) => x !== before.p[i])).toBe(true);
  });

  it('arrays outside its memory take the typescript loop (bit for bit); mismatched lengths throw', () => {
    const w = state('plain', 37, 7),
      t = copyOf(w);
    wasm.adamStep(w.p, w.g, w.m, w.v, 1e-3, 0.9, 0.999, 1e-8);
    ts.adamStep!(t.p, t.g, t.m, t.v, 1e-3, 0.9, 0.999, 1e-8);
    expect([bits(w.p), bits(w.m), bits(w.v)]).toEqual([bits(t.p), bits(t.m), bits(t.v)]);
    wasm.momentumStep(w.p, w.g, w.v, 0.1, 0.5);
    ts.momentumStep!(t.p, t.g, t.v, 0.1, 0.5);
    expect([bits(w.p), bits(w.v)]).toEqual([bits(t.p), bits(t.v)]);
    const short = wasm.alloc(36);
    for (const b of [wasm, ts]) {
      expect(() => b.adamStep!(w.p, w.g, short, w.v, 1e-3, 0.9, 0.999, 1e-8)).toThrow(/adamStep: arrays of 37, 37, 36, 37 values/);
      expect(() => b.momentumStep!(w.p, short, w.v, 0.1, 0.9)).toThrow(/momentumStep: arrays of 37, 36, 37 values/);
    }
    wasm.free(short);
  });

  it('an Adam training on the wasm kernels follows the typescript one (float32 rounding apart)', () => {
    const topology = defineTopology({
      inputs: 6,
      batch: 8,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 0.01 },
      synthesizer: { optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 }, conditioned: true },
      layers: [{ units: 16, activation: 'relu', decoupled: true }, { units: 3 }],
    });
    const next = rng(5),
      classes = Array.from({ length: 64 }, () => Math.floor(3 * Math.abs(next())) % 3);
    const x = Array.from({ length: 64 * 6 }, (_, i) => next() + (i % 6 === classes[Math.floor(i / 6)] ? 1 : 0));
    const runOn = (b: KernelBackend) => {
      useBackend(b);
      try {
        const data = { x: { rows: 64, cols: 6, data: Float32Array.from(x) }, y: oneHotOf(classes, 3) };
        const net = buildNetwork(topology, initParameters(topology, 3));
        const run = trainSequential(net, data, 80);
        return { params: parametersToJSON(net.params, topology), losses: run.losses };
      } finally {
        useBackend(ts);
      }
    };
    const a = runOn(wasm),
      b = runOn(ts);
    expect(a.losses[79]).toBeLessThan(a.losses[0] * 0.5); // it learns
    let worst = 0;
    for (const [k, v] of Object.entries(a.params)) {
      const w = (v as number[] | number[][]).flat(),
        t = (b.params[k] as number[] | number[][]).flat();
      w.forEach((value, i) => (worst = Math.max(worst, Math.abs(value - t[i]))));
    }
    expect(worst).toBeLessThan(1e-4);
  });
});

describe('wasm backend: memory', () => {
  it('alloc is zero-filled, free recycles, and bad frees throw', () => {
    const b = createWasmBackend({ memoryMiB: 2 });
    const x = b.alloc(1000);
    x.fill(3);
    b.free(x);
    const y = b.alloc(1000);
    expect(y.every((v) => v === 0)).toBe(true);
    expect(() => b.free(y.subarray(1))).toThrow(RangeError);
    expect(() => b.free(new Float32Array(1000))).toThrow(RangeError);
    b.free(y);
    expect(() => b.free(y)).toThrow(/freed twice/);
    expect(b.usage().usedBytes).toBeGreaterThan(0); // the kernels' scratch
  });

  it('running out throws with the sizes and never detaches arrays already handed out', () => {
    const b = createWasmBackend({ memoryMiB: 2 });
    const keep = b.alloc(1000);
    keep[999] = 5;
    const blocks: Float32Array[] = [];
    expect(() => {
      for (;;) blocks.push(b.alloc(100_000));
    }).toThrow(/out of memory in alloc: 100000 floats \(400000 bytes\) requested, \d+ of \d+ bytes in use/);
    expect(keep.length).toBe(1000);
    expect(keep[999]).toBe(5);
    for (const x of blocks) b.free(x);
    const { usedBytes, largestFreeBytes } = b.usage();
    expect(largestFreeBytes).toBeGreaterThan(1_500_000); // neighbours merged back
    expect(usedBytes).toBeLessThan(600_000);
  });

  it('stages outside operands bigger than its scratch (the staging area grows)', () => {
    runGemm('matmul', 300, 200, 100, [[1, 0]], 'plain', 77);
    runGemm('matmulTB', 300, 200, 100, [[0.5, 0.5]], 'views', 78);
  });

  it('gives a huge staging area back after its call', () => {
    const b = createWasmBackend({ memoryMiB: 64 });
    const before = b.usage().usedBytes;
    const m = { rows: 2100, cols: 2000, data: new Float32Array(2100 * 2000).fill(1) };
    const v = { rows: 1, cols: 2000, data: new Float32Array(2000).fill(2) };
    b.addRowVector(m, v);
    expect(m.data[0] + m.data[m.data.length - 1]).toBe(6);
    expect(b.usage().usedBytes).toBe(before);
  });
});

describe('backend selection', () => {
  it('autoBackend picks wasm-fma (else wasm) by default and honours DNI_BACKEND', () => {
    const saved = process.env.DNI_BACKEND;
    try {
      delete process.env.DNI_BACKEND;
      expect(autoBackend()).toBe(fma ?? wasm);
      process.env.DNI_BACKEND = 'typescript';
      expect(autoBackend()).toBe(ts);
      process.env.DNI_BACKEND = 'wasm';
      expect(autoBackend()).toBe(wasm);
      process.env.DNI_BACKEND = 'wasm-fma';
      if (fma) expect(autoBackend()).toBe(fma);
      else expect(() => autoBackend()).toThrow(/DNI_BACKEND=wasm-fma but the wasm-fma backend is unavailable/);
      process.env.DNI_BACKEND = 'gpu';
      expect(() => autoBackend()).toThrow(/DNI_BACKEND must be one of typescript, wasm, wasm-fma, got "gpu"/);
      for (const b of [ts, ...WASMS]) expect(backendByName(b.name)).toBe(b);
      expect(() => backendByName('gpu')).toThrow(/unknown kernel backend 'gpu'/);
    } finally {
      if (saved === undefined) delete process.env.DNI_BACKEND;
      else process.env.DNI_BACKEND = saved;
    }
  });

  it('falling back from wasm-fma is said with the reasons; loading wasm-fma says nothing', () => {
    expect(fallbackWarning(undefined, undefined)).toBeUndefined();
    expect(fallbackWarning(undefined, 'x')).toBeUndefined();
    expect(fallbackWarning('wasm-fma backend: this engine has no relaxed SIMD', undefined)).toBe(
      'dni-actors: using the wasm kernels, not wasm-fma (wasm-fma backend: this engine has no relaxed SIMD). ' +
        'Set DNI_BACKEND=wasm to choose them and silence this.',
    );
    const both = fallbackWarning('wasm-fma backend: cannot read a (ENOENT)', 'wasm backend: cannot read b (ENOENT)')!;
    expect(both).toMatch(/^dni-actors: using the TypeScript kernels, several times slower/);
    expect(both).toContain('(wasm-fma backend: cannot read a (ENOENT); wasm backend: cannot read b (ENOENT))');
    expect(both).toMatch(/DNI_BACKEND=typescript to choose them and silence this\.$/);
  });

  it('a missing .wasm makes a clear error', () => {
    expect(() => createWasmBackend({ wasmPath: '/nonexistent/kernels.wasm' })).toThrow(/cannot read .*npm run build:wasm/);
  });
});

describe.each(WASMS)('reference trainings on the $name kernels', (wasm) => {
  // float32 kernels against the float64 numpy reference after 300 steps, at tests/reference.test.ts's tolerances
  // (measured on wasm and wasm-fma: parameters 1.05e-6 at most, on cdni; losses 6.1e-8, synthesizer losses 8.8e-8)
  it.each(referenceCases())('$name: final parameters within 2e-6, losses within 1e-6 of the float64 reference', ({ name, json }) => {
    useBackend(wasm);
    try {
      const c = loadCase(json, name);
      const net = buildNetwork(c.topology, c.initial);
      for (const [k, p] of Object.entries(net.params)) expect(wasm.owns(p.data), k).toBe(true);
      const run = trainSequential(net, c.data, c.steps);
      const d = compareWithCase(
        {
          final: parametersToJSON(net.params, c.topology),
          losses: Array.from(run.losses),
          synthesizer_losses: Array.from(run.synthesizerLosses),
        },
        json,
      );
      expect(d.maxParamDiff, `worst parameter ${d.worstParam}`).toBeLessThan(2e-6);
      expect(d.maxLossRelDiff).toBeLessThan(1e-6);
      expect(d.maxSynthesizerLossRelDiff).toBeLessThan(1e-6);
    } finally {
      useBackend(ts);
    }
  });
});
