/**
 * The live inspector: a page served from 127.0.0.1 that shows a training's actors while it runs
 * (the trace viewer's drawing, each actor's state and last event) and charts of its metrics (loss,
 * synthesizer loss, accuracy, cos(ĝ, g)), with nothing loaded from the network.
 *
 * Built so that watching costs the training little, however fast it runs and however long:
 * - an inspection event only updates the latest state of its actor (no string is built, nothing
 *   is serialised): the page sees each actor as it is at the moment of an update, not every event;
 * - updates go out at most `updatesPerSecond` times a second (default 10), one message each with
 *   only the actors that changed and the metric points added since the last one, on one
 *   Server-Sent Events stream per page; with no page open, nothing is built at all;
 * - memory is bounded whatever the length of the run: per run the latest state of each actor and,
 *   per metric, at most `maxPoints` points (when full, neighbouring points are merged into their
 *   mean, so the chart keeps the whole run at half the resolution); at most `maxRuns` runs. A
 *   page opened later gets exactly that: the current state and the bounded history, not every
 *   event since the start. A page that cannot keep up (more than 1 MiB waiting) is dropped, and
 *   its EventSource reconnects to a fresh state.
 *
 * Like every local server here it answers only its own Host from its own pages (pageServer.ts,
 * lib/io/localhost.ts), under a CSP that lets the page load only what this server serves.
 */
import type { Server, ServerResponse } from 'node:http';
import type { Observable, Subscription } from 'rxjs';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import { type Inspection, type TraceEvent, attachTo, keepBatch, toTraceEvent } from '../../actors/inspect/inspection.ts';
import { type JsonValue, actorName, summarize, summarizeContext } from '../../actors/inspect/summarize.ts';
import type { TrainingMetrics } from '../../actors/trainer/metrics.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { HEADERS, type PageServer, servePage } from './pageServer.ts';

/** a page with more than this waiting to be sent is dropped (its EventSource reconnects) */
const MAX_PENDING_BYTES = 2 ** 20;
const HEARTBEAT_MS = 15_000;

export interface LiveInspectorOptions {
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /** keep only every Nth batch's actor events (and every event without a batch). Default 1. */
  sample?: number;
  /** the most updates a page gets per second. Default 10. */
  updatesPerSecond?: number;
  /** points kept per metric and run (neighbours are merged beyond). Default 1000. */
  maxPoints?: number;
  /** runs kept (the oldest go first). Default 8. */
  maxRuns?: number;
}

/** One training (or a series of them, as `trainCurriculum` runs one per batch), as the live inspector follows it. */
export interface LiveRun extends Inspection {
  /** chart this training's metrics (until its stream completes); returns the subscription */
  watch(training: { readonly metrics$: Observable<TrainingMetrics> }): Subscription;
  /**
   * chart one step's metrics (what `watch` does for each); a batch number lower than the last
   * one's starts a new training of the run (trainCurriculum's next batch), charted after it
   */
  step(metrics: TrainingMetrics): void;
}

export interface LiveInspector {
  /** the page to open: `http://127.0.0.1:PORT/` */
  readonly url: string;
  readonly server: Server;
  /** pages connected now */
  readonly viewers: number;
  /** resolves when a page is connected (at once when one already is) */
  viewerConnected(): Promise<void>;
  /** start following one training (`label` tells runs apart, e.g. `dni`); `meta` is shown with it */
  run(label?: string, meta?: { [key: string]: JsonValue }): LiveRun;
  /** what a page opening now would get first (the same JSON) */
  state(): LiveState;
  /** stop serving: every page is told the server has gone */
  close(): Promise<void>;
}

// ---------------------------------------------------------------- the model

/** An actor as the page shows it. */
export interface LiveActor {
  name: string;
  parent: string | null;
  thread: string | null;
  context: JsonValue;
  state: JsonValue;
  status: string;
  /** the event it received last: `FORWARD #12` */
  last: string;
  /** events it has received (of the batches kept) */
  events: number;
}

/** A metric's points: x the batch (the last of the points merged into one), y the mean. */
export interface LiveSeries {
  x: number[];
  y: number[];
  /** how many steps each point stands for */
  stride: number;
}

export interface LiveRunState {
  id: number;
  label: string | null;
  meta: { [key: string]: JsonValue };
  status: 'running' | 'finished' | 'failed' | 'stopped';
  /** steps finished (from the metrics) minus one: the last finished batch of a single training; -1 before the first */
  batch: number;
  /** the steps it will train, when known */
  steps: number | null;
  stepsPerSecond: number | null;
  actors: LiveActor[];
  series: Record<string, LiveSeries>;
}

export interface LiveState {
  type: 'state';
  runs: LiveRunState[];
}

/** An actor's record: its latest state, kept as raw as possible until a page asks. */
class ActorRecord {
  parent: string | null = null;
  thread: string | null = null;
  context: JsonValue = null;
  value: unknown = null;
  status = 'active';
  lastType: string | null = null;
  lastBatch: number | null = null;
  events = 0;
  dirty = false;
  constructor(readonly name: string) {}

  toJSON(): LiveActor {
    return {
      name: this.name,
      parent: this.parent,
      thread: this.thread,
      context: this.context,
      state: summarize(this.value, 4),
      status: this.status,
      last: this.lastType === null ? '' : this.lastBatch === null ? this.lastType : `${this.lastType} #${this.lastBatch}`,
      events: this.events,
    };
  }
}

/**
 * A metric's history in at most `max` points: each point the mean of `stride` steps; when full,
 * neighbours merge and the stride doubles. `sent` is how many points the pages have.
 */
export class BoundedSeries {
  x: number[] = [];
  y: number[] = [];
  stride = 1;
  sent = 0;
  /** the points were merged since the pages last heard: they need all of them again */
  reset = false;
  private sum = 0;
  private n = 0;
  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 2 || max % 2)
      throw new RangeError(`live inspector: maxPoints must be an even integer >= 2, got ${max}`);
  }

  push(batch: number, value: number): void {
    if (!Number.isFinite(value)) return;
    this.sum += value;
    if (++this.n < this.stride) return;
    this.x.push(batch);
    this.y.push(this.sum / this.n);
    this.sum = 0;
    this.n = 0;
    if (this.x.length >= this.max) this.halve();
  }

  private halve(): void {
    const x: number[] = [],
      y: number[] = [];
    for (let i = 0; i + 1 < this.x.length; i += 2) {
      x.push(this.x[i + 1]);
      y.push((this.y[i] + this.y[i + 1]) / 2);
    }
    this.x = x;
    this.y = y;
    this.stride *= 2;
    this.reset = true;
    this.sent = 0;
  }

  toJSON(): LiveSeries {
    return { x: this.x, y: this.y, stride: this.stride };
  }
}

class RunRecord {
  readonly actors = new Map<string, ActorRecord>();
  /** by actor ref (this thread) or `thread/name` (relayed) */
  readonly byRef = new Map<unknown, ActorRecord>();
  readonly series = new Map<string, BoundedSeries>();
  /** actors whose state changed since the last update went out */
  dirtyActors: ActorRecord[] = [];
  metricsDirty = false;
  statusDirty = false;
  status: LiveRunState['status'] = 'running';
  batch = -1;
  steps: number | null;
  stepsPerSecond: number | null = null;
  constructor(
    readonly id: number,
    readonly label: string | null,
    readonly meta: { [key: string]: JsonValue },
    private readonly maxPoints: number,
  ) {
    this.steps = typeof meta.steps === 'number' ? meta.steps : null;
  }

  actor(key: unknown, name: string): ActorRecord {
    let a = this.byRef.get(key);
    if (a) return a;
    a = this.actors.get(name);
    if (!a) this.actors.set(name, (a = new ActorRecord(name)));
    this.byRef.set(key, a);
    return a;
  }

  touch(a: ActorRecord): void {
    if (a.dirty) return;
    a.dirty = true;
    this.dirtyActors.push(a);
  }

  point(name: string, batch: number, value: number): void {
    let s = this.series.get(name);
    if (!s) this.series.set(name, (s = new BoundedSeries(this.maxPoints)));
    s.push(batch, value);
  }

  toJSON(): LiveRunState {
    return {
      id: this.id,
      label: this.label,
      meta: this.meta,
      status: this.status,
      batch: this.batch,
      steps: this.steps,
      stepsPerSecond: this.stepsPerSecond,
      actors: [...this.actors.values()].map((a) => a.toJSON()),
      series: Object.fromEntries([...this.series].map(([k, s]) => [k, s.toJSON()])),
    };
  }

  /** what changed since the last call, or null; clears the marks */
  delta(): object | null {
    const actors = this.dirtyActors.map((a) => ((a.dirty = false), a.toJSON()));
    this.dirtyActors = [];
    const series: Record<string, { from: number; x: number[]; y: number[]; stride: number }> = {};
    if (this.metricsDirty) {
      for (const [k, s] of this.series) {
        const from = s.reset ? 0 : s.sent;
        if (from === s.x.length && !s.reset) continue;
        series[k] = { from, x: s.x.slice(from), y: s.y.slice(from), stride: s.stride };
        s.sent = s.x.length;
        s.reset = false;
      }
    }
    const changed = actors.length > 0 || Object.keys(series).length > 0 || this.statusDirty || this.metricsDirty;
    this.metricsDirty = this.statusDirty = false;
    if (!changed) return null;
    return {
      id: this.id,
      label: this.label,
      meta: this.meta,
      status: this.status,
      batch: this.batch,
      steps: this.steps,
      stepsPerSecond: this.stepsPerSecond,
      actors,
      series,
    };
  }

  /** forget what is dirty (nobody is listening: a page opening later gets the whole state) */
  settle(): void {
    for (const a of this.dirtyActors) a.dirty = false;
    this.dirtyActors = [];
    for (const s of this.series.values()) ((s.sent = s.x.length), (s.reset = false));
    this.metricsDirty = this.statusDirty = false;
  }
}

function batchOf(event: unknown): number | null {
  const b = (event as { batch?: unknown }).batch;
  return typeof b === 'number' ? b : null;
}

/** What a root actor's (the trainer's) snapshot means for its run: null while it trains. */
function runStatus(status: string | undefined, value: unknown): LiveRunState['status'] | null {
  if (status === 'error' || value === 'failed') return 'failed';
  if (status === 'stopped' || value === 'stopped') return 'stopped';
  return status === 'done' ? 'finished' : null;
}

// ---------------------------------------------------------------- the server

/**
 * Serve the live page and return the inspector; give each training `inspector.run(label)` as its
 * inspection, and its metrics with `watch`.
 *
 * @example
 * const live = await serveLiveInspector({ port: 8080 });
 * console.log(`open ${live.url}`);
 * const run = live.run('dni', { steps: 5000 });
 * const training = createTraining({ topology, data, steps: 5000, scheduler: 'async', inspect: run.inspect, relay: run.relay });
 * run.watch(training);
 * await training.run();
 * await run.close();
 */
export async function serveLiveInspector(options: LiveInspectorOptions = {}): Promise<LiveInspector> {
  refuseUnknownOptions(
    options,
    keysOf<LiveInspectorOptions>()(['port', 'host', 'sample', 'updatesPerSecond', 'maxPoints', 'maxRuns']),
    'serveLiveInspector',
  );
  const sample = options.sample ?? 1;
  if (!Number.isInteger(sample) || sample < 1) throw new RangeError(`live inspector: sample must be an integer >= 1, got ${sample}`);
  const rate = options.updatesPerSecond ?? 10;
  if (!(rate > 0 && rate <= 1000)) throw new RangeError(`live inspector: updatesPerSecond must be in (0, 1000], got ${rate}`);
  const maxPoints = options.maxPoints ?? 1000;
  new BoundedSeries(maxPoints); // checks it
  const maxRuns = options.maxRuns ?? 8;
  if (!Number.isInteger(maxRuns) || maxRuns < 1) throw new RangeError(`live inspector: maxRuns must be an integer >= 1, got ${maxRuns}`);

  const runs: RunRecord[] = [];
  const clients = new Set<ServerResponse>();
  let waiting: (() => void)[] = [];
  let nextId = 0;

  const fullState = (): LiveState => ({ type: 'state', runs: runs.map((r) => r.toJSON()) });
  const send = (res: ServerResponse, event: string, data: string) => {
    if (res.writableLength > MAX_PENDING_BYTES) {
      // it cannot keep up: drop it; its EventSource reconnects and starts from the whole state
      clients.delete(res);
      res.destroy();
      return;
    }
    res.write(`event: ${event}\ndata: ${data}\n\n`);
  };
  /** one message with what changed in every run, to every page; nothing at all without a page */
  const flush = () => {
    if (clients.size === 0) {
      for (const r of runs) r.settle();
      return;
    }
    const deltas = runs.map((r) => r.delta()).filter((d) => d !== null);
    if (!deltas.length) return;
    const data = JSON.stringify({ type: 'update', runs: deltas });
    for (const res of clients) send(res, 'update', data);
  };
  const timer = setInterval(flush, 1000 / rate);
  timer.unref();
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': still here\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  let page: PageServer;
  try {
    page = await servePage({
      name: 'live inspector',
      page: 'live.html',
      files: ['live.js', 'graph.js', 'charts.js', 'viewer.css'],
      port: options.port ?? 8080,
      host: options.host,
      route: (path, req, res) => {
        if (path === '/events') {
          res.writeHead(200, { ...HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' });
          if (req.method === 'HEAD') {
            res.end();
            return true;
          }
          // the pages already open get what is pending first, so this one's state is theirs too
          flush();
          res.write('retry: 1000\n\n');
          send(res, 'state', JSON.stringify(fullState()));
          clients.add(res);
          req.on('close', () => clients.delete(res));
          const w = waiting;
          waiting = [];
          w.forEach((resolve) => resolve());
          return true;
        }
        if (path === '/state.json') {
          flush();
          res.writeHead(200, { ...HEADERS, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(fullState()));
          return true;
        }
        return false;
      },
    });
  } catch (err) {
    clearInterval(timer);
    clearInterval(heartbeat);
    throw err;
  }

  const run = (label?: string, meta: { [key: string]: JsonValue } = {}): LiveRun => {
    const r = new RunRecord(nextId++, label ?? null, meta, maxPoints);
    runs.push(r);
    if (runs.length > maxRuns) runs.splice(0, runs.length - maxRuns);
    r.statusDirty = true;
    return observeRun(r, sample, flush);
  };

  return {
    url: page.url,
    server: page.server,
    get viewers() {
      return clients.size;
    },
    viewerConnected: () => (clients.size > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
    run,
    state: () => {
      flush();
      return fullState();
    },
    close: async () => {
      clearInterval(timer);
      clearInterval(heartbeat);
      flush();
      for (const res of clients) {
        res.write('event: bye\ndata: {}\n\n');
        res.end();
      }
      clients.clear();
      await page.close();
    },
  };
}

/**
 * A run's observers: its actors' inspection events (here and, as trace lines, from worker threads)
 * and its metrics, folded into the run's record (what the page draws); `flush` sends what changed.
 */
function observeRun(r: RunRecord, sample: number, flush: () => void): LiveRun {
  // the root actor (the trainer) of the training under way (trainCurriculum makes one per batch)
  let root: unknown = null;
  const local = new Set<string>();
  // x of the charts: the batch, shifted on past the trainings before this one
  let offset = 0,
    lastBatch = -1;

  const inspect = (e: InspectionEvent) => {
    switch (e.type) {
      case '@xstate.event': {
        const batch = batchOf(e.event);
        if (sample > 1 && !keepBatch(batch, sample)) return;
        const a = r.byRef.get(e.actorRef) ?? r.actor(e.actorRef, actorName(e.actorRef));
        a.lastType = e.event.type;
        a.lastBatch = batch;
        a.events++;
        r.touch(a);
        return;
      }
      case '@xstate.snapshot': {
        if (sample > 1 && !keepBatch(batchOf(e.event), sample)) return;
        const a = r.byRef.get(e.actorRef) ?? r.actor(e.actorRef, actorName(e.actorRef));
        const s = e.snapshot as { value?: unknown; status?: string; context?: unknown };
        a.value = s.value ?? null;
        a.status = s.status ?? 'active';
        if (a.context === null && e.event.type === 'xstate.init') {
          a.context = summarizeContext(s.context);
          const steps = (a.context as { steps?: unknown } | null)?.steps;
          if (e.actorRef === root && r.steps === null && typeof steps === 'number') r.steps = steps;
        }
        if (e.actorRef === root) {
          const status = runStatus(s.status, s.value);
          if (status && status !== r.status) ((r.status = status), (r.statusDirty = true));
        }
        r.touch(a);
        return;
      }
      case '@xstate.actor': {
        const line = toTraceEvent(e);
        const a = r.actor(e.actorRef, actorName(e.actorRef));
        local.add(a.name);
        a.parent = line?.parent ?? null;
        if (!a.parent) {
          root = e.actorRef;
          if (r.status !== 'running') ((r.status = 'running'), (r.statusDirty = true));
        }
        r.touch(a);
        return;
      }
      default:
        return;
    }
  };

  // a worker's actor keeps its name unless this thread has one of that name (its stage:k)
  const relay = (line: TraceEvent) => {
    if (line.type === '@trace.meta' || !keepBatch(line.batch, sample)) return;
    const thread = line.thread ?? 'worker';
    const key = `${thread}/${line.actor}`;
    const a = r.byRef.get(key) ?? r.actor(key, local.has(line.actor) ? `${line.actor}@${thread}` : line.actor);
    a.thread = thread;
    if (line.type === '@xstate.actor') a.parent = line.parent ?? null;
    else if (line.type === '@xstate.event') {
      a.lastType = line.event?.type ?? null;
      a.lastBatch = line.batch;
      a.events++;
    } else if (line.type === '@xstate.snapshot') {
      a.value = line.state;
      a.status = line.status ?? 'active';
      if (line.context !== undefined && a.context === null) a.context = line.context;
    }
    r.touch(a);
  };

  const step = (m: TrainingMetrics) => {
    if (m.batch <= lastBatch) offset += lastBatch + 1;
    lastBatch = m.batch;
    const x = m.batch + offset;
    r.point('loss', x, m.loss);
    r.point('accuracy', x, m.accuracy);
    r.point('synthesizerLoss', x, m.synthesizerLoss);
    for (const k in m.cosine) r.point(`cosine:${k}`, x, m.cosine[k]);
    r.batch = x;
    r.stepsPerSecond = m.stepsPerSecond;
    r.metricsDirty = true;
  };

  return {
    inspect,
    relay,
    attach: (ref: AnyActorRef) => attachTo(ref, inspect),
    watch(training) {
      return training.metrics$.subscribe({ next: step });
    },
    step,
    close: async () => {
      if (r.status === 'running') r.status = 'finished';
      r.statusDirty = true;
      flush();
    },
  };
}
