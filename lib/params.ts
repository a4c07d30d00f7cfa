/**
 * Parameter sets in the reference key format: `layer{i}.W` (inputs x units), `layer{i}.b`,
 * `synth{i}.M`, `synth{i}.c`, `synth{i}.N` (conditioned only), i the layer index.
 * An MLP synthesizer adds `synth{i}.hidden{j}.W` (inputs x width) and `synth{i}.hidden{j}.b` per
 * hidden layer j; its output layer keeps `synth{i}.M` (last width x units) and `synth{i}.c`, and a
 * conditioned one takes its labels in its first layer, `synth{i}.hidden0.N` (labels x width),
 * instead of `synth{i}.N`: N always weighs the labels where they enter.
 * Vectors are stored as 1 x n matrices and written to JSON as flat arrays.
 */
import { TopologyError } from './errors.ts';
import { type Matrix, describeValue, firstNonFinite, fromNested, release, shapeOf, toNested, zeros } from './matrix.ts';
import { Rng, checkSeed } from './rng.ts';
import type { Topology } from './topology.ts';

export type ParameterSet = Record<string, Matrix>;
/** JSON form: nested rows for matrices, flat arrays for vectors. */
export type ParameterJSON = Record<string, number[][] | number[]>;

export interface ParameterShape {
  key: string;
  rows: number;
  cols: number;
  /** written as a flat vector in JSON */
  vector: boolean;
}

/** Every parameter a topology has, in a fixed order. */
export function parameterShapes(t: Topology): ParameterShape[] {
  const out: ParameterShape[] = [];
  for (const l of t.layers) {
    out.push({ key: `layer${l.index}.W`, rows: l.inputs, cols: l.units, vector: false });
    out.push({ key: `layer${l.index}.b`, rows: 1, cols: l.units, vector: true });
  }
  for (const l of t.layers) {
    const s = l.synthesizer;
    if (!s) continue;
    const hidden = s.hidden ?? [], last = hidden.length > 0 ? hidden[hidden.length - 1] : s.units;
    out.push({ key: `synth${l.index}.M`, rows: last, cols: s.units, vector: false });
    out.push({ key: `synth${l.index}.c`, rows: 1, cols: s.units, vector: true });
    if (s.conditioned && hidden.length === 0) out.push({ key: `synth${l.index}.N`, rows: s.labels, cols: s.units, vector: false });
  }
  // after every key of a linear topology, so adding MLP synthesizers leaves the others' initial values alone
  for (const l of t.layers) {
    const hidden = l.synthesizer?.hidden ?? [];
    hidden.forEach((w, j) => {
      const key = `synth${l.index}.hidden${j}`;
      out.push({ key: `${key}.W`, rows: j === 0 ? l.units : hidden[j - 1], cols: w, vector: false });
      out.push({ key: `${key}.b`, rows: 1, cols: w, vector: true });
      if (j === 0 && l.synthesizer!.conditioned) out.push({ key: `${key}.N`, rows: l.synthesizer!.labels, cols: w, vector: false });
    });
  }
  return out;
}

/**
 * Fresh parameters: layer weights Glorot-uniform (He-uniform for relu), biases zero, and
 * synthesizers' output layers zero (so they start by predicting no gradient, as in the paper);
 * an MLP synthesizer's hidden weights are drawn like a layer's (W and N of its first layer as one
 * layer whose inputs are h and the labels). `seed`: an integer in [0, 2^32 - 1].
 */
export function initParameters(t: Topology, seed = 1): ParameterSet {
  const rng = new Rng(checkSeed(seed, 'initParameters: seed'));
  const params: ParameterSet = {};
  for (const s of parameterShapes(t)) {
    const m = zeros(s.rows, s.cols);
    const layer = /^layer(\d+)\.W$/.exec(s.key);
    const hidden = /^synth(\d+)\.hidden(\d+)\.(W|N)$/.exec(s.key);
    if (layer) {
      const act = t.layers[Number(layer[1])].activation;
      const a = act === 'relu' ? Math.sqrt(6 / s.rows) : Math.sqrt(6 / (s.rows + s.cols));
      for (let i = 0; i < m.data.length; i++) m.data[i] = rng.uniform(-a, a);
    } else if (hidden) {
      const synth = t.layers[Number(hidden[1])].synthesizer!, j = Number(hidden[2]);
      const fanIn = j === 0 ? synth.units + (synth.conditioned ? synth.labels : 0) : synth.hidden![j - 1];
      const a = synth.activation === 'relu' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + s.cols));
      for (let i = 0; i < m.data.length; i++) m.data[i] = rng.uniform(-a, a);
    }
    params[s.key] = m;
  }
  return params;
}

/**
 * Read and check parameters from JSON: every key the topology needs, with its shape, numbers
 * only (nothing coerced), all finite, and no key it does not need. `what` names the set in
 * errors (`initial`, `final`).
 */
export function parametersFromJSON(json: ParameterJSON, t: Topology, what = 'parameters'): ParameterSet {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new TopologyError(`${what}: expected an object of named arrays, got ${describeValue(json)}`);
  const shapes = parameterShapes(t);
  const unknown = Object.keys(json).filter((k) => !shapes.some((s) => s.key === k));
  if (unknown.length) {
    throw new TopologyError(`${what}: '${unknown[0]}' is not a parameter of this topology (it has ${shapes.map((s) => s.key).join(', ')})`);
  }
  const params: ParameterSet = {};
  try {
    for (const s of shapes) params[s.key] = parameterFromJSON(json[s.key], s, what);
  } catch (e) {
    for (const m of Object.values(params)) release(m); // the WebAssembly arena collects no garbage
    throw e;
  }
  return params;
}

function parameterFromJSON(v: number[][] | number[] | undefined, s: ParameterShape, what: string): Matrix {
  if (v === undefined) throw new TopologyError(`${what}: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
  let m: Matrix;
  try {
    m = fromNested(v, s.key);
  } catch (e) {
    throw new TopologyError(`${what}: ${(e as Error).message}`);
  }
  // a vector may be written flat or as one row or one column; a matrix exactly as its shape
  const fits = m.data.length === s.rows * s.cols && (s.vector ? m.rows === 1 || m.cols === 1 : m.rows === s.rows && m.cols === s.cols);
  const at = fits ? firstNonFinite(m.data) : -1;
  if (fits && at < 0) return s.vector ? { rows: 1, cols: s.cols, data: m.data } : m;
  const problem = fits ? `holds ${m.data[at]} at element ${at}` : `is ${shapeOf(m)}, the topology needs ${s.rows}x${s.cols}`;
  release(m);
  throw new TopologyError(`${what}: '${s.key}' ${problem}`);
}

/** Parameters as JSON (float32 values widened to float64 numbers). */
export function parametersToJSON(params: ParameterSet, t: Topology): ParameterJSON {
  const out: ParameterJSON = {};
  for (const s of parameterShapes(t)) out[s.key] = toNested(params[s.key], s.vector);
  return out;
}
