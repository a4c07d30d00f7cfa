/**
 * What a training needs to know of the network it trains, whatever its kind: a graph of dense
 * layers (a chain is one) or a recurrent network. The trainer, its stages, checkpoints and
 * worker threads go through these functions, so one code path drives both; everything specific
 * to a kind stays in its own module (network.ts and checkpoint.ts for graphs, recurrent/ for
 * recurrent networks).
 */
import type { NetworkState } from './checkpoint/network-state.ts';
import { captureNetworkState, restoreNetworkState } from './checkpoint/network-state.ts';
import { type Dataset, isMatrix, validateDataset } from './data.ts';
import { CheckpointError, DataError, IN_MEMORY_STATE, TopologyError } from './errors.ts';
import { type Matrix, release, zeros } from './matrix.ts';
import {
  type DisposeOptions,
  type Network,
  type OptimizerStates,
  buildNetwork,
  disposeNetwork,
  optimizerStates,
  parameterOwners,
  restoreOptimizerStates,
  ringDepth,
} from './network.ts';
import { type ParameterSet, initParameters, parameterShapes } from './params.ts';
import {
  type RecurrentNetworkState,
  RECURRENT_HEAD_ACTOR,
  captureRecurrentState,
  recurrentActorIds,
  recurrentParameterOwners,
  recurrentRingDepth,
  recurrentSynthesizers,
  restoreRecurrentState,
} from './recurrent/owners.ts';
import { type RecurrentNetwork, buildRecurrentNetwork, disposeRecurrentNetwork } from './recurrent/network.ts';
import { initRecurrentParameters, recurrentParameterShapes } from './recurrent/params.ts';
import { type Sequences, validateSequences } from './recurrent/sequences.ts';
import type { RecurrentTopology } from './recurrent/topology.ts';
import type { Topology } from './topology.ts';

/** A validated topology of either kind. */
export type AnyTopology = Topology | RecurrentTopology;
/** The maths objects the actors of a training hold. */
export type Model = Network | RecurrentNetwork;
/** A model's data: rows of examples for a graph, sequences for a recurrent network. */
export type ModelData = Dataset | Sequences;
/** The state of a model's actors between steps (all, or one stage's share). */
export type ModelState = NetworkState | RecurrentNetworkState;

export function isRecurrent(t: AnyTopology): t is RecurrentTopology {
  return (t as { kind?: string }).kind === 'recurrent';
}

export function isRecurrentModel(m: Model): m is RecurrentNetwork {
  return isRecurrent(m.topology);
}

/** Every actor's systemId, in the topology's order (layers, synthesizers, heads). */
export function actorIdsOf(t: AnyTopology): string[] {
  if (isRecurrent(t)) return recurrentActorIds(t);
  return [...t.nodes.map((n) => n.actor), ...t.synthesizers.map((s) => s.actor), ...t.heads.map((h) => h.actor)];
}

/** How many batches a tensor must stay valid for (see ring.ts). */
export function ringDepthOf(t: AnyTopology): number {
  return isRecurrent(t) ? recurrentRingDepth(t) : ringDepth(t);
}

export function parameterOwnersOf(t: AnyTopology): Map<string, string[]> {
  return isRecurrent(t) ? recurrentParameterOwners(t) : parameterOwners(t);
}

export function parameterShapesOf(t: AnyTopology): { key: string; rows: number; cols: number }[] {
  return isRecurrent(t) ? recurrentParameterShapes(t) : parameterShapes(t);
}

export function initParametersOf(t: AnyTopology, seed: number): ParameterSet {
  return isRecurrent(t) ? initRecurrentParameters(t, seed) : initParameters(t, seed);
}

/** What the history records: each head's weight and id, how many synthesizers and aux losses. */
export function historyShapeOf(t: AnyTopology): { heads: { id: string; weight: number }[]; synthesizers: number; auxiliaries: number } {
  if (isRecurrent(t))
    return {
      heads: [{ id: 'readout', weight: 1 }],
      synthesizers: recurrentSynthesizers(t).length,
      auxiliaries: t.layers.filter((l) => l.aux).length,
    };
  return { heads: t.heads.map((h) => ({ id: h.id, weight: h.weight })), synthesizers: t.synthesizers.length, auxiliaries: 0 };
}

/** Refuse data that cannot feed the topology (a DataError naming what is wrong). */
export function validateModelData(data: ModelData, t: AnyTopology): void {
  if (!isRecurrent(t)) {
    if (data && typeof data === 'object' && 'mask' in data)
      throw new DataError('data: sequences { x, y, mask } given to a dense topology; it takes { x, y } rows');
    return validateDataset(data as Dataset, t);
  }
  if (!data || typeof data !== 'object' || !('mask' in data) || !('length' in data)) {
    throw new DataError(
      'data: a recurrent topology takes sequences { length, inputs, outputs, x, y, mask } (see sequencesFromNested, copyTask)',
    );
  }
  try {
    validateSequences(data, t);
  } catch (e) {
    throw e instanceof DataError ? e : new DataError((e as Error).message);
  }
}

export function buildModel(t: AnyTopology, params: ParameterSet): Model {
  return isRecurrent(t) ? buildRecurrentNetwork(t, params) : buildNetwork(t, params);
}

/** Give back the buffers a model allocated, except its parameters (unless `params`: a worker stage's copy, nobody's result). */
export function disposeModel(m: Model, options: DisposeOptions = {}): void {
  if (!isRecurrentModel(m)) return disposeNetwork(m, options);
  disposeRecurrentNetwork(m);
  if (options.params) for (const p of Object.values(m.params)) release(p);
}

/** Every optimiser's state, by owner (`layer:1`, `synthesizer:0`; `layer:core`, `layer:core.aux`, `head:readout`), copied. */
export function modelOptimizerStates(m: Model, ids?: ReadonlySet<string>): OptimizerStates {
  if (!isRecurrentModel(m)) return optimizerStates(m, ids);
  const o = captureRecurrentState(m, undefined, false).optimizers;
  if (!ids) return o;
  return Object.fromEntries(Object.entries(o).filter(([id]) => ids.has(id.replace(/\.aux$/, ''))));
}

/** Restore {@link modelOptimizerStates} (each optimiser must be there). */
export function restoreModelOptimizers(m: Model, states: OptimizerStates): void {
  if (!isRecurrentModel(m)) return restoreOptimizerStates(m, states);
  restoreRecurrentState(m, { optimizers: states }, (message) => {
    throw new TopologyError(`optimizer state: ${message}`);
  });
}

/** Copies of the state of a model's actors (those in `ids`, or all), between steps. */
export function captureModelState(m: Model, ids?: ReadonlySet<string>): ModelState {
  return isRecurrentModel(m) ? captureRecurrentState(m, ids) : captureNetworkState(m, ids);
}

/** Put a captured state (a checkpoint's, or one made for a worker) back into a model of the same topology. */
export function restoreModelState(m: Model, state: ModelState, path = IN_MEMORY_STATE): void {
  if (!isRecurrentModel(m)) return restoreNetworkState(m, state as NetworkState, path);
  restoreRecurrentState(m, state as RecurrentNetworkState, (message) => {
    throw new CheckpointError(path, message);
  });
}

/** Merge stages' shares of a state (each holds its own actors'). */
export function mergeModelStates(parts: readonly ModelState[]): ModelState {
  const out: Record<string, Record<string, unknown>> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) Object.assign((out[k] ??= {}), v);
  return out as unknown as ModelState;
}

/** Set a model's parameters and optimisers from a worker's final state (its copies of the actors it hosted). */
export function takeBackState(m: Model, state: ModelState): void {
  for (const [k, p] of Object.entries(state.params as Record<string, Matrix>)) m.params[k].data.set(p.data);
  const mine = modelOptimizerStates(m);
  restoreModelOptimizers(m, { ...mine, ...state.optimizers });
}

export { RECURRENT_HEAD_ACTOR };

/**
 * A copy of a model's data, taken once when a training is built, so that the run is a function of
 * what was passed: a caller who overwrites `x` (or a label set, or a mask) mid-run changes
 * nothing, under every scheduler. `shared`: in SharedArrayBuffers, which worker stages read where
 * they are (no second copy); else in the kernel backend's memory, as the caller's data would be
 * ({@link releaseModelData} gives it back).
 */
export function copyModelData(data: ModelData, shared: boolean): ModelData {
  const copy = (m: Matrix): Matrix => {
    const out = shared
      ? { rows: m.rows, cols: m.cols, data: new Float32Array(new SharedArrayBuffer(m.data.length * 4)) }
      : zeros(m.rows, m.cols);
    out.data.set(m.data);
    return out;
  };
  if ('mask' in data) return { ...data, x: copy(data.x), y: copy(data.y), mask: copy(data.mask) };
  return { x: copy(data.x), y: isMatrix(data.y) ? copy(data.y) : Object.fromEntries(Object.entries(data.y).map(([k, m]) => [k, copy(m)])) };
}

/** Give a {@link copyModelData} copy (not in shared memory) back to the backend. */
export function releaseModelData(data: ModelData): void {
  const all = 'mask' in data ? [data.x, data.y, data.mask] : [data.x, ...(isMatrix(data.y) ? [data.y] : Object.values(data.y))];
  for (const m of all) if (!(m.data.buffer instanceof SharedArrayBuffer)) release(m);
}
