import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type StatelyInspector, attachStatelyInspector } from '../../actors/inspect/stately.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { PortError } from '../../lib/errors.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);
const graph = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-branch.json'), 'utf8')) as ReferenceCase);
const graphActors = [
  ...graph.topology.nodes.map((n) => n.actor),
  ...graph.topology.heads.map((h) => h.actor),
  ...graph.topology.synthesizers.map((s) => s.actor),
];
/** the machine each of a graph's actors runs, by its name */
const machineOf = (name: string) =>
  name.startsWith('layer:')
    ? 'layer'
    : name.startsWith('synthesizer:')
      ? 'synthesizer'
      : name.startsWith('head')
        ? 'head'
        : name.startsWith('stage:')
          ? 'stage'
          : 'trainer';

interface StatelyEvent {
  type: string;
  name?: string;
  sessionId: string;
  parentId?: string;
  definition?: string;
  snapshot?: { value: unknown; status: string; context: unknown };
  event?: { type: string; batch?: number };
}

/** Connect like the relay page does and collect what arrives (everything so far is replayed). */
async function view(url: string, settleMs = 200): Promise<StatelyEvent[]> {
  const got: StatelyEvent[] = [];
  const ws = new WebSocket(url.replace('http', 'ws'));
  ws.on('message', (m) => got.push(JSON.parse(String(m))));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  await new Promise((r) => setTimeout(r, settleMs));
  ws.close();
  return got;
}

/** Two steps of `c` on worker threads, inspected through `stately`; then what a page sees. */
async function viewWorkerTraining(stately: StatelyInspector, c: ReturnType<typeof loadCase>): Promise<StatelyEvent[]> {
  const training = createTraining({
    topology: c.topology,
    data: c.data,
    params: c.initial,
    steps: 2,
    scheduler: 'worker',
    inspect: stately.inspect,
    relay: stately.relay,
  });
  await training.run();
  await new Promise((r) => setTimeout(r, 20));
  return view(stately.url);
}

describe("Stately's inspector through our relay", () => {
  it('a port in use is a PortError the caller can catch (a rejected promise, nothing left listening)', async () => {
    const busy = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => busy.once('listening', resolve));
    const port = (busy.address() as AddressInfo).port;
    try {
      const attached = attachStatelyInspector({ port });
      await expect(attached).rejects.toBeInstanceOf(PortError);
      await expect(attached).rejects.toMatchObject({
        name: 'PortError',
        code: 'EADDRINUSE',
        port,
        message: `Stately inspector: port ${port} on 127.0.0.1 is in use: pick another (0: any free port)`,
      });
      // still usable afterwards: a free port works
      const stately = await attachStatelyInspector({ port: 0 });
      await stately.close();
    } finally {
      busy.close();
    }
  });

  it('serves the page that embeds the inspector, on 127.0.0.1 only', async () => {
    const stately = await attachStatelyInspector({ port: 0 });
    try {
      expect(stately.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const page = await (await fetch(stately.url)).text();
      expect(page).toContain('<iframe id="inspector" src="https://stately.ai/inspect">');
      expect(page).toContain("new WebSocket('ws://' + location.host)");
      expect((await fetch(`${stately.url}/elsewhere`)).status).toBe(404);
    } finally {
      await stately.close();
    }
  });

  it('shows every actor with its machine, parent and states, and replays them to a page opened later', async () => {
    const stately = await attachStatelyInspector({ port: 0 });
    try {
      const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 3 });
      stately.attach(training.actor);
      await training.run();
      const events = await view(stately.url); // opened after the training: everything is replayed
      const actors = events.filter((e) => e.type === '@xstate.actor');
      expect(actors.map((a) => a.name)).toEqual([
        'trainer',
        'stage:0',
        'layer:0',
        'layer:1',
        'layer:2',
        'synthesizer:0',
        'synthesizer:1',
        'head',
      ]);
      const [trainer, stage] = actors;
      expect(stage.parentId).toBe(trainer.sessionId);
      for (const a of actors.slice(2)) expect(a.parentId).toBe(stage.sessionId);
      const layer0 = actors[2];
      expect(JSON.parse(layer0.definition!)).toMatchObject({ id: 'layer', initial: 'ready' });
      expect(layer0.snapshot).toMatchObject({
        value: 'ready',
        status: 'active',
        context: { units: 128, activation: 'sigmoid', decoupled: true },
      });

      const ofLayer0 = events.filter((e) => e.sessionId === layer0.sessionId && e.type === '@xstate.snapshot' && e.event?.batch === 1);
      expect(ofLayer0.map((e) => `${e.event!.type}→${String(e.snapshot!.value)}`)).toEqual([
        'FORWARD→awaitingSyntheticGradient',
        'SYNTHETIC_GRADIENT→ready',
      ]);
      expect(events.find((e) => e.type === '@xstate.event' && e.event?.type === 'FORWARD')!.event).toMatchObject({ x: '10x24' });
      // summaries, never tensors
      expect(Math.max(...events.map((e) => JSON.stringify(e).length))).toBeLessThan(4000);
      expect(JSON.stringify(events)).not.toMatch(/"data":\[|"0":-?\d/);
    } finally {
      await stately.close();
    }
  });

  it('shows the actors the worker scheduler hosts on worker threads', async () => {
    const stately = await attachStatelyInspector({ port: 0 });
    try {
      const events = await viewWorkerTraining(stately, dni);
      const names = events.filter((e) => e.type === '@xstate.actor').map((e) => e.name!);
      for (const actor of ['trainer', 'layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'])
        expect(names).toContain(actor);
      const head = events.find((e) => e.type === '@xstate.actor' && e.name === 'head')!;
      expect(head.sessionId).toMatch(/^relay:worker:\d+:head$/);
      expect(events.filter((e) => e.sessionId === head.sessionId && e.type === '@xstate.event').map((e) => e.event!.type)).toEqual([
        'xstate.init',
        'FORWARD',
        'FORWARD',
      ]);
    } finally {
      await stately.close();
    }
  });

  it("shows a worker's relayed actors too, with their machine definitions", async () => {
    const stately = await attachStatelyInspector({ port: 0 });
    try {
      const t = performance.timeOrigin + performance.now();
      stately.relay({
        t,
        actor: 'layer:3',
        type: '@xstate.actor',
        event: null,
        state: null,
        batch: null,
        parent: 'trainer',
        thread: 'worker:1',
      });
      stately.relay({
        t,
        actor: 'layer:3',
        type: '@xstate.event',
        event: { type: 'FORWARD', batch: 0, x: '10x64' },
        state: 'ready',
        batch: 0,
        thread: 'worker:1',
      });
      stately.relay({
        t,
        actor: 'layer:3',
        type: '@xstate.snapshot',
        event: { type: 'FORWARD', batch: 0, x: '10x64' },
        state: 'awaitingGradient',
        batch: 0,
        thread: 'worker:1',
      });
      await new Promise((r) => setTimeout(r, 20));
      const events = await view(stately.url, 50);
      const actor = events.find((e) => e.type === '@xstate.actor')!;
      expect(actor.name).toBe('layer:3');
      expect(JSON.parse(actor.definition!)).toMatchObject({ id: 'layer' });
      const snapshot = events.find((e) => e.type === '@xstate.snapshot')!;
      expect([snapshot.sessionId, snapshot.snapshot!.value]).toEqual([actor.sessionId, 'awaitingGradient']);
    } finally {
      await stately.close();
    }
  });

  it("shows a graph's actors, the stage included, each with its machine and parent", async () => {
    const stately = await attachStatelyInspector({ port: 0 });
    try {
      const training = createTraining({
        topology: graph.topology,
        data: graph.data,
        params: graph.initial,
        steps: 3,
        inspect: stately.inspect,
      });
      await training.run();
      const events = await view(stately.url);
      const actors = events.filter((e) => e.type === '@xstate.actor');
      expect(actors.map((a) => a.name).sort()).toEqual(['stage:0', 'trainer', ...graphActors].sort());
      const byName = new Map(actors.map((a) => [a.name!, a]));
      const trainer = byName.get('trainer')!,
        stage = byName.get('stage:0')!;
      expect(trainer.parentId).toBeUndefined();
      expect(stage.parentId).toBe(trainer.sessionId);
      for (const a of actors) {
        expect(JSON.parse(a.definition!), a.name).toMatchObject({ id: machineOf(a.name!) });
        if (graphActors.includes(a.name!)) expect(a.parentId, a.name).toBe(stage.sessionId);
      }
      // what each is: its first snapshot's context (created inside the training: the actor event came before it had one)
      const first = (name: string) =>
        events.find((e) => e.type === '@xstate.snapshot' && e.sessionId === byName.get(name)!.sessionId && e.event?.type === 'xstate.init')!
          .snapshot;
      expect(first('head:mod4')).toMatchObject({
        value: 'ready',
        context: { id: 'mod4', loss: 'softmax-cross-entropy', width: 4, weight: 0.5 },
      });
      expect(first('layer:mod4_out')).toMatchObject({ context: { inputs: 80, units: 4, merge: 'concat' } });
      expect(first('synthesizer:trunk>b')).toMatchObject({ context: { name: 'trunk>b', conditioned: true, delay: 1 } });
      expect(first('trainer')!.context).toMatchObject({ graph: { heads: [{ actor: 'head:sum' }, { actor: 'head:mod4' }] } });
      // every actor's events reach the page: the heads' forward passes of each batch
      const mod4 = byName.get('head:mod4')!.sessionId;
      expect(events.filter((e) => e.sessionId === mod4 && e.type === '@xstate.event').map((e) => e.event!.type)).toEqual([
        'xstate.init',
        'FORWARD',
        'FORWARD',
        'FORWARD',
      ]);
    } finally {
      await stately.close();
    }
  });

  it(
    "shows a graph on worker threads: each worker's stage under the trainer's link to it, " + 'its actors under it, every machine',
    async () => {
      const stately = await attachStatelyInspector({ port: 0 });
      try {
        const events = await viewWorkerTraining(stately, graph);
        const actors = events.filter((e) => e.type === '@xstate.actor');
        const byName = new Map(actors.map((a) => [a.name!, a]));
        const bySession = new Map(actors.map((a) => [a.sessionId, a]));
        const trainer = byName.get('trainer')!;
        for (const name of graphActors) {
          const a = byName.get(name);
          expect(a, name).toBeDefined();
          expect(a!.sessionId, name).toMatch(/^relay:worker:\d+:/);
          expect(JSON.parse(a!.definition!), name).toMatchObject({ id: machineOf(name) });
          // its parent: the stage on its worker, a child of the trainer's stand-in for that stage
          const stage = bySession.get(a!.parentId!)!;
          const k = /^relay:worker:(\d+):/.exec(a!.sessionId)![1];
          expect(stage.name, name).toBe(`stage:${k}@worker:${k}`);
          expect(JSON.parse(stage.definition!)).toMatchObject({ id: 'stage' });
          const link = bySession.get(stage.parentId!)!;
          expect([link.name, link.parentId]).toEqual([`stage:${k}`, trainer.sessionId]);
        }
        const head = byName.get('head:sum')!;
        expect(events.filter((e) => e.sessionId === head.sessionId && e.type === '@xstate.event').map((e) => e.event!.type)).toEqual([
          'xstate.init',
          'FORWARD',
          'FORWARD',
        ]);
      } finally {
        await stately.close();
      }
    },
  );
});
