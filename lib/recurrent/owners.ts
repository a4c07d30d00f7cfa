/**
 * Who owns what in a recurrent network: the actors' names, the parameters and optimisers each owns, and
 * the state a checkpoint (or a worker thread) takes of them between steps. No xstate here: this
 * is what the actors, the checkpoints and the trainer agree on.
 *
 * Actors, in a fixed order: each layer `layer:core`, `layer:core1`, … (bottom up), each layer's
 * boundary synthesizer `synthesizer:synth`, `synthesizer:synth1`, …, each decoupled interface's
 * synthesizer `synthesizer:interface0`, …, and the readout `head:readout`. Their optimisers go by the
 * same names, a layer's aux head by `layer:core.aux`.
 */
import type { Matrix } from '../matrix.ts';
import type { OptimizerState } from '../optimizers.ts';
import type { RecurrentNetwork } from './network.ts';
import { recurrentParameterShapes } from './params.ts';
import {
  type RecurrentLayerTopology,
  type RecurrentSpec,
  type RecurrentSynthesizerSpec,
  type RecurrentSynthesizerTopology,
  type RecurrentTopology,
  keyOf,
} from './topology.ts';

export const RECURRENT_HEAD_ACTOR = 'head:readout';

export const layerActor = (l: RecurrentLayerTopology): string => `layer:${l.key}`;
export const boundaryActor = (l: RecurrentLayerTopology): string => `synthesizer:${keyOf('synth', l.index)}`;
export const interfaceActor = (l: RecurrentLayerTopology): string => `synthesizer:${keyOf('interface', l.index)}`;
const auxOwner = (l: RecurrentLayerTopology): string => `${layerActor(l)}.aux`;

/** One synthesizer of the network, in the order losses are reported (boundary ones by layer, then interfaces by layer). */
export interface RecurrentSynthesizerSlot {
  readonly actor: string;
  /** its parameter prefix (`synth`, `interface0`) */
  readonly key: string;
  readonly kind: 'boundary' | 'interface';
  readonly layer: number;
  /** its index among the network's synthesizers */
  readonly index: number;
}

export function recurrentSynthesizers(t: RecurrentTopology): RecurrentSynthesizerSlot[] {
  const out: RecurrentSynthesizerSlot[] = [];
  for (const l of t.layers)
    if (l.synthesizer)
      out.push({ actor: boundaryActor(l), key: keyOf('synth', l.index), kind: 'boundary', layer: l.index, index: out.length });
  for (const l of t.layers)
    if (l.interface)
      out.push({ actor: interfaceActor(l), key: keyOf('interface', l.index), kind: 'interface', layer: l.index, index: out.length });
  return out;
}

/** Every actor's systemId, in the network's order. */
export function recurrentActorIds(t: RecurrentTopology): string[] {
  return [...t.layers.map(layerActor), ...recurrentSynthesizers(t).map((s) => s.actor), RECURRENT_HEAD_ACTOR];
}

/** The parameter keys each actor owns (`layer:core` → `core.Wx`, `core.Wh`, `core.b` and its aux head's). */
export function recurrentParameterOwners(t: RecurrentTopology): Map<string, string[]> {
  const owner = new Map<string, string>([['readout', RECURRENT_HEAD_ACTOR]]);
  for (const l of t.layers) {
    owner.set(l.key, layerActor(l));
    owner.set(keyOf('aux', l.index), layerActor(l));
  }
  for (const s of recurrentSynthesizers(t)) owner.set(s.key, s.actor);
  const out = new Map<string, string[]>(recurrentActorIds(t).map((id) => [id, []]));
  for (const s of recurrentParameterShapes(t)) out.get(owner.get(s.key.slice(0, s.key.indexOf('.')))!)!.push(s.key);
  return out;
}

/**
 * How many steps a sender may run ahead of its receivers: a layer above a decoupled interface
 * lags the one below by at most the interface synthesizer's delay + 1 (its next prediction waits
 * for the refit that many steps back), and a step's window and tensors stay valid while it is in
 * flight anywhere.
 */
export function recurrentRingDepth(t: RecurrentTopology): number {
  let depth = 3;
  for (const l of t.layers) if (l.interface) depth += l.interface.delay + 2;
  return depth;
}

/** What a layer carries between steps besides its parameters and optimisers. */
export interface CarriedState {
  /** the next step it runs */
  readonly step: number;
  /** the state carried out of the last window (B × S) */
  readonly carried: Float32Array;
}

/** A synthesizer's refits given and not applied yet (delay > 0), oldest first. */
export interface PendingRefits {
  readonly pending: { step: number; rows: number; input: Float32Array; target: Float32Array }[];
}

/** The state of a recurrent network's actors between steps (all of them, or some). */
export interface RecurrentNetworkState {
  readonly params: Record<string, Matrix>;
  /** by owner: `layer:core`, `layer:core.aux`, `synthesizer:synth`, `head:readout`, … */
  readonly optimizers: Record<string, OptimizerState>;
  /** by synthesizer actor */
  readonly synthesizers: Record<string, PendingRefits>;
  /** by layer actor */
  readonly layers: Record<string, CarriedState>;
}

/** The optimiser owners a topology has, by name. */
export function recurrentOptimizerOwners(t: RecurrentTopology): string[] {
  return [
    ...t.layers.flatMap((l) => (l.aux ? [layerActor(l), auxOwner(l)] : [layerActor(l)])),
    ...recurrentSynthesizers(t).map((s) => s.actor),
    RECURRENT_HEAD_ACTOR,
  ];
}

function synthesizerOf(net: RecurrentNetwork, s: RecurrentSynthesizerSlot) {
  return (s.kind === 'boundary' ? net.synthesizers : net.interfaces)[s.layer]!;
}

/**
 * Copies of the actors' state (those in `ids`, or all), between steps; the parameters too unless
 * `params` is false. Copies live in the JavaScript heap (not the kernel backend's memory), as
 * checkpoints and messages to other threads want them.
 */
export function captureRecurrentState(net: RecurrentNetwork, ids?: ReadonlySet<string>, withParams = true): RecurrentNetworkState {
  const t = net.topology,
    has = (id: string) => !ids || ids.has(id);
  const params: Record<string, Matrix> = {},
    optimizers: Record<string, OptimizerState> = {};
  const synthesizers: Record<string, PendingRefits> = {},
    layers: Record<string, CarriedState> = {};
  if (withParams) {
    for (const [owner, keys] of recurrentParameterOwners(t)) {
      if (!has(owner)) continue;
      for (const k of keys) params[k] = { rows: net.params[k].rows, cols: net.params[k].cols, data: net.params[k].data.slice() };
    }
  }
  for (const l of t.layers) {
    if (!has(layerActor(l))) continue;
    const s = net.layers[l.index].snapshot();
    layers[layerActor(l)] = { step: s.step, carried: s.carried };
    optimizers[layerActor(l)] = s.optimizer;
    if (s.aux) optimizers[auxOwner(l)] = s.aux;
  }
  for (const slot of recurrentSynthesizers(t)) {
    if (!has(slot.actor)) continue;
    const s = synthesizerOf(net, slot).snapshot();
    synthesizers[slot.actor] = { pending: s.pending };
    optimizers[slot.actor] = s.optimizer;
  }
  if (has(RECURRENT_HEAD_ACTOR)) optimizers[RECURRENT_HEAD_ACTOR] = net.head.optimizerState();
  return { params, optimizers, synthesizers, layers };
}

/**
 * Put a state back into a network of the same topology (its parameters are set by building it):
 * the optimisers always; the carried states and pending refits when the state has them (a
 * checkpoint's), so `optimizers` alone continues a finished training's optimisers.
 */
export function restoreRecurrentState(
  net: RecurrentNetwork,
  state: Pick<RecurrentNetworkState, 'optimizers'> & Partial<RecurrentNetworkState>,
  fail: (message: string) => never,
): void {
  const t = net.topology,
    o = state.optimizers;
  const need = (id: string): OptimizerState => o[id] ?? fail(`no optimiser state for ${id}`);
  const guard = (id: string, f: () => void) => {
    try {
      f();
    } catch (e) {
      fail(`${id}: ${(e as Error).message}`);
    }
  };
  for (const l of t.layers) {
    const id = layerActor(l),
      now = net.layers[l.index].snapshot(),
      c = state.layers?.[id];
    if (state.layers && !c) fail(`no carried state for ${id}`);
    guard(id, () =>
      net.layers[l.index].restore({
        step: c?.step ?? now.step,
        carried: c?.carried ?? now.carried,
        optimizer: need(id),
        aux: l.aux ? need(auxOwner(l)) : null,
      }),
    );
  }
  for (const slot of recurrentSynthesizers(t)) {
    const syn = synthesizerOf(net, slot),
      p = state.synthesizers?.[slot.actor];
    if (state.synthesizers && !p) fail(`no pending refits for ${slot.actor}`);
    guard(slot.actor, () => syn.restore({ pending: p?.pending ?? syn.snapshot().pending, optimizer: need(slot.actor) }));
  }
  guard(RECURRENT_HEAD_ACTOR, () => net.head.restoreOptimizer(need(RECURRENT_HEAD_ACTOR)));
}

/**
 * A spec that {@link defineRecurrent} turns back into `t` (a checkpoint re-validates the topology
 * it holds this way: rebuilt, it must come back the same).
 */
export function recurrentSpecOf(t: RecurrentTopology): RecurrentSpec {
  const first = t.layers[0];
  const synth = (s: RecurrentSynthesizerTopology, boundary: boolean): RecurrentSynthesizerSpec => {
    const { units: _, clip, scale, discount, ...rest } = s;
    return { ...rest, hidden: [...s.hidden], ...(clip === null ? {} : { clip }), ...(boundary ? { scale, discount } : {}) };
  };
  return {
    cell: t.cell,
    inputs: t.inputs,
    hidden: t.layers.map((l) => ({ units: l.units, ...(l.interface ? { decoupled: true, interface: synth(l.interface, false) } : {}) })),
    outputs: t.outputs,
    loss: t.loss,
    truncation: t.truncation,
    batch: t.batch,
    optimizer: first.optimizer,
    readout: { optimizer: t.readout.optimizer },
    ...(t.clip === null ? {} : { clip: t.clip }),
    ...(t.cell === 'lstm' ? { forgetBias: t.forgetBias } : {}),
    ...(t.dni
      ? {
          dni: {
            synthesizer: synth(first.synthesizer!, true),
            ...(first.aux ? { aux: { weight: first.aux.weight, optimizer: first.aux.optimizer } } : {}),
          },
        }
      : {}),
  };
}
