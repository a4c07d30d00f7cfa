import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TraceEvent, createTraceRecorder, createTraceRelay, parseTrace, toTraceEvent } from '../../actors/inspect/inspection.ts';
import { summarize } from '../../actors/inspect/summarize.ts';
import { SCHEDULERS } from '../../actors/schedulers/schedulers.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { fromArray } from '../../lib/matrix.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);
const ACTORS = ['trainer', 'layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'];

/** Train the seed DNI network with a recorder writing to memory; the parsed lines. */
async function record(steps: number, options: { sample?: number; attach?: boolean } = {}): Promise<{ text: string; lines: TraceEvent[] }> {
  let text = '';
  const recorder = createTraceRecorder({ write: (chunk) => void (text += chunk), sample: options.sample, meta: { demo: 'test' } });
  const training = createTraining({
    topology: dni.topology,
    data: dni.data,
    params: dni.initial,
    steps,
    inspect: options.attach ? undefined : recorder.inspect,
  });
  if (options.attach) recorder.attach(training.actor);
  await training.run();
  await recorder.close();
  return { text, lines: parseTrace(text) };
}

const received = (lines: TraceEvent[], actor: string, batch: number) =>
  lines.filter((l) => l.actor === actor && l.type === '@xstate.event' && l.batch === batch).map((l) => l.event!.type);
const states = (lines: TraceEvent[], actor: string, batch: number) =>
  lines
    .filter((l) => l.actor === actor && l.type === '@xstate.snapshot' && l.batch === batch)
    .map((l) => `${l.event!.type}→${String(l.state)}`);

describe('the trace recorder', () => {
  it('writes a meta line, then every actor with its parent, what it is, the events it received and the states it took', async () => {
    const { lines } = await record(3);
    expect(lines[0]).toMatchObject({ type: '@trace.meta', actor: 'trace', meta: { sample: 1, demo: 'test' } });
    const created = lines.filter((l) => l.type === '@xstate.actor');
    expect(created.map((l) => l.actor)).toEqual(['trainer', 'stage:0', ...ACTORS.slice(1)]);
    // the trainer holds one stage here, and the stage holds every layer, synthesizer and head
    expect(created.find((l) => l.actor === 'stage:0')!.parent).toBe('trainer');
    expect(created.filter((l) => !['trainer', 'stage:0'].includes(l.actor)).every((l) => l.parent === 'stage:0')).toBe(true);

    const context = (actor: string) => lines.find((l) => l.actor === actor && l.context)?.context;
    expect(context('layer:0')).toEqual({
      id: 'layer0',
      index: 0,
      inputs: 24,
      units: 128,
      activation: 'sigmoid',
      merge: 'concat',
      lr: 0.5,
      decoupled: true,
    });
    expect(context('layer:2')).toMatchObject({ inputs: 64, units: 12, decoupled: false });
    expect(context('synthesizer:1')).toEqual({ name: '1', from: 1, units: 64, conditioned: false, delay: 0, lr: 0.01 });
    expect(context('head')).toEqual({ id: 'head', node: 2, loss: 'mse', labels: 'y', width: 12, weight: 1 });
    expect(context('stage:0')).toEqual({ stage: 0, actors: ['layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'] });
    expect(context('trainer')).toMatchObject({ sizes: [24, 128, 64, 12], decoupled: [true, true, false], steps: 3, scheduler: 'queue' });
    // the graph, for the viewer to draw: which actor sends h to which, and where the synthesizers sit
    expect((context('trainer') as { graph: { edges: unknown[] } }).graph.edges).toEqual([
      { from: 'layer:0', to: 'layer:1', synthesizer: 'synthesizer:0', conditioned: false },
      { from: 'layer:1', to: 'layer:2', synthesizer: 'synthesizer:1', conditioned: false },
      { from: 'layer:2', to: 'head', synthesizer: null, conditioned: false },
    ]);

    for (const batch of [0, 1, 2]) {
      expect(received(lines, 'layer:0', batch)).toEqual(['FORWARD', 'SYNTHETIC_GRADIENT']);
      expect(received(lines, 'layer:2', batch)).toEqual(['FORWARD', 'GRADIENT']);
      expect(received(lines, 'synthesizer:0', batch)).toEqual(['PREDICT', 'REFIT']);
      expect(received(lines, 'head', batch)).toEqual(['FORWARD']);
    }
    expect(states(lines, 'layer:1', 1)).toEqual(['FORWARD→awaitingSyntheticGradient', 'SYNTHETIC_GRADIENT→ready']);
    expect(states(lines, 'layer:2', 1)).toEqual(['FORWARD→awaitingGradient', 'GRADIENT→ready']);
    // named actions are folded into the snapshot they led to
    const forward = lines.find((l) => l.actor === 'layer:0' && l.type === '@xstate.snapshot' && l.event?.type === 'FORWARD')!;
    expect(forward.actions).toEqual(['forward']);
    // the end: synthesizers drained (final), the trainer done
    const last = (actor: string) => lines.filter((l) => l.actor === actor && l.type === '@xstate.snapshot').at(-1)!;
    expect([last('synthesizer:0').state, last('synthesizer:0').status]).toEqual(['drained', 'done']);
    expect([last('trainer').state, last('trainer').status]).toEqual(['done', 'done']);
  });

  it('puts shapes where tensors were, and never a tensor', async () => {
    const { text, lines } = await record(3);
    const forward = lines.find((l) => l.actor === 'layer:1' && l.event?.type === 'FORWARD')!;
    expect(forward.event).toMatchObject({ type: 'FORWARD', batch: 0, x: '10x128' });
    expect(lines.find((l) => l.event?.type === 'REFIT')!.event).toMatchObject({ target: expect.stringMatching(/^10x(128|64)$/) });
    // no array of more than 8 numbers anywhere, and no line longer than a summary can make it
    const longest = (v: unknown): number =>
      Array.isArray(v)
        ? Math.max(v.every((x) => typeof x === 'number') ? v.length : 0, ...v.map(longest))
        : v && typeof v === 'object'
          ? Math.max(0, ...Object.values(v).map(longest))
          : 0;
    expect(Math.max(...lines.map(longest))).toBeLessThanOrEqual(8);
    // (the trainer's first snapshot carries the graph for the viewer: as long as the graph, no longer)
    const summaries = text
      .split('\n')
      .filter((l) => !l.includes('"actor":"trainer","type":"@xstate.snapshot","event":{"type":"xstate.init"}'));
    expect(Math.max(...summaries.map((l) => l.length))).toBeLessThan(700);
    expect(text).not.toMatch(/"data":\[|Float32Array\(/);
  });

  it('keeps every Nth batch with `sample`, and every event without a batch', async () => {
    const all = (await record(5)).lines;
    const { lines } = await record(5, { sample: 2 });
    expect(lines[0].meta!.sample).toBe(2);
    expect([...new Set(lines.map((l) => l.batch).filter((b) => b !== null))]).toEqual([0, 2, 4]);
    for (const batch of [0, 2, 4]) expect(received(lines, 'layer:0', batch)).toEqual(['FORWARD', 'SYNTHETIC_GRADIENT']);
    const unbatched = (ls: TraceEvent[]) =>
      ls.filter((l) => l.batch === null && l.type !== '@trace.meta').map((l) => `${l.actor} ${l.type} ${l.event?.type}`);
    expect(unbatched(lines)).toEqual(unbatched(all));
    expect(lines.length).toBeLessThan(all.length * 0.75);
  });

  it('records the same events when attached to a training already built', async () => {
    const key = (l: TraceEvent) => `${l.actor} ${l.type} ${l.event?.type ?? ''} ${l.batch} ${JSON.stringify(l.state)}`;
    const viaOption = (await record(2)).lines.map(key);
    const viaAttach = (await record(2, { attach: true })).lines.map(key);
    expect(viaAttach.sort()).toEqual(viaOption.sort());
  });

  it('writes JSON lines to a file, and takes lines relayed from a worker', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dni-trace-')), 'out.jsonl');
    const recorder = createTraceRecorder({ file, sample: 2 });
    // what a worker would post: its own actors, converted there
    const posted: TraceEvent[] = [];
    const worker = createTraceRelay((line) => posted.push(line), { thread: 'worker:1' });
    const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 1, inspect: worker });
    await training.run();
    expect(posted.every((l) => l.thread === 'worker:1')).toBe(true);
    for (const line of JSON.parse(JSON.stringify(posted)) as TraceEvent[]) recorder.relay(line);
    recorder.relay({ ...posted.find((l) => l.batch === 0)!, batch: 1 }); // sampled out
    await recorder.close();
    await recorder.close(); // closing twice is harmless
    const lines = parseTrace(readFileSync(file, 'utf8'));
    expect(lines).toHaveLength(posted.length + 1);
    expect(lines.slice(1)).toEqual(posted);
    expect(recorder.lines).toBe(lines.length);
  });
});

describe('the trace under every scheduler', () => {
  it.each(SCHEDULERS)('%s: every layer, synthesizer and the head shows its events, worker-hosted ones relayed', async (scheduler) => {
    let text = '';
    const recorder = createTraceRecorder({ write: (chunk) => void (text += chunk) });
    const training = createTraining({
      topology: dni.topology,
      data: dni.data,
      params: dni.initial,
      steps: 3,
      scheduler,
      inspect: recorder.inspect,
      relay: recorder.relay,
    });
    await training.run();
    await recorder.close();
    const lines = parseTrace(text);
    for (const batch of [0, 1, 2]) {
      expect(received(lines, 'layer:1', batch), `layer:1 #${batch}`).toEqual(['FORWARD', 'SYNTHETIC_GRADIENT']);
      expect(received(lines, 'layer:2', batch), `layer:2 #${batch}`).toEqual(['FORWARD', 'GRADIENT']);
      expect(received(lines, 'synthesizer:0', batch), `synthesizer:0 #${batch}`).toEqual(['PREDICT', 'REFIT']);
      expect(received(lines, 'head', batch), `head #${batch}`).toEqual(['FORWARD']);
    }
    const threads = new Set(lines.filter((l) => l.actor === 'layer:0').map((l) => l.thread ?? 'main'));
    expect([...threads]).toEqual([scheduler === 'worker' ? 'worker:0' : 'main']);
    expect(lines.filter((l) => l.actor === 'trainer' && l.type === '@xstate.snapshot').at(-1)!.state).toBe('done');
  });
});

describe('trace lines', () => {
  it('summarise values instead of serialising them', () => {
    expect(summarize(fromArray(2, 3, [1, 2, 3, 4, 5, 6]))).toBe('2x3');
    expect(summarize(new Float32Array(1280))).toBe('Float32Array(1280)');
    expect(summarize(new Error('boom'))).toBe('Error: boom');
    expect(summarize({ a: 1, b: { c: { d: 1 } } }, 1)).toEqual({ a: 1, b: '{…}' });
    expect(summarize(Array.from({ length: 20 }, (_, i) => i))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, '… 12 more']);
    expect(summarize(Number.NaN)).toBe('NaN');
  });

  it('skip the inspection kinds a trace does not keep', () => {
    const actorRef = { sessionId: 'x:1', id: 'layer:0', send: () => {}, getSnapshot: () => ({ value: 'ready' }) };
    expect(
      toTraceEvent({ type: '@xstate.microstep', actorRef, rootId: 'x:0', event: { type: 'E' }, snapshot: {} as never, _transitions: [] }),
    ).toBeNull();
    expect(
      toTraceEvent({ type: '@xstate.event', actorRef, rootId: 'x:0', sourceRef: undefined, event: { type: 'FORWARD', batch: 7 } }, 5),
    ).toEqual({
      t: 5,
      actor: 'layer:0',
      type: '@xstate.event',
      event: { type: 'FORWARD', batch: 7 },
      state: 'ready',
      batch: 7,
    });
  });

  it('parse a file whose last line is still being written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-trace-'));
    writeFileSync(
      join(dir, 't.jsonl'),
      '{"t":1,"actor":"head","type":"@xstate.event","event":{"type":"FORWARD"},"state":"ready","batch":0}\n{"t":2,"act',
    );
    expect(parseTrace(readFileSync(join(dir, 't.jsonl'), 'utf8'))).toHaveLength(1);
    expect(() => parseTrace('{"t":1}\n{oops\n{"t":2}\n')).toThrow(/trace line 2/);
  });
});
