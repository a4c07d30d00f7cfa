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
import { networkMachines } from './machines.ts';
import type { Scheduling } from './schedulers.ts';
import { spawnNetworkActors } from './spawn.ts';
import type { StageLink } from './transport.ts';
import { type NetworkPorts, QueueGauge, connect, createPorts } from './wiring.ts';

/** What a stage tells the trainer. */
export type StageReport =
  | { kind: 'loss'; source: 'head' | number; message: LossMessage }
  | { kind: 'finished' }
  | { kind: 'drained'; queues: Record<string, number> }
  | { kind: 'failed'; error: unknown }
  | { kind: 'cut'; step: number };

export interface StageInput {
  network: Network;
  data: Dataset;
  steps: number;
  /** the first batch to train */
  firstBatch: number;
  /** checkpoint cuts: before these batches, the stage reports `cut` once its actors finished the batch before */
  cuts: readonly number[];
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
  /** feeds the batch held back at a cut */
  readonly control: { resume: (step: number) => void };
  drained: number;
}

export type StageEvent =
  | { type: 'START' }
  | { type: 'RESUME'; step: number }
  | { type: 'DRAIN' }
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}` };

export const stageMachine = setup({
  types: { input: {} as StageInput, context: {} as StageContext, events: {} as StageEvent },
  actors: networkMachines(),
  actions: {
    connectInterfaces: ({ context: c }) => {
      const connected = connect({
        ...c,
        topology: c.network.topology,
        sendRemote: (d) => c.link.send(d),
        incoming: c.link.incoming,
        onLoss: (source, message) => c.report({ kind: 'loss', source, message }),
        onFinished: () => c.report({ kind: 'finished' }),
        cuts: c.cuts.length ? { due: (t) => c.cuts.includes(t), onCut: (step) => c.report({ kind: 'cut', step }) } : undefined,
      });
      c.links.add(connected.links);
      c.control.resume = connected.resume;
      connected.start();
    },
    resumeFeeding: ({ context, event }) => event.type === 'RESUME' && context.control.resume(event.step),
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
    return { ...input, ports, actors: byId, synthesizers, links: new Subscription(), gauge: new QueueGauge(), control: { resume: () => {} }, drained: 0 };
  },
  initial: 'idle',
  on: { 'xstate.error.actor.*': { target: '.failed' } },
  states: {
    idle: { on: { START: 'running', DRAIN: 'draining' } },
    running: { entry: 'connectInterfaces', on: { DRAIN: 'draining', RESUME: { actions: 'resumeFeeding' } } },
    draining: {
      entry: 'drainSynthesizers',
      always: { guard: 'allDrained', target: 'drained' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' } },
    },
    drained: { type: 'final', entry: ['disconnect', 'reportDrained'] },
    failed: { type: 'final', entry: ['disconnect', 'reportFailure'] },
  },
});
