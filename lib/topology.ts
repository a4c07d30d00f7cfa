/**
 * Chains, the common case, as sugar for graphs: a chain of dense layers, each optionally
 * *decoupled* by an interface after it (a synthesizer predicting the gradient the layer above, or
 * the head, sends back). {@link defineTopology} validates a chain spec and returns the {@link Graph}
 * it describes, with the chain's names: actors `layer:i`, `synthesizer:i`, `head`; parameters
 * `layer{i}.W`, `layer{i}.b`, `synth{i}.M`, `synth{i}.c`, `synth{i}.N`; one label set, the data's y.
 */
import type { Activation } from './activations.ts';
import { TopologyError } from './errors.ts';
import {
  type Graph,
  type GraphSpec,
  INPUT,
  type InterfaceSpec,
  LOSSES,
  type Loss,
  type Naming,
  type SynthesizerOptions,
  buildGraph,
  describeGraph,
} from './graph.ts';
import type { OptimizerSpec } from './optimizers.ts';
import {
  activation as checkActivation,
  bool,
  knownKeys,
  nonNegativeInt,
  object,
  optimizerAt,
  positive,
  positiveInt,
  show,
} from './validate.ts';

export { LOSSES, type Loss } from './graph.ts';

/** A validated topology: a graph (a chain is a graph with the chain's names). */
export type Topology = Graph;

/** Options of the synthesizer at a layer's interface: a graph interface's ({@link SynthesizerOptions}), and cDNI. */
export interface SynthesizerSpec extends SynthesizerOptions {
  /** cDNI: the synthesizer also sees the batch's labels (`g_hat = h M + c + y N`; an MLP's first layer). Default false. */
  readonly conditioned?: boolean;
  /** The layer learns from `λ · true + (1 − λ) · ĝ` (λ > 0: it waits for the gradient). Default 0. */
  readonly lambda?: number;
  /** Steps that use λ = 1 first (the synthesizer learns from the true gradient meanwhile). Default 0. */
  readonly warmup?: number;
  /** A complete unlock's forward synthesizer options, over these. */
  readonly forward?: SynthesizerOptions;
}

/** One dense layer `h = f(x W + b)`. */
export interface LayerSpec {
  /** Output width. */
  readonly units: number;
  /** Default `'sigmoid'`. */
  readonly activation?: Activation;
  /** Learning rate of plain-SGD updates; defaults to the topology's `lr` or `optimizer`. Give this or `optimizer`, not both. */
  readonly lr?: number;
  /** Its optimiser; defaults to the topology's. */
  readonly optimizer?: OptimizerSpec;
  /** Put an interface after this layer: it updates at once from a synthetic gradient. Default false. */
  readonly decoupled?: boolean;
  /**
   * Make that interface a complete unlock (implies `decoupled`): the layer above reads a forward
   * synthesizer's prediction of this layer's output from the data (`ĥ = x M + c`), so it need not
   * wait for this layer either. Not after the last layer (the head scores its real output). Default false.
   */
  readonly complete?: boolean;
  /** Options of that interface's synthesizer (over the topology's `synthesizer` defaults). */
  readonly synthesizer?: SynthesizerSpec;
}

export interface TopologySpec {
  /** Width of the input rows. */
  readonly inputs: number;
  /** Rows per batch. */
  readonly batch: number;
  readonly layers: readonly LayerSpec[];
  /**
   * Head loss. Default `'mse'`: `0.5 * mean_rows(sum_cols((y_hat - y)^2))`.
   * `'softmax-cross-entropy'` needs a `'linear'` last layer (its default there) and one-hot labels.
   */
  readonly loss?: Loss;
  /** Width of the label rows; default the last layer's units. */
  readonly labels?: number;
  /** Default learning rate of every layer (plain SGD). Default 0.1. Give this or `optimizer`, not both. */
  readonly lr?: number;
  /** Default optimiser of every layer, e.g. `{ kind: 'adam', lr: 1e-3 }`. */
  readonly optimizer?: OptimizerSpec;
  /** Defaults for every synthesizer. */
  readonly synthesizer?: SynthesizerSpec;
}

/** The chain's node ids, head id and label set: `layer0`, `layer1`, …, `head`, `y`. */
export const CHAIN_HEAD = 'head';
export const CHAIN_LABELS = 'y';
export const chainNodeId = (i: number): string => `layer${i}`;

/** Actors `layer:i`, `synthesizer:i`, `head`; parameters `layer{i}.*`, `synth{i}.*`. */
export const CHAIN_NAMING: Naming = {
  kind: 'chain',
  node: (_id, index) => ({ actor: `layer:${index}`, key: chainNodeId(index) }),
  synthesizer: (from) => ({ name: String(from.index), actor: `synthesizer:${from.index}`, key: `synth${from.index}` }),
  forward: (from) => ({ name: String(from.index), actor: `forward:${from.index}`, key: `fwd${from.index}` }),
  head: () => CHAIN_HEAD,
};

const SYNTH_KEYS = ['conditioned', 'delay', 'lr', 'optimizer', 'hidden', 'activation', 'clip', 'lambda', 'warmup', 'forward'];

/**
 * Validate a chain spec and fill its defaults: the graph of the chain.
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
 * topology.synthesizers.map((s) => s.actor); // ['synthesizer:0', 'synthesizer:1']
 * // a classifier: Adam everywhere, MLP synthesizers, softmax cross-entropy head
 * const mnist = defineTopology({
 *   inputs: 784, batch: 64, loss: 'softmax-cross-entropy', optimizer: { kind: 'adam', lr: 1e-3 },
 *   synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, hidden: [256] },
 *   layers: [{ units: 256, activation: 'relu', decoupled: true }, { units: 10, activation: 'linear' }],
 * });
 */
export function defineTopology(spec: TopologySpec): Topology {
  const s = object(spec, 'topology', '{ inputs, batch, layers, ... }');
  knownKeys(s, ['inputs', 'batch', 'layers', 'loss', 'labels', 'lr', 'optimizer', 'synthesizer'], 'topology');
  const inputs = positiveInt(s.inputs, 'topology: inputs');
  const batch = positiveInt(s.batch, 'topology: batch');
  const layers = s.layers;
  if (!Array.isArray(layers) || layers.length === 0) {
    throw new TopologyError('topology: layers must be a non-empty array of { units, activation, ... }');
  }
  const loss = s.loss ?? 'mse';
  if (!(LOSSES as readonly unknown[]).includes(loss)) {
    throw new TopologyError(`topology: unknown loss ${show(loss)} (expected one of ${LOSSES.join(', ')})`);
  }
  const ls = layers.map((l: unknown, i: number) => {
    const o = object(l, `layer ${i}`, '{ units, activation, ... }');
    knownKeys(o, ['units', 'activation', 'lr', 'optimizer', 'decoupled', 'complete', 'synthesizer'], `layer ${i}`);
    positiveInt(o.units, `layer ${i}: units`);
    return o;
  });
  const last = ls[ls.length - 1];
  const labels = positiveInt(s.labels ?? last.units, 'topology: labels');
  optimizerAt(s, 'topology');
  const defaults = s.synthesizer === undefined ? {} : object(s.synthesizer, 'topology: synthesizer', '{ conditioned, delay, lr, ... }');
  knownKeys(defaults, SYNTH_KEYS, 'topology: synthesizer');
  if (s.synthesizer !== undefined) optimizerAt(defaults, 'topology: synthesizer');

  const interfaces: InterfaceSpec[] = [];
  const nodes = ls.map((l, index) => {
    const name = `layer ${index}`;
    const isLast = index === ls.length - 1;
    const activation = checkActivation(l.activation ?? (isLast && loss === 'softmax-cross-entropy' ? 'linear' : 'sigmoid'), name);
    if (isLast && loss === 'softmax-cross-entropy' && activation !== 'linear') {
      throw new TopologyError(
        `${name}: the softmax-cross-entropy head applies the softmax itself, ` +
          `so the last layer must be 'linear' (its logits), got '${activation}'`,
      );
    }
    const complete = bool(l.complete, `${name}: complete`, false);
    if (complete && l.decoupled === false)
      throw new TopologyError(`${name}: complete is true but decoupled is false (a complete unlock decouples the layer too)`);
    if (complete && isLast)
      throw new TopologyError(
        `${name}: complete is true, but it is the last layer: the head scores its real output, so nothing could read a synthetic one`,
      );
    const decoupled = complete || bool(l.decoupled, `${name}: decoupled`, false);
    if (l.synthesizer !== undefined && !decoupled) {
      throw new TopologyError(`${name}: synthesizer options given but the layer is not decoupled (set decoupled: true)`);
    }
    if (decoupled) interfaces.push(interfaceAt(index, isLast, complete, l.synthesizer, defaults));
    const opt = optimizerAt(l, name) ?? optimizerAt(s, 'topology');
    return {
      id: chainNodeId(index),
      units: l.units as number,
      activation,
      inputs: [index === 0 ? INPUT : chainNodeId(index - 1)],
      ...(opt ? (opt.kind === 'sgd' && opt.momentum === 0 ? { lr: opt.lr } : { optimizer: opt }) : {}),
    };
  });
  if (loss === 'mse' && labels !== last.units) {
    throw new TopologyError(
      `topology: the mse head compares the last layer's ${last.units} outputs with labels of width ${labels}; they must match`,
    );
  }
  if (loss === 'softmax-cross-entropy' && labels !== last.units) {
    throw new TopologyError(
      `topology: the softmax-cross-entropy head needs one-hot labels of width ${last.units} (the last layer's units), ` +
        `got labels of width ${labels}`,
    );
  }
  const graph: GraphSpec = {
    inputs,
    batch,
    nodes,
    heads: [{ id: CHAIN_HEAD, node: chainNodeId(ls.length - 1), loss: loss as Loss, labels: CHAIN_LABELS }],
    interfaces,
    ...(s.lr !== undefined ? { lr: s.lr as number } : {}),
    ...(s.optimizer !== undefined ? { optimizer: s.optimizer as OptimizerSpec } : {}),
  };
  return buildGraph(graph, CHAIN_NAMING);
}

/** The interface after layer `index`, its options checked with the chain's words. */
function interfaceAt(index: number, isLast: boolean, complete: boolean, own: unknown, defaults: Record<string, unknown>): InterfaceSpec {
  const where = `layer ${index}: synthesizer`;
  const o = own === undefined ? {} : object(own, where, '{ conditioned, delay, lr, ... }');
  knownKeys(o, SYNTH_KEYS, where);
  const s = { ...defaults, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) };
  if (o.forward !== undefined && !complete)
    throw new TopologyError(`${where} forward options given but the layer is not a complete unlock (set complete: true)`);
  const conditioned = bool(s.conditioned, `${where} conditioned`, false);
  const delay = nonNegativeInt(s.delay ?? 0, `${where} delay`);
  const opt = optimizerAt(o, `layer ${index}: synthesizer`) ?? optimizerAt(defaults, 'topology: synthesizer');
  const hidden = s.hidden ?? [];
  if (!Array.isArray(hidden)) throw new TopologyError(`${where} hidden must be an array of widths, got ${show(hidden)}`);
  hidden.forEach((w, j) => positiveInt(w, `${where} hidden[${j}]`));
  if (s.activation !== undefined) checkActivation(s.activation, `${where} activation`);
  if (hidden.length === 0 && o.activation !== undefined) {
    throw new TopologyError(`${where} activation '${String(o.activation)}' given but the synthesizer is linear (no hidden layers)`);
  }
  return {
    from: chainNodeId(index),
    to: isLast ? CHAIN_HEAD : chainNodeId(index + 1),
    kind: complete ? 'complete' : conditioned ? 'cdni' : 'dni',
    ...(conditioned ? { context: CHAIN_HEAD } : {}),
    delay,
    // checked by defineGraph, naming the edge
    ...(s.lambda !== undefined ? { lambda: s.lambda as number } : {}),
    ...(s.warmup !== undefined ? { warmup: s.warmup as number } : {}),
    // the defaults' forward options are for the complete unlocks only
    ...(complete && s.forward !== undefined ? { forward: s.forward as SynthesizerOptions } : {}),
    ...(opt ? (opt.kind === 'sgd' && opt.momentum === 0 ? { lr: opt.lr } : { optimizer: opt }) : {}),
    ...(hidden.length > 0 ? { hidden: hidden as number[], activation: (s.activation as Activation | undefined) ?? 'relu' } : {}),
    ...(s.clip !== undefined ? { clip: positive(s.clip, `${where} clip`) } : {}),
  };
}

/** The layer sizes of a chain, e.g. `24-128-64-12` (a graph's nodes otherwise). */
export function describeSizes(t: Topology): string {
  return describeGraph(t);
}
