/**
 * An actor publishes what it holds of each route's messages (its Backlog), which its stage's queue
 * gauge reads: the stage never reads an actor's context. Here: a synthesizer's held PREDICT is
 * counted while it waits for its target and no longer once predicted, under xstate and compiled.
 */
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, createActor } from 'xstate';
import { withTransitionTable } from '../../actors/machines/transitionTable.ts';
import { type Backlog, Edge, type LossMessage, type NetworkEvent, type Route } from '../../actors/machines/events.ts';
import { synthesizerMachine } from '../../actors/machines/synthesizerMachine.ts';
import { zeros } from '../../lib/matrix.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';

const route = (type: Route['type']): Route => ({
  key: `${type}>synthesizer:0`,
  type,
  source: 'layer:0',
  target: 'synthesizer:0',
  slot: 0,
  edge: 0,
  rows: 1,
  cols: 2,
});

describe.each([
  ['xstate', synthesizerMachine as AnyStateMachine],
  ['table', withTransitionTable(synthesizerMachine) as AnyStateMachine],
])('a synthesizer publishes its backlog (%s)', (_name, logic) => {
  it('a held PREDICT counts 1 until its target comes in; other routes count nothing', () => {
    const s = new Synthesizer(
      'synthesizer:0',
      { units: 2, conditioned: false, delay: 0, lr: 0.1, labels: 0 },
      zeros(2, 2),
      zeros(1, 2),
      null,
      1,
    );
    const prediction = {
      route: {
        key: 'p',
        type: 'SYNTHETIC_GRADIENT' as const,
        source: 'synthesizer:0',
        target: 'layer:0',
        slot: 0,
        edge: 0,
        rows: 1,
        cols: 2,
      },
      edge: new Edge<NetworkEvent>('p'),
    };
    let backlog: Backlog | null = null;
    const actor = createActor(logic, {
      input: {
        synthesizer: s,
        index: 0,
        ports: { prediction, loss: new Edge<LossMessage>('l'), done: new Edge<number>('d') },
        labels: null,
        publishBacklog: (b: Backlog) => (backlog = b),
      },
    }).start();
    expect(backlog).not.toBeNull();
    const held = () => [backlog!(route('PREDICT')), backlog!(route('REFIT'))];
    const h = zeros(1, 2);
    actor.send({ type: 'PREDICT', batch: 0, h });
    expect(held()).toEqual([0, 0]);
    actor.send({ type: 'PREDICT', batch: 1, h }); // held: the target of batch 0 is missing
    expect(actor.getSnapshot().value).toBe('awaitingTarget');
    expect(held()).toEqual([1, 0]);
    actor.send({ type: 'REFIT', batch: 0, target: h }); // completes it: predicted
    expect(actor.getSnapshot().value).toBe('ready');
    expect(held()).toEqual([0, 0]);
    actor.stop();
  });
});
