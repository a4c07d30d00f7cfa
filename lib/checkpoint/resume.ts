/**
 * The state a training resumes from, checked before anything is built: a file (read and verified
 * by {@link readCheckpoint}) or a state given in memory, which goes through the very same checks
 * (it is encoded and decoded again, so a tampered state is refused by name as a tampered file
 * is, and the training works on its own copy); then against the training's topology and data,
 * including each recurrent boundary synthesizer's pending refits, which the data's sequence
 * length decides. Every refusal is a {@link CheckpointError}.
 */
import { checkPendingSteps, recurrentPendingByActor } from './checkpoint-refits.ts';
import { type TrainingState, checkTopology, decodeCheckpoint, encodeCheckpoint, isRecurrentState, readCheckpoint } from './checkpoint.ts';
import { CheckpointError, IN_MEMORY_STATE } from '../errors.ts';
import { describeValue } from '../matrix.ts';
import type { ModelData } from '../model.ts';
import type { Sequences } from '../recurrent/sequences.ts';
import type { RecurrentTopology } from '../recurrent/topology.ts';
import type { Topology } from '../topology.ts';

/** The checked state and the name its errors go by (the file, or {@link IN_MEMORY_STATE}). */
export function resumeStateOf(
  resume: TrainingState | string,
  topology: Topology | RecurrentTopology,
  data: ModelData,
): { state: TrainingState; path: string } {
  const path = typeof resume === 'string' ? resume : IN_MEMORY_STATE;
  const state = typeof resume === 'string' ? readCheckpoint(resume) : decodeCheckpoint(encodeInMemory(resume), path);
  checkTopology(state, topology, path);
  if (isRecurrentState(state)) {
    // the topology matched: the data are sequences (validateModelData saw to that)
    const t = state.topology,
      windows = Math.ceil((data as Sequences).length / t.truncation);
    for (const [actor, due] of recurrentPendingByActor(t, state.step, windows)) {
      checkPendingSteps((reason) => fail(path, reason), `synthesizer '${actor}'`, state.step, state.synthesizers[actor].pending, due);
    }
  }
  return { state, path };
}

const fail = (path: string, reason: string): never => {
  throw new CheckpointError(path, reason);
};

/** A state given in memory as checkpoint text; what cannot even be encoded is refused by name. */
function encodeInMemory(state: TrainingState): string {
  if (state === null || typeof state !== 'object') fail(IN_MEMORY_STATE, `not a training state: ${describeValue(state)}`);
  for (const k of ['topology', 'params', 'optimizers', 'synthesizers', 'history'] as const) {
    const v = state[k] as unknown;
    if (v === null || typeof v !== 'object') fail(IN_MEMORY_STATE, `${k} is ${describeValue(v)}, expected an object`);
  }
  // the lists encoding walks (every value in them is checked when the text is decoded)
  for (const [id, o] of Object.entries(state.optimizers))
    if (!Array.isArray(o?.moments)) fail(IN_MEMORY_STATE, `optimizer '${id}' moments is ${describeValue(o?.moments)}, expected an array`);
  for (const [id, q] of Object.entries(state.synthesizers))
    if (!Array.isArray(q?.pending)) fail(IN_MEMORY_STATE, `synthesizer '${id}' pending is ${describeValue(q?.pending)}, expected an array`);
  try {
    return encodeCheckpoint(state);
  } catch (e) {
    throw new CheckpointError(IN_MEMORY_STATE, `not a training state: ${(e as Error).message}`);
  }
}
