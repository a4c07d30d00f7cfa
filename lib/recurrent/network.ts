/**
 * A recurrent network's maths objects, built from a validated topology and a parameter set: one
 * {@link RecurrentCore} per stacked layer, its boundary synthesizer (DNI), the interface
 * synthesizers between decoupled layers, and the {@link RecurrentHead}. The actors hold one object
 * each; the bare loop (sequential.ts) drives them all. Also what a checkpoint between steps needs.
 */
import { clone } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import { RecurrentCore, type RecurrentCoreSnapshot } from './core.ts';
import { type RecurrentParameters, checkRecurrentParameters } from './params.ts';
import { RecurrentHead } from './head.ts';
import { RecurrentSynthesizer, type RecurrentSynthesizerSnapshot } from './synthesizer.ts';
import { type RecurrentTopology, keyOf } from './topology.ts';

export interface RecurrentNetwork {
  readonly topology: RecurrentTopology;
  /** the parameters the objects train in place (a copy of the ones given) */
  readonly params: RecurrentParameters;
  readonly layers: readonly RecurrentCore[];
  /** boundary synthesizer of each layer (null without DNI) */
  readonly synthesizers: readonly (RecurrentSynthesizer | null)[];
  /** interface synthesizer above each layer (null where the layer above backpropagates into it) */
  readonly interfaces: readonly (RecurrentSynthesizer | null)[];
  readonly head: RecurrentHead;
}

/** Everything a checkpoint between two steps must keep besides the parameters. */
export interface RecurrentNetworkSnapshot {
  readonly layers: RecurrentCoreSnapshot[];
  readonly synthesizers: (RecurrentSynthesizerSnapshot | null)[];
  readonly interfaces: (RecurrentSynthesizerSnapshot | null)[];
  readonly head: OptimizerState;
}

/**
 * Build the objects on a copy of `params` (checked against the topology first).
 *
 * @example
 * const net = buildRecurrentNetwork(topology, initRecurrentParameters(topology, 1));
 */
export function buildRecurrentNetwork(topology: RecurrentTopology, params: RecurrentParameters): RecurrentNetwork {
  checkRecurrentParameters(topology, params);
  const own: RecurrentParameters = {};
  for (const [k, m] of Object.entries(params)) own[k] = clone(m);
  const { batch: B, truncation: T } = topology;
  const layers = topology.layers.map((l) => new RecurrentCore(topology, l, own));
  const synthesizers = topology.layers.map((l) =>
    l.synthesizer ? new RecurrentSynthesizer(keyOf('synth', l.index), l.synthesizer, own, B) : null,
  );
  const interfaces = topology.layers.map((l) =>
    l.interface ? new RecurrentSynthesizer(keyOf('interface', l.index), l.interface, own, T * B) : null,
  );
  return { topology, params: own, layers, synthesizers, interfaces, head: new RecurrentHead(topology, own) };
}

export function snapshotRecurrentNetwork(net: RecurrentNetwork): RecurrentNetworkSnapshot {
  return {
    layers: net.layers.map((l) => l.snapshot()),
    synthesizers: net.synthesizers.map((s) => s?.snapshot() ?? null),
    interfaces: net.interfaces.map((s) => s?.snapshot() ?? null),
    head: net.head.optimizerState(),
  };
}

export function restoreRecurrentNetwork(net: RecurrentNetwork, s: RecurrentNetworkSnapshot): void {
  if (s.layers.length !== net.layers.length)
    throw new RangeError(`recurrent network: snapshot of ${s.layers.length} layers for ${net.layers.length}`);
  net.layers.forEach((l, i) => l.restore(s.layers[i]));
  net.synthesizers.forEach((syn, i) => {
    const snap = s.synthesizers[i];
    if (Boolean(syn) !== Boolean(snap))
      throw new RangeError(`recurrent network: snapshot and topology disagree on layer ${i}'s synthesizer`);
    if (syn && snap) syn.restore(snap);
  });
  net.interfaces.forEach((syn, i) => {
    const snap = s.interfaces[i];
    if (Boolean(syn) !== Boolean(snap)) throw new RangeError(`recurrent network: snapshot and topology disagree on interface ${i}`);
    if (syn && snap) syn.restore(snap);
  });
  net.head.restoreOptimizer(s.head);
}

export function disposeRecurrentNetwork(net: RecurrentNetwork): void {
  net.layers.forEach((l) => l.dispose());
  net.synthesizers.forEach((s) => s?.dispose());
  net.interfaces.forEach((s) => s?.dispose());
  net.head.dispose();
}
