/**
 * The trainer: the single root actor. It spawns one actor per layer (`layer:i`), one per
 * synthesizer (`synthesizer:i`) and the head (`head`), connects them with rxjs edges under the
 * chosen scheduler, feeds the batches, and drains the synthesizers' pending refits at the end.
 *
 *   idle ──START──▶ training ──BATCHES_DONE──▶ draining ──(every synthesizer drained)──▶ done
 *   any child error ──▶ failed
 */
import { Subscription } from 'rxjs';
import { type ActorRefFrom, assign, setup } from 'xstate';
import type { Dataset } from '../lib/data.ts';
import { History } from '../lib/history.ts';
import { HEAD_ID, type Network, layerId, synthesizerId } from '../lib/network.ts';
import { headMachine } from './headMachine.ts';
import { layerMachine } from './layerMachine.ts';
import { synthesizerMachine } from './synthesizerMachine.ts';
import type { Scheduling } from './schedulers.ts';
import { type NetworkPorts, connect, createPorts } from './wiring.ts';

export interface TrainerInput {
  network: Network;
  data: Dataset;
  steps: number;
  scheduling: Scheduling;
}

export interface TrainerContext {
  readonly network: Network;
  readonly data: Dataset;
  readonly steps: number;
  readonly scheduling: Scheduling;
  readonly ports: NetworkPorts;
  readonly history: History;
  readonly layers: ActorRefFrom<typeof layerMachine>[];
  readonly synthesizers: (ActorRefFrom<typeof synthesizerMachine> | null)[];
  readonly head: ActorRefFrom<typeof headMachine>;
  /** the edges' subscriptions, closed when training ends */
  readonly links: Subscription;
  drained: number;
  error: unknown;
}

export type TrainerEvent =
  | { type: 'START' }
  | { type: 'BATCHES_DONE' }
  | { type: 'STOP' }
  /** a child actor threw (a DivergenceError, a bad message): training fails with its error */
  | { type: `xstate.error.actor.${string}`; error: unknown }
  /** a synthesizer reached its final state: its pending refits are applied */
  | { type: `xstate.done.actor.${string}` };

export const trainerMachine = setup({
  types: {
    input: {} as TrainerInput,
    context: {} as TrainerContext,
    events: {} as TrainerEvent,
  },
  actors: { layer: layerMachine, synthesizer: synthesizerMachine, head: headMachine },
  actions: {
    connectInterfaces: ({ context: c, self }) => {
      c.links.add(
        connect({ ...c, topology: c.network.topology, onBatchesDone: () => self.send({ type: 'BATCHES_DONE' }) }),
      );
    },
    feedFirstBatch: ({ context: c }) => c.ports.source.next(0),
    drainSynthesizers: ({ context: c }) => {
      for (const s of c.synthesizers) s?.send({ type: 'DRAIN' });
    },
    countDrained: assign({ drained: ({ context }) => context.drained + 1 }),
    disconnect: ({ context }) => context.links.unsubscribe(),
    recordFailure: assign({ error: ({ event }) => ('error' in event ? event.error : event) }),
  },
  guards: {
    noSteps: ({ context }) => context.steps === 0,
    allDrained: ({ context }) => context.drained === context.synthesizers.filter(Boolean).length,
  },
}).createMachine({
  id: 'trainer',
  context: ({ input, spawn }) => {
    const { network } = input;
    const ports = createPorts(network.topology);
    return {
      ...input,
      ports,
      history: new History(input.steps, network.topology.layers.flatMap((l) => (l.synthesizer ? [l.index] : []))),
      layers: network.layers.map((layer, i) =>
        spawn('layer', { id: layerId(i), systemId: layerId(i), input: { layer, ports: ports.layers[i] } }),
      ),
      synthesizers: network.synthesizers.map((synthesizer, i) =>
        synthesizer
          ? spawn('synthesizer', { id: synthesizerId(i), systemId: synthesizerId(i), input: { synthesizer, ports: ports.synthesizers[i]! } })
          : null,
      ),
      head: spawn('head', { id: HEAD_ID, systemId: HEAD_ID, input: { head: network.head, ports: ports.head } }),
      links: new Subscription(),
      drained: 0,
      error: null,
    };
  },
  initial: 'idle',
  on: {
    'xstate.error.actor.*': { target: '.failed', actions: 'recordFailure' },
  },
  states: {
    idle: {
      on: { START: [{ guard: 'noSteps', target: 'draining' }, { target: 'training' }] },
    },
    training: {
      entry: ['connectInterfaces', 'feedFirstBatch'],
      on: { BATCHES_DONE: 'draining', STOP: 'stopped' },
    },
    draining: {
      entry: 'drainSynthesizers',
      always: { guard: 'allDrained', target: 'done' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' } },
    },
    done: { type: 'final', entry: 'disconnect' },
    stopped: { type: 'final', entry: 'disconnect' },
    failed: { type: 'final', entry: 'disconnect' },
  },
});
