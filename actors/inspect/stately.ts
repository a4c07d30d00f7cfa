/**
 * Stately's inspector (`@statelyai/inspect`) on a running training, from Node.
 *
 * What works from Node (0.7.2): `createBrowserInspector` needs a browser window (in Node it is a
 * no-op), `createSkyInspector` sends everything to Stately's cloud, `createWebSocketInspector`
 * sends to a relay whose page embeds Stately's *online* inspector (`https://stately.ai/inspect`)
 * in an iframe. We use the last way with the package's own event conversion (`createInspector`)
 * and a relay of our own, because the package's `createInspectorServer` listens on every
 * interface, replays only the last 200 events to a page opened later (a training of a few
 * batches already makes more), and runs `xdg-open`. Ours listens on 127.0.0.1, replays every
 * event to each page that connects, opens nothing, and answers only its own Host and its own page
 * (403 otherwise: DNS rebinding, WebSockets opened by other sites; see lib/io/localhost.ts).
 *
 * So: the page at {@link StatelyInspector.url} must be opened in a browser that can reach
 * stately.ai. Offline, record a trace instead (`--trace FILE`) and open it with
 * `npm run inspect -- FILE`.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { foreignRequest, listenLocally } from '../../lib/io/localhost.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { headMachine } from '../machines/headMachine.ts';
import { type Inspection, type TraceEvent, attachTo, keepBatch } from './inspection.ts';
import { type TraceEventObject, actorName, summarize, summarizeContext, summarizeEvent } from './summarize.ts';
import { layerMachine } from '../machines/layerMachine.ts';
import { stageMachine } from '../stage/stageMachine.ts';
import { synthesizerMachine } from '../machines/synthesizerMachine.ts';
import { type StandIn, parentOf, statelyStandIns } from '../machines/xstateInternals.ts';
import { trainerMachine } from '../trainer/trainerMachine.ts';

export interface StatelyInspectorOptions {
  /** port of the relay page on 127.0.0.1. Default 8080; 0 picks a free one. */
  port?: number;
  /** keep only every Nth batch's events (and every event without a batch). Default 1. */
  sample?: number;
  /** the inspector the page embeds. Default `https://stately.ai/inspect`. */
  inspectorUrl?: string;
  /** events kept for pages that connect later (the oldest go first). Default 200,000. */
  maxEvents?: number;
}

export interface StatelyInspector extends Inspection {
  /** the page to open: `http://127.0.0.1:PORT` */
  readonly url: string;
  /** pages connected now */
  readonly viewers: number;
  /** resolves when a page is connected (at once when one already is) */
  viewerConnected(): Promise<void>;
}

const INSPECTOR_URL = 'https://stately.ai/inspect';

/**
 * Start the relay and return the inspection to give the training. A port in use rejects with a
 * `PortError` (lib/errors.ts; `code` `'EADDRINUSE'`) before anything is started.
 *
 * @example
 * const stately = await attachStatelyInspector({ port: 8080 });
 * console.log(`open ${stately.url} in a browser with internet access`);
 * const training = createTraining({ topology, data, steps: 300 });
 * stately.attach(training.actor);
 * await training.run();
 * await stately.close();
 */
export async function attachStatelyInspector(options: StatelyInspectorOptions = {}): Promise<StatelyInspector> {
  refuseUnknownOptions(
    options,
    keysOf<StatelyInspectorOptions>()(['port', 'sample', 'inspectorUrl', 'maxEvents']),
    'attachStatelyInspector',
  );
  const { createInspector } = await import('@statelyai/inspect');
  const standIn = statelyStandIns(createInspector as never);
  const sample = options.sample ?? 1;
  const maxEvents = options.maxEvents ?? 200_000;
  const inspectorUrl = options.inspectorUrl ?? INSPECTOR_URL;

  const bridge = await serveBridge(options.port ?? 8080, inspectorUrl, maxEvents);
  const { inspect, relay } = statelyObservers(createInspector, standIn, bridge.broadcast, sample);
  return {
    url: `http://127.0.0.1:${bridge.port}`,
    get viewers() {
      return bridge.clients.size;
    },
    viewerConnected: bridge.viewerConnected,
    inspect,
    attach: (root: AnyActorRef) => attachTo(root, inspect),
    relay,
    close: bridge.close,
  };
}

/**
 * The relay's server on 127.0.0.1: the bridge page (which opens Stately's inspector) and a WebSocket
 * that sends every page all events so far (the last `maxEvents`), then each new one; it refuses
 * requests from other origins and hosts.
 */
async function serveBridge(listenPort: number, inspectorUrl: string, maxEvents: number) {
  const history: string[] = [];
  const clients = new Set<WebSocket>();
  let waiting: (() => void)[] = [];
  const broadcast = (message: string) => {
    history.push(message);
    if (history.length > maxEvents) history.splice(0, history.length - maxEvents);
    for (const ws of clients) ws.send(message);
  };

  let port = 0;
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    // its own Host and its own page only: a web page must not read the events through DNS rebinding
    const foreign = foreignRequest(req.headers, { port });
    if (foreign) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end(`${foreign}\n`);
      return;
    }
    if (req.url !== '/' && req.url !== '/index.html') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(bridgePage(inspectorUrl));
  });
  // listening first: a WebSocketServer on a server that fails to listen re-emits the error where nobody can catch it
  await listenLocally(http, 'Stately inspector', listenPort);
  port = (http.address() as AddressInfo).port;
  const wss = new WebSocketServer({
    server: http,
    // a WebSocket is not bound by the same-origin policy: any page could open one to 127.0.0.1
    verifyClient: ({ req }, done) => {
      const foreign = foreignRequest(req.headers, { port });
      done(!foreign, 403, foreign ?? undefined);
    },
  });
  wss.on('connection', (ws) => {
    for (const m of history) ws.send(m);
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    const w = waiting;
    waiting = [];
    w.forEach((resolve) => resolve());
  });

  return {
    port,
    clients,
    broadcast,
    viewerConnected: () => (clients.size > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
    close: async () => {
      for (const ws of clients) ws.close(1000, 'training finished');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/**
 * What turns this thread's inspection events and the trace lines relayed from worker threads into
 * Stately's event format (`broadcast` sends each); every `sample`-th batch.
 */
function statelyObservers(
  createInspector: typeof import('@statelyai/inspect').createInspector,
  standIn: ReturnType<typeof statelyStandIns>,
  broadcast: (message: string) => void,
  sample: number,
) {
  // Stately's event format comes from the package's own builders (`actor`, `event`, `snapshot`),
  // called at once with summaries: its `inspect` observer would serialise each event later, in a
  // timer of its own (tensors by then hold later values; and it doubled a step's time). What those
  // builders leave out (an actor's name, the root's session) is set here, on the way out.
  let patch: { name?: string; rootId?: string } = {};
  const stately = createInspector({
    send: (event: { type: string; name?: string; rootId?: string }) => {
      if (patch.name) event.name = patch.name;
      if (patch.rootId) event.rootId = patch.rootId;
      broadcast(stringify(event));
    },
    start() {},
    stop() {},
  } as never);
  const emit = (p: typeof patch, build: () => void) => {
    patch = p;
    try {
      build();
    } finally {
      patch = {};
    }
  };
  const local = new Map<string, StandIn>(); // systemId → the actors on this thread
  let rootId: string | undefined;
  let rootRef: StandIn | undefined;

  const register = (ref: StandIn, name: string) =>
    emit({ name, rootId: rootId ?? ref.sessionId }, () => stately.actor(ref as never, initialSnapshot(ref) as never));
  const received = (sessionId: string, event: TraceEventObject, source?: string) =>
    emit({ rootId }, () => stately.event(sessionId, event, source ? { source } : undefined));
  const took = (sessionId: string, snapshot: object, event: TraceEventObject) =>
    emit({ rootId }, () => stately.snapshot(sessionId, snapshot as never, { event }));

  const inspect = (e: InspectionEvent) => {
    switch (e.type) {
      case '@xstate.actor': {
        const ref = e.actorRef as unknown as StandIn;
        const name = actorName(ref);
        local.set(name, ref);
        if (!parentOf(e.actorRef as AnyActorRef)) {
          rootId ??= ref.sessionId;
          rootRef ??= ref;
        }
        register(ref, name);
        return;
      }
      case '@xstate.event':
        if (!keepBatch(batchOf(e.event), sample)) return;
        received(e.actorRef.sessionId, summarizeEvent(e.event), e.sourceRef?.sessionId);
        return;
      case '@xstate.snapshot':
        if (!keepBatch(batchOf(e.event), sample)) return;
        took(e.actorRef.sessionId, statelySnapshot(e.snapshot), summarizeEvent(e.event));
        return;
      default:
        return; // actions and microsteps: Stately's format has no place for them
    }
  };

  // a relayed line (a worker's actor) gets a session of its own: under its parent on that thread
  // (the worker's stage), and the worker's stage under this thread's stand-in for it (`stage:k`)
  const relayed = new Map<string, StandIn>();
  const relay = (line: TraceEvent) => {
    if (line.type === '@trace.meta' || !keepBatch(line.batch, sample)) return;
    const thread = line.thread ?? 'worker';
    let ref = relayed.get(`${thread}/${line.actor}`);
    if (!ref) {
      const sessionId = `relay:${thread}:${line.actor}`;
      // named `stage:0@worker:0` when this thread has an actor of that name too
      const name = local.has(line.actor) ? `${line.actor}@${thread}` : line.actor;
      const logic = machineFor(line.actor);
      const value = line.state ?? (logic?.config.initial as string | undefined) ?? null;
      const parent = (line.parent ? relayed.get(`${thread}/${line.parent}`) : undefined) ?? local.get(line.actor) ?? rootRef;
      ref = standIn({ sessionId, id: name, logic, parent, getSnapshot: () => ({ status: 'active', value, context: line.context ?? {} }) });
      relayed.set(`${thread}/${line.actor}`, ref);
      register(ref, name);
    }
    const { sessionId } = ref;
    const event = line.event ?? { type: '' };
    if (line.type === '@xstate.event') received(sessionId, event);
    else if (line.type === '@xstate.snapshot') {
      took(sessionId, { status: line.status ?? 'active', value: line.state, context: line.context ?? {}, children: {}, tags: [] }, event);
    }
  };

  return { inspect, relay };
}

/** An actor's snapshot as it is now, or (in its constructor, before it has one) its machine's initial state. */
function initialSnapshot(ref: StandIn): object {
  const now = snapshotOf(ref) as { status?: string; value?: unknown; context?: unknown } | null;
  if (now)
    return {
      status: now.status,
      value: now.value,
      context: ref.sessionId.startsWith('relay:') ? now.context : summarizeContext(now.context),
      children: {},
    };
  return { status: 'active', value: (ref.logic?.config as { initial?: unknown } | undefined)?.initial ?? null, context: {}, children: {} };
}

/** A machine snapshot as Stately shows it (its JSON form), with a summary for the context. */
function statelySnapshot(snapshot: unknown): object {
  const s = snapshot as {
    status?: string;
    value?: unknown;
    context?: unknown;
    error?: unknown;
    output?: unknown;
    children?: Record<string, { id?: string }>;
    tags?: Iterable<string>;
  };
  const children: Record<string, { xstate$$type: number; id: string | undefined }> = {};
  for (const [key, child] of Object.entries(s.children ?? {})) children[key] = { xstate$$type: 1, id: child?.id };
  return {
    status: s.status,
    value: s.value,
    context: summarizeContext(s.context),
    children,
    historyValue: {},
    tags: s.tags ? [...s.tags] : [],
    ...(s.error !== undefined ? { error: summarize(s.error, 0) } : {}),
    ...(s.output !== undefined ? { output: summarize(s.output, 1) } : {}),
  };
}

/** xstate's development build throws when the snapshot is read inside the actor's constructor */
function snapshotOf(ref: { getSnapshot(): unknown }): unknown {
  try {
    return ref.getSnapshot() ?? null;
  } catch {
    return null;
  }
}

function stringify(event: unknown): string {
  try {
    return JSON.stringify(event);
  } catch (err) {
    // one odd value must not end a training
    const e = event as { type?: string; sessionId?: string };
    return JSON.stringify({ type: e.type, sessionId: e.sessionId, error: String(err) });
  }
}

function batchOf(event: unknown): number | null {
  const b = (event as { batch?: unknown }).batch;
  return typeof b === 'number' ? b : null;
}

/** The machine behind a systemId (a chain's `head`, a graph's `head:sum`), so a relayed actor shows its definition too. */
function machineFor(actor: string): AnyStateMachine | undefined {
  if (actor.startsWith('layer:')) return layerMachine;
  // a forward synthesizer is the synthesizer machine, fed the data
  if (actor.startsWith('synthesizer:') || actor.startsWith('forward:')) return synthesizerMachine;
  if (actor === 'head' || actor.startsWith('head:')) return headMachine;
  if (actor.startsWith('stage:')) return stageMachine;
  if (actor === 'trainer') return trainerMachine;
  return undefined;
}

/** The relay page: Stately's inspector in an iframe, fed with what arrives on the WebSocket. */
function bridgePage(inspectorUrl: string): string {
  return `<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>dni-actors · Stately inspector</title>
  <style>
    html, body { margin: 0; height: 100%; font: 13px system-ui, sans-serif; }
    body { display: flex; flex-direction: column; }
    #status { padding: 4px 8px; background: #f4f4f5; border-bottom: 1px solid #ddd; }
    iframe { flex: 1; width: 100%; border: 0; }
  </style>
</head>
<body>
  <div id="status">connecting to the training…</div>
  <iframe id="inspector" src="${inspectorUrl}"></iframe>
  <script>
    const iframe = document.getElementById('inspector');
    const status = document.getElementById('status');
    const buffer = [];
    let connected = false, received = 0, relay = 'connecting';
    const show = () => status.textContent = 'training: ' + relay + ' · ' + received + ' events · Stately inspector: ' +
      (connected ? 'connected' : 'loading ${inspectorUrl} (needs internet access)');
    window.addEventListener('message', (e) => {
      if (e.data && e.data.type === '@statelyai.connected') {
        connected = true;
        for (const event of buffer) iframe.contentWindow.postMessage(event, '*');
        buffer.length = 0;
        show();
      }
    });
    const ws = new WebSocket('ws://' + location.host);
    ws.onopen = () => { relay = 'connected'; show(); };
    ws.onclose = () => { relay = 'finished'; show(); };
    ws.onmessage = (message) => {
      const event = JSON.parse(message.data);
      received++;
      if (connected) iframe.contentWindow.postMessage(event, '*');
      else buffer.push(event);
      if (received % 100 === 1) show();
    };
  </script>
</body>
</html>
`;
}
