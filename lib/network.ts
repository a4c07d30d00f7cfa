/**
 * A network's live maths objects, built from a validated topology and a parameter set: one
 * {@link DenseLayer} per layer, the {@link Synthesizer} at each interface, and the head. The
 * actors each own one of these; the bare loop in `sequential.ts` drives them directly.
 */
import { DenseLayer } from './dense.ts';
import { type Head, createHead } from './head.ts';
import { type KernelBackend, backend } from './kernels.ts';
import { clone, release } from './matrix.ts';
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
  const kernels = backend();
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
  const net: Network = { topology, layers, synthesizers, head: createHead(HEAD_ID, topology, depth), params };
  builtWith.set(net, kernels);
  return net;
}

export interface DisposeOptions {
  /**
   * Free the parameter matrices too. Default false: a training's result hands `net.params` to its
   * caller, who keeps using them. Pass true only when nothing holds them any more (they were
   * copied, or cloned into the next network).
   */
  params?: boolean;
}

const paramsReleased = new WeakSet<Network>();
/** The backend each network's buffers came from (the one active when it was built). */
const builtWith = new WeakMap<Network, KernelBackend>();

/**
 * Give back every buffer {@link buildNetwork} allocated for `net` except, by default, its
 * parameters: each layer's input copy, d and rings, each synthesizer's pending-refit slots,
 * error and hidden activations, the head's gradient ring, every optimiser's gradients and
 * moments. On the WebAssembly backend that returns them to its fixed arena (which never grows,
 * so a process that builds network after network must dispose them); on the TypeScript backend
 * it only drops references. Call it once training is over (take `optimizerStates(net)` first if
 * you need them); the network's layers, synthesizers and head cannot be used afterwards.
 * Calling it again does nothing more (except free the parameters, when asked this time).
 *
 * @example
 * const net = buildNetwork(topology, initial);
 * // ... train ...
 * const { params } = net, state = optimizerStates(net);
 * disposeNetwork(net); // params stay valid
 */
export function disposeNetwork(net: Network, options: DisposeOptions = {}): void {
  for (const l of net.layers) l.dispose();
  for (const s of net.synthesizers) s?.dispose();
  net.head.dispose();
  if (options.params && !paramsReleased.has(net)) {
    paramsReleased.add(net);
    const kernels = builtWith.get(net) ?? backend();
    for (const m of Object.values(net.params)) release(m, kernels);
  }
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
