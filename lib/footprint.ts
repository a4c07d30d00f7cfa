/**
 * What a training will allocate, estimated from its topology before anything is allocated, so a
 * topology that cannot fit (1e8 units, a delay of 1e9) is refused at once, naming the actor that
 * takes the most and why, instead of failing gigabytes later with an allocator's message.
 */
import { TopologyError, TrainingOptionsError } from './errors.ts';
import type { Graph } from './graph.ts';
import { type KernelBackend, backend } from './kernels.ts';
import { MAX_TRAINING_BYTES, byteLimit, formatBytes } from './limits.ts';
import { optimizerOf } from './optimizers.ts';
import { parameterOwners } from './network.ts';
import { parameterShapes } from './params.ts';

/** Bytes per actor (its parameters, optimiser, buffers and rings), and the history's. */
export function trainingFootprint(g: Graph, steps: number): { actors: Map<string, { bytes: number; why: string }>; history: number; total: number } {
  const F = 4, B = g.batch, depth = Math.max(0, ...g.synthesizers.map((s) => s.delay)) + 3;
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
    actors.set(n.actor, { bytes: F * (p * (1 + moments(n)) + buffers), why: `${n.inputs}x${n.units} weights, rings of ${depth} batches of ${B}x${n.units}` });
  }
  for (const s of g.synthesizers) {
    const p = paramFloats(s.actor), widths = s.hidden ?? [];
    const slots = (s.delay + 2) * B * (3 * s.units + s.labels);
    const buffers = B * s.units + 2 * B * widths.reduce((a, w) => a + w, 0);
    actors.set(s.actor, { bytes: F * (p * (1 + moments(s)) + slots + buffers), why: `delay ${s.delay}: ${s.delay + 2} pending refits of ${B}x${s.units}` });
  }
  for (const h of g.heads) actors.set(h.actor, { bytes: F * depth * B * h.width, why: `a ring of ${depth} gradients of ${B}x${h.width}` });
  const history = 8 * steps * (2 + 2 * g.heads.length + g.synthesizers.length);
  let total = history;
  for (const a of actors.values()) total += a.bytes;
  return { actors, history, total };
}

/**
 * Refuse a training that would not fit: more than {@link MAX_TRAINING_BYTES} (or the variable
 * `DNI_MAX_TRAINING_BYTES`), or more than a WebAssembly backend's arena has free.
 */
export function checkFootprint(g: Graph, steps: number, kernels: KernelBackend = backend()): void {
  const { actors, history, total } = trainingFootprint(g, steps);
  const limit = byteLimit(MAX_TRAINING_BYTES);
  const usage = (kernels as { usage?: () => { freeBytes: number } }).usage?.();
  const free = usage ? usage.freeBytes : Infinity;
  if (total <= limit && total <= free) return;
  const [id, biggest] = [...actors].sort((a, b) => b[1].bytes - a[1].bytes)[0];
  const bound = total > limit ? `the limit of ${formatBytes(limit)} (${MAX_TRAINING_BYTES.env}=BYTES raises it)` : `the ${formatBytes(free)} free in the ${kernels.name} backend's memory (DNI_WASM_MEMORY_MB raises it)`;
  const message = history > biggest.bytes
    ? `training: ${steps} steps would need ${formatBytes(total)} with their history, above ${bound}`
    : `training: the topology would need ${formatBytes(total)}, above ${bound}; ${id} alone takes ${formatBytes(biggest.bytes)} (${biggest.why})`;
  throw history > biggest.bytes ? new TrainingOptionsError(message) : new TopologyError(message);
}
