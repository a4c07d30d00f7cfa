/**
 * Matrix: a row-major float32 matrix on a typed array. Plain data, no methods, so it can be
 * sent to a worker, viewed into (a batch is a zero-copy view of the data set) and handed to any
 * kernel backend.
 */
import { type KernelBackend, backend } from './kernels/kernels.ts';

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** row-major, `rows * cols` long; element (i, j) is `data[i * cols + j]` */
  readonly data: Float32Array;
}

/** A new zero matrix whose storage comes from the active kernel backend (WebAssembly memory when it is active). */
export function zeros(rows: number, cols: number): Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`zeros: shape must be two non-negative integers, got ${rows}x${cols}`);
  }
  return { rows, cols, data: backend().alloc(rows * cols) };
}

/** A matrix holding a copy of `values` (row-major); a plain array must hold numbers only (nothing is coerced). */
export function fromArray(rows: number, cols: number, values: ArrayLike<number>): Matrix {
  if (values === null || typeof values !== 'object' || typeof values.length !== 'number') {
    throw new TypeError(`fromArray: values is ${describeValue(values)}, expected an array of numbers`);
  }
  if (values.length !== rows * cols) {
    throw new RangeError(`fromArray: ${values.length} values do not fill a ${rows}x${cols} matrix`);
  }
  if (!ArrayBuffer.isView(values)) {
    for (let i = 0; i < values.length; i++)
      if (typeof values[i] !== 'number') throw new TypeError(`fromArray: values[${i}] is ${describeValue(values[i])}, expected a number`);
  }
  const m = zeros(rows, cols);
  m.data.set(values);
  return m;
}

/**
 * A matrix from nested rows (`[[1, 2], [3, 4]]`), or a 1 x n row from a flat vector. Every
 * element must be a number: `null`, `true`, `"1"` or `[1]` are refused with a TypeError naming
 * `name` and the position (`x[3][7] is "1", expected a number`), never coerced; rows must all
 * have the same length.
 */
export function fromNested(values: readonly (readonly number[])[] | readonly number[], name = 'values'): Matrix {
  if (!Array.isArray(values)) throw new TypeError(`${name} is ${describeValue(values)}, expected an array`);
  if (values.length > 0 && Array.isArray(values[0])) {
    const rows = values as readonly (readonly unknown[])[];
    const cols = rows[0].length;
    rows.forEach((row, i) => {
      if (!Array.isArray(row)) throw new TypeError(`${name}[${i}] is ${describeValue(row)}, expected a row (an array of ${cols} numbers)`);
      if (row.length !== cols) throw new RangeError(`${name}[${i}] has ${row.length} values, ${name}[0] has ${cols}`);
      for (let j = 0; j < cols; j++)
        if (typeof row[j] !== 'number') throw new TypeError(`${name}[${i}][${j}] is ${describeValue(row[j])}, expected a number`);
    });
    const m = zeros(rows.length, cols);
    rows.forEach((row, i) => m.data.set(row as readonly number[], i * cols));
    return m;
  }
  for (let i = 0; i < values.length; i++)
    if (typeof values[i] !== 'number') throw new TypeError(`${name}[${i}] is ${describeValue(values[i])}, expected a number`);
  const m = zeros(1, values.length);
  m.data.set(values as readonly number[]);
  return m;
}

/** A value as it appears in an error: JSON where it has one, shortened. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'missing (undefined)';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return `${typeof v} ${String(v)}`.slice(0, 60);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** Nested rows as plain numbers (for JSON); a 1 x n matrix becomes a flat vector when `flat`. */
export function toNested(m: Matrix, flat = false): number[][] | number[] {
  if (flat) return Array.from(m.data);
  const out: number[][] = [];
  for (let i = 0; i < m.rows; i++) out.push(Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols)));
  return out;
}

/** A zero-copy view of rows `[start, start + count)`. */
export function rowsView(m: Matrix, start: number, count: number): Matrix {
  if (start < 0 || count < 0 || start + count > m.rows) {
    throw new RangeError(`rowsView: rows [${start}, ${start + count}) are outside a ${m.rows}-row matrix`);
  }
  return { rows: count, cols: m.cols, data: m.data.subarray(start * m.cols, (start + count) * m.cols) };
}

/** Copy `src` into `dst` (same shape). */
export function copyInto(dst: Matrix, src: Matrix): Matrix {
  if (dst.rows !== src.rows || dst.cols !== src.cols) {
    throw new RangeError(`copyInto: ${src.rows}x${src.cols} does not fit ${dst.rows}x${dst.cols}`);
  }
  dst.data.set(src.data);
  return dst;
}

/**
 * Give a matrix's storage back to the backend that allocated it (`kernels`: the one that was
 * active when it was made), where that backend manages its own memory (wasm); a no-op elsewhere.
 * The matrix must not be used afterwards.
 */
export function release(m: Matrix, kernels: KernelBackend = backend()): void {
  kernels.free?.(m.data);
}

/** A deep copy with storage from the active backend. */
export function clone(m: Matrix): Matrix {
  return copyInto(zeros(m.rows, m.cols), m);
}

export function shapeOf(m: Matrix): string {
  return `${m.rows}x${m.cols}`;
}

/**
 * Why `m` is not a well-formed {@link Matrix} (rows and cols non-negative integers, data a
 * Float32Array of exactly rows x cols values), or null when it is. `name` names it.
 */
export function matrixProblem(m: unknown, name: string): string | null {
  if (m === null || typeof m !== 'object') return `${name} is ${describeValue(m)}, expected a matrix { rows, cols, data }`;
  const { rows, cols, data } = m as Record<string, unknown>;
  for (const [k, v] of [
    ['rows', rows],
    ['cols', cols],
  ] as const) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return `${name}.${k} is ${describeValue(v)}, expected an integer >= 0`;
  }
  if (!(data instanceof Float32Array)) {
    const what = data === null || typeof data !== 'object' ? describeValue(data) : `a ${(data as object).constructor?.name ?? 'object'}`;
    return `${name}.data is ${what}, expected a Float32Array`;
  }
  if (data.length !== (rows as number) * (cols as number))
    return `${name}.data has ${data.length} values, ${rows}x${cols} needs ${(rows as number) * (cols as number)}`;
  return null;
}

/** Index of the first non-finite element, or -1. */
export function firstNonFinite(data: Float32Array): number {
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i])) return i;
  return -1;
}
