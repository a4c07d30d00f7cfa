/**
 * Parameter sets in the reference key format. A graph: `{node}.W` (inputs x units), `{node}.b`,
 * and per decoupled edge `synth:{from}>{to}.M`, `.c`, `.N` (conditioned only), per forward
 * synthesizer `fwd:{from}>{to}.M` (data inputs x units), `.c`. A chain:
 * `layer{i}.W`, `layer{i}.b`, `synth{i}.M`, `synth{i}.c`, `synth{i}.N`, i the layer index.
 * An MLP synthesizer adds `{synth}.hidden{j}.W` (inputs x width) and `{synth}.hidden{j}.b` per
 * hidden layer j; its output layer keeps `{synth}.M` (last width x units) and `{synth}.c`, and a
 * conditioned one takes its labels in its first layer, `{synth}.hidden0.N` (labels x width),
 * instead of `{synth}.N`: N always weighs the labels where they enter.
 * Vectors are stored as 1 x n matrices and written to JSON as flat arrays.
 */
import { TopologyError } from './errors.ts';
import { type Matrix, describeValue, firstNonFinite, fromNested, release, shapeOf, toNested, zeros } from './matrix.ts';
import { Rng, checkSeed } from './rng.ts';
import type { GraphSynthesizer } from './graph.ts';
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

/** Every parameter a topology has, in a fixed order: nodes, then synthesizers' output layers, then their hidden layers. */
export function parameterShapes(t: Topology): ParameterShape[] {
  const out: ParameterShape[] = [];
  for (const n of t.nodes) {
    out.push({ key: `${n.key}.W`, rows: n.inputs, cols: n.units, vector: false });
    out.push({ key: `${n.key}.b`, rows: 1, cols: n.units, vector: true });
  }
  for (const s of t.synthesizers) {
    const hidden = s.hidden ?? [],
      last = hidden.length > 0 ? hidden[hidden.length - 1] : s.inputs;
    out.push({ key: `${s.key}.M`, rows: last, cols: s.units, vector: false });
    out.push({ key: `${s.key}.c`, rows: 1, cols: s.units, vector: true });
    if (s.conditioned && hidden.length === 0) out.push({ key: `${s.key}.N`, rows: s.labels, cols: s.units, vector: false });
  }
  // after every key of a linear topology, so adding MLP synthesizers leaves the others' initial values alone
  for (const s of t.synthesizers) {
    const hidden = s.hidden ?? [];
    hidden.forEach((w, j) => {
      const key = `${s.key}.hidden${j}`;
      out.push({ key: `${key}.W`, rows: j === 0 ? s.inputs : hidden[j - 1], cols: w, vector: false });
      out.push({ key: `${key}.b`, rows: 1, cols: w, vector: true });
      if (j === 0 && s.conditioned) out.push({ key: `${key}.N`, rows: s.labels, cols: w, vector: false });
    });
  }
  return out;
}

/**
 * Fresh parameters: node weights Glorot-uniform (He-uniform for relu), biases zero, and
 * synthesizers' output layers zero (so they start by predicting no gradient, as in the paper);
 * an MLP synthesizer's hidden weights are drawn like a layer's (W and N of its first layer as one
 * layer whose inputs are h and the labels). `seed`: an integer in [0, 2^32 - 1].
 */
export function initParameters(t: Topology, seed = 1): ParameterSet {
  const rng = new Rng(checkSeed(seed, 'initParameters: seed'));
  const params: ParameterSet = {};
  const nodeOf = new Map(t.nodes.map((n) => [`${n.key}.W`, n]));
  const hiddenOf = new Map<string, { s: GraphSynthesizer; j: number }>();
  for (const s of t.synthesizers)
    (s.hidden ?? []).forEach((_, j) => ['W', 'N'].forEach((p) => hiddenOf.set(`${s.key}.hidden${j}.${p}`, { s, j })));
  for (const shape of parameterShapes(t)) {
    const m = zeros(shape.rows, shape.cols);
    const node = nodeOf.get(shape.key),
      hidden = hiddenOf.get(shape.key);
    if (node) {
      const a = node.activation === 'relu' ? Math.sqrt(6 / shape.rows) : Math.sqrt(6 / (shape.rows + shape.cols));
      for (let i = 0; i < m.data.length; i++) m.data[i] = rng.uniform(-a, a);
    } else if (hidden) {
      const { s, j } = hidden;
      const fanIn = j === 0 ? s.inputs + (s.conditioned ? s.labels : 0) : s.hidden![j - 1];
      const a = s.activation === 'relu' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + shape.cols));
      for (let i = 0; i < m.data.length; i++) m.data[i] = rng.uniform(-a, a);
    }
    params[shape.key] = m;
  }
  return params;
}

/**
 * Read and check parameters from JSON: every key the topology needs, with its shape, numbers
 * only (nothing coerced), all finite, and no key it does not need. `what` names the set in
 * errors (`initial`, `final`).
 */
export function parametersFromJSON(json: ParameterJSON, t: Topology, what = 'parameters'): ParameterSet {
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new TopologyError(`${what}: expected an object of named arrays, got ${describeValue(json)}`);
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
