/**
 * The table interpreter (actors/machines/transitionTable.ts) behaves as xstate's: for any sequence of events,
 * the same states, contexts, action calls (with their params), errors and inspection events; and
 * a training under either gives the same bits and the same trace.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type AnyStateMachine, type InspectionEvent, assign, createActor, setup } from 'xstate';
import { withTransitionTable } from '../../actors/machines/transitionTable.ts';
import { headMachine } from '../../actors/machines/headMachine.ts';
import { layerMachine, unlockedLayerMachine } from '../../actors/machines/layerMachine.ts';
import { networkMachines } from '../../actors/machines/machines.ts';
import { synthesizerMachine } from '../../actors/machines/synthesizerMachine.ts';
import { createTraining, train } from '../../actors/trainer/training.ts';
import { TrainingOptionsError } from '../../lib/errors.ts';
import { loadCase } from '../../lib/reference.ts';
import { REFERENCE_DIR, referenceCases } from '../helpers.ts';

type Ev = { type: 'A' | 'B' | 'C' | 'D' | 'BOOM' | 'UNKNOWN'; n: number };

/** A flat machine with every kind of transition: guarded candidates, params, targets, built-ins, a final state. */
function testMachine(log: string[]) {
  return setup({
    types: { context: {} as { count: number; seen: number[] }, events: {} as Ev },
    actions: {
      record: ({ context, event }, p: { tag: string; n: number }) => {
        context.seen.push(event.n);
        log.push(`${p.tag}:${p.n}`);
      },
      plain: ({ event }) => void log.push(`plain:${event.n}`),
      explode: ({ event }) => {
        if (event.n % 3 === 0) throw new Error(`action failed at ${event.n}`);
        log.push(`survived:${event.n}`);
      },
    },
    guards: {
      isEven: ({ event }) => event.n % 2 === 0,
      above: ({ context }, p: { limit: number }) => context.seen.length > p.limit,
      fragile: ({ event }) => {
        if (event.n === 7) throw new Error('guard failed');
        return event.n > 7;
      },
    },
  }).createMachine({
    id: 'test',
    context: { count: 0, seen: [] },
    initial: 'idle',
    states: {
      idle: {
        on: {
          A: [
            { guard: 'isEven', target: 'busy', actions: { type: 'record', params: ({ event }) => ({ tag: 'even', n: event.n }) } },
            {
              guard: { type: 'above', params: { limit: 3 } },
              target: 'busy',
              actions: ['plain', { type: 'record', params: { tag: 'fixed', n: -1 } }],
            },
            { actions: (({ event }: { event: Ev }) => void log.push(`inline:${event.n}`)) as never },
          ],
          B: { actions: assign({ count: ({ context }) => context.count + 1 }) },
          C: { guard: 'fragile', actions: 'plain' },
          BOOM: { actions: 'explode' },
        },
      },
      busy: {
        tags: ['working'],
        on: {
          A: { target: 'idle', actions: 'plain' },
          B: [{ guard: 'isEven', actions: 'plain' }],
          D: { target: 'finished' },
          C: { target: 'busy', actions: 'plain' },
        },
      },
      finished: { type: 'final' },
    },
  });
}

/**
 * A flat machine with eventless transitions: guarded and not, with and without targets, chained
 * from state to state, on context an action changed, with a guard that throws, and a cycle that
 * only the machine's `maxIterations` stops.
 */
function eventlessMachine(log: string[]) {
  return setup({
    types: { context: {} as { count: number; seen: number[] }, events: {} as Ev },
    actions: {
      record: ({ context, event }) => {
        context.seen.push(event.n);
        log.push(`record:${event.n}`);
      },
      plain: ({ event }, p: { tag: string }) => void log.push(`${p.tag}:${event.n}`),
    },
    guards: {
      everyThird: ({ context }) => context.seen.length % 3 === 2,
      lastIs: ({ context }, p: { n: number }) => context.seen[context.seen.length - 1] === p.n,
      evenEvent: ({ event }) => event.n % 2 === 0,
      fragile: ({ event }) => {
        if (event.n === 9) throw new Error('eventless guard failed');
        return event.n > 9;
      },
    },
  }).createMachine({
    id: 'eventless',
    context: { count: 0, seen: [] },
    options: { maxIterations: 25 },
    initial: 'idle',
    states: {
      idle: {
        always: [
          { guard: 'everyThird', target: 'busy', actions: { type: 'plain', params: { tag: 'third' } } },
          { guard: { type: 'lastIs', params: { n: 5 } }, actions: ['record', { type: 'plain', params: { tag: 'five' } }] },
        ],
        on: {
          A: { actions: 'record' },
          B: { target: 'busy', actions: 'record' },
          C: { target: 'spin' },
          BOOM: { actions: assign({ count: ({ context }) => context.count + 1 }) },
        },
      },
      busy: {
        tags: ['working'],
        always: [
          { guard: 'fragile', actions: { type: 'plain', params: { tag: 'fragile' } } },
          { guard: 'evenEvent', target: 'idle', actions: { type: 'plain', params: { tag: 'back' } } },
        ],
        on: { A: { target: 'idle', actions: 'record' }, B: { actions: 'record' }, D: { target: 'finished' } },
      },
      // a cycle of eventless transitions on an odd event: xstate stops it after maxIterations microsteps
      spin: { always: [{ guard: ({ event }) => event.n % 2 === 1, target: 'spun' }, { target: 'idle' }] },
      spun: { always: { target: 'spin' } },
      finished: { type: 'final' },
    },
  });
}

/** Run `events` through an actor of `logic`; everything observable, step by step. */
function observe(logic: AnyStateMachine, events: Ev[], log: string[]) {
  const inspected: string[] = [];
  // events sent after the final state: xstate warns (on the console); both interpreters must alike
  const warnings: string[] = [];
  const warn = vi
    .spyOn(console, 'warn')
    .mockImplementation((...args: unknown[]) => void warnings.push(String(args[0]).replace(/\(x:\d+\)|x:\d+/g, 'x')));
  const actor = createActor(logic, {
    inspect: (e: InspectionEvent) => {
      if (e.type === '@xstate.action') inspected.push(`action ${e.action.type} ${JSON.stringify(e.action.params)}`);
      else if (e.type === '@xstate.microstep')
        inspected.push(
          `microstep ${e.event.type} → ${JSON.stringify((e.snapshot as { value?: unknown }).value)} (${e._transitions.length})`,
        );
      else if (e.type === '@xstate.snapshot')
        inspected.push(`snapshot ${JSON.stringify((e.snapshot as { value?: unknown }).value)} ${e.snapshot.status}`);
      else inspected.push(e.type);
    },
  });
  actor.subscribe({ error: () => {} });
  actor.start();
  const steps: unknown[] = [];
  for (const e of events) {
    actor.send(e);
    const s = actor.getSnapshot();
    steps.push({
      value: s.value,
      status: s.status,
      context: structuredClone(s.context),
      error: s.error ? String(s.error) : null,
      log: log.splice(0),
      // what a snapshot built by transitionTable.ts must answer as xstate's does (see xstateInternals.ts)
      matches: ['idle', 'busy', 'spin', 'spun', 'finished'].map((v) => s.matches(v as never)),
      hasTag: s.hasTag('working' as never),
      can: s.status === 'active' ? (['A', 'D', 'UNKNOWN'] as const).map((type) => s.can({ type, n: 2 })) : null,
      json: JSON.stringify(s.toJSON()),
    });
  }
  warn.mockRestore();
  return { steps, inspected, warnings };
}

/** Over random event sequences, `machineOf`'s machine with a transition table answers exactly as under xstate. */
function agreesWithXstate(machineOf: (log: string[]) => AnyStateMachine): void {
  const eventArb = fc.record({
    type: fc.constantFrom('A', 'B', 'C', 'D', 'BOOM', 'UNKNOWN' as const),
    n: fc.integer({ min: 0, max: 12 }),
  });
  fc.assert(
    fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
      const logA: string[] = [],
        logB: string[] = [];
      const interpreted = observe(machineOf(logA), events as Ev[], logA);
      const tabled = observe(withTransitionTable(machineOf(logB)), events as Ev[], logB);
      expect(tabled).toEqual(interpreted);
    }),
    { numRuns: 400 },
  );
}

describe('withTransitionTable', () => {
  it('behaves exactly as xstate on any sequence of events', () => {
    agreesWithXstate(testMachine);
  });

  it('takes eventless transitions as xstate does, on any sequence of events', () => {
    expect(withTransitionTable(eventlessMachine([]))).not.toBe(eventlessMachine([]));
    agreesWithXstate(eventlessMachine);
  });

  it('gives the network machines a transition table, and leaves a machine it cannot take as it is', () => {
    for (const m of [layerMachine, unlockedLayerMachine, synthesizerMachine, headMachine]) {
      const c = withTransitionTable(m);
      expect(c).not.toBe(m);
      expect(c.id).toBe(m.id);
      expect(c.config).toBe(m.config);
    }
    const nested = setup({}).createMachine({ initial: 'a', states: { a: { initial: 'x', states: { x: {} } } } });
    // an eventless transition with a built-in action: taken after every event, so the whole machine is xstate's
    const eventless = setup({}).createMachine({
      context: { n: 0 },
      initial: 'a',
      states: { a: { always: { target: 'b', actions: assign({ n: 1 }) } }, b: {} },
    });
    const wildcard = setup({}).createMachine({ initial: 'a', states: { a: { on: { '*': { target: 'b' } } }, b: {} } });
    for (const m of [nested, eventless, wildcard]) expect(withTransitionTable(m)).toBe(m);
  });
});

describe('a training under either interpreter', () => {
  const json = referenceCases().find((c) => c.name === 'dni')!.json;
  const c = loadCase({ ...json, config: { ...json.config, delay: 1 } });

  it.each(['queue', 'async', 'worker'] as const)('%s: same bits, and (queue) the same inspection trace', async (scheduler) => {
    const run = async (interpreter: 'table' | 'xstate') => {
      const trace: string[] = [];
      const inspect = (e: InspectionEvent) => {
        const id = (e.actorRef as { id?: string }).id;
        const ev = (e as { event?: { type: string; batch?: number } }).event;
        if (e.type === '@xstate.action') trace.push(`${id} action ${e.action.type}`);
        else if (e.type === '@xstate.snapshot')
          trace.push(`${id} snapshot ${JSON.stringify((e.snapshot as { value?: unknown }).value)} after ${ev?.type}#${ev?.batch}`);
        else if (e.type === '@xstate.microstep') trace.push(`${id} microstep ${ev?.type}#${ev?.batch}`);
        else if (e.type === '@xstate.event') trace.push(`${id} event ${ev?.type}#${ev?.batch}`);
      };
      const result = await train({
        topology: c.topology,
        data: c.data,
        params: c.initial,
        steps: 30,
        scheduler,
        interpreter,
        inspect: scheduler === 'queue' ? inspect : undefined,
      });
      return { result, trace };
    };
    const a = await run('xstate'),
      b = await run('table');
    expect(Array.from(b.result.losses)).toEqual(Array.from(a.result.losses));
    for (const k of Object.keys(a.result.params)) expect(b.result.params[k].data, k).toEqual(a.result.params[k].data);
    if (scheduler === 'queue') {
      expect(a.trace.length).toBeGreaterThan(30 * 11 * 3);
      expect(b.trace).toEqual(a.trace);
    }
  });

  it.each(['queue', 'worker'] as const)(
    '%s: a graph with complete unlocks (its layers on the transition table, eventless transitions and all): same bits',
    async (scheduler) => {
      expect(networkMachines('table').unlockedLayer).not.toBe(unlockedLayerMachine);
      const u = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-unlock.json'), 'utf8')), 'graph-unlock');
      // (the order in which actors interleave is not the same from one run to the next here, under either interpreter: bits only)
      const run = (interpreter: 'table' | 'xstate') =>
        train({ topology: u.topology, data: u.data, params: u.initial, steps: 40, scheduler, interpreter });
      const a = await run('xstate'),
        b = await run('table');
      expect(Array.from(b.losses)).toEqual(Array.from(a.losses));
      expect(Array.from(b.synthesizerLosses)).toEqual(Array.from(a.synthesizerLosses));
      for (const k of Object.keys(a.params)) expect(b.params[k].data, k).toEqual(a.params[k].data);
    },
  );

  it('refuses an unknown interpreter by name, before any work', () => {
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'fast' as never })).toThrow(
      /unknown interpreter "fast" \(expected one of table, xstate\)/,
    );
  });

  it("refuses the old name 'compiled', naming the new one, before any work", () => {
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'compiled' as never })).toThrow(
      TrainingOptionsError,
    );
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'compiled' as never })).toThrow(
      /interpreter 'compiled' is now called 'table'.*interpreter: 'table'/,
    );
  });
});
