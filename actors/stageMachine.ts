/**
 * A pipeline stage: the root actor inside a worker thread. It spawns the stage's share of the
 * layers, synthesizers and head (same machines, same systemIds as in one thread), connects them
 * to each other and, through a {@link StageLink}, to the neighbouring stages, and reports losses,
 * the end of its batches and its drained parameters to the trainer on the main thread.
 *
 *   idle ──START──▶ running ──DRAIN──▶ draining ──(its synthesizers drained)──▶ drained
 *   any child error ──▶ failed
 */
import { Subscription } from 'rxjs';
import { type AnyActorRef, assign, setup } from 'xstate';
import type { Dataset } from '../lib/data.ts';
import type { Network } from '../lib/network.ts';
import type { Stage } from '../lib/placement.ts';
import type { LossMessage } from './edge.ts';
import { headMachine } from './headMachine.ts';
import { layerMachine } from './layerMachine.ts';
import type { Scheduling } from './schedulers.ts';
import { spawnNetworkActors } from './spawn.ts';
import { synthesizerMachine } from './synthesizerMachine.ts';
import type { StageLink } from './transport.ts';
import { type NetworkPorts, QueueGauge, connect, createPorts } from './wiring.ts';

/** What a stage tells the trainer. */
export type StageReport =
  | { kind: 'loss'; source: 'head' | number; message: LossMessage }
  | { kind: 'finished' }
  | { kind: 'drained'; queues: Record<string, number> }
  | { kind: 'failed'; error: unknown };

export interface StageInput {
  network: Network;
  data: Dataset;
  steps: number;
  stage: Stage;
  scheduling: Scheduling;
  link: StageLink;
  report: (r: StageReport) => void;
}

interface StageContext extends StageInput {
  readonly ports: NetworkPorts;
  readonly actors: ReadonlyMap<string, AnyActorRef>;
  readonly synthesizers: readonly AnyActorRef[];
  readonly links: Subscription;
  readonly gauge: QueueGauge;
  drained: number;
}

export type StageEvent =
  | { type: 'START' }
  | { type: 'DRAIN' }
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}` };

export const stageMachine = setup({
  types: { input: {} as StageInput, context: {} as StageContext, events: {} as StageEvent },
  actors: { layer: layerMachine, synthesizer: synthesizerMachine, head: headMachine },
  actions: {
    connectInterfaces: ({ context: c }) => {
      c.links.add(
        connect({
          ...c,
          topology: c.network.topology,
          sendRemote: (d) => c.link.send(d),
          incoming: c.link.incoming,
          onLoss: (source, message) => c.report({ kind: 'loss', source, message }),
          onFinished: () => c.report({ kind: 'finished' }),
        }),
      );
      if (c.actors.has('layer:0') && c.steps > 0) c.ports.source.next(0);
    },
    drainSynthesizers: ({ context }) => {
      for (const s of context.synthesizers) s.send({ type: 'DRAIN' });
    },
    countDrained: assign({ drained: ({ context }) => context.drained + 1 }),
    reportDrained: ({ context }) => context.report({ kind: 'drained', queues: context.gauge.toJSON() }),
    reportFailure: ({ context, event }) => context.report({ kind: 'failed', error: 'error' in event ? event.error : event }),
    disconnect: ({ context }) => context.links.unsubscribe(),
  },
  guards: {
    allDrained: ({ context }) => context.drained === context.synthesizers.length,
  },
}).createMachine({
  id: 'stage',
  context: ({ input, spawn }) => {
    const ports = createPorts(input.network.topology);
    const here = new Set(input.stage.actors);
    const { byId, synthesizers } = spawnNetworkActors(spawn, input.network, ports, (id) => here.has(id));
    return { ...input, ports, actors: byId, synthesizers, links: new Subscription(), gauge: new QueueGauge(), drained: 0 };
  },
  initial: 'idle',
  on: { 'xstate.error.actor.*': { target: '.failed' } },
  states: {
    idle: { on: { START: 'running', DRAIN: 'draining' } },
    running: { entry: 'connectInterfaces', on: { DRAIN: 'draining' } },
    draining: {
      entry: 'drainSynthesizers',
      always: { guard: 'allDrained', target: 'drained' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' } },
    },
    drained: { type: 'final', entry: ['disconnect', 'reportDrained'] },
    failed: { type: 'final', entry: ['disconnect', 'reportFailure'] },
  },
});
