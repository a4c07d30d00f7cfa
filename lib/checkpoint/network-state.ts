/**
 * State capture: copies of what a network's actors hold between batches (parameters, optimiser
 * moments, pending refits), and putting them back. The file format is lib/checkpoint/checkpoint.ts.
 */
import type { GraphTrainingState } from './checkpoint.ts';
import { CheckpointError, IN_MEMORY_STATE } from '../errors.ts';
import { type Network, optimizerOwners, optimizerStates, parameterOwners } from '../network.ts';
import type { ParameterSet } from '../params.ts';
import type { SynthesizerSnapshot } from '../synthesizer.ts';

/** The part of a training's state that lives in a network's actors (all of them, or those named in `ids`). */
export type NetworkState = Pick<GraphTrainingState, 'params' | 'optimizers' | 'synthesizers'>;

/** Copies of the state of a network's actors (every actor, or those whose systemId is in `ids`), taken between batches. */
export function captureNetworkState(net: Network, ids?: ReadonlySet<string>): NetworkState {
  const has = (id: string) => !ids || ids.has(id);
  const params: ParameterSet = {},
    synthesizers: Record<string, SynthesizerSnapshot> = {};
  for (const [owner, keys] of parameterOwners(net.topology)) {
    if (!has(owner)) continue;
    for (const key of keys) {
      const m = net.params[key];
      params[key] = { rows: m.rows, cols: m.cols, data: m.data.slice() };
    }
  }
  for (const s of net.synthesizers) if (has(s.id)) synthesizers[s.id] = s.snapshot();
  return { params, optimizers: optimizerStates(net, ids), synthesizers };
}

/** Put a captured state back into a network built from the same topology (parameters are set by building it). */
export function restoreNetworkState(net: Network, state: Pick<NetworkState, 'optimizers' | 'synthesizers'>, path = IN_MEMORY_STATE): void {
  for (const owner of optimizerOwners(net)) {
    const o = state.optimizers[owner.id];
    if (!o) throw new CheckpointError(path, `no optimiser state for ${owner.id}`);
    try {
      owner.optimizer.setState(o);
    } catch (e) {
      throw new CheckpointError(path, `${owner.id}: ${(e as Error).message}`);
    }
  }
  for (const s of net.synthesizers) {
    const snap = state.synthesizers[s.id];
    if (!snap) throw new CheckpointError(path, `no pending refits for ${s.id}`);
    try {
      s.restore(snap);
    } catch (e) {
      throw new CheckpointError(path, (e as Error).message);
    }
  }
}
