/**
 * Recurrent topologies as plain data: a stack of recurrent layers (`tanh` or `lstm` cells), a
 * per-step readout with its loss, the truncation T of truncated BPTT, and the synthesizers of
 * DNI: one at each layer's truncation boundary (predicting the gradient of all future loss with
 * respect to the carried state) and, optionally, one on the interface between two stacked layers.
 * {@link defineRecurrent} validates a spec and fills every default, so the result can be printed,
 * saved, sent to a worker and trusted by everything that runs it.
 *
 * Parameter keys (see params.ts): layer 0 is `core`, layer ℓ ≥ 1 is `core{ℓ}`; its boundary
 * synthesizer is `synth` / `synth{ℓ}`, the aux head `aux` / `aux{ℓ}`, the interface above layer ℓ
 * `interface{ℓ}`; the readout is `readout`. A one-layer tanh topology has exactly docs/maths.md's keys.
 */
import type { Activation } from '../activations.ts';
import { TopologyError } from '../errors.ts';
import type { OptimizerConfig, OptimizerSpec } from '../optimizers.ts';
import type { SynthesizerOptions } from '../synthesizer.ts';
import {
  activation as checkActivation,
  bool,
  knownKeys,
  nonNegativeInt,
  object,
  optimizerAt,
  positive,
  positiveInt,
  sgd,
  show,
} from '../validate.ts';

const CELLS = ['tanh', 'lstm'] as const;
/** `tanh`: `h_t = tanh(x_t Wx + h_{t-1} Wh + b)`; `lstm`: gates [i f o g], carried state (h, c). */
export type Cell = (typeof CELLS)[number];

/**
 * Per-step losses, each summed over the steps whose mask is 1 and averaged over the batch:
 * `sigmoid-cross-entropy` (`p = sigmoid(h Wy + by)`, `Σ_j BCE(p_j, y_j)`, gradient `p - y`; docs/maths.md),
 * `mse` (linear output o, `0.5 Σ_j (o_j - y_j)²`, gradient `o - y`),
 * `softmax-cross-entropy` (`p = softmax(o)`, `-Σ_j y_j log p_j`, gradient `p - y`).
 */
const RECURRENT_LOSSES = ['sigmoid-cross-entropy', 'mse', 'softmax-cross-entropy'] as const;
export type RecurrentLoss = (typeof RECURRENT_LOSSES)[number];

/**
 * Options of a synthesizer (a boundary one, or one on an interface between stacked layers): a
 * graph interface's ({@link SynthesizerOptions}: `delay`, `lr` or `optimizer`, `hidden`,
 * `activation`, `clip`; a delay counts steps, i.e. windows), and the boundary's discount.
 */
export interface RecurrentSynthesizerSpec extends SynthesizerOptions {
  /**
   * Boundary synthesizers only: the core receives `scale · ĝ`, and the bootstrapped target carries
   * the scaled ĝ too, so the synthesizer learns a future gradient discounted by `scale` per window
   * (koz4k/dni-pytorch uses 0.1 for language models). Default 1 (docs/maths.md).
   */
  readonly scale?: number;
  /**
   * Boundary synthesizers only: the discount per window of the bootstrapped target, when it should
   * differ from `scale`. The core still receives `scale · ĝ`, but the refit target is the gradient
   * reaching the window's input state with `discount · ĝ` at its end (one more backward pass through
   * the window's recurrence, no parameter gradient). Default: `scale` (one pass; docs/maths.md with scale 1).
   */
  readonly discount?: number;
}

/** The paper's "+Aux" variant, as implemented here (see core.ts): a linear head on the core. */
export interface AuxSpec {
  /** Weight of the aux loss in the core's objective. Default 1. */
  weight?: number;
  /** Learning rate / optimiser of the aux head; default the core's. */
  lr?: number;
  optimizer?: OptimizerSpec;
}

export interface DniSpec {
  /** Defaults of every boundary synthesizer. */
  synthesizer?: RecurrentSynthesizerSpec;
  /** The auxiliary task: each layer also predicts its boundary's synthetic gradient from the window's first output. Default off. */
  aux?: boolean | AuxSpec;
}

export interface RecurrentLayerSpec {
  units: number;
  /** Decouple the interface above this layer (not the top layer): it updates from a synthesizer of dL/dh_t. */
  decoupled?: boolean;
  /** Options of that interface's synthesizer (over the topology's `interfaces` defaults). */
  interface?: RecurrentSynthesizerSpec;
}

export interface RecurrentSpec {
  /** `'tanh'` (default) or `'lstm'`. */
  cell?: Cell;
  /** Width of x_t. */
  inputs: number;
  /** Hidden widths, one per stacked layer (a number for one layer), or layer specs. */
  hidden: number | (number | RecurrentLayerSpec)[];
  /** Width of y_t. */
  outputs: number;
  /** Default `'sigmoid-cross-entropy'`. */
  loss?: RecurrentLoss;
  /** Truncation T: steps per window (one training step = one window). */
  truncation: number;
  /** Sequences per batch. */
  batch: number;
  /** Learning rate of plain SGD on every core layer and the readout. Default 0.1. Give this or `optimizer`. */
  lr?: number;
  /** The core's optimiser (each layer has its own instance), e.g. `{ kind: 'adam', lr: 1e-3 }`. */
  optimizer?: OptimizerSpec;
  /** The readout's optimiser (or `{ lr }`); default the core's. */
  readout?: { lr?: number; optimizer?: OptimizerSpec };
  /** Clip the norm of each layer's (and the readout's) batch-mean parameter gradient to this. Default: off. */
  clip?: number;
  /** LSTM only: initial forget-gate bias. Default 1. */
  forgetBias?: number;
  /** `false` (default): plain truncated BPTT. `true` or options: a synthesizer at every layer's boundary. */
  dni?: boolean | DniSpec;
  /** Defaults of the synthesizers on decoupled interfaces between layers. */
  interfaces?: RecurrentSynthesizerSpec;
}

/** A synthesizer with every default filled in. */
export interface RecurrentSynthesizerTopology {
  /** width of what it reads and predicts */
  readonly units: number;
  readonly optimizer: OptimizerConfig;
  readonly hidden: readonly number[];
  readonly activation: Activation;
  readonly clip: number | null;
  readonly scale: number;
  /** discount per window of the bootstrapped target (= scale unless given) */
  readonly discount: number;
  readonly delay: number;
}

export interface RecurrentLayerTopology {
  readonly index: number;
  /** parameter key prefix: `core`, `core1`, ... */
  readonly key: string;
  readonly inputs: number;
  readonly units: number;
  /** width of the carried state: units (tanh) or 2·units (lstm: h then c) */
  readonly state: number;
  readonly optimizer: OptimizerConfig;
  /** the boundary synthesizer (DNI), or null (plain truncated BPTT) */
  readonly synthesizer: RecurrentSynthesizerTopology | null;
  /** the aux head, or null */
  readonly aux: { readonly weight: number; readonly optimizer: OptimizerConfig } | null;
  /** the synthesizer on the interface above this layer, or null (backprop from the layer above) */
  readonly interface: RecurrentSynthesizerTopology | null;
}

/** A validated recurrent topology with every default filled in. Plain, frozen, JSON-safe data. */
export interface RecurrentTopology {
  readonly kind: 'recurrent';
  readonly cell: Cell;
  readonly inputs: number;
  readonly outputs: number;
  readonly loss: RecurrentLoss;
  readonly truncation: number;
  readonly batch: number;
  readonly clip: number | null;
  readonly forgetBias: number;
  readonly layers: readonly RecurrentLayerTopology[];
  readonly readout: { readonly optimizer: OptimizerConfig };
  readonly dni: boolean;
}

const DEFAULT_LR = 0.1;
const DEFAULT_SYNTHESIZER_LR = 0.01;

/**
 * Validate a recurrent spec and fill its defaults. Errors name the field and the value.
 *
 * @example
 * const topology = defineRecurrent({
 *   cell: 'lstm', inputs: 9, hidden: 256, outputs: 8, truncation: 4, batch: 16,
 *   optimizer: { kind: 'adam', lr: 1e-3 }, clip: 1,
 *   dni: { synthesizer: { optimizer: { kind: 'adam', lr: 1e-4 } }, aux: true },
 * });
 */
export function defineRecurrent(spec: RecurrentSpec): RecurrentTopology {
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec))
    throw new TopologyError(`recurrent topology: expected an object, got ${show(spec)}`);
  const known = [
    'cell',
    'inputs',
    'hidden',
    'outputs',
    'loss',
    'truncation',
    'batch',
    'lr',
    'optimizer',
    'readout',
    'clip',
    'forgetBias',
    'dni',
    'interfaces',
  ];
  const unknown = Object.keys(spec).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new TopologyError(`recurrent topology: unknown field ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`);
  knownKeys(spec as unknown as Record<string, unknown>, known, 'recurrent topology'); // and no nulls: null is not "the default"
  const cell = spec.cell ?? 'tanh';
  if (!(CELLS as readonly string[]).includes(cell))
    throw new TopologyError(`recurrent topology: unknown cell ${show(cell)} (expected one of ${CELLS.join(', ')})`);
  positiveInt(spec.inputs, 'recurrent topology: inputs');
  positiveInt(spec.outputs, 'recurrent topology: outputs');
  positiveInt(spec.batch, 'recurrent topology: batch');
  if (typeof spec.truncation !== 'number' || !Number.isInteger(spec.truncation) || spec.truncation < 1) {
    throw new TopologyError(`recurrent topology: truncation T must be an integer >= 1 (steps per window), got ${show(spec.truncation)}`);
  }
  const loss = spec.loss ?? 'sigmoid-cross-entropy';
  if (!(RECURRENT_LOSSES as readonly string[]).includes(loss)) {
    throw new TopologyError(`recurrent topology: unknown loss ${show(loss)} (expected one of ${RECURRENT_LOSSES.join(', ')})`);
  }
  const hiddenList = typeof spec.hidden === 'number' ? [spec.hidden] : spec.hidden;
  if (!Array.isArray(hiddenList) || hiddenList.length === 0) {
    throw new TopologyError(`recurrent topology: hidden must be a width or a non-empty array of widths, got ${show(spec.hidden)}`);
  }
  const core = optimizerAt(spec, 'recurrent topology') ?? sgd(DEFAULT_LR);
  let readout = core;
  if (spec.readout !== undefined) {
    knownKeys(
      object(spec.readout, 'recurrent topology: readout', '{ lr } or { optimizer }'),
      ['lr', 'optimizer'],
      'recurrent topology: readout',
    );
    readout = optimizerAt(spec.readout, 'recurrent topology: readout') ?? core;
  }
  const clip = spec.clip === undefined ? null : positive(spec.clip, 'recurrent topology: clip');
  const forgetBias = spec.forgetBias ?? 1;
  if (typeof forgetBias !== 'number' || !Number.isFinite(forgetBias))
    throw new TopologyError(`recurrent topology: forgetBias must be a finite number, got ${show(forgetBias)}`);
  if (spec.forgetBias !== undefined && cell !== 'lstm')
    throw new TopologyError(`recurrent topology: forgetBias ${spec.forgetBias} given, but the '${cell}' cell has no forget gate`);

  const dniSpec = dniOf(spec.dni);
  const auxRaw = dniSpec?.aux;
  let auxSpec: AuxSpec | null = null;
  if (typeof auxRaw === 'object' && auxRaw !== null && !Array.isArray(auxRaw)) {
    knownKeys(auxRaw as Record<string, unknown>, ['weight', 'lr', 'optimizer'], 'recurrent topology: dni.aux');
    auxSpec = auxRaw;
  } else if (auxRaw !== undefined && typeof auxRaw !== 'boolean') {
    throw new TopologyError(`recurrent topology: dni.aux must be true, false or { weight, lr | optimizer }, got ${show(auxRaw)}`);
  } else if (auxRaw === true) auxSpec = {};
  const interfaces =
    spec.interfaces === undefined
      ? {}
      : object(spec.interfaces, 'recurrent topology: interfaces', 'synthesizer options { lr, optimizer, hidden, ... }');
  // the defaults are checked themselves, even where every layer's own options override them
  synthesizerOf(interfaces, 1, 'recurrent topology: interfaces', false);

  const layers = hiddenList.map((h, index): RecurrentLayerTopology => {
    const l: RecurrentLayerSpec = typeof h === 'number' ? { units: h } : h;
    const where = `recurrent topology: hidden[${index}]`;
    knownKeys(object(l, where, 'a width or { units, decoupled, interface }'), ['units', 'decoupled', 'interface'], where);
    positiveInt(l.units, `${where} units`);
    const decoupled = bool(l.decoupled, `${where} decoupled`, false);
    const isTop = index === hiddenList.length - 1;
    if (decoupled && isTop)
      throw new TopologyError(`${where}: the top layer feeds the readout; only an interface between two layers can be decoupled`);
    if (l.interface !== undefined && !decoupled) throw new TopologyError(`${where}: interface options given but decoupled is not true`);
    const inputs = index === 0 ? spec.inputs : unitsOf(hiddenList[index - 1]);
    const state = cell === 'lstm' ? 2 * l.units : l.units;
    const synthesizer = dniSpec
      ? synthesizerOf({ ...(dniSpec.synthesizer ?? {}) }, state, `recurrent topology: dni.synthesizer`, true)
      : null;
    const aux = auxSpec
      ? Object.freeze({
          weight: auxSpec.weight === undefined ? 1 : positive(auxSpec.weight, 'recurrent topology: dni.aux weight'),
          optimizer: optimizerAt(auxSpec, 'recurrent topology: dni.aux') ?? core,
        })
      : null;
    const own =
      l.interface === undefined ? {} : object(l.interface, `${where} interface`, 'synthesizer options { lr, optimizer, hidden, ... }');
    const above = decoupled ? synthesizerOf({ ...interfaces, ...own }, l.units, `${where} interface`, false) : null;
    return Object.freeze({
      index,
      key: index === 0 ? 'core' : `core${index}`,
      inputs,
      units: l.units,
      state,
      optimizer: core,
      synthesizer,
      aux,
      interface: above,
    });
  });
  return Object.freeze({
    kind: 'recurrent',
    cell,
    inputs: spec.inputs,
    outputs: spec.outputs,
    loss,
    truncation: spec.truncation,
    batch: spec.batch,
    clip,
    forgetBias: cell === 'lstm' ? forgetBias : 0,
    layers: Object.freeze(layers),
    readout: Object.freeze({ optimizer: readout }),
    dni: dniSpec !== null,
  });
}

/** `dni`: absent or false (none), true (defaults) or `{ synthesizer, aux }`; `"false"`, 1 or null are refused, never read as true. */
function dniOf(v: unknown): DniSpec | null {
  if (v === undefined || v === false) return null;
  if (v === true) return {};
  const what = 'recurrent topology: dni';
  const d = object(v, what, 'true, false or { synthesizer, aux }') as DniSpec;
  knownKeys(d as Record<string, unknown>, ['synthesizer', 'aux'], what);
  if (d.synthesizer !== undefined) object(d.synthesizer, `${what}.synthesizer`, 'synthesizer options { lr, optimizer, hidden, ... }');
  return d;
}

/**
 * The topology a training on sequences of length L runs: a window of T ≥ L steps holds the whole
 * sequence, as T = L does (one window a sequence, the same maths, the same bits), so its window is
 * min(T, L) steps and its buffers are sized by that, not by T.
 */
export function windowWithin(t: RecurrentTopology, length: number): RecurrentTopology {
  return t.truncation > length ? Object.freeze({ ...t, truncation: length }) : t;
}

/** Key prefix of layer ℓ's parts: `core`/`synth`/`aux` for ℓ = 0, `core1`/`synth1`/`aux1` for ℓ = 1, … */
export function keyOf(part: 'core' | 'synth' | 'aux' | 'interface', layer: number): string {
  return part === 'interface' ? `interface${layer}` : layer === 0 ? part : `${part}${layer}`;
}

function unitsOf(h: number | RecurrentLayerSpec): number {
  return typeof h === 'number' ? h : h.units;
}

function synthesizerOf(s: RecurrentSynthesizerSpec, units: number, where: string, boundary: boolean): RecurrentSynthesizerTopology {
  knownKeys(
    object(s, where, 'synthesizer options'),
    ['lr', 'optimizer', 'hidden', 'activation', 'clip', 'scale', 'discount', 'delay'],
    where,
  );
  const hidden = s.hidden ?? [];
  if (!Array.isArray(hidden)) throw new TopologyError(`${where} hidden must be an array of widths, got ${show(hidden)}`);
  hidden.forEach((w, j) => positiveInt(w, `${where} hidden[${j}]`));
  const activation = checkActivation(s.activation ?? 'relu', `${where} activation`);
  if (s.scale !== undefined && !boundary)
    throw new TopologyError(`${where}: scale is a boundary-synthesizer option (the discount of the bootstrapped target)`);
  if (s.discount !== undefined && !boundary)
    throw new TopologyError(`${where}: discount is a boundary-synthesizer option (of the bootstrapped target)`);
  const scale = s.scale === undefined ? 1 : positive(s.scale, `${where} scale`);
  return Object.freeze({
    units,
    optimizer: optimizerAt(s, where) ?? sgd(DEFAULT_SYNTHESIZER_LR),
    hidden: Object.freeze([...hidden]),
    activation,
    clip: s.clip === undefined ? null : positive(s.clip, `${where} clip`),
    scale,
    discount: s.discount === undefined ? scale : positive(s.discount, `${where} discount`),
    delay: nonNegativeInt(s.delay ?? 0, `${where} delay`),
  });
}
