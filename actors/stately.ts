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
 * event to each page that connects, and opens nothing.
 *
 * So: the page at {@link StatelyInspector.url} must be opened in a browser that can reach
 * stately.ai. Offline, record a trace instead (`--trace FILE`) and open it with
 * `npm run inspect -- FILE`.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import { headMachine } from './headMachine.ts';
import {
  type Inspection,
  type TraceEvent,
  attachTo,
  keepBatch,
  summarizeContext,
  summarizeEvent,
} from './inspection.ts';
import { layerMachine } from './layerMachine.ts';
import { synthesizerMachine } from './synthesizerMachine.ts';
import { trainerMachine } from './trainerMachine.ts';

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
 * Start the relay and return the inspection to give the training.
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
  const { createInspector } = await import('@statelyai/inspect');
  const sample = options.sample ?? 1;
  const maxEvents = options.maxEvents ?? 200_000;
  const inspectorUrl = options.inspectorUrl ?? INSPECTOR_URL;

  const history: string[] = [];
  const clients = new Set<WebSocket>();
  let waiting: (() => void)[] = [];
  const broadcast = (message: string) => {
    history.push(message);
    if (history.length > maxEvents) history.splice(0, history.length - maxEvents);
    for (const ws of clients) ws.send(message);
  };

  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url !== '/' && req.url !== '/index.html') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(bridgePage(inspectorUrl));
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws) => {
    for (const m of history) ws.send(m);
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    const w = waiting;
    waiting = [];
    w.forEach((resolve) => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8080, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;

  // the package's conversion to Stately's format (definitions, sessions, parents), sent to our relay
  const stately = createInspector(
    { send: (event: unknown) => broadcast(stringify(event)), start() {}, stop() {} },
    { sanitizeContext: (context: unknown) => summarizeContext(context) as object },
  );
  const local = new Map<string, string>(); // systemId → sessionId of the actors on this thread
  let rootRef: FakeRef | null = null;

  // Summarise at once: the package serialises in a timer, when tensors hold later values
  const inspect = (e: InspectionEvent) => {
    switch (e.type) {
      case '@xstate.actor': {
        const ref = e.actorRef as unknown as FakeRef;
        local.set(nameOf(ref), ref.sessionId);
        if (!ref._parent) rootRef ??= ref;
        // the package reads the snapshot in its timer, when the actor may have finished: pin it now
        const snapshot = initialSnapshot(ref);
        const pinned = Object.assign(Object.create(ref) as FakeRef, { getSnapshot: () => snapshot });
        stately.inspect.next?.({ ...e, actorRef: pinned } as unknown as InspectionEvent);
        return;
      }
      case '@xstate.event':
        if (!keepBatch(batchOf(e.event), sample)) return;
        stately.inspect.next?.({ ...e, event: summarizeEvent(e.event) });
        return;
      case '@xstate.snapshot': {
        if (!keepBatch(batchOf(e.event), sample)) return;
        const s = e.snapshot as { context?: unknown; children?: unknown };
        const snapshot = { ...e.snapshot, context: summarizeContext(s.context), children: {} };
        stately.inspect.next?.({ ...e, snapshot, event: summarizeEvent(e.event) } as InspectionEvent);
        return;
      }
      default:
        return; // actions and microsteps: Stately's conversion drops them anyway
    }
  };

  // a relayed line becomes the inspection event it came from, on a stand-in actor ref
  const relayed = new Map<string, FakeRef>();
  const relay = (line: TraceEvent) => {
    if (line.type === '@trace.meta' || !keepBatch(line.batch, sample)) return;
    const thread = line.thread ?? 'worker';
    let ref = relayed.get(`${thread}/${line.actor}`);
    if (!ref) {
      // its own session; named `stage:0@worker:0` when the main thread has an actor of that name too
      const sessionId = `relay:${thread}:${line.actor}`;
      const name = local.has(line.actor) ? `${line.actor}@${thread}` : line.actor;
      const machine = machineFor(line.actor);
      ref = {
        sessionId,
        id: name,
        systemId: name,
        logic: machine,
        _parent: rootRef ?? undefined,
        snapshot: { status: 'active', value: line.state ?? (machine?.config.initial as string | undefined) ?? null, context: line.context ?? {}, children: {} },
        getSnapshot() {
          return this.snapshot;
        },
      };
      relayed.set(`${thread}/${line.actor}`, ref);
      const snapshot = initialSnapshot(ref);
      const pinned = Object.assign(Object.create(ref) as FakeRef, { getSnapshot: () => snapshot });
      stately.inspect.next?.({ type: '@xstate.actor', actorRef: pinned, rootId: rootRef?.sessionId ?? sessionId } as unknown as InspectionEvent);
    }
    const rootId = rootRef?.sessionId ?? ref.sessionId;
    const event = line.event ?? { type: '' };
    if (line.type === '@xstate.event') {
      stately.inspect.next?.({ type: '@xstate.event', actorRef: ref, sourceRef: undefined, event, rootId } as unknown as InspectionEvent);
    } else if (line.type === '@xstate.snapshot') {
      ref.snapshot = { status: line.status ?? 'active', value: line.state, context: line.context ?? ref.snapshot.context, children: {} };
      stately.inspect.next?.({ type: '@xstate.snapshot', actorRef: ref, snapshot: ref.snapshot, event, rootId } as unknown as InspectionEvent);
    }
  };

  return {
    url: `http://127.0.0.1:${port}`,
    get viewers() {
      return clients.size;
    },
    viewerConnected: () => (clients.size > 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve))),
    inspect,
    attach: (root: AnyActorRef) => attachTo(root, inspect),
    relay,
    close: async () => {
      // the package converts each event in a setTimeout(0): let the last ones through
      await new Promise((r) => setTimeout(r, 5));
      for (const ws of clients) ws.close(1000, 'training finished');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

interface FakeRef {
  sessionId: string;
  id: string;
  systemId?: string;
  logic?: AnyStateMachine;
  _parent?: FakeRef;
  snapshot: { status: string; value: unknown; context: unknown; children: object };
  getSnapshot(): unknown;
}

function stringify(event: unknown): string {
  try {
    return JSON.stringify(event);
  } catch (err) {
    // never let one odd value throw inside the package's timer and end the process
    const e = event as { type?: string; sessionId?: string };
    return JSON.stringify({ type: e.type, sessionId: e.sessionId, error: String(err) });
  }
}

/** An actor's snapshot as it is now, or (in its constructor, before it has one) its machine's initial state. */
function initialSnapshot(ref: FakeRef): object {
  const now = snapshotOf(ref) as { status?: string; value?: unknown; context?: unknown } | null;
  if (now) return { status: now.status, value: now.value, context: ref.sessionId.startsWith('relay:') ? now.context : summarizeContext(now.context), children: {} };
  return { status: 'active', value: (ref.logic?.config as { initial?: unknown } | undefined)?.initial ?? null, context: {}, children: {} };
}

/** xstate's development build throws when the snapshot is read inside the actor's constructor */
function snapshotOf(ref: { getSnapshot(): unknown }): unknown {
  try {
    return ref.getSnapshot() ?? null;
  } catch {
    return null;
  }
}

function nameOf(ref: { sessionId: string; systemId?: string; id?: string }): string {
  return ref.systemId ?? (ref.id && ref.id !== ref.sessionId ? ref.id : ref.sessionId);
}

function batchOf(event: unknown): number | null {
  const b = (event as { batch?: unknown }).batch;
  return typeof b === 'number' ? b : null;
}

/** The machine behind a systemId, so a relayed actor shows its definition too. */
function machineFor(actor: string): AnyStateMachine | undefined {
  if (actor.startsWith('layer:')) return layerMachine;
  if (actor.startsWith('synthesizer:')) return synthesizerMachine;
  if (actor === 'head') return headMachine;
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
