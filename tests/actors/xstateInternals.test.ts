/**
 * xstate's private fields are used in one module (actors/machines/xstateInternals.ts), each checked at
 * load; here: the checks pass on the xstate this package pins, and what they guard behaves as
 * xstate's own for the network's real machines (snapshots answer matches, hasTag, can, toJSON alike).
 */
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, assign, createActor, not, setup } from 'xstate';
import { withTransitionTable } from '../../actors/machines/transitionTable.ts';
import { synthesizerMachine } from '../../actors/machines/synthesizerMachine.ts';
import {
  tableSnapshots,
  guardError,
  inState,
  isBuiltInAction,
  isHigherOrderGuard,
  parentOf,
  parentsAreKnown,
  stateFields,
  statelyStandIns,
} from '../../actors/machines/xstateInternals.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { zeros } from '../../lib/matrix.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { Edge, type LossMessage, type NetworkEvent } from '../../actors/machines/events.ts';
import { defineTopology } from '../../lib/topology.ts';
import * as api from '../../index.ts';
import * as inspect from '../../tools/inspector/index.ts';
import * as kernels from '../../kernels.ts';
import * as machines from '../../machines.ts';
import * as nats from '../../nats.ts';
import * as recurrent from '../../recurrent.ts';
import * as testing from '../../testing.ts';

describe('xstate internals', () => {
  it('check out on this xstate: table snapshots and microstep events, and parents', () => {
    expect(tableSnapshots).toBe(true);
    expect(parentsAreKnown).toBe(true);
  });

  it('a built snapshot answers as the one xstate makes, for the synthesizer machine (held prediction and back)', () => {
    const make = (logic: AnyStateMachine) => {
      const s = new Synthesizer(
        'synthesizer:0',
        { units: 2, conditioned: false, delay: 0, lr: 0.1, labels: 0 },
        zeros(2, 2),
        zeros(1, 2),
        null,
        1,
      );
      const prediction = {
        route: { key: 'p', type: 'SYNTHETIC_GRADIENT' as const, source: 's', target: 'l', slot: 0, edge: 0, rows: 1, cols: 2 },
        edge: new Edge<NetworkEvent>('p'),
      };
      return createActor(logic, {
        input: {
          synthesizer: s,
          index: 0,
          ports: { prediction, loss: new Edge<LossMessage>('l'), done: new Edge<number>('d') },
          labels: null,
        },
      }).start();
    };
    const a = make(synthesizerMachine),
      b = make(withTransitionTable(synthesizerMachine));
    const h = zeros(1, 2);
    const events = [
      { type: 'PREDICT' as const, batch: 0, h },
      { type: 'PREDICT' as const, batch: 1, h }, // held: target 0 missing
      { type: 'REFIT' as const, batch: 0, target: h },
      { type: 'REFIT' as const, batch: 1, target: h },
    ];
    const view = (s: ReturnType<typeof a.getSnapshot>) => [
      s.value,
      s.matches('ready'),
      s.matches('awaitingTarget'),
      s.hasTag('x' as never),
      s.can({ type: 'DRAIN' }),
      s.can({ type: 'REFIT', batch: 9, target: h }),
      JSON.stringify({ ...(s.toJSON() as object), context: undefined }),
    ];
    for (const e of events) {
      a.send(e);
      b.send(e);
      expect(view(b.getSnapshot())).toEqual(view(a.getSnapshot()));
    }
  });

  it('inState and stateFields give a snapshot in another state through public resolveState', () => {
    const fields = stateFields(synthesizerMachine, 'awaitingTarget');
    expect(fields.value).toBe('awaitingTarget');
    const s = inState(synthesizerMachine.resolveState({ value: 'ready', context: {} as never }), fields);
    expect(s.matches('awaitingTarget')).toBe(true);
  });

  it("knows each actor's parent: the stage's is the trainer, a layer's is its stage", () => {
    const t = createTraining({
      topology: defineTopology({ inputs: 2, batch: 1, layers: [{ units: 1 }] }),
      data: { x: zeros(2, 2), y: zeros(2, 1) },
      steps: 1,
    });
    t.actor.start();
    expect(parentOf(t.actor)).toBeUndefined();
    const stage = t.actor.system.get('stage:0')!;
    expect(parentOf(stage)).toBe(t.actor);
    expect(parentOf(t.actor.system.get('layer:0')!)).toBe(stage);
    t.actor.stop();
  });

  it("tell xstate's built-in actions and higher-order guards from the machine's own, and word a guard's failure as xstate does", () => {
    expect([
      isBuiltInAction(assign({})),
      isBuiltInAction(() => {}),
      isHigherOrderGuard(not(() => true)),
      isHigherOrderGuard(() => true),
    ]).toEqual([true, false, true, false]);
    const machine = setup({ guards: { g: () => false } }).createMachine({
      id: 'm',
      initial: 'a',
      states: {
        a: {
          on: {
            GO: {
              guard: () => {
                throw new Error('boom');
              },
            },
          },
        },
      },
    });
    const actor = createActor(machine);
    actor.subscribe({ error: () => {} });
    actor.start().send({ type: 'GO' });
    expect((actor.getSnapshot().error as Error).message).toBe(guardError(undefined, 'GO', 'm.a', new Error('boom')).message);
  });

  it("give Stately's stand-ins a parent where @statelyai/inspect reads it, and none when it would not read it", async () => {
    const { createInspector } = await import('@statelyai/inspect');
    const parent = { sessionId: 'p', getSnapshot: () => null };
    const fields = { sessionId: 'c', parent, getSnapshot: () => null };
    expect(statelyStandIns(createInspector as never)(fields)._parent).toBe(parent);
    // a package that takes the parent from elsewhere: no `_parent` is set (it would mean nothing)
    const other = (adapter: { send: (e: object) => void }) => ({
      actor: (ref: { sessionId: string }) => adapter.send({ sessionId: ref.sessionId }),
    });
    const made = statelyStandIns(other as never)(fields);
    expect(made._parent).toBeUndefined();
    expect(made.sessionId).toBe('c');
  });

  it('are not part of the public API, the root or any subpath (withTransitionTable included)', () => {
    for (const entry of [api, inspect, kernels, machines, nats, recurrent, testing]) {
      expect('withTransitionTable' in entry).toBe(false);
      expect('parentOf' in entry).toBe(false);
    }
  });
});
