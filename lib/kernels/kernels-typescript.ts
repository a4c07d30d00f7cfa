/**
 * The plain TypeScript kernels: always available, the reference the faster backends are tested
 * against. Loop orders are chosen so the innermost loop walks contiguous memory.
 */
import { activateInPlace, activationGrad } from '../activations.ts';
import type { KernelBackend } from './kernels.ts';
import type { Matrix } from '../matrix.ts';

function checkGemm(op: string, m: number, k: number, k2: number, n: number, out: Matrix): void {
  if (k !== k2 || out.rows !== m || out.cols !== n) {
    throw new RangeError(`${op}: inner sizes ${k} and ${k2} with output ${out.rows}x${out.cols} (expected ${m}x${n})`);
  }
}

/** Refuse optimiser operands of different lengths (a loop over p would read past the others). */
export function checkSameLength(op: string, ...arrays: Float32Array[]): void {
  for (const a of arrays) {
    if (a.length !== arrays[0].length)
      throw new RangeError(`${op}: arrays of ${arrays.map((x) => x.length).join(', ')} values (must be equal)`);
  }
}

function scaleOut(out: Float32Array, beta: number): void {
  if (beta === 0) out.fill(0);
  else if (beta !== 1) for (let i = 0; i < out.length; i++) out[i] *= beta;
}

export const typescriptBackend: KernelBackend = {
  name: 'typescript',
  alloc: (length) => new Float32Array(length),

  matmul(a, b, out, alpha = 1, beta = 0) {
    checkGemm('matmul', a.rows, a.cols, b.rows, b.cols, out);
    const { rows: m, cols: k } = a,
      n = b.cols,
      A = a.data,
      B = b.data,
      C = out.data;
    scaleOut(C, beta);
    for (let i = 0; i < m; i++) {
      const ci = i * n;
      for (let p = 0; p < k; p++) {
        const s = alpha * A[i * k + p];
        if (s === 0) continue;
        const bp = p * n;
        for (let j = 0; j < n; j++) C[ci + j] += s * B[bp + j];
      }
    }
    return out;
  },

  matmulTA(a, b, out, alpha = 1, beta = 0) {
    checkGemm('matmulTA', a.cols, a.rows, b.rows, b.cols, out);
    const { rows: k, cols: m } = a,
      n = b.cols,
      A = a.data,
      B = b.data,
      C = out.data;
    scaleOut(C, beta);
    for (let p = 0; p < k; p++) {
      const bp = p * n;
      for (let i = 0; i < m; i++) {
        const s = alpha * A[p * m + i];
        if (s === 0) continue;
        const ci = i * n;
        for (let j = 0; j < n; j++) C[ci + j] += s * B[bp + j];
      }
    }
    return out;
  },

  matmulTB(a, b, out, alpha = 1, beta = 0) {
    checkGemm('matmulTB', a.rows, a.cols, b.cols, b.rows, out);
    const { rows: m, cols: k } = a,
      n = b.rows,
      A = a.data,
      B = b.data,
      C = out.data;
    for (let i = 0; i < m; i++) {
      const ai = i * k;
      for (let j = 0; j < n; j++) {
        const bj = j * k;
        let s = 0;
        for (let p = 0; p < k; p++) s += A[ai + p] * B[bj + p];
        C[i * n + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * n + j]);
      }
    }
    return out;
  },

  addRowVector(m, v) {
    if (v.data.length !== m.cols) throw new RangeError(`addRowVector: vector of ${v.data.length} for ${m.cols} columns`);
    const M = m.data,
      V = v.data,
      n = m.cols;
    for (let i = 0; i < m.rows; i++) for (let j = 0; j < n; j++) M[i * n + j] += V[j];
    return m;
  },

  meanRows(m, out, alpha = 1, beta = 0) {
    if (out.data.length !== m.cols) throw new RangeError(`meanRows: output of ${out.data.length} for ${m.cols} columns`);
    const M = m.data,
      O = out.data,
      n = m.cols,
      s = alpha / m.rows;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let i = 0; i < m.rows; i++) acc += M[i * n + j];
      O[j] = s * acc + (beta === 0 ? 0 : beta * O[j]);
    }
    return out;
  },

  adamStep(p, g, m, v, lr, b1, b2, eps) {
    checkSameLength('adamStep', p, g, m, v);
    const a1 = 1 - b1,
      a2 = 1 - b2;
    for (let j = 0; j < p.length; j++) {
      const gj = g[j];
      const mj = (m[j] = b1 * m[j] + a1 * gj);
      const vj = (v[j] = b2 * v[j] + a2 * gj * gj);
      p[j] -= (lr * mj) / (Math.sqrt(vj) + eps);
    }
  },

  momentumStep(p, g, v, lr, mu) {
    checkSameLength('momentumStep', p, g, v);
    for (let j = 0; j < p.length; j++) {
      const vj = (v[j] = mu * v[j] + g[j]);
      p[j] -= lr * vj;
    }
  },

  subtract(a, b, out) {
    const A = a.data,
      B = b.data,
      O = out.data;
    checkSameLength('subtract', A, B, O);
    for (let i = 0; i < O.length; i++) O[i] = A[i] - B[i];
    return out;
  },

  squaredDistance(a, b) {
    const A = a.data,
      B = b.data;
    checkSameLength('squaredDistance', A, B);
    let sum = 0;
    for (let i = 0; i < A.length; i++) {
      const e = A[i] - B[i];
      sum += e * e;
    }
    return sum;
  },

  sum(m) {
    const M = m.data;
    let sum = 0;
    for (let i = 0; i < M.length; i++) sum += M[i];
    return sum;
  },

  activate: (kind, z) => activateInPlace(kind, z.data),
  activationGrad(kind, h, g, out) {
    activationGrad(kind, h.data, g.data, out.data);
    return out;
  },
};
