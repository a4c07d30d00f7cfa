/**
 * Kernel backends: the few dense operations DNI needs, on row-major float32 matrices.
 *
 * Every backend computes `out = alpha * op(A, B) + beta * out` (a GEMM with either operand
 * transposed), so a weight update `W -= lr * xᵀd / B` is one call with no temporary:
 * `matmulTA(x, d, W, -lr / B, 1)`. Storage comes from the backend (`alloc`) so a WebAssembly
 * backend can work on its own memory without copies. The backend is chosen automatically on
 * first use (WebAssembly SIMD with fused multiply-adds, else plain WebAssembly SIMD, else the
 * always-available TypeScript kernels); override it with `DNI_BACKEND=typescript|wasm|wasm-fma`
 * or {@link useBackend} before building a training.
 */
import type { Activation } from '../activations.ts';
import { autoBackend } from './backend-choice.ts';
import type { Matrix } from '../matrix.ts';

export interface KernelBackend {
  readonly name: string;
  /** Float32 storage for `length` elements, zero-filled. */
  alloc(length: number): Float32Array;
  /**
   * Give storage from `alloc` back, where the backend manages its own memory (wasm: a fixed
   * arena; the array must not be used afterwards). Absent where the garbage collector does it.
   */
  free?(data: Float32Array): void;
  /** out = alpha · A·B + beta · out   (A: m×k, B: k×n, out: m×n) */
  matmul(a: Matrix, b: Matrix, out: Matrix, alpha?: number, beta?: number): Matrix;
  /** out = alpha · Aᵀ·B + beta · out  (A: k×m, B: k×n, out: m×n) */
  matmulTA(a: Matrix, b: Matrix, out: Matrix, alpha?: number, beta?: number): Matrix;
  /** out = alpha · A·Bᵀ + beta · out  (A: m×k, B: n×k, out: m×n) */
  matmulTB(a: Matrix, b: Matrix, out: Matrix, alpha?: number, beta?: number): Matrix;
  /** m[i, :] += v[0, :] for every row i */
  addRowVector(m: Matrix, v: Matrix): Matrix;
  /** out[0, :] = alpha · mean over rows of m + beta · out[0, :] */
  meanRows(m: Matrix, out: Matrix, alpha?: number, beta?: number): Matrix;
  /** h = f(z) in place; returns the sum of h (non-finite when any element is) */
  activate(kind: Activation, z: Matrix): number;
  /** out = g * f'(h) element-wise, f' written from the output h */
  activationGrad(kind: Activation, h: Matrix, g: Matrix, out: Matrix): Matrix;
  /** out = a - b element-wise (out may be a or b); bit-identical in every backend */
  subtract(a: Matrix, b: Matrix, out: Matrix): Matrix;
  /** Σ (a - b)², differences and sum in float64: a synthesizer's loss without a temporary */
  squaredDistance(a: Matrix, b: Matrix): number;
  /** Σ m in float64: non-finite exactly when some element is (float32 values cannot overflow it) */
  sum(m: Matrix): number;
  /**
   * One Adam step over whole arrays of the same length, in place:
   * `m = β1 m + (1-β1) g`, `v = β2 v + (1-β2) g²`, `p -= lr m / (√v + eps)`, with Adam's bias
   * corrections already folded into `lr` and `eps` by the caller (see optimizers.ts). Optional:
   * an optimiser uses the TypeScript backend's loop where a backend has none. Results agree with
   * that loop to float32 rounding (not necessarily bit for bit).
   *
   * @example
   * backend().adamStep?.(W.data, gradW.data, m.data, v.data, 1e-3, 0.9, 0.999, 1e-8);
   */
  adamStep?(
    p: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void;
  /**
   * One step of SGD with momentum μ (PyTorch's form) over whole arrays of the same length, in place:
   * `v = μ v + g`, `p -= lr v`. Optional, as {@link KernelBackend.adamStep}.
   */
  momentumStep?(p: Float32Array, g: Float32Array, v: Float32Array, lr: number, momentum: number): void;
}

export { typescriptBackend } from './kernels-typescript.ts';

let active: KernelBackend | null = null;

/**
 * The backend new matrices and layers use: chosen on first use by {@link autoBackend}
 * (wasm-fma, else wasm, else TypeScript; `DNI_BACKEND=typescript|wasm|wasm-fma` overrides),
 * or whatever {@link useBackend} set.
 */
export function backend(): KernelBackend {
  return (active ??= autoBackend());
}

/** Make `b` the active backend (build trainings after this call; matrices keep the storage they were made with). */
export function useBackend(b: KernelBackend): KernelBackend {
  active = b;
  return b;
}
