/**
 * What a training will allocate, estimated from its topology before anything is allocated, so a
 * topology that cannot fit (1e8 units, a delay of 1e9) is refused at once, naming the actor that
 * takes the most and why, instead of failing gigabytes later with an allocator's message.
 */
import { TopologyError, TrainingOptionsError } from './errors.ts';
import type { Graph } from './graph.ts';
import { type KernelBackend, backend } from './kernels/kernels.ts';
import { MAX_TRAINING_BYTES, byteLimit, formatBytes } from './io/limits.ts';
import { type OptimizerConfig, optimizerOf } from './optimizers.ts';
import {
  RECURRENT_HEAD_ACTOR,
  layerActor,
  recurrentParameterOwners,
  recurrentRingDepth,
  recurrentSynthesizers,
} from './recurrent/owners.ts';
import { recurrentParameterShapes } from './recurrent/params.ts';
import type { RecurrentTopology } from './recurrent/topology.ts';
import { parameterOwners, ringDepth } from './network.ts';
import { parameterShapes } from './params.ts';

/** Bytes per actor (its parameters, optimiser, buffers and rings), and the history's. */
export function trainingFootprint(
  g: Graph,
  steps: number,
): { actors: Map<string, { bytes: number; why: string }>; history: number; total: number } {
  const F = 4,
    B = g.batch,
    depth = ringDepth(g);
  const size = new Map(parameterShapes(g).map((s) => [s.key, s.rows * s.cols]));
  const owners = parameterOwners(g);
  const paramFloats = (actor: string) => (owners.get(actor) ?? []).reduce((s, k) => s + size.get(k)!, 0);
  const moments = (o: Parameters<typeof optimizerOf>[0]) => {
    const c = optimizerOf(o);
    return c.kind === 'adam' ? 3 : c.momentum > 0 ? 2 : 0; // moments and a gradient buffer
  };
  const actors = new Map<string, { bytes: number; why: string }>();
  for (const n of g.nodes) {
    const p = paramFloats(n.actor);
    const buffers = B * (n.inputs + 2 * n.units) + depth * B * (n.units + n.inputs);
    actors.set(n.actor, {
      bytes: F * (p * (1 + moments(n)) + buffers),
      why: `${n.inputs}x${n.units} weights, rings of ${depth} batches of ${B}x${n.units}`,
    });
  }
  for (const s of g.synthesizers) {
    const p = paramFloats(s.actor),
      widths = s.hidden ?? [];
    // a forward synthesizer's targets may run a ring further ahead (see buildNetwork); it reads the data's x
    const pending = s.delay + 2 + (s.forward ? depth : 0);
    const slots = pending * B * (2 * s.units + s.inputs + s.labels);
    const buffers = B * s.units + 2 * B * widths.reduce((a, w) => a + w, 0);
    actors.set(s.actor, {
      bytes: F * (p * (1 + moments(s)) + slots + buffers),
      why: `delay ${s.delay}: ${pending} pending refits of ${B}x${s.units}`,
    });
  }
  for (const h of g.heads) actors.set(h.actor, { bytes: F * depth * B * h.width, why: `a ring of ${depth} gradients of ${B}x${h.width}` });
  const history = 8 * steps * (2 + 2 * g.heads.length + g.synthesizers.length);
  let total = history + initialCopy(size);
  for (const a of actors.values()) total += a.bytes;
  return { actors, history, total };
}

/** A recurrent network's bytes per actor (parameters, optimiser, window buffers, rings), and the history's. */
export function recurrentFootprint(
  t: RecurrentTopology,
  steps: number,
): { actors: Map<string, { bytes: number; why: string }>; history: number; total: number } {
  const F = 4,
    T = t.truncation,
    B = t.batch,
    gates = t.cell === 'lstm' ? 4 : 1,
    depth = recurrentRingDepth(t);
  const size = new Map(recurrentParameterShapes(t).map((s) => [s.key, s.rows * s.cols]));
  const owners = recurrentParameterOwners(t);
  const paramFloats = (actor: string) => (owners.get(actor) ?? []).reduce((s, k) => s + size.get(k)!, 0);
  const moments = (c: OptimizerConfig) => (c.kind === 'adam' ? 3 : c.momentum > 0 ? 2 : 0);
  const actors = new Map<string, { bytes: number; why: string }>();
  for (const l of t.layers) {
    const G = gates * l.units;
    const window = (T + 1) * B * (2 * l.units + l.inputs + 2 * G) + 4 * B * l.state;
    const rings = depth * (T * B * (l.units + 2 * l.inputs) + 3 * B * l.state);
    actors.set(layerActor(l), {
      bytes: F * (paramFloats(layerActor(l)) * (1 + moments(l.optimizer)) + window + rings),
      why: `${l.inputs}+${l.units} → ${G} weights, windows of ${T}x${B} steps`,
    });
  }
  for (const s of recurrentSynthesizers(t)) {
    const l = t.layers[s.layer],
      spec = s.kind === 'boundary' ? l.synthesizer! : l.interface!,
      rows = s.kind === 'boundary' ? B : T * B;
    const widths = spec.hidden.reduce((a, w) => a + w, 0);
    const slots = (spec.delay + 3) * rows * 2 * spec.units + rows * (2 * spec.units + 2 * widths);
    actors.set(s.actor, {
      bytes: F * (paramFloats(s.actor) * (1 + moments(spec.optimizer)) + slots),
      why: `delay ${spec.delay}: ${spec.delay + 1} pending refits of ${rows}x${spec.units}`,
    });
  }
  const top = t.layers[t.layers.length - 1];
  actors.set(RECURRENT_HEAD_ACTOR, {
    bytes:
      F * (paramFloats(RECURRENT_HEAD_ACTOR) * (1 + moments(t.readout.optimizer)) + (depth + 3) * T * B * Math.max(top.units, t.outputs)),
    why: `windows of ${T}x${B} outputs`,
  });
  const history = 8 * steps * (3 + recurrentSynthesizers(t).length + t.layers.length);
  let total = history + initialCopy(size);
  for (const a of actors.values()) total += a.bytes;
  return { actors, history, total };
}

/**
 * Bytes of the initial parameter set, alive beside the network's own copy while a training is
 * built (the network trains a copy; the set it was built from is released after): the peak is the
 * actors' bytes plus these, which a 15,000-unit layer once passed the estimate by.
 */
function initialCopy(size: ReadonlyMap<string, number>): number {
  let floats = 0;
  for (const n of size.values()) floats += n;
  return 4 * floats;
}

/**
 * Refuse a training that would not fit: more than {@link MAX_TRAINING_BYTES} (or the variable
 * `DNI_MAX_TRAINING_BYTES`), or more than a WebAssembly backend's arena has free.
 */
export function checkFootprint(g: Graph | RecurrentTopology, steps: number, kernels: KernelBackend = backend()): void {
  const { actors, history, total } =
    (g as { kind?: string }).kind === 'recurrent'
      ? recurrentFootprint(g as RecurrentTopology, steps)
      : trainingFootprint(g as Graph, steps);
  const limit = byteLimit(MAX_TRAINING_BYTES);
  const usage = (kernels as { usage?: () => { freeBytes: number } }).usage?.();
  const free = usage ? usage.freeBytes : Infinity;
  if (total <= limit && total <= free) return;
  const [id, biggest] = [...actors].sort((a, b) => b[1].bytes - a[1].bytes)[0];
  const bound =
    total > limit
      ? `the limit of ${formatBytes(limit)} (${MAX_TRAINING_BYTES.env}=BYTES raises it)`
      : `the ${formatBytes(free)} free in the ${kernels.name} backend's memory (DNI_WASM_MEMORY_MB raises it)`;
  const message =
    history > biggest.bytes
      ? `training: ${steps} steps would need ${formatBytes(total)} with their history, above ${bound}`
      : `training: the topology would need ${formatBytes(total)}, above ${bound}; ${id} alone takes ${formatBytes(biggest.bytes)} ` +
        `(${biggest.why})`;
  throw history > biggest.bytes ? new TrainingOptionsError(message) : new TopologyError(message);
}
