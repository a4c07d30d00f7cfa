/**
 * Parameters of a recurrent topology, by key (docs/maths.md's for one tanh layer):
 * - layer ℓ (`core`, then `core1`, `core2`, …): `Wx` (in × G), `Wh` (H × G), `b` (G), with
 *   G = H for tanh and G = 4H for lstm, gate blocks in the column order [i | f | o | g];
 * - `readout.W` (H_top × out), `readout.b`;
 * - boundary synthesizer of layer ℓ (`synth`, `synth1`, …; S = H, or 2H for lstm: [h | c]):
 *   `M` (last width × S), `c` (S), MLP hidden layers `hidden{j}.W`, `hidden{j}.b`;
 * - aux head of layer ℓ (`aux`, `aux1`, …): `W` (H × S), `b` (S);
 * - interface synthesizer above layer ℓ (`interface{ℓ}`): `M`, `c`, `hidden{j}.*` over H_ℓ.
 * Vectors are 1 × n matrices.
 */
import { TopologyError } from '../errors.ts';
import { type Matrix, describeValue, firstNonFinite, fromNested, shapeOf, toNested, zeros } from '../matrix.ts';
import { Rng } from '../rng.ts';
import { type RecurrentSynthesizerTopology, type RecurrentTopology, keyOf } from './topology.ts';

export type RecurrentParameters = Record<string, Matrix>;

export interface RecurrentParameterShape {
  readonly key: string;
  readonly rows: number;
  readonly cols: number;
  readonly vector: boolean;
  /** how it starts: N(0, 1/sqrt(rows)) weights, zeros, or the LSTM bias (forget block = forgetBias) */
  readonly init: 'normal' | 'zeros' | 'lstm-bias';
}

/** Every parameter of the topology, in a fixed order (the order initial values are drawn in). */
export function recurrentParameterShapes(t: RecurrentTopology): RecurrentParameterShape[] {
  const out: RecurrentParameterShape[] = [];
  const gates = t.cell === 'lstm' ? 4 : 1;
  const add = (key: string, rows: number, cols: number, init: RecurrentParameterShape['init'], vector = false) =>
    out.push({ key, rows, cols, vector, init });
  for (const l of t.layers) {
    add(`${l.key}.Wx`, l.inputs, gates * l.units, 'normal');
    add(`${l.key}.Wh`, l.units, gates * l.units, 'normal');
    add(`${l.key}.b`, 1, gates * l.units, t.cell === 'lstm' ? 'lstm-bias' : 'zeros', true);
  }
  const top = t.layers[t.layers.length - 1];
  add('readout.W', top.units, t.outputs, 'normal');
  add('readout.b', 1, t.outputs, 'zeros', true);
  const synth = (prefix: string, s: RecurrentSynthesizerTopology) => {
    const last = s.hidden.length > 0 ? s.hidden[s.hidden.length - 1] : s.units;
    add(`${prefix}.M`, last, s.units, 'zeros');
    add(`${prefix}.c`, 1, s.units, 'zeros', true);
    s.hidden.forEach((w, j) => {
      add(`${prefix}.hidden${j}.W`, j === 0 ? s.units : s.hidden[j - 1], w, 'normal');
      add(`${prefix}.hidden${j}.b`, 1, w, 'zeros', true);
    });
  };
  for (const l of t.layers) {
    if (l.synthesizer) synth(keyOf('synth', l.index), l.synthesizer);
    if (l.aux) {
      add(`${keyOf('aux', l.index)}.W`, l.units, l.state, 'zeros');
      add(`${keyOf('aux', l.index)}.b`, 1, l.state, 'zeros', true);
    }
    if (l.interface) synth(keyOf('interface', l.index), l.interface);
  }
  return out;
}

/**
 * Fresh parameters (docs/maths.md): weights `N(0, 1/sqrt(fan_in))` drawn in key order from one
 * seeded generator, biases zero (the LSTM's forget block at `forgetBias`), every synthesizer's
 * output layer and every aux head zero, so they start by predicting no gradient.
 *
 * @example
 * const params = initRecurrentParameters(topology, 1); // params['core.Wx'], params['synth.M'], …
 */
export function initRecurrentParameters(t: RecurrentTopology, seed = 1): RecurrentParameters {
  const rng = new Rng(seed);
  const params: RecurrentParameters = {};
  for (const s of recurrentParameterShapes(t)) {
    const m = zeros(s.rows, s.cols);
    if (s.init === 'normal') {
      const std = 1 / Math.sqrt(s.rows);
      for (let i = 0; i < m.data.length; i++) m.data[i] = std * rng.normal();
    } else if (s.init === 'lstm-bias') {
      const H = s.cols / 4;
      m.data.fill(t.forgetBias, H, 2 * H);
    }
    params[s.key] = m;
  }
  return params;
}

/** Check a parameter set against the topology: every key present with its shape, finite, nothing extra. */
export function checkRecurrentParameters(t: RecurrentTopology, params: RecurrentParameters): void {
  const shapes = recurrentParameterShapes(t);
  for (const s of shapes) {
    const m = params[s.key];
    if (!m) throw new TopologyError(`parameters: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
    if (m.rows !== s.rows || m.cols !== s.cols)
      throw new TopologyError(`parameters: '${s.key}' is ${shapeOf(m)}, the topology needs ${s.rows}x${s.cols}`);
    const at = firstNonFinite(m.data);
    if (at >= 0) throw new TopologyError(`parameters: '${s.key}'[${Math.floor(at / m.cols)}, ${at % m.cols}] is ${m.data[at]}`);
  }
  const extra = Object.keys(params).filter((k) => !shapes.some((s) => s.key === k));
  if (extra.length > 0) throw new TopologyError(`parameters: ${extra.map((k) => `'${k}'`).join(', ')} not in the topology`);
}

/** JSON form: nested rows for matrices, flat arrays for vectors (the case-file format). */
export function recurrentParametersToJSON(t: RecurrentTopology, params: RecurrentParameters): Record<string, number[] | number[][]> {
  const out: Record<string, number[] | number[][]> = {};
  for (const s of recurrentParameterShapes(t)) out[s.key] = toNested(params[s.key], s.vector);
  return out;
}

/** Parameters from their JSON form, checked against the topology. */
export function recurrentParametersFromJSON(t: RecurrentTopology, json: Record<string, number[] | number[][]>): RecurrentParameters {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new TopologyError(`parameters: expected an object of named arrays, got ${describeValue(json)}`);
  const params: RecurrentParameters = {};
  for (const s of recurrentParameterShapes(t)) {
    const v = Object.hasOwn(json, s.key) ? json[s.key] : undefined;
    if (v === undefined) throw new TopologyError(`parameters: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
    try {
      // a vector may be written flat ([1, 2]) or as one row ([[1, 2]]); positions are named by key (`core.b[0]`)
      params[s.key] = fromNested(v as number[][], s.key);
    } catch (e) {
      throw new TopologyError(`parameters: ${(e as Error).message}`);
    }
  }
  // own keys only: 'constructor' or 'toString' is no parameter of any topology
  const extra = Object.keys(json).filter((k) => !Object.hasOwn(params, k));
  if (extra.length > 0) throw new TopologyError(`parameters: ${extra.map((k) => `'${k}'`).join(', ')} not in the topology`);
  checkRecurrentParameters(t, params);
  return params;
}
