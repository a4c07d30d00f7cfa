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
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { parentOf } from '../machines/xstateInternals.ts';
import { type JsonValue, type TraceEventObject, actorName, summarize, summarizeContext, summarizeEvent } from './summarize.ts';

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

/** An actor's snapshot, or undefined while it has none (xstate's development build throws inside its constructor). */
function snapshotOf(ref: { getSnapshot(): unknown }): unknown {
  try {
    return ref.getSnapshot();
  } catch {
    return undefined;
  }
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
  const observer = createTraceRelay(
    (line) => {
      pending.push(line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    { thread },
  );
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
  const events = new Set<unknown>(order),
    snapshots = new Set<unknown>(order);
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
