/**
 * Topologies as plain data: a chain of dense layers, each optionally *decoupled* by an
 * interface (a synthesizer after it). {@link defineTopology} validates a spec and fills every
 * default, so the result can be printed, saved, sent to a worker and trusted by everything
 * that runs it.
 */
import { type Activation, ACTIVATIONS, isActivation } from './activations.ts';
import { TopologyError } from './errors.ts';

export const LOSSES = ['mse'] as const;
export type Loss = (typeof LOSSES)[number];

/** Options of the synthesizer at a layer's interface. */
export interface SynthesizerSpec {
  /** cDNI: the synthesizer also sees the batch's labels (`g_hat = h M + c + y N`). Default false. */
  conditioned?: boolean;
  /** How many batches its refits may lag its predictions (0 = the seed's sequential order). Default 0. */
  delay?: number;
  /** Learning rate of its refits. Default 0.01. */
  lr?: number;
}

/** One dense layer `h = f(x W + b)`. */
export interface LayerSpec {
  /** Output width. */
  units: number;
  /** Default `'sigmoid'`. */
  activation?: Activation;
  /** Learning rate of its weights; defaults to the topology's `lr`. */
  lr?: number;
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
  /** Head loss. Default `'mse'`: `0.5 * mean_rows(sum_cols((y_hat - y)^2))`. */
  loss?: Loss;
  /** Width of the label rows; default the last layer's units. */
  labels?: number;
  /** Default learning rate of every layer. Default 0.1. */
  lr?: number;
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
  readonly lr: number;
  /** label width (the context of a conditioned synthesizer) */
  readonly labels: number;
}

export interface LayerTopology {
  readonly index: number;
  readonly inputs: number;
  readonly units: number;
  readonly activation: Activation;
  readonly lr: number;
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
 */
export function defineTopology(spec: TopologySpec): Topology {
  if (spec === null || typeof spec !== 'object') throw new TopologyError(`topology: expected an object, got ${String(spec)}`);
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
  const lr = rate(spec.lr ?? DEFAULT_LR, 'topology: lr');
  const defaults = spec.synthesizer ?? {};

  let inputs = spec.inputs;
  const layers = spec.layers.map((l, index): LayerTopology => {
    const name = `layer ${index}`;
    const activation = l.activation ?? 'sigmoid';
    if (!isActivation(activation)) {
      throw new TopologyError(`${name}: unknown activation '${String(activation)}' (expected one of ${ACTIVATIONS.join(', ')})`);
    }
    if (l.synthesizer !== undefined && !l.decoupled) {
      throw new TopologyError(`${name}: synthesizer options given but the layer is not decoupled (set decoupled: true)`);
    }
    const s = { ...defaults, ...l.synthesizer };
    const synthesizer: SynthesizerTopology | null = l.decoupled
      ? Object.freeze({
          layer: index,
          units: l.units,
          conditioned: Boolean(s.conditioned),
          delay: delay(s.delay ?? 0, `${name}: synthesizer delay`),
          lr: rate(s.lr ?? DEFAULT_SYNTHESIZER_LR, `${name}: synthesizer lr`),
          labels,
        })
      : null;
    const layer = Object.freeze({ index, inputs, units: l.units, activation, lr: rate(l.lr ?? lr, `${name}: lr`), synthesizer });
    inputs = l.units;
    return layer;
  });
  if (loss === 'mse' && labels !== last.units) {
    throw new TopologyError(`topology: the mse head compares the last layer's ${last.units} outputs with labels of width ${labels}; they must match`);
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
