/**
 * Topologies as plain data: a chain of dense layers, each optionally *decoupled* by an
 * interface (a synthesizer after it). {@link defineTopology} validates a spec and fills every
 * default, so the result can be printed, saved, sent to a worker and trusted by everything
 * that runs it.
 */
import { type Activation, ACTIVATIONS, isActivation } from './activations.ts';
import { TopologyError } from './errors.ts';
import { OPTIMIZERS, type OptimizerConfig, type OptimizerSpec, isPlainSgd } from './optimizers.ts';
import { checkSpecShape } from './topology-spec.ts';

/**
 * Head losses. `mse`: `0.5 mean_rows(sum_cols((y_hat - y)²))`. `softmax-cross-entropy`:
 * `-mean_rows(sum_cols(y log softmax(z)))` on the last layer's (linear) outputs z, labels one-hot
 * (or probability) rows; its gradient is `softmax(z) - y`.
 */
export const LOSSES = ['mse', 'softmax-cross-entropy'] as const;
export type Loss = (typeof LOSSES)[number];

/** Options of the synthesizer at a layer's interface. */
export interface SynthesizerSpec {
  /** cDNI: the synthesizer also sees the batch's labels (`g_hat = h M + c + y N`). Default false. */
  conditioned?: boolean;
  /** How many batches its refits may lag its predictions (0 = the seed's sequential order). Default 0. */
  delay?: number;
  /** Learning rate of plain-SGD refits. Default 0.01. Give this or `optimizer`, not both. */
  lr?: number;
  /** The refits' optimiser (e.g. `{ kind: 'adam', lr: 3e-3 }`); `lr` alone means plain SGD. */
  optimizer?: OptimizerSpec;
  /**
   * Widths of hidden layers: an MLP synthesizer `g_hat = f(… f(h W₀ + b₀ (+ y N₀)) …) M + c`
   * (the labels of a conditioned one enter its first layer). Default `[]`: linear.
   */
  hidden?: number[];
  /** Activation of the hidden layers. Default `'relu'`. */
  activation?: Activation;
  /**
   * A divergence guard: scale each predicted synthetic gradient down so its norm (over the
   * whole batch) is at most this. Default: no clipping.
   */
  clip?: number;
}

/** One dense layer `h = f(x W + b)`. */
export interface LayerSpec {
  /** Output width. */
  units: number;
  /** Default `'sigmoid'`. */
  activation?: Activation;
  /** Learning rate of plain-SGD updates; defaults to the topology's `lr` or `optimizer`. Give this or `optimizer`, not both. */
  lr?: number;
  /** Its optimiser; defaults to the topology's. */
  optimizer?: OptimizerSpec;
  /** Put an interface after this layer: it updates at once from a synthetic gradient. Default false. */
  decoupled?: boolean;
  /** Options of that interface's synthesizer (over the topology's `synthesizer` defaults). */
  synthesizer?: SynthesizerSpec;
}

export interface TopologySpec {
  /** Width of the input rows. */
  inputs: number;
  /** Rows per batch. */
  batch: number;
  layers: LayerSpec[];
  /**
   * Head loss. Default `'mse'`: `0.5 * mean_rows(sum_cols((y_hat - y)^2))`.
   * `'softmax-cross-entropy'` needs a `'linear'` last layer (its default there) and one-hot labels.
   */
  loss?: Loss;
  /** Width of the label rows; default the last layer's units. */
  labels?: number;
  /** Default learning rate of every layer (plain SGD). Default 0.1. Give this or `optimizer`, not both. */
  lr?: number;
  /** Default optimiser of every layer, e.g. `{ kind: 'adam', lr: 1e-3 }`. */
  optimizer?: OptimizerSpec;
  /** Defaults for every synthesizer. */
  synthesizer?: SynthesizerSpec;
}

export interface SynthesizerTopology {
  /** index of the layer whose output it reads */
  readonly layer: number;
  /** width of that output, which is also the width of the gradient it predicts */
  readonly units: number;
  readonly conditioned: boolean;
  readonly delay: number;
  /** learning rate of its refits (its optimiser's) */
  readonly lr: number;
  /** label width (the context of a conditioned synthesizer) */
  readonly labels: number;
  /** present when the refits are not plain SGD at `lr` (momentum or adam) */
  readonly optimizer?: OptimizerConfig;
  /** present for an MLP synthesizer: hidden widths (non-empty) and their activation */
  readonly hidden?: readonly number[];
  readonly activation?: Activation;
  /** present when predictions are clipped: their largest norm over a batch */
  readonly clip?: number;
}

export interface LayerTopology {
  readonly index: number;
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  /** learning rate of its updates (its optimiser's) */
  readonly lr: number;
  /** present when the updates are not plain SGD at `lr` (momentum or adam) */
  readonly optimizer?: OptimizerConfig;
  /** the synthesizer at this layer's interface, or null when it learns by backprop */
  readonly synthesizer: SynthesizerTopology | null;
}

/** A validated topology with every default filled in. Plain, frozen, JSON-safe data. */
export interface Topology {
  readonly inputs: number;
  readonly batch: number;
  readonly labels: number;
  readonly loss: Loss;
  readonly layers: readonly LayerTopology[];
}

const DEFAULT_LR = 0.1;
const DEFAULT_SYNTHESIZER_LR = 0.01;

/**
 * Validate a spec and fill its defaults.
 *
 * @example
 * const topology = defineTopology({
 *   inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01 },
 *   layers: [
 *     { units: 128, activation: 'sigmoid', decoupled: true },
 *     { units: 64, activation: 'sigmoid', decoupled: true, synthesizer: { conditioned: true, delay: 1 } },
 *     { units: 12, activation: 'sigmoid' },
 *   ],
 * });
 * // a classifier: Adam everywhere, MLP synthesizers, softmax cross-entropy head
 * const mnist = defineTopology({
 *   inputs: 784, batch: 64, loss: 'softmax-cross-entropy', optimizer: { kind: 'adam', lr: 1e-3 },
 *   synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, hidden: [256] },
 *   layers: [{ units: 256, activation: 'relu', decoupled: true }, { units: 10, activation: 'linear' }],
 * });
 */
export function defineTopology(spec: TopologySpec): Topology {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) throw new TopologyError(`topology: expected an object, got ${String(spec)}`);
  checkSpecShape(spec as unknown as Record<string, unknown>);
  positiveInt(spec.inputs, 'topology: inputs');
  positiveInt(spec.batch, 'topology: batch');
  if (!Array.isArray(spec.layers) || spec.layers.length === 0) {
    throw new TopologyError('topology: layers must be a non-empty array of { units, activation, ... }');
  }
  const loss = spec.loss ?? 'mse';
  if (!(LOSSES as readonly string[]).includes(loss)) {
    throw new TopologyError(`topology: unknown loss '${String(loss)}' (expected one of ${LOSSES.join(', ')})`);
  }
  spec.layers.forEach((l, i) => {
    if (l === null || typeof l !== 'object') throw new TopologyError(`layer ${i}: expected { units, activation, ... }, got ${String(l)}`);
    positiveInt(l.units, `layer ${i}: units`);
  });
  const last = spec.layers[spec.layers.length - 1];
  const labels = spec.labels ?? last.units;
  positiveInt(labels, 'topology: labels');
  const topLevel = { lr: spec.lr, optimizer: spec.optimizer };
  optimizerAt(topLevel, 'topology');
  const defaults = spec.synthesizer ?? {};
  if (spec.synthesizer !== undefined) optimizerAt(defaults, 'topology: synthesizer');

  let inputs = spec.inputs;
  const layers = spec.layers.map((l, index): LayerTopology => {
    const name = `layer ${index}`;
    const isLast = index === spec.layers.length - 1;
    const activation = l.activation ?? (isLast && loss === 'softmax-cross-entropy' ? 'linear' : 'sigmoid');
    if (!isActivation(activation)) {
      throw new TopologyError(`${name}: unknown activation '${String(activation)}' (expected one of ${ACTIVATIONS.join(', ')})`);
    }
    if (isLast && loss === 'softmax-cross-entropy' && activation !== 'linear') {
      throw new TopologyError(
        `${name}: the softmax-cross-entropy head applies the softmax itself, so the last layer must be 'linear' (its logits), got '${activation}'`,
      );
    }
    if (l.synthesizer !== undefined && !l.decoupled) {
      throw new TopologyError(`${name}: synthesizer options given but the layer is not decoupled (set decoupled: true)`);
    }
    const synthesizer: SynthesizerTopology | null = l.decoupled ? synthesizerAt(index, l, defaults, labels, name) : null;
    const opt = optimizerAt(l, name) ?? optimizerAt(topLevel, 'topology') ?? sgd(DEFAULT_LR);
    const layer: LayerTopology = Object.freeze({ index, inputs, units: l.units, activation, ...withOptimizer(opt), synthesizer });
    inputs = l.units;
    return layer;
  });
  if (loss === 'mse' && labels !== last.units) {
    throw new TopologyError(`topology: the mse head compares the last layer's ${last.units} outputs with labels of width ${labels}; they must match`);
  }
  if (loss === 'softmax-cross-entropy' && labels !== last.units) {
    throw new TopologyError(
      `topology: the softmax-cross-entropy head needs one-hot labels of width ${last.units} (the last layer's units), got labels of width ${labels}`,
    );
  }
  return Object.freeze({ inputs: spec.inputs, batch: spec.batch, labels, loss, layers: Object.freeze(layers) });
}

/** The layer sizes as a chain, e.g. `24-128-64-12`. */
export function describeSizes(t: Topology): string {
  return [t.inputs, ...t.layers.map((l) => l.units)].join('-');
}

/** The synthesizers of a topology, in layer order. */
export function synthesizersOf(t: Topology): SynthesizerTopology[] {
  return t.layers.flatMap((l) => (l.synthesizer ? [l.synthesizer] : []));
}

function synthesizerAt(index: number, l: LayerSpec, defaults: SynthesizerSpec, labels: number, name: string): SynthesizerTopology {
  const own = l.synthesizer ?? {};
  if (own === null || typeof own !== 'object') throw new TopologyError(`${name}: synthesizer options must be an object, got ${String(own)}`);
  const s = { ...defaults, ...own };
  const where = `${name}: synthesizer`;
  const opt = optimizerAt(own, where) ?? optimizerAt(defaults, 'topology: synthesizer') ?? sgd(DEFAULT_SYNTHESIZER_LR);
  const hidden = s.hidden ?? [];
  if (!Array.isArray(hidden)) throw new TopologyError(`${where} hidden must be an array of widths, got ${String(hidden)}`);
  hidden.forEach((w, j) => positiveInt(w, `${where} hidden[${j}]`));
  const activation = s.activation ?? 'relu';
  if (!isActivation(activation)) {
    throw new TopologyError(`${where} activation: unknown '${String(activation)}' (expected one of ${ACTIVATIONS.join(', ')})`);
  }
  if (hidden.length === 0 && own.activation !== undefined) {
    throw new TopologyError(`${where} activation '${own.activation}' given but the synthesizer is linear (no hidden layers)`);
  }
  return Object.freeze({
    layer: index,
    units: l.units,
    conditioned: Boolean(s.conditioned),
    delay: delay(s.delay ?? 0, `${where} delay`),
    ...withOptimizer(opt),
    labels,
    ...(hidden.length > 0 ? { hidden: Object.freeze([...hidden]), activation } : {}),
    ...(s.clip !== undefined ? { clip: positive(s.clip, `${where} clip`) } : {}),
  });
}

/** `lr`, plus the optimiser itself when it is not plain SGD (so a plain-SGD topology reads as before). */
function withOptimizer(c: OptimizerConfig): { lr: number; optimizer?: OptimizerConfig } {
  return isPlainSgd(c) ? { lr: c.lr } : { lr: c.lr, optimizer: c };
}

function positive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TopologyError(`${what} must be a finite number > 0, got ${String(v)}`);
  return v;
}

function sgd(lr: number): OptimizerConfig {
  return Object.freeze({ kind: 'sgd', lr, momentum: 0 });
}

/** The optimiser one level of a spec gives (`lr` alone: plain SGD), or undefined when it gives neither. */
function optimizerAt(level: { lr?: number; optimizer?: OptimizerSpec }, where: string): OptimizerConfig | undefined {
  const { lr, optimizer: o } = level;
  if (lr !== undefined && o !== undefined) {
    throw new TopologyError(`${where}: give lr (plain SGD) or optimizer, not both (got lr ${lr} and optimizer ${JSON.stringify(o)})`);
  }
  if (o === undefined) return lr === undefined ? undefined : sgd(rate(lr, `${where}: lr`));
  if (o === null || typeof o !== 'object' || !(OPTIMIZERS as readonly string[]).includes(o.kind)) {
    throw new TopologyError(`${where}: optimizer must be { kind: ${OPTIMIZERS.map((k) => `'${k}'`).join(' | ')}, lr, ... }, got ${JSON.stringify(o)}`);
  }
  const what = `${where}: optimizer`;
  const known = o.kind === 'sgd' ? ['kind', 'lr', 'momentum'] : ['kind', 'lr', 'beta1', 'beta2', 'eps'];
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new TopologyError(`${what} ${o.kind} has no option ${unknown.map((k) => `'${k}'`).join(', ')} (it takes ${known.slice(1).join(', ')})`);
  }
  const olr = rate(o.lr, `${what} lr`);
  if (o.kind === 'sgd') return Object.freeze({ kind: 'sgd', lr: olr, momentum: fraction(o.momentum ?? 0, `${what} momentum`) });
  const eps = o.eps ?? 1e-8;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new TopologyError(`${what} eps must be a finite number > 0, got ${String(eps)}`);
  return Object.freeze({ kind: 'adam', lr: olr, beta1: fraction(o.beta1 ?? 0.9, `${what} beta1`), beta2: fraction(o.beta2 ?? 0.999, `${what} beta2`), eps });
}

/** A number in [0, 1). */
function fraction(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new TopologyError(`${what} must be a number in [0, 1), got ${String(v)}`);
  return v;
}

function positiveInt(v: unknown, what: string): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new TopologyError(`${what} must be a positive integer, got ${String(v)}`);
  }
}

function rate(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new TopologyError(`${what} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

function delay(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw new TopologyError(`${what} must be an integer >= 0, got ${String(v)}`);
  }
  return v;
}
