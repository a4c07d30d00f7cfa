/**
 * The live inspector's server, without a browser: what a page receives (a whole state, then
 * deltas that rebuild exactly that state), how often (coalesced), how much it keeps (bounded, and
 * still exact: each point the mean of the steps it stands for), and whom it answers (its own Host
 * and pages only, under a strict CSP).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { type IncomingMessage, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraining } from '../actors/trainer/training.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { BoundedSeries, type LiveInspector, type LiveRunState, type LiveState, serveLiveInspector } from '../tools/inspector/live.ts';
import { REFERENCE_DIR } from './helpers.ts';

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);
const graph = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-branch.json'), 'utf8')) as ReferenceCase);

interface Sse {
  event: string;
  data: any;
  at: number;
}

/** Follow /events as a page would: every message, parsed, with the time it came. */
function follow(url: string, headers: Record<string, string> = {}): Promise<{ messages: Sse[]; status: number; close(): void }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: '/events', headers: { host: u.host, ...headers }, setHost: false },
      (res: IncomingMessage) => {
        const messages: Sse[] = [];
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data !== undefined) messages.push({ event, data: JSON.parse(data), at: performance.now() });
          }
        });
        resolve({ messages, status: res.statusCode!, close: () => req.destroy() });
      },
    );
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    req.end();
  });
}

/** What a page holds after applying the messages it got, in order (as live.js does). */
function replay(messages: Sse[]): Map<number, LiveRunState> {
  const runs = new Map<number, LiveRunState>();
  for (const m of messages) {
    if (m.event === 'state') {
      runs.clear();
      for (const r of (m.data as LiveState).runs) runs.set(r.id, structuredClone(r));
    } else if (m.event === 'update') {
      for (const d of m.data.runs) {
        let r = runs.get(d.id);
        if (!r) runs.set(d.id, (r = { ...d, actors: [], series: {} }));
        Object.assign(r!, {
          label: d.label,
          meta: d.meta,
          status: d.status,
          batch: d.batch,
          steps: d.steps,
          stepsPerSecond: d.stepsPerSecond,
        });
        for (const a of d.actors) {
          const i = r!.actors.findIndex((x) => x.name === a.name);
          if (i >= 0) r!.actors[i] = a;
          else r!.actors.push(a);
        }
        for (const [k, s] of Object.entries(d.series as Record<string, { from: number; x: number[]; y: number[]; stride: number }>)) {
          const have = (r!.series[k] ??= { x: [], y: [], stride: s.stride });
          have.x.length = have.y.length = s.from;
          have.x.push(...s.x);
          have.y.push(...s.y);
          have.stride = s.stride;
        }
      }
    }
  }
  return runs;
}

const byName = (r: LiveRunState) => Object.fromEntries(r.actors.map((a) => [a.name, a]));

describe('BoundedSeries', () => {
  it('keeps at most max points, each the mean of the steps it stands for', () => {
    const s = new BoundedSeries(8);
    const values = Array.from({ length: 100 }, (_, i) => Math.sin(i) * 10 + i);
    values.forEach((v, i) => s.push(i, v));
    expect(s.x.length).toBeLessThanOrEqual(8);
    expect(s.stride).toBe(16);
    // point j covers steps [j*16, (j+1)*16): its x is the last of them, its y their mean
    s.x.forEach((x, j) => {
      expect(x).toBe((j + 1) * 16 - 1);
      const steps = values.slice(j * 16, (j + 1) * 16);
      expect(s.y[j]).toBeCloseTo(steps.reduce((a, b) => a + b, 0) / 16, 10);
    });
    expect(s.x.length).toBe(6); // 96 steps in whole points; the last 4 wait for their 12 companions
    expect(() => new BoundedSeries(7)).toThrow(/maxPoints must be an even integer >= 2, got 7/);
  });

  it('skips what is not a number', () => {
    const s = new BoundedSeries(4);
    s.push(0, NaN);
    s.push(1, Infinity);
    s.push(2, 1);
    expect([s.x, s.y]).toEqual([[2], [1]]);
  });
});

describe('the live inspector server', () => {
  let live: LiveInspector;
  let port: number;
  beforeAll(async () => {
    live = await serveLiveInspector({ port: 0, updatesPerSecond: 20, maxPoints: 64 });
    port = Number(new URL(live.url).port);
  });
  afterAll(() => live.close());

  const get = (path: string, headers: Record<string, string>, method = 'GET') =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });

  it('serves its page and assets under a CSP that allows only itself, on 127.0.0.1', async () => {
    expect(live.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    for (const path of ['/', '/live.js', '/graph.js', '/charts.js', '/viewer.css', '/state.json']) {
      const r = await get(path, { host: `127.0.0.1:${port}` });
      expect(r.status, path).toBe(200);
      expect(r.headers['content-security-policy']).toBe(
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
    }
    const page = (await get('/', { host: `127.0.0.1:${port}` })).body;
    expect(page).toContain('<script type="module" src="/live.js"></script>');
    // nothing on the page or in its scripts names another host
    for (const path of ['/', '/live.js', '/graph.js', '/charts.js', '/viewer.css']) {
      const body = (await get(path, { host: `127.0.0.1:${port}` })).body;
      expect(body.match(/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/gi)?.filter((u) => u !== 'http://www.w3.org') ?? [], path).toEqual([]);
    }
    expect((await get('/elsewhere', { host: `127.0.0.1:${port}` })).status).toBe(404);
    expect((await get('/', { host: `127.0.0.1:${port}` }, 'POST')).status).toBe(405);
  });

  it('refuses another Host or another Origin with 403, the event stream included', async () => {
    for (const path of ['/', '/events', '/state.json', '/live.js']) {
      const rebound = await get(path, { host: `evil.example:${port}` });
      expect(rebound.status, path).toBe(403);
      expect(rebound.body).toMatch(/Host "evil\.example:\d+" is not this server/);
      expect((await get(path, { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status, path).toBe(403);
    }
    const foreign = await follow(live.url, { origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    foreign.close();
    expect(live.viewers).toBe(0);
  });

  it('sends a page the whole state, then at most updatesPerSecond deltas a second that rebuild it exactly', async () => {
    const page = await follow(live.url, { origin: `http://127.0.0.1:${port}` });
    await live.viewerConnected();
    const steps = 6000;
    const run = live.run('dni', { steps });
    const training = createTraining({
      topology: dni.topology,
      data: dni.data,
      params: dni.initial,
      steps,
      scheduler: 'async',
      inspect: run.inspect,
      relay: run.relay,
    });
    run.watch(training);
    const t0 = performance.now();
    const result = await training.run();
    const seconds = (performance.now() - t0) / 1000;
    await run.close();
    await new Promise((r) => setTimeout(r, 120));
    page.close();

    const updates = page.messages.filter((m) => m.event === 'update');
    expect(page.messages[0].event).toBe('state');
    // coalesced: a handful of messages for thousands of steps and tens of thousands of events
    expect(updates.length).toBeGreaterThan(1);
    expect(updates.length).toBeLessThanOrEqual(Math.ceil(seconds * 20) + 3);
    // 20 a second: 50 ms apart, give or take a timer's slack (the last one is sent when the run closes)
    const gaps = updates.slice(1, -1).map((m, i) => m.at - updates[i].at);
    expect(Math.min(...gaps)).toBeGreaterThan(30);

    const followed = replay(page.messages).get(0)!;
    const state = live.state().runs.find((r) => r.id === 0)!;
    expect(followed).toEqual(state);
    expect(state).toMatchObject({ label: 'dni', status: 'finished', batch: steps - 1, steps });
    // every actor, in its last state
    const actors = byName(state);
    expect(Object.keys(actors).sort()).toEqual([
      'head',
      'layer:0',
      'layer:1',
      'layer:2',
      'stage:0',
      'synthesizer:0',
      'synthesizer:1',
      'trainer',
    ]);
    expect(actors.trainer).toMatchObject({ state: 'done', status: 'done', parent: null });
    expect(actors['synthesizer:1']).toMatchObject({ state: 'drained', status: 'done', parent: 'stage:0', last: 'DRAIN' });
    expect(actors['layer:1'].context).toMatchObject({ inputs: 128, units: 64, decoupled: true });
    expect(actors['layer:0'].events).toBe(2 * steps + 1); // FORWARD and SYNTHETIC_GRADIENT of every batch, and xstate.init
    // bounded (64 points), and exact: point j is the mean of the losses of the steps it stands for
    const loss = state.series.loss;
    expect(loss.x.length).toBeLessThanOrEqual(64);
    expect(loss.stride).toBe(128);
    loss.x.forEach((x, j) => {
      expect(x).toBe((j + 1) * loss.stride - 1);
      let sum = 0;
      for (let i = j * loss.stride; i <= x; i++) sum += result.losses[i];
      expect(loss.y[j]).toBeCloseTo(sum / loss.stride, 9);
    });
    expect(Object.keys(state.series).sort()).toEqual(['accuracy', 'cosine:1', 'loss', 'synthesizerLoss']);
  });

  it('gives a page opened later the current state only: the latest of each actor and the bounded history', async () => {
    const page = await follow(live.url);
    await new Promise((r) => setTimeout(r, 50));
    page.close();
    expect(page.messages.map((m) => m.event)).toEqual(['state']);
    const text = JSON.stringify(page.messages[0].data);
    expect(text.length).toBeLessThan(30_000);
    const run = (page.messages[0].data as LiveState).runs[0];
    expect(run.actors).toHaveLength(8);
    expect(run.series.loss.x.length).toBeLessThanOrEqual(64);
  });
});

describe('the live inspector follows', () => {
  it('a graph on worker threads: the workers’ actors by name, with their threads, under their stages', async () => {
    const live = await serveLiveInspector({ port: 0 });
    try {
      const run = live.run('graph');
      const training = createTraining({
        topology: graph.topology,
        data: graph.data,
        params: graph.initial,
        steps: 40,
        scheduler: 'worker',
        inspect: run.inspect,
        relay: run.relay,
      });
      run.watch(training);
      await training.run();
      await new Promise((r) => setTimeout(r, 50));
      await run.close();
      const state = live.state().runs[0];
      const actors = byName(state);
      const t = graph.topology;
      for (const actor of [...t.nodes.map((n) => n.actor), ...t.heads.map((h) => h.actor), ...t.synthesizers.map((s) => s.actor)]) {
        expect(actors[actor]?.thread, actor).toMatch(/^worker:\d$/);
        expect(actors[actor].parent, actor).toBe(`stage:${actors[actor].thread!.slice(7)}`);
        expect(actors[actor].events, actor).toBeGreaterThan(0);
      }
      // the worker's own stage beside the trainer's link to it
      for (const thread of new Set(
        Object.values(actors)
          .map((a) => a.thread)
          .filter((x) => x !== null),
      )) {
        const k = thread!.slice(7);
        expect(actors[`stage:${k}`]).toMatchObject({ thread: null, parent: 'trainer' });
        expect(actors[`stage:${k}@${thread}`]).toMatchObject({ thread, parent: null });
        expect(actors[`stage:${k}@${thread}`].context).toMatchObject({ stage: Number(k) });
      }
      expect(actors['head:mod4']).toMatchObject({ last: 'FORWARD #39' });
      expect(state).toMatchObject({ status: 'finished', batch: 39 });
      expect(state.series.loss.x).toHaveLength(40);
    } finally {
      await live.close();
    }
  });

  it('--sample N: only every Nth batch’s actor events (the metrics stay whole)', async () => {
    const live = await serveLiveInspector({ port: 0, sample: 7 });
    try {
      const run = live.run();
      const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 30, inspect: run.inspect });
      run.watch(training);
      await training.run();
      const state = live.state().runs[0];
      const actors = byName(state);
      // FORWARD and GRADIENT of batches 0, 7, 14, 21, 28, and xstate.init
      expect(actors['layer:2']).toMatchObject({ last: 'GRADIENT #28', events: 2 * 5 + 1 });
      expect(state.series.loss.x).toHaveLength(30);
    } finally {
      await live.close();
    }
  });

  it('each training of a run charted after the one before (fit: one per epoch)', async () => {
    const live = await serveLiveInspector({ port: 0 });
    try {
      const run = live.run('epochs');
      for (let epoch = 0; epoch < 2; epoch++) {
        const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 10, inspect: run.inspect });
        run.watch(training);
        await training.run();
      }
      expect(live.state().runs[0].series.loss.x).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(live.state().runs[0]).toMatchObject({ status: 'finished', batch: 19 });
    } finally {
      await live.close();
    }
  });
});

describe("the demos' --inspect", () => {
  const root = join(import.meta.dirname, '..');
  const demo = (args: string[]) =>
    spawn(process.execPath, ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('trains, says where the page is, keeps serving it until Ctrl+C and says so', async () => {
    const child = demo(['--steps', '300', '--inspect', '--inspect-port', '0', '--sample', '10']);
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const finished = new Promise<void>((resolve) =>
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        if (/Ctrl\+C to stop\.\n/.test(stderr)) resolve();
      }),
    );
    await Promise.race([finished, exited.then(() => Promise.reject(new Error(`the demo exited: ${stderr}`)))]);
    const url = /live inspector: open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)![1];
    expect(stderr).toContain(`binary-addition: training finished; ${url} still serves the live inspector. Ctrl+C to stop.`);
    const state = (await (await fetch(`${url}state.json`)).json()) as LiveState;
    expect(state.runs.map((r) => [r.label, r.status, r.batch, r.steps])).toEqual([
      ['backprop', 'finished', 299, 300],
      ['dni', 'finished', 299, 300],
      ['cdni', 'finished', 299, 300],
    ]);
    expect(state.runs[0].meta).toEqual({ demo: 'binary-addition', scheduler: 'queue', sample: 10, steps: 300 });
    // --sample 10: the actors' last events are of batch 290, the charts have every step
    expect(byName(state.runs[2])['layer:0'].last).toBe('SYNTHETIC_GRADIENT #290');
    expect(state.runs[2].series.loss.x).toHaveLength(300);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it.each([[['--inspect']], [['--inspect', 'stately']]])('a port in use: one line, exit code 2 (%j)', async (inspect) => {
    const busy = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => busy.once('listening', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), '--steps', '5', ...inspect, '--inspect-port', String(port)],
        { cwd: root, encoding: 'utf8' },
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        `binary-addition: --inspect: port ${port} on 127.0.0.1 is in use: pick another with --inspect-port N (0: any free port)\n`,
      );
    } finally {
      busy.close();
    }
  });
});
