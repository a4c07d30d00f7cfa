/**
 * A network's live maths objects, built from a validated topology and a parameter set: one
 * {@link DenseLayer} per layer, the {@link Synthesizer} at each interface, and the head. The
 * actors each own one of these; the bare loop in `sequential.ts` drives them directly.
 */
import { DenseLayer } from './dense.ts';
import { type Head, createHead } from './head.ts';
import { clone } from './matrix.ts';
import type { OptimizerState } from './optimizers.ts';
import { type ParameterSet, parameterShapes } from './params.ts';
import { Synthesizer } from './synthesizer.ts';
import type { Topology } from './topology.ts';
import { TopologyError } from './errors.ts';

export interface Network {
  readonly topology: Topology;
  readonly layers: DenseLayer[];
  /** indexed by layer; null where the layer learns by backprop */
  readonly synthesizers: (Synthesizer | null)[];
  readonly head: Head;
  /** the live parameters (the layers and synthesizers update these in place) */
  readonly params: ParameterSet;
}

/** Ring depth that covers how far a sender can run ahead of its receivers (see ring.ts). */
export function ringDepth(t: Topology): number {
  return Math.max(0, ...t.layers.map((l) => l.synthesizer?.delay ?? 0)) + 3;
}

/** Actor names, also their systemIds. */
export const layerId = (i: number): string => `layer:${i}`;
export const synthesizerId = (i: number): string => `synthesizer:${i}`;
export const HEAD_ID = 'head';

/** Build the maths objects on a private copy of `params` (the caller's matrices are not touched). */
export function buildNetwork(topology: Topology, initial: ParameterSet): Network {
  const params: ParameterSet = {};
  for (const s of parameterShapes(topology)) {
    const m = initial[s.key];
    if (!m) throw new TopologyError(`parameters: '${s.key}' is missing (the topology needs ${s.rows}x${s.cols})`);
    if (m.data.length !== s.rows * s.cols) {
      throw new TopologyError(`parameters: '${s.key}' has ${m.data.length} values, the topology needs ${s.rows}x${s.cols}`);
    }
    params[s.key] = { ...clone(m), rows: s.rows, cols: s.cols };
  }
  const depth = ringDepth(topology), B = topology.batch;
  const layers = topology.layers.map(
    (l) => new DenseLayer(layerId(l.index), l, params[`layer${l.index}.W`], params[`layer${l.index}.b`], B, depth),
  );
  const synthesizers = topology.layers.map((l) =>
    l.synthesizer
      ? new Synthesizer(
          synthesizerId(l.index),
          l.synthesizer,
          params[`synth${l.index}.M`],
          params[`synth${l.index}.c`],
          params[`synth${l.index}.N`] ?? null,
          B,
          (l.synthesizer.hidden ?? []).map((_, j) => ({
            W: params[`synth${l.index}.hidden${j}.W`],
            b: params[`synth${l.index}.hidden${j}.b`],
            N: params[`synth${l.index}.hidden${j}.N`] ?? null,
          })),
        )
      : null,
  );
  return { topology, layers, synthesizers, head: createHead(HEAD_ID, topology, depth), params };
}

/** Every optimiser's state (step count, moments), keyed by actor name (`layer:i`, `synthesizer:i`), copied. */
export type OptimizerStates = Record<string, OptimizerState>;

export function optimizerStates(net: Network): OptimizerStates {
  const out: OptimizerStates = {};
  net.layers.forEach((l) => (out[l.id] = l.optimizer.state()));
  net.synthesizers.forEach((s) => s && (out[s.id] = s.optimizer.state()));
  return out;
}

/** Restore {@link optimizerStates} into a network of the same topology (every optimiser must be there). */
export function restoreOptimizerStates(net: Network, states: OptimizerStates): void {
  const owners = [...net.layers, ...net.synthesizers.filter((s): s is Synthesizer => s !== null)];
  for (const o of owners) {
    const s = states[o.id];
    if (!s) throw new TopologyError(`optimizer state: '${o.id}' is missing`);
    try {
      o.optimizer.setState(s);
    } catch (e) {
      throw new TopologyError(`optimizer state: '${o.id}': ${(e as Error).message}`);
    }
  }
}
