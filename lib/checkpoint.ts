/**
 * Checkpoints: everything a training needs to go on exactly as if it had never stopped, at a
 * step boundary: the topology, every parameter, every optimiser's state, each synthesizer's
 * pending refits (inputs, labels and targets of the batches whose refit is still due), the
 * losses so far, the step counter and (for callers that shuffle) an RNG state.
 *
 * File format (version 1), two lines of UTF-8 text:
 *
 *   {"format":"dni-actors/checkpoint","version":1,"bytes":N,"sha256":"…"}   the header
 *   {…}                                                                      the payload: N bytes of JSON
 *
 * Float32 arrays are stored as base64 of their little-endian bytes, so every bit survives. A
 * file is written to a temporary name, flushed, then renamed over the old one: a crash leaves
 * either the old checkpoint or the new one, never half of one. Reading checks the header, the
 * length (truncation), the SHA-256 (corruption) and, against a topology, that it is the same.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { CheckpointError } from './errors.ts';
import type { HistorySnapshot } from './history.ts';
import { type Matrix, zeros } from './matrix.ts';
import { type Network, type OptimizerStates, optimizerOwners, optimizerStates, parameterOwners } from './network.ts';
import { type ParameterSet, parameterShapes } from './params.ts';
import type { SynthesizerSnapshot } from './synthesizer.ts';
import type { Activation } from './activations.ts';
import { GRAPH_NAMING, type Loss, buildGraph, graphSpecOf, isGraph } from './graph.ts';
import type { OptimizerConfig } from './optimizers.ts';
import { CHAIN_NAMING, type Topology, defineTopology } from './topology.ts';

export const CHECKPOINT_FORMAT = 'dni-actors/checkpoint';
export const CHECKPOINT_VERSION = 1;

/** A training between two steps. */
export interface TrainingState {
  readonly topology: Topology;
  /** the next batch to train (batches 0 … step-1 are done) */
  readonly step: number;
  readonly params: ParameterSet;
  /** by actor: `layer:i`, `synthesizer:i` */
  readonly optimizers: OptimizerStates;
  /** by actor: `synthesizer:i` */
  readonly synthesizers: Record<string, SynthesizerSnapshot>;
  readonly history: HistorySnapshot;
  /** the state of an Rng a caller draws from between trainings (e.g. epoch shuffles), or null */
  readonly rng: { s: number[]; spare: number | null } | null;
}

/** Entries sorted by key: the same state gives the same file, whichever thread held which part. */
const sorted = <T>(o: Record<string, T>): [string, T][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const f32 = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
function fromF32(s: unknown, what: string, path: string): Float32Array {
  if (typeof s !== 'string') throw new CheckpointError(path, `${what} is not an encoded array`);
  const b = Buffer.from(s, 'base64');
  if (b.length % 4) throw new CheckpointError(path, `${what} has ${b.length} bytes, not a whole number of float32 values`);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** The checkpoint's text. */
export function encodeCheckpoint(state: TrainingState): string {
  const payload = JSON.stringify({
    topology: state.topology,
    step: state.step,
    params: Object.fromEntries(sorted(state.params).map(([k, m]) => [k, { rows: m.rows, cols: m.cols, data: f32(m.data) }])),
    optimizers: Object.fromEntries(
      sorted(state.optimizers).map(([id, o]) => [id, { kind: o.kind, step: o.step, moments: o.moments.map(f32) }]),
    ),
    synthesizers: Object.fromEntries(
      sorted(state.synthesizers).map(([id, s]) => [
        id,
        {
          nextRefit: s.nextRefit,
          nextPrediction: s.nextPrediction,
          pending: s.pending.map((p) => ({ batch: p.batch, h: f32(p.h), y: p.y ? f32(p.y) : null, target: f32(p.target) })),
        },
      ]),
    ),
    history: state.history,
    rng: state.rng,
  });
  const bytes = Buffer.byteLength(payload);
  const sha256 = createHash('sha256').update(payload).digest('hex');
  return `${JSON.stringify({ format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, bytes, sha256 })}\n${payload}\n`;
}

/** Parse and verify a checkpoint's text; `path` names it in errors. */
export function decodeCheckpoint(text: string, path = 'checkpoint'): TrainingState {
  const newline = text.indexOf('\n');
  let header: { format?: unknown; version?: unknown; bytes?: unknown; sha256?: unknown };
  try {
    header = JSON.parse(newline < 0 ? text : text.slice(0, newline));
  } catch {
    throw new CheckpointError(path, 'not a checkpoint (no header line)');
  }
  if (header?.format !== CHECKPOINT_FORMAT) throw new CheckpointError(path, `not a checkpoint (format ${JSON.stringify(header?.format)})`);
  if (header.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(path, `version ${String(header.version)} is not supported (this library reads version ${CHECKPOINT_VERSION})`);
  }
  const payload = newline < 0 ? '' : text.slice(newline + 1).replace(/\n$/, '');
  const bytes = Buffer.byteLength(payload);
  if (bytes !== header.bytes) throw new CheckpointError(path, `truncated or padded: the payload has ${bytes} bytes, the header says ${String(header.bytes)}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw new CheckpointError(path, 'corrupt: the payload does not match its SHA-256');
  let p: Record<string, any>;
  try {
    p = JSON.parse(payload);
  } catch (e) {
    throw new CheckpointError(path, `corrupt payload (${(e as Error).message})`);
  }
  const params: ParameterSet = {};
  for (const [k, m] of Object.entries<{ rows: number; cols: number; data: string }>(p.params ?? {})) {
    const data = fromF32(m.data, `parameter '${k}'`, path);
    if (data.length !== m.rows * m.cols) throw new CheckpointError(path, `parameter '${k}' has ${data.length} values for ${m.rows}x${m.cols}`);
    const out: Matrix = zeros(m.rows, m.cols);
    out.data.set(data);
    params[k] = out;
  }
  const optimizers: OptimizerStates = {};
  for (const [id, o] of Object.entries<{ kind: 'sgd' | 'adam'; step: number; moments: string[] }>(p.optimizers ?? {})) {
    optimizers[id] = { kind: o.kind, step: o.step, moments: o.moments.map((m, i) => fromF32(m, `${id} optimiser moment ${i}`, path)) };
  }
  const synthesizers: Record<string, SynthesizerSnapshot> = {};
  for (const [id, s] of Object.entries<any>(p.synthesizers ?? {})) {
    synthesizers[id] = {
      nextRefit: s.nextRefit,
      nextPrediction: s.nextPrediction,
      pending: s.pending.map((q: any) => ({
        batch: q.batch,
        h: fromF32(q.h, `${id} pending h`, path),
        y: q.y === null ? null : fromF32(q.y, `${id} pending y`, path),
        target: fromF32(q.target, `${id} pending target`, path),
      })),
    };
  }
  if (!Number.isInteger(p.step) || p.step < 0 || !p.topology || !p.history) throw new CheckpointError(path, 'the payload lacks its step, topology or history');
  return { topology: topologyOf(p.topology, path), step: p.step, params, optimizers, synthesizers, history: p.history, rng: p.rng ?? null };
}

/** Write atomically: a temporary file in the same folder, flushed, then renamed over `path`. */
export function writeCheckpoint(path: string, state: TrainingState): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, encodeCheckpoint(state));
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

/** Read and verify a checkpoint file. */
export function readCheckpoint(path: string): TrainingState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(path, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeCheckpoint(text, path);
}

/**
 * The topology a checkpoint holds, validated again (a checksum proves the bytes were not damaged,
 * not that they describe a topology): a graph is rebuilt from its spec and must come back the
 * same; a version-1 chain (saved before chains were graphs: `layers` with their synthesizers) is
 * rebuilt through defineTopology, so it resumes as it always did.
 */
function topologyOf(t: unknown, path: string): Topology {
  try {
    const legacy = t as { inputs: number; batch: number; labels: number; loss: Loss; layers?: LegacyLayer[] };
    if (Array.isArray(legacy?.layers)) {
      const opt = (x: { lr: number; optimizer?: OptimizerConfig }) => (x.optimizer ? { optimizer: x.optimizer } : { lr: x.lr });
      return defineTopology({
        inputs: legacy.inputs,
        batch: legacy.batch,
        labels: legacy.labels,
        loss: legacy.loss,
        layers: legacy.layers.map((l) => ({
          units: l.units,
          activation: l.activation,
          ...opt(l),
          decoupled: l.synthesizer !== null,
          ...(l.synthesizer
            ? {
                synthesizer: {
                  conditioned: l.synthesizer.conditioned,
                  delay: l.synthesizer.delay,
                  ...opt(l.synthesizer),
                  ...(l.synthesizer.hidden ? { hidden: l.synthesizer.hidden, activation: l.synthesizer.activation } : {}),
                  ...(l.synthesizer.clip !== undefined ? { clip: l.synthesizer.clip } : {}),
                },
              }
            : {}),
        })),
      });
    }
    if (!isGraph(t)) throw new Error('not a topology');
    const rebuilt = buildGraph(graphSpecOf(t), t.naming === 'chain' ? CHAIN_NAMING : GRAPH_NAMING);
    if (JSON.stringify(rebuilt) !== JSON.stringify(t)) throw new Error('it does not describe itself consistently');
    return rebuilt;
  } catch (e) {
    throw new CheckpointError(path, `its topology is not valid (${(e as Error).message})`);
  }
}

interface LegacyLayer {
  units: number;
  activation: Activation;
  lr: number;
  optimizer?: OptimizerConfig;
  synthesizer: { conditioned: boolean; delay: number; lr: number; optimizer?: OptimizerConfig; hidden?: number[]; activation?: Activation; clip?: number } | null;
}

/** Refuse a checkpoint made for another topology, naming the first difference. */
export function checkTopology(state: TrainingState, topology: Topology, path = 'checkpoint'): void {
  const a = JSON.stringify(state.topology), b = JSON.stringify(topology);
  if (a !== b) {
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    throw new CheckpointError(path, `made for another topology (they differ at …${a.slice(Math.max(0, i - 30), i + 30)}… vs …${b.slice(Math.max(0, i - 30), i + 30)}…)`);
  }
  for (const s of parameterShapes(topology)) {
    const m = state.params[s.key];
    if (!m || m.data.length !== s.rows * s.cols) throw new CheckpointError(path, `parameter '${s.key}' is missing or not ${s.rows}x${s.cols}`);
  }
}

/** The part of a training's state that lives in a network's actors (all of them, or those named in `ids`). */
export type NetworkState = Pick<TrainingState, 'params' | 'optimizers' | 'synthesizers'>;

/** Copies of the state of a network's actors (every actor, or those whose systemId is in `ids`), taken between batches. */
export function captureNetworkState(net: Network, ids?: ReadonlySet<string>): NetworkState {
  const has = (id: string) => !ids || ids.has(id);
  const params: ParameterSet = {}, synthesizers: Record<string, SynthesizerSnapshot> = {};
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
export function restoreNetworkState(net: Network, state: Pick<NetworkState, 'optimizers' | 'synthesizers'>, path = 'checkpoint'): void {
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
