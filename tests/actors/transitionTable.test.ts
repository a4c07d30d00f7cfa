/**
 * The table interpreter (actors/machines/transitionTable.ts) behaves as xstate's: for any sequence of events,
 * the same states, contexts, action calls (with their params), errors and inspection events; and
 * a training under either gives the same bits and the same trace.
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { type AnyStateMachine, type InspectionEvent, assign, createActor, setup } from 'xstate';
import { withTransitionTable } from '../../actors/machines/transitionTable.ts';
import { headMachine } from '../../actors/machines/headMachine.ts';
import { layerMachine } from '../../actors/machines/layerMachine.ts';
import { synthesizerMachine } from '../../actors/machines/synthesizerMachine.ts';
import { createTraining, train } from '../../actors/trainer/training.ts';
import { TrainingOptionsError } from '../../lib/errors.ts';
import { loadCase } from '../../lib/reference.ts';
import { referenceCases } from '../helpers.ts';

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
            { guard: { type: 'above', params: { limit: 3 } }, target: 'busy', actions: ['plain', { type: 'record', params: { tag: 'fixed', n: -1 } }] },
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

/** Run `events` through an actor of `logic`; everything observable, step by step. */
function observe(logic: AnyStateMachine, events: Ev[], log: string[]) {
  const inspected: string[] = [];
  // events sent after the final state: xstate warns (on the console); both interpreters must alike
  const warnings: string[] = [];
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warnings.push(String(args[0]).replace(/\(x:\d+\)|x:\d+/g, 'x')));
  const actor = createActor(logic, {
    inspect: (e: InspectionEvent) => {
      if (e.type === '@xstate.action') inspected.push(`action ${e.action.type} ${JSON.stringify(e.action.params)}`);
      else if (e.type === '@xstate.microstep') inspected.push(`microstep ${e.event.type} → ${JSON.stringify((e.snapshot as { value?: unknown }).value)} (${e._transitions.length})`);
      else if (e.type === '@xstate.snapshot') inspected.push(`snapshot ${JSON.stringify((e.snapshot as { value?: unknown }).value)} ${e.snapshot.status}`);
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
      matches: ['idle', 'busy', 'finished'].map((v) => s.matches(v as never)),
      hasTag: s.hasTag('working' as never),
      can: s.status === 'active' ? (['A', 'D', 'UNKNOWN'] as const).map((type) => s.can({ type, n: 2 })) : null,
      json: JSON.stringify(s.toJSON()),
    });
  }
  warn.mockRestore();
  return { steps, inspected, warnings };
}

describe('withTransitionTable', () => {
  it('behaves exactly as xstate on any sequence of events', () => {
    const eventArb = fc.record({ type: fc.constantFrom('A', 'B', 'C', 'D', 'BOOM', 'UNKNOWN' as const), n: fc.integer({ min: 0, max: 12 }) });
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (events) => {
        const logA: string[] = [], logB: string[] = [];
        const interpreted = observe(testMachine(logA), events as Ev[], logA);
        const tabled = observe(withTransitionTable(testMachine(logB)), events as Ev[], logB);
        expect(tabled).toEqual(interpreted);
      }),
      { numRuns: 400 },
    );
  });

  it('gives the network machines a transition table, and leaves a machine it cannot take as it is', () => {
    for (const m of [layerMachine, synthesizerMachine, headMachine]) {
      const c = withTransitionTable(m);
      expect(c).not.toBe(m);
      expect(c.id).toBe(m.id);
      expect(c.config).toBe(m.config);
    }
    const nested = setup({}).createMachine({ initial: 'a', states: { a: { initial: 'x', states: { x: {} } } } });
    const eventless = setup({}).createMachine({ initial: 'a', states: { a: { always: { target: 'b' } }, b: {} } });
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
        else if (e.type === '@xstate.snapshot') trace.push(`${id} snapshot ${JSON.stringify((e.snapshot as { value?: unknown }).value)} after ${ev?.type}#${ev?.batch}`);
        else if (e.type === '@xstate.microstep') trace.push(`${id} microstep ${ev?.type}#${ev?.batch}`);
        else if (e.type === '@xstate.event') trace.push(`${id} event ${ev?.type}#${ev?.batch}`);
      };
      const result = await train({ topology: c.topology, data: c.data, params: c.initial, steps: 30, scheduler, interpreter, inspect: scheduler === 'queue' ? inspect : undefined });
      return { result, trace };
    };
    const a = await run('xstate'), b = await run('table');
    expect(Array.from(b.result.losses)).toEqual(Array.from(a.result.losses));
    for (const k of Object.keys(a.result.params)) expect(b.result.params[k].data, k).toEqual(a.result.params[k].data);
    if (scheduler === 'queue') {
      expect(a.trace.length).toBeGreaterThan(30 * 11 * 3);
      expect(b.trace).toEqual(a.trace);
    }
  });

  it('refuses an unknown interpreter by name, before any work', () => {
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'fast' as never })).toThrow(/unknown interpreter "fast" \(expected one of table, xstate\)/);
  });

  it("refuses the old name 'compiled', naming the new one, before any work", () => {
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'compiled' as never })).toThrow(TrainingOptionsError);
    expect(() => createTraining({ topology: c.topology, data: c.data, steps: 1, interpreter: 'compiled' as never })).toThrow(/interpreter 'compiled' is now called 'table'.*interpreter: 'table'/);
  });
});
