/**
 * Inspection: what the actors do, as plain JSON lines. The trace recorder is an xstate
 * inspection observer that writes one {@link TraceEvent} per event an actor receives and per
 * snapshot it takes, to a JSONL file that `npm run inspect -- FILE` draws.
 *
 * Nothing is serialised later or by reference: each line is built at once, and tensors never
 * enter it (a Matrix becomes its shape, `10x128`). Actors hosted elsewhere (a worker) convert
 * their own inspection events with {@link createTraceRelay} and post the plain objects; the
 * main thread hands them to {@link Inspection.relay}.
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AnyActorRef, InspectionEvent, Subscription } from 'xstate';
import { isRecurrent } from '../../lib/model.ts';
import { RECURRENT_HEAD_ACTOR, layerActor, interfaceActor } from '../../lib/recurrent/owners.ts';
import type { RecurrentTopology } from '../../lib/recurrent/topology.ts';
import type { Topology } from '../../lib/topology.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { parentOf } from '../machines/xstateInternals.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** An event as the trace shows it: its type and fields, Matrix fields as shapes (`'10x24'`). */
export interface TraceEventObject {
  readonly type: string;
  readonly [field: string]: JsonValue;
}

/** One line of a trace file. */
export interface TraceEvent {
  /** wall-clock time in ms since the epoch, sub-millisecond (`performance.timeOrigin + performance.now()`): comparable across threads */
  t: number;
  /** the actor's systemId: `layer:1`, `synthesizer:0`, `head`, `trainer` */
  actor: string;
  /**
   * `@xstate.actor`: the actor was created; `@xstate.event`: it received `event`;
   * `@xstate.snapshot`: it took `state` after `event`; `@trace.meta`: the first line (see `meta`)
   */
  type: '@xstate.actor' | '@xstate.event' | '@xstate.snapshot' | '@trace.meta';
  event: TraceEventObject | null;
  /** the state value: after the event (snapshot), or when it arrived (event); null when unknown */
  state: JsonValue;
  /** the batch the event belongs to (its `batch` field), null for init, START, DRAIN, … */
  batch: number | null;
  /** a snapshot's status when it is not `active`: `done`, `error`, `stopped` */
  status?: string;
  /** snapshot lines: the named actions that ran on the way to this snapshot */
  actions?: string[];
  /** event lines: the sender, when xstate knows it (events sent through edges have none) */
  source?: string;
  /** actor lines: the parent's systemId */
  parent?: string;
  /** an actor's first snapshot: a summary of its context (sizes, activation, delay; never tensors) */
  context?: JsonValue;
  /** where the actor runs when not on the main thread, e.g. `worker:1` */
  thread?: string;
  /** `@trace.meta` only: what the recording was (start time, sample, demo, scheduler, …) */
  meta?: { [key: string]: JsonValue };
}

/** Now, as a {@link TraceEvent} time. */
export function traceClock(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000) / 1000;
}

/** The name an actor goes by in a trace: its systemId, else its id, else its machine's id. */
export function actorName(ref: { sessionId: string }): string {
  const r = ref as { sessionId: string; systemId?: string; id?: string; logic?: { config?: { id?: string } } };
  if (r.systemId) return r.systemId;
  if (r.id && r.id !== r.sessionId) return r.id;
  return r.logic?.config?.id ?? r.sessionId;
}

/** An actor's snapshot, or undefined while it has none (xstate's development build throws inside its constructor). */
function snapshotOf(ref: { getSnapshot(): unknown }): unknown {
  try {
    return ref.getSnapshot();
  } catch {
    return undefined;
  }
}

interface MatrixLike {
  rows: number;
  cols: number;
  data: ArrayBufferView;
}

function isMatrix(v: object): v is MatrixLike {
  const m = v as Partial<MatrixLike>;
  return typeof m.rows === 'number' && typeof m.cols === 'number' && ArrayBuffer.isView(m.data);
}

function isActorRef(v: object): v is AnyActorRef {
  const a = v as Partial<AnyActorRef>;
  return typeof a.sessionId === 'string' && typeof a.send === 'function';
}

/**
 * A JSON-safe summary of any value, `depth` levels deep: a Matrix becomes `'10x128'`, a typed
 * array `'Float32Array(1280)'`, an actor its name, an error its message, anything with
 * `toJSON()` (an edge) that; class instances and deep objects their class name.
 */
export function summarize(value: unknown, depth = 1): JsonValue {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'string':
    case 'boolean':
      return value;
    case 'bigint':
      return String(value);
    case 'function':
      return `[function ${value.name || 'anonymous'}]`;
    case 'undefined':
    case 'symbol':
      return null;
  }
  if (value === null) return null;
  const v = value as object;
  if (isMatrix(v)) return `${v.rows}x${v.cols}`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<number>).length ?? v.byteLength})`;
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  if (isActorRef(v)) return actorName(v);
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return summarize((v as { toJSON(): unknown }).toJSON(), depth);
  if (Array.isArray(v)) {
    if (depth <= 0) return `Array(${v.length})`;
    const head = v.slice(0, 8).map((x) => summarize(x, depth - 1));
    return v.length > 8 ? [...head, `… ${v.length - 8} more`] : head;
  }
  const proto = Object.getPrototypeOf(v);
  if (depth <= 0) return proto === Object.prototype || proto === null ? '{…}' : (proto.constructor?.name ?? 'Object');
  const out: { [key: string]: JsonValue } = {};
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'function' && x !== undefined) out[k] = summarize(x, depth - 1);
  return out;
}

/** An event with its fields summarised (Matrix → shape); an init event without its input (the actor's context says it better). */
export function summarizeEvent(event: { type: string }): TraceEventObject {
  const out: { type: string; [field: string]: JsonValue } = { type: event.type };
  if (event.type === 'xstate.init') return out;
  for (const k in event) {
    if (k === 'type') continue;
    const v = (event as Record<string, unknown>)[k];
    if (v !== undefined && typeof v !== 'function') out[k] = summarize(v, 1);
  }
  return out;
}

/**
 * What an actor is, from its context: a layer's sizes, sources and activation, a synthesizer's
 * edge, a head's loss, a stage's actors, the trainer's graph. Never parameters.
 */
export function summarizeContext(context: unknown): JsonValue {
  if (context === null || typeof context !== 'object') return summarize(context, 0);
  const c = context as Record<string, any>;
  if (c.core?.spec) {
    const s = c.core.spec;
    return { id: s.key, index: s.index, inputs: s.inputs, units: s.units, activation: c.core.topology.cell, truncation: c.core.topology.truncation, decoupled: s.interface !== null, boundary: s.synthesizer !== null };
  }
  if (c.synthesizer?.spec && c.kind) {
    const s = c.synthesizer.spec;
    return { name: c.synthesizer.id, kind: c.kind, units: s.units, hidden: [...s.hidden], delay: s.delay, optimizer: s.optimizer.kind, lr: s.optimizer.lr };
  }
  if (c.head?.topology) {
    const t = c.head.topology;
    return { id: 'readout', loss: t.loss, outputs: t.outputs, units: t.layers[t.layers.length - 1].units };
  }
  if (c.layer?.spec) {
    const s = c.layer.spec;
    return { id: s.id, index: s.index, inputs: s.inputs, units: s.units, activation: s.activation, merge: s.merge, lr: s.lr, decoupled: s.decoupled };
  }
  if (c.synthesizer?.spec) {
    const s = c.synthesizer.spec;
    return { name: s.name, from: s.from, units: s.units, ...(s.forward ? { forward: true, inputs: s.inputs } : {}), conditioned: s.conditioned, delay: s.delay, lr: s.lr };
  }
  if (c.head?.spec) {
    const s = c.head.spec;
    return { id: s.id, node: s.node, loss: s.loss, labels: s.labels, width: s.width, weight: s.weight };
  }
  if (c.stage?.actors && c.routes) return { stage: c.stage.index, actors: [...c.stage.actors] };
  if (c.network?.topology && isRecurrent(c.network.topology)) {
    const t = c.network.topology as RecurrentTopology;
    return { cell: t.cell, sizes: [t.inputs, ...t.layers.map((l) => l.units), t.outputs], truncation: t.truncation, graph: recurrentGraphSummary(t), batch: t.batch, steps: summarize(c.steps, 0), scheduler: summarize(c.scheduling?.name ?? null, 0) };
  }
  if (c.network?.topology) {
    const t = c.network.topology as Topology;
    return {
      ...(t.naming === 'chain'
        ? {
            sizes: [t.inputs, ...t.nodes.map((n) => n.units)],
            activations: t.nodes.map((n) => n.activation),
            decoupled: t.nodes.map((n) => n.decoupled),
          }
        : {}),
      graph: graphSummary(t),
      batch: t.batch,
      steps: summarize(c.steps, 0),
      scheduler: summarize(c.scheduling?.name ?? null, 0),
    };
  }
  return summarize(context, 2);
}

/** A graph as the inspector draws it: its actors and the edges between them (by actor name). */
export function graphSummary(t: Topology): { [key: string]: JsonValue } {
  return {
    inputs: t.inputs,
    nodes: t.nodes.map((n) => ({
      actor: n.actor,
      id: n.id,
      units: n.units,
      activation: n.activation,
      merge: n.merge,
      sources: n.sources.map((s) => (s.node < 0 ? 'input' : t.nodes[s.node].actor)),
      decoupled: n.decoupled,
    })),
    heads: t.heads.map((h) => ({ actor: h.actor, id: h.id, node: t.nodes[h.node].actor, loss: h.loss, weight: h.weight })),
    edges: t.edges.map((e) => ({
      from: t.nodes[e.from].actor,
      to: e.toNode >= 0 ? t.nodes[e.toNode].actor : t.heads[e.toHead].actor,
      synthesizer: e.synthesizer >= 0 ? t.synthesizers[e.synthesizer].actor : null,
      conditioned: e.synthesizer >= 0 ? t.synthesizers[e.synthesizer].conditioned : false,
      // the consumer reads this forward synthesizer's prediction instead of `from`'s output (only where they are)
      ...(e.forward >= 0 ? { forward: t.synthesizers[e.forward].actor } : {}),
      ...(e.lambda > 0 ? { lambda: e.lambda } : {}),
      ...(e.warmup > 0 ? { warmup: e.warmup } : {}),
    })),
  };
}

/**
 * A recurrent network in the same shape, for the same pictures: its layers as nodes (bottom up),
 * the readout as the head, an edge per interface (with its synthesizer when decoupled). The
 * boundary synthesizers sit on no edge between actors: each predicts its own layer's future.
 */
export function recurrentGraphSummary(t: RecurrentTopology): { [key: string]: JsonValue } {
  const top = t.layers[t.layers.length - 1];
  return {
    inputs: t.inputs,
    nodes: t.layers.map((l) => ({ actor: layerActor(l), id: l.key, units: l.units, activation: t.cell, merge: 'concat', sources: [l.index === 0 ? 'input' : layerActor(t.layers[l.index - 1])], decoupled: l.interface !== null })),
    heads: [{ actor: RECURRENT_HEAD_ACTOR, id: 'readout', node: layerActor(top), loss: t.loss, weight: 1 }],
    edges: t.layers.map((l) => ({
      from: layerActor(l),
      to: l === top ? RECURRENT_HEAD_ACTOR : layerActor(t.layers[l.index + 1]),
      synthesizer: l.interface ? interfaceActor(l) : null,
      conditioned: false,
    })),
  };
}

function batchOf(event: unknown): number | null {
  const b = (event as { batch?: unknown } | undefined)?.batch;
  return typeof b === 'number' ? b : null;
}

/**
 * One xstate inspection event as a trace line, or null for the kinds a trace does not keep
 * (`@xstate.microstep`, `@xstate.transition`, `@xstate.action`: actions are folded into the
 * next snapshot by the recorder). Built at once: it holds no reference to live tensors.
 *
 * @example
 * createActor(machine, { inspect: (e) => { const line = toTraceEvent(e); if (line) lines.push(line); } });
 */
export function toTraceEvent(e: InspectionEvent, t: number = traceClock()): TraceEvent | null {
  switch (e.type) {
    case '@xstate.actor': {
      const parent = parentOf(e.actorRef as AnyActorRef);
      const line: TraceEvent = { t, actor: actorName(e.actorRef), type: e.type, event: null, state: null, batch: null };
      if (parent) line.parent = actorName(parent);
      return line;
    }
    case '@xstate.event': {
      const snapshot = snapshotOf(e.actorRef) as { value?: unknown } | undefined;
      const line: TraceEvent = {
        t,
        actor: actorName(e.actorRef),
        type: e.type,
        event: summarizeEvent(e.event),
        state: snapshot ? summarize(snapshot.value, 4) : null,
        batch: batchOf(e.event),
      };
      if (e.sourceRef) line.source = actorName(e.sourceRef);
      return line;
    }
    case '@xstate.snapshot': {
      const s = e.snapshot as { value?: unknown; status?: string; context?: unknown };
      const line: TraceEvent = {
        t,
        actor: actorName(e.actorRef),
        type: e.type,
        event: summarizeEvent(e.event),
        state: summarize(s.value ?? null, 4),
        batch: batchOf(e.event),
      };
      if (s.status && s.status !== 'active') line.status = s.status;
      if (e.event.type === 'xstate.init') line.context = summarizeContext(s.context);
      return line;
    }
    default:
      return null;
  }
}

/** Options shared by everything that turns inspection events into trace lines. */
export interface TraceOptions {
  /** keep only every Nth batch's events (batch % N === 0) and every event without a batch. Default 1: all. */
  sample?: number;
  /** where these actors run when not on the main thread, e.g. `worker:1` (set on every line) */
  thread?: string;
}

/** The sampling rule: events without a batch are always kept. */
export function keepBatch(batch: number | null, sample: number): boolean {
  return batch === null || sample <= 1 || batch % sample === 0;
}

function checkSample(sample: number | undefined): number {
  const n = sample ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`inspection: sample must be an integer >= 1, got ${String(sample)}`);
  return n;
}

/**
 * An xstate inspection observer that calls `emit` with each kept trace line: the core of the
 * recorder, and what a worker runs to relay its actors' events (see {@link createTraceRelay}).
 */
export function traceObserver(emit: (line: TraceEvent) => void, options: TraceOptions = {}): (e: InspectionEvent) => void {
  refuseUnknownOptions(options, keysOf<TraceOptions>()(['sample', 'thread']), 'traceObserver');
  const sample = checkSample(options.sample);
  const { thread } = options;
  // named actions since each actor's last snapshot
  const actions = new Map<unknown, string[]>();
  return (e) => {
    if (e.type === '@xstate.action') {
      const list = actions.get(e.actorRef);
      if (list) list.push(e.action.type);
      else actions.set(e.actorRef, [e.action.type]);
      return;
    }
    // a sampled-out batch costs a look at its number only
    if ((e.type === '@xstate.event' || e.type === '@xstate.snapshot') && !keepBatch(batchOf(e.event), sample)) {
      if (e.type === '@xstate.snapshot') actions.delete(e.actorRef);
      return;
    }
    const line = toTraceEvent(e);
    if (!line) return;
    if (line.type === '@xstate.snapshot') {
      const list = actions.get(e.actorRef);
      if (list) {
        line.actions = list;
        actions.delete(e.actorRef);
      }
    }
    if (thread) line.thread = thread;
    emit(line);
  };
}

/**
 * For a worker: an xstate inspection observer that posts each kept trace line (plain JSON, no
 * tensors) to the main thread, which passes it to {@link Inspection.relay}.
 *
 * @example
 * // inside the worker
 * const inspect = createTraceRelay((line) => parentPort!.postMessage({ kind: 'trace', line }), { thread: 'worker:1' });
 * createActor(layerMachine, { id: 'layer:1', systemId: 'layer:1', input, inspect });
 * // on the main thread
 * worker.on('message', (m) => m.kind === 'trace' && inspection.relay(m.line));
 */
export function createTraceRelay(post: (line: TraceEvent) => void, options: TraceOptions = {}): (e: InspectionEvent) => void {
  return traceObserver(post, options);
}

/**
 * A worker's inspection observer: each event becomes a trace line at once (no live tensors),
 * posted in batches once per turn of the event loop; `flush()` posts what waits now.
 */
export function relayInspection(post: (events: TraceEvent[]) => void, thread: string): ((e: InspectionEvent) => void) & { flush(): void } {
  let pending: TraceEvent[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length) post(pending);
    pending = [];
  };
  const observer = createTraceRelay((line) => {
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }, { thread });
  return Object.assign(observer, { flush });
}

/**
 * Whatever watches a training: the trace recorder, the Stately inspector, or both
 * ({@link combineInspections}).
 */
export interface Inspection {
  /** the xstate inspection observer: `createTraining({ inspect: inspection.inspect })` */
  readonly inspect: (e: InspectionEvent) => void;
  /**
   * Follow an actor system that already exists (e.g. `training.actor`, before `run()`): the
   * actors it holds are registered as they are now, then every later event is seen.
   */
  attach(root: AnyActorRef): Subscription;
  /** an event converted elsewhere (a worker), as plain JSON */
  relay(line: TraceEvent): void;
  /** write out what is buffered and release files and sockets */
  close(): Promise<void>;
}

/**
 * Register the actors of `root`'s system as they are now (an `@xstate.actor` each, parents
 * first, then for each its `xstate.init` event and its current snapshot, as an actor starting
 * now would send them), then follow the system. An actor not started yet sends its own
 * `xstate.init` event and snapshot when it starts: those are skipped, since they were given
 * already. Shared by every {@link Inspection}.
 */
export function attachTo(root: AnyActorRef, inspect: (e: InspectionEvent) => void): Subscription {
  const system = root.system as AnyActorRef['system'] & { getAll?: () => Record<string, AnyActorRef> };
  const rootId = root.sessionId;
  const known = new Map<string, AnyActorRef>([[root.sessionId, root]]);
  for (const ref of Object.values(system.getAll?.() ?? {})) known.set(ref.sessionId, ref);
  const order = [...known.values()].sort((a, b) => sessionOrder(a) - sessionOrder(b));
  for (const actorRef of order) inspect({ type: '@xstate.actor', actorRef, rootId });
  const init = { type: 'xstate.init' } as const;
  for (const actorRef of order) {
    inspect({ type: '@xstate.event', actorRef, rootId, event: init, sourceRef: undefined });
    inspect({ type: '@xstate.snapshot', actorRef, rootId, snapshot: actorRef.getSnapshot(), event: init });
  }
  const events = new Set<unknown>(order), snapshots = new Set<unknown>(order);
  return system.inspect((e) => {
    if (e.type === '@xstate.event' && e.event.type === 'xstate.init' && events.delete(e.actorRef)) return;
    if (e.type === '@xstate.snapshot' && e.event.type === 'xstate.init' && snapshots.delete(e.actorRef)) return;
    inspect(e);
  });
}

function sessionOrder(ref: AnyActorRef): number {
  const n = Number(ref.sessionId.split(':')[1]);
  return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
}

export interface TraceRecorderOptions extends TraceOptions {
  /** the JSONL file to write (created or truncated at once, so a bad path fails before training) */
  file?: string;
  /** or: where each chunk of lines goes (one or more whole lines, each ending in `\n`) */
  write?: (chunk: string) => void;
  /** facts for the first line (`@trace.meta`): demo name, scheduler, steps, … */
  meta?: { [key: string]: JsonValue };
}

export interface TraceRecorder extends Inspection {
  /** lines recorded so far (the meta line included) */
  readonly lines: number;
}

const FLUSH_AT = 1 << 16;

/**
 * Record a training's inspection events as JSON lines, one {@link TraceEvent} each.
 *
 * @example
 * const recorder = createTraceRecorder({ file: 'out.jsonl', sample: 10, meta: { demo: 'binary-addition' } });
 * await train({ topology, data, steps: 300, inspect: recorder.inspect });
 * await recorder.close();
 */
export function createTraceRecorder(options: TraceRecorderOptions): TraceRecorder {
  refuseUnknownOptions(options, keysOf<TraceRecorderOptions>()(['file', 'write', 'meta', 'sample', 'thread']), 'createTraceRecorder');
  const sample = checkSample(options.sample);
  if (!options.file === !options.write) throw new TypeError('createTraceRecorder: give exactly one of `file` and `write`');
  if (options.file) mkdirSync(dirname(options.file), { recursive: true });
  const fd = options.file ? openSync(options.file, 'w') : -1;
  const sink = options.write ?? ((chunk: string) => void writeSync(fd, chunk));
  let buffer = '';
  let lines = 0;
  let closed = false;
  const flush = () => {
    if (buffer) sink(buffer);
    buffer = '';
  };
  const write = (line: TraceEvent) => {
    if (closed) return;
    buffer += JSON.stringify(line) + '\n';
    lines++;
    if (buffer.length >= FLUSH_AT) flush();
  };
  // a training that throws still leaves its trace behind: the last lines show where it stopped
  const onExit = () => flush();
  process.once('exit', onExit);

  const t = traceClock();
  write({
    t,
    actor: 'trace',
    type: '@trace.meta',
    event: null,
    state: null,
    batch: null,
    meta: { startedAt: new Date(t).toISOString(), sample, ...(options.thread ? { thread: options.thread } : {}), ...options.meta },
  });
  const inspect = traceObserver(write, { sample, thread: options.thread });
  return {
    inspect,
    attach: (root) => attachTo(root, inspect),
    relay: (line) => keepBatch(line.batch, sample) && write(line),
    get lines() {
      return lines;
    },
    close: async () => {
      if (closed) return;
      flush();
      closed = true;
      process.off('exit', onExit);
      if (fd >= 0) closeSync(fd);
    },
  };
}

/** Several inspections as one (e.g. the trace file and the Stately inspector). */
export function combineInspections(...all: (Inspection | null | undefined)[]): Inspection {
  const list = all.filter((x): x is Inspection => x != null);
  return {
    inspect: (e) => {
      for (const i of list) i.inspect(e);
    },
    attach: (root) => {
      const subs = list.map((i) => i.attach(root));
      return { unsubscribe: () => subs.forEach((s) => s.unsubscribe()) };
    },
    relay: (line) => {
      for (const i of list) i.relay(line);
    },
    close: async () => {
      await Promise.all(list.map((i) => i.close()));
    },
  };
}

/**
 * Parse a trace file's text. A last line cut short (a run still writing) is skipped; any other
 * bad line throws with its line number.
 */
export function parseTrace(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  const rows = text.split('\n');
  rows.forEach((row, i) => {
    if (!row.trim()) return;
    try {
      out.push(JSON.parse(row) as TraceEvent);
    } catch (err) {
      if (i === rows.length - 1) return;
      throw new SyntaxError(`trace line ${i + 1}: ${(err as Error).message}`);
    }
  });
  return out;
}
