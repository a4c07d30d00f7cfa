/**
 * Checkpoints: everything a training needs to go on exactly as if it had never stopped, at a
 * step boundary: the topology, every parameter, every optimiser's state, each synthesizer's
 * pending refits (inputs, labels and targets of the batches whose refit is still due), the
 * losses so far, the step counter, (for callers that shuffle) an RNG state, and the fingerprint
 * of the data it was trained on.
 *
 * File format (version 2), two lines of UTF-8 text:
 *
 *   {"format":"dni-actors/checkpoint","version":2,"bytes":N,"sha256":"…"}   the header
 *   {…}                                                                      the payload: N bytes of JSON
 *
 * Version 2 adds `dataFingerprint` to the payload (version 1 files are still read, without it).
 * Float32 arrays are stored as base64 of their little-endian bytes, so every bit survives. A
 * file is written to a temporary file, flushed, then renamed over the old one (lib/io/files.ts): a
 * crash leaves either the old checkpoint or the new one, never half of one. Reading is bounded
 * ({@link MAX_CHECKPOINT_BYTES}) and checks the header, the length (truncation), the SHA-256
 * (corruption), then every field against what the checkpoint's own topology implies (a payload
 * edited and resealed with a fresh checksum is refused too, by name), before anything is
 * allocated; and, against a training's topology, that it is the same ({@link checkTopology}).
 */
import { createHash } from 'node:crypto';
import { type Json, Checker, isObject } from './checkpoint-checker.ts';
import { checkPendingSteps, graphPendingBatches, recurrentPendingByActor } from './checkpoint-refits.ts';
import { renameLegacyNames } from './checkpoint-renames.ts';
import { type ActorShape, actorsOf, recurrentOwnersOf } from './checkpoint-shapes.ts';
import { checkTopology, topologyOf } from './checkpoint-topology.ts';
import { CheckpointError, IN_MEMORY_STATE } from '../errors.ts';
import { FileError, readTextBounded, writeFileAtomic } from '../io/files.ts';
import { FINGERPRINT } from '../fingerprint.ts';
import type { HistorySnapshot } from '../history.ts';
import { MAX_CHECKPOINT_BYTES } from '../io/limits.ts';
import { type Matrix, describeValue, zeros } from '../matrix.ts';
import type { OptimizerStates } from '../network.ts';
import { type ParameterSet, type ParameterShape, parameterShapes } from '../params.ts';
import type { SynthesizerSnapshot } from '../synthesizer.ts';
import { type CarriedState, type PendingRefits, layerActor, recurrentSynthesizers } from '../recurrent/owners.ts';
import { recurrentParameterShapes } from '../recurrent/params.ts';
import type { RecurrentTopology } from '../recurrent/topology.ts';
import type { Topology } from '../topology.ts';

export { checkTopology };

export const CHECKPOINT_FORMAT = 'dni-actors/checkpoint';
/** The version written; versions 1 and 2 are read. */
export const CHECKPOINT_VERSION = 2;

/** What every training state has, whatever its network. */
interface StateCommon {
  /** the next batch to train (batches 0 … step-1 are done) */
  readonly step: number;
  readonly params: ParameterSet;
  /** by optimiser owner: `layer:i`, `synthesizer:i` (`layer:core`, `layer:core.aux`, `head:readout` for a recurrent network) */
  readonly optimizers: OptimizerStates;
  readonly history: HistorySnapshot;
  /** the state of an Rng a caller draws from between trainings (e.g. epoch shuffles), or null */
  readonly rng: { s: number[]; spare: number | null } | null;
  /**
   * {@link datasetFingerprint} of the data trained on (null or absent: not recorded, as in
   * version 1 files); a training resumed from the checkpoint refuses other data.
   */
  readonly dataFingerprint?: string | null;
}

/** A graph's (or chain's) training between two steps. */
export interface GraphTrainingState extends StateCommon {
  readonly topology: Topology;
  /** by actor: `synthesizer:i` */
  readonly synthesizers: Record<string, SynthesizerSnapshot>;
}

/** A recurrent network's training between two steps. */
export interface RecurrentTrainingState extends StateCommon {
  readonly topology: RecurrentTopology;
  /** by synthesizer actor: its refits given and not applied yet (delay > 0) */
  readonly synthesizers: Record<string, PendingRefits>;
  /** by layer actor: the step it runs next and the state it carries into it */
  readonly layers: Record<string, CarriedState>;
}

/** A training between two steps. */
export type TrainingState = GraphTrainingState | RecurrentTrainingState;

export function isRecurrentState(s: TrainingState): s is RecurrentTrainingState {
  return (s.topology as { kind?: string }).kind === 'recurrent';
}

/** Entries sorted by key: the same state gives the same file, whichever thread held which part. */
const sorted = <T>(o: Record<string, T>): [string, T][] => Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
const f32 = (a: Float32Array, what: string): string => {
  if (!(a instanceof Float32Array)) throw new TypeError(`${what} is ${describeValue(a)}, expected a Float32Array`);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
};

/** The checkpoint's text. */
export function encodeCheckpoint(state: TrainingState): string {
  const payload = JSON.stringify({
    topology: state.topology,
    step: state.step,
    params: Object.fromEntries(
      sorted(state.params).map(([k, m]) => [k, { rows: m.rows, cols: m.cols, data: f32(m.data, `parameter '${k}' data`) }]),
    ),
    optimizers: Object.fromEntries(
      sorted(state.optimizers).map(([id, o]) => [
        id,
        { kind: o.kind, step: o.step, moments: o.moments.map((m, i) => f32(m, `optimizer '${id}' moment ${i}`)) },
      ]),
    ),
    ...(isRecurrentState(state)
      ? {
          synthesizers: Object.fromEntries(
            sorted(state.synthesizers).map(([id, s]) => [
              id,
              {
                pending: s.pending.map((p, k) => ({
                  step: p.step,
                  rows: p.rows,
                  input: f32(p.input, `synthesizer '${id}' pending[${k}] input`),
                  target: f32(p.target, `synthesizer '${id}' pending[${k}] target`),
                })),
              },
            ]),
          ),
          layers: Object.fromEntries(
            sorted(state.layers).map(([id, l]) => [id, { step: l.step, carried: f32(l.carried, `layer '${id}' carried`) }]),
          ),
        }
      : {
          synthesizers: Object.fromEntries(
            sorted(state.synthesizers).map(([id, s]) => [
              id,
              {
                nextRefit: s.nextRefit,
                nextPrediction: s.nextPrediction,
                pending: s.pending.map((p, k) => ({
                  batch: p.batch,
                  h: f32(p.h, `synthesizer '${id}' pending[${k}] h`),
                  y: p.y ? f32(p.y, `synthesizer '${id}' pending[${k}] y`) : null,
                  target: f32(p.target, `synthesizer '${id}' pending[${k}] target`),
                })),
              },
            ]),
          ),
        }),
    history: state.history,
    rng: state.rng,
    dataFingerprint: state.dataFingerprint ?? null,
  });
  const bytes = Buffer.byteLength(payload);
  const sha256 = createHash('sha256').update(payload).digest('hex');
  return `${JSON.stringify({ format: CHECKPOINT_FORMAT, version: CHECKPOINT_VERSION, bytes, sha256 })}\n${payload}\n`;
}

const isRecurrentTopology = (t: Topology | RecurrentTopology): t is RecurrentTopology => (t as { kind?: string }).kind === 'recurrent';

/** Parse and verify a checkpoint's text (versions 1 and 2); `path` names it in errors. */
export function decodeCheckpoint(text: string, path = IN_MEMORY_STATE): TrainingState {
  const c: Checker = new Checker(path);
  const { version, p } = decodeEnvelope(c, text);

  // the topology, validated again: it says what every other field must be
  const topology = topologyOf(p.topology, path);
  const recurrent = isRecurrentTopology(topology);
  if (recurrent && !('layers' in p)) c.fail(`the payload lacks 'layers' (its topology is recurrent)`);
  if (!recurrent && 'layers' in p) c.fail(`the payload has an unknown key 'layers'`);
  const shapes = recurrent ? recurrentParameterShapes(topology) : parameterShapes(topology);
  const step = c.integer(p.step, 'step');
  const owners = recurrent ? recurrentOwnersOf(topology) : actorsOf(topology);

  const paramData = decodeParams(c, p.params, shapes);
  const optimizers = decodeOptimizers(c, p.optimizers, owners);

  const synthesizersJson = c.object(p.synthesizers, 'synthesizers');
  const synthesizerIds = recurrent
    ? recurrentSynthesizers(topology).map((s) => s.actor)
    : [...owners.keys()].filter((id) => owners.get(id)!.refits);
  for (const id of Object.keys(synthesizersJson))
    if (!synthesizerIds.includes(id)) c.fail(`synthesizer '${id}' is not an actor of its topology`);
  for (const id of synthesizerIds) if (!(id in synthesizersJson)) c.fail(`synthesizer '${id}' is missing`);
  const parts = recurrent
    ? decodeRecurrentParts(c, topology, step, synthesizersJson, p.layers)
    : { synthesizers: decodeRefits(c, step, synthesizersJson, owners) };

  const history = decodeHistory(c, p.history, version, topology, step, synthesizerIds.length);
  const rng = decodeRng(c, p.rng);
  const dataFingerprint = p.dataFingerprint ?? null;
  if (dataFingerprint !== null && (typeof dataFingerprint !== 'string' || !FINGERPRINT.test(dataFingerprint))) {
    c.fail(`dataFingerprint is ${describeValue(dataFingerprint)}, expected null or sha256: and 64 hex digits`);
  }

  // all checked: now allocate
  const out: ParameterSet = {};
  for (const s of shapes) {
    const m: Matrix = zeros(s.rows, s.cols);
    m.data.set(paramData.get(s.key)!);
    out[s.key] = m;
  }
  return {
    topology,
    step,
    params: out,
    optimizers,
    ...parts,
    history,
    rng,
    dataFingerprint: dataFingerprint as string | null,
  } as TrainingState;
}

/** The header line and the payload it seals: format, version, length (truncation), SHA-256 (corruption), the payload's keys. */
function decodeEnvelope(c: Checker, text: string): { version: 1 | 2; p: Json } {
  const newline = text.indexOf('\n');
  let header: unknown;
  try {
    header = JSON.parse(newline < 0 ? text : text.slice(0, newline));
  } catch {
    c.fail('not a checkpoint (no header line)');
  }
  if (!isObject(header) || header.format !== CHECKPOINT_FORMAT)
    c.fail(`not a checkpoint (format ${describeValue(isObject(header) ? header.format : header)})`);
  const version = header.version;
  if (version !== 1 && version !== 2)
    c.fail(`version ${describeValue(version)} is not supported (this library reads versions 1 and ${CHECKPOINT_VERSION})`);
  c.keys(header, ['format', 'version', 'bytes', 'sha256'], 'the header');
  const payload = newline < 0 ? '' : text.slice(newline + 1).replace(/\n$/, '');
  const bytes = Buffer.byteLength(payload);
  if (bytes !== header.bytes) c.fail(`truncated or padded: the payload has ${bytes} bytes, the header says ${describeValue(header.bytes)}`);
  if (createHash('sha256').update(payload).digest('hex') !== header.sha256) c.fail('corrupt: the payload does not match its SHA-256');
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch (e) {
    c.fail(`corrupt payload (${(e as Error).message})`);
  }
  const p = c.object(parsed, 'the payload');
  renameLegacyNames(p);
  const v1 = ['topology', 'step', 'params', 'optimizers', 'synthesizers', 'history'];
  // version 2 adds the data's fingerprint, and a recurrent network's carried states ('layers')
  if (version === 1) c.keys(p, v1, 'the payload', ['rng']);
  else c.keys(p, [...v1, 'rng', 'dataFingerprint'], 'the payload', ['layers']);
  return { version, p };
}

/** Parameters: exactly those of the topology, with their shapes (checked, not allocated yet). */
function decodeParams(c: Checker, json: unknown, shapes: readonly ParameterShape[]): Map<string, Float32Array> {
  const params = c.object(json, 'params');
  const paramData = new Map<string, Float32Array>();
  for (const k of Object.keys(params)) if (!shapes.some((s) => s.key === k)) c.fail(`parameter '${k}' is not a parameter of its topology`);
  for (const s of shapes) {
    if (!Object.hasOwn(params, s.key)) c.fail(`parameter '${s.key}' is missing (its topology needs ${s.rows}x${s.cols})`);
    const what = `parameter '${s.key}'`;
    const m = c.object(params[s.key], what);
    c.keys(m, ['rows', 'cols', 'data'], what);
    const rows = c.integer(m.rows, `${what} rows`),
      cols = c.integer(m.cols, `${what} cols`);
    if (rows !== s.rows || cols !== s.cols) c.fail(`${what} is ${rows}x${cols}, its topology needs ${s.rows}x${s.cols}`);
    paramData.set(s.key, c.floats(m.data, `${what} data`, rows * cols, `${rows}x${cols}`));
  }
  return paramData;
}

/** History: a loss and an accuracy per step done, each synthesizer's losses, each head's (version 2), a recurrent network's aux losses. */
function decodeHistory(
  c: Checker,
  json: unknown,
  version: 1 | 2,
  topology: Topology | RecurrentTopology,
  step: number,
  synthesizers: number,
): HistorySnapshot {
  const recurrent = isRecurrentTopology(topology);
  const h = c.object(json, 'history');
  const heads = recurrent ? 1 : topology.heads.length;
  // version 2 records each head's losses; version 1 (one head) did not; a recurrent one its aux losses
  if (version === 1) c.keys(h, ['losses', 'accuracies', 'synthesizerLosses'], 'history', ['heads']);
  else c.keys(h, ['losses', 'accuracies', 'synthesizerLosses', 'heads'], 'history', recurrent ? ['aux'] : []);
  const losses = c.numbers(h.losses, 'history losses', step);
  const accuracies = c.numbers(h.accuracies, 'history accuracies', step);
  const lists = (v: unknown, what: string, count: number, per: string) => {
    if (!Array.isArray(v)) c.fail(`history ${what} is ${describeValue(v)}, expected an array of lists`);
    if (v.length !== count) c.fail(`history ${what} has ${v.length} lists, expected ${count} (one per ${per})`);
    return v.map((l, k) => c.numbers(l, `history ${what}[${k}]`, step));
  };
  const synthesizerLosses = lists(h.synthesizerLosses, 'synthesizerLosses', synthesizers, 'synthesizer');
  let headHistory: HistorySnapshot['heads'];
  if (h.heads !== undefined) {
    if (!Array.isArray(h.heads) || h.heads.length !== heads)
      c.fail(`history heads is ${describeValue(h.heads)}, expected ${heads} (one per head)`);
    headHistory = h.heads.map((x, k) => {
      const o = c.object(x, `history heads[${k}]`);
      c.keys(o, ['losses', 'accuracies'], `history heads[${k}]`);
      return {
        losses: c.numbers(o.losses, `history heads[${k}] losses`, step),
        accuracies: c.numbers(o.accuracies, `history heads[${k}] accuracies`, step),
      };
    });
  } else if (heads !== 1) c.fail(`history lacks 'heads' (its topology has ${heads} heads)`);
  const auxCount = recurrent ? topology.layers.filter((l) => l.aux).length : 0;
  const aux = recurrent && (auxCount > 0 || h.aux !== undefined) ? lists(h.aux, 'aux', auxCount, 'layer with an aux head') : undefined;
  return { losses, accuracies, synthesizerLosses, ...(headHistory ? { heads: headHistory } : {}), ...(aux ? { aux } : {}) };
}

/** The caller's RNG state (xoshiro128**), or null. */
function decodeRng(c: Checker, json: unknown): TrainingState['rng'] {
  if (json === undefined || json === null) return null;
  const o = c.object(json, 'rng');
  c.keys(o, ['s', 'spare'], 'rng');
  if (!Array.isArray(o.s) || o.s.length !== 4 || !o.s.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32))
    c.fail(`rng s must be 4 integers in [0, 2^32), got ${describeValue(o.s)}`);
  if (o.s.every((w) => w === 0)) c.fail('rng s must not be all zero (xoshiro128** would only ever draw 0)');
  if (o.spare !== null && (typeof o.spare !== 'number' || !Number.isFinite(o.spare)))
    c.fail(`rng spare is ${describeValue(o.spare)}, expected null or a finite number`);
  return { s: [...(o.s as number[])], spare: o.spare as number | null };
}

/** Optimisers: one per owner, of the topology's kind, with its moment buffers. */
function decodeOptimizers(c: Checker, json: unknown, owners: Map<string, ActorShape>): OptimizerStates {
  const optimizersJson = c.object(json, 'optimizers');
  for (const id of Object.keys(optimizersJson)) if (!owners.has(id)) c.fail(`optimizer '${id}' is not an actor of its topology`);
  const optimizers: OptimizerStates = {};
  for (const [id, a] of owners) {
    const what = `optimizer '${id}'`;
    if (!Object.hasOwn(optimizersJson, id)) c.fail(`${what} is missing`);
    const o = c.object(optimizersJson[id], what);
    c.keys(o, ['kind', 'step', 'moments'], what);
    if (o.kind !== a.kind) c.fail(`${what} kind is ${describeValue(o.kind)}, its topology has ${a.kind}`);
    const oStep = c.integer(o.step, `${what} step`);
    if (!Array.isArray(o.moments)) c.fail(`${what} moments is ${describeValue(o.moments)}, expected an array`);
    const n = a.params.length,
      want = n * a.perParam;
    if (o.moments.length !== want) c.fail(`${what} has ${o.moments.length} moment buffers, its topology needs ${want}`);
    const moments = o.moments.map((m, i) => c.floats(m, `${what} moment ${i}`, null));
    // each block of n buffers holds one per parameter (in the optimiser's own order): the same sizes
    const sizes = a.params.map((s) => s.rows * s.cols).sort((x, y) => x - y);
    for (let b = 0; b < a.perParam; b++) {
      const got = moments.slice(b * n, (b + 1) * n).map((m) => m.length);
      const unmatched = [...sizes];
      got.forEach((len, j) => {
        const at = unmatched.indexOf(len);
        if (at < 0) c.fail(`${what} moment ${b * n + j} has ${len} values, which fits none of its parameters (${sizes.join(', ')})`);
        unmatched.splice(at, 1);
      });
    }
    optimizers[id] = { kind: o.kind as 'sgd' | 'adam', step: oStep, moments };
  }
  return optimizers;
}

/** A graph's pending refits: the batches nextRefit … step-1, in order, each with its inputs, labels and target. */
function decodeRefits(
  c: Checker,
  step: number,
  synthesizersJson: Json,
  owners: Map<string, ActorShape>,
): Record<string, SynthesizerSnapshot> {
  const synthesizers: Record<string, SynthesizerSnapshot> = {};
  for (const [id, a] of owners) {
    const r = a.refits,
      what = `synthesizer '${id}'`;
    if (!r) continue;
    const s = c.object(synthesizersJson[id], what);
    c.keys(s, ['nextRefit', 'nextPrediction', 'pending'], what);
    const nextRefit = c.integer(s.nextRefit, `${what} nextRefit`),
      nextPrediction = c.integer(s.nextPrediction, `${what} nextPrediction`);
    if (nextPrediction !== step)
      c.fail(`${what} nextPrediction is ${nextPrediction}, expected the step ${step} (every batch before it is predicted)`);
    if (!Array.isArray(s.pending)) c.fail(`${what} pending is ${describeValue(s.pending)}, expected an array`);
    if (s.pending.length !== nextPrediction - nextRefit)
      c.fail(`${what} has ${s.pending.length} pending refits for batches ${nextRefit}..${nextPrediction - 1}`);
    if (s.pending.length > r.delay + 1)
      c.fail(`${what} has ${s.pending.length} pending refits, delay ${r.delay} allows at most ${r.delay + 1}`);
    const due = graphPendingBatches(r.delay, step);
    if (nextRefit !== due.first) {
      c.fail(
        `${what} has ${s.pending.length} pending refits (from batch ${nextRefit}), delay ${r.delay} at step ${step} leaves exactly ` +
          `${due.count} (batches ${due.first}..${step - 1})`,
      );
    }
    const pending = s.pending.map((q, k) => {
      const at = `${what} pending[${k}]`;
      const e = c.object(q, at);
      c.keys(e, ['batch', 'h', 'y', 'target'], at);
      if (e.batch !== nextRefit + k) c.fail(`${at} is batch ${describeValue(e.batch)}, expected ${nextRefit + k}`);
      if (r.y === null && e.y !== null) c.fail(`${at} y is ${describeValue(e.y)}, expected null (the synthesizer is not conditioned)`);
      if (r.y !== null && e.y === null) c.fail(`${at} y is null, expected ${r.ySize} values (${r.y})`);
      return {
        batch: nextRefit + k,
        h: c.floats(e.h, `${at} h`, r.hSize, r.h),
        y: r.y === null ? null : c.floats(e.y, `${at} y`, r.ySize, r.y),
        target: c.floats(e.target, `${at} target`, r.targetSize, r.target),
      };
    });
    synthesizers[id] = { nextRefit, nextPrediction, pending };
  }
  return synthesizers;
}

/**
 * A recurrent network's pending refits (at most delay + 1 per synthesizer, of steps before the
 * checkpoint's, oldest first, each B or up to T·B rows) and each layer's carried state (B × S,
 * and the step it runs next: the checkpoint's).
 */
function decodeRecurrentParts(
  c: Checker,
  t: RecurrentTopology,
  step: number,
  synthesizersJson: Json,
  layersJson: unknown,
): Pick<RecurrentTrainingState, 'synthesizers' | 'layers'> {
  const synthesizers: Record<string, PendingRefits> = {};
  // an interface's refits are known from the step alone; a boundary synthesizer's need the data's length (checked at resume)
  const known = recurrentPendingByActor(t, step, null);
  for (const s of recurrentSynthesizers(t)) {
    const what = `synthesizer '${s.actor}'`,
      l = t.layers[s.layer],
      spec = s.kind === 'boundary' ? l.synthesizer! : l.interface!;
    const maxRows = s.kind === 'boundary' ? t.batch : t.truncation * t.batch,
      units = spec.units;
    const o = c.object(synthesizersJson[s.actor], what);
    c.keys(o, ['pending'], what);
    if (!Array.isArray(o.pending)) c.fail(`${what} pending is ${describeValue(o.pending)}, expected an array`);
    if (o.pending.length > spec.delay + 1)
      c.fail(`${what} has ${o.pending.length} pending refits, delay ${spec.delay} allows at most ${spec.delay + 1}`);
    let last = -1;
    const pending = o.pending.map((q, k) => {
      const at = `${what} pending[${k}]`,
        e = c.object(q, at);
      c.keys(e, ['step', 'rows', 'input', 'target'], at);
      const qStep = c.integer(e.step, `${at} step`);
      if (qStep <= last || qStep >= step)
        c.fail(`${at} is step ${qStep}, expected a step after ${last} and before the checkpoint's ${step}`);
      last = qStep;
      const rows = c.integer(e.rows, `${at} rows`, 1);
      if (rows > maxRows || (s.kind === 'boundary' && rows !== t.batch) || rows % t.batch !== 0)
        c.fail(`${at} has ${rows} rows, expected ${s.kind === 'boundary' ? t.batch : `a multiple of ${t.batch} up to ${maxRows}`}`);
      return {
        step: qStep,
        rows,
        input: c.floats(e.input, `${at} input`, rows * units, `${rows}x${units}`),
        target: c.floats(e.target, `${at} target`, rows * units, `${rows}x${units}`),
      };
    });
    const due = known.get(s.actor);
    if (due) checkPendingSteps((r) => c.fail(r), what, step, pending, due);
    synthesizers[s.actor] = { pending };
  }
  const json = c.object(layersJson, 'layers');
  const ids = t.layers.map(layerActor);
  for (const id of Object.keys(json)) if (!ids.includes(id)) c.fail(`layer '${id}' is not an actor of its topology`);
  const layers: Record<string, CarriedState> = {};
  for (const l of t.layers) {
    const id = layerActor(l),
      what = `layer '${id}'`;
    if (!Object.hasOwn(json, id)) c.fail(`${what} is missing`);
    const o = c.object(json[id], what);
    c.keys(o, ['step', 'carried'], what);
    if (c.integer(o.step, `${what} step`) !== step) c.fail(`${what} step is ${describeValue(o.step)}, expected the checkpoint's ${step}`);
    layers[id] = { step, carried: c.floats(o.carried, `${what} carried`, t.batch * l.state, `${t.batch}x${l.state}`) };
  }
  return { synthesizers, layers };
}

/**
 * Write atomically (see lib/io/files.ts: an exclusive temporary file in the same folder, flushed,
 * then renamed over `path`); a failure is a CheckpointError naming the file, and leaves the old
 * checkpoint and no temporary file.
 */
export function writeCheckpoint(path: string, state: TrainingState): void {
  const text = encodeCheckpoint(state);
  try {
    writeFileAtomic(path, text);
  } catch (e) {
    throw new CheckpointError(path, e instanceof FileError ? e.message.slice(path.length + 2) : (e as Error).message);
  }
}

/**
 * Read and verify a checkpoint file, refusing (before reading it) anything that is not a regular
 * file or is larger than `maxBytes` (default {@link MAX_CHECKPOINT_BYTES}, or the
 * `DNI_MAX_CHECKPOINT_BYTES` environment variable).
 */
export function readCheckpoint(path: string, options: { maxBytes?: number } = {}): TrainingState {
  let text: string;
  try {
    text = readTextBounded(path, MAX_CHECKPOINT_BYTES, options.maxBytes);
  } catch (e) {
    throw new CheckpointError(path, e instanceof FileError ? e.message.slice(path.length + 2) : (e as Error).message);
  }
  return decodeCheckpoint(text, path);
}
