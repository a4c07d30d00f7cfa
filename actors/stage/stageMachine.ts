/**
 * A stage: a set of the network's actors that run in one thread, and everything that connects
 * them. The trainer always trains through stages: in one thread there is one stage holding every
 * actor and no link; with the worker scheduler each worker thread runs one stage, linked to the
 * others. Either way the stage
 *
 * - spawns its layers, synthesizers and heads (systemIds `layer:…`, `synthesizer:…`, `head…`);
 * - makes an rxjs {@link Edge} for every route its actors send on, each carrying the receiving
 *   actor's events, observed on the scheduler (`deliverOn`) when the target lives here, or handed
 *   to the {@link StageLink} when it lives on another stage (events from other stages come in on
 *   the link, observed on the same scheduler);
 * - feeds its layers that read the data, batch by batch, as far as the trainer allows
 *   (`ALLOW`): pipelined, batch t+1 once those layers have applied their update for batch t;
 *   otherwise once batch t is finished here;
 * - reports every loss and every batch its actors are all done with (`STEP_FINISHED`): the one
 *   stream that drives the trainer's metrics, checkpoint cuts and end.
 *
 *   idle ──START──▶ running ──DRAIN──▶ draining ──(its synthesizers drained)──▶ drained
 *   running: ALLOW (feed further, at an epoch's learning rates), CAPTURE (report the state at a
 *   cut), END_EPOCH (apply the synthesizers' pending refits, then report the state)
 *   any child error ──▶ failed
 */
import { Subscription, tap } from 'rxjs';
import { type AnyActorRef, setup } from 'xstate';
import { applyLearningRates } from '../../lib/lr-schedule.ts';
import { type Model, type ModelData, captureModelState, isRecurrentModel } from '../../lib/model.ts';
import type { Stage } from '../../lib/placement.ts';
import { deliverOn } from '../schedulers/directScheduler.ts';
import type { Backlog, Edge, LossMessage, NetworkEvent, Route } from '../machines/events.ts';
import { networkMachines } from '../machines/machines.ts';
import { QueueGauge } from './queueGauge.ts';
import { type Feeder, StepCounter, stepWindow } from './stageFeeder.ts';
import type { Scheduling } from '../schedulers/schedulers.ts';
import type { StageCommand, StageReport } from './stageProtocol.ts';
import type { StageLink } from './stageLink.ts';
import { type Spawner, build } from './stageWiring.ts';

export interface StageInput {
  stage: Stage;
  network: Model;
  data: ModelData;
  steps: number;
  /** the first batch to train (a resumed training's step) */
  firstBatch: number;
  scheduling: Scheduling;
  /** to the other stages; null when this stage holds every actor */
  link: StageLink | null;
  report: (r: StageReport) => void;
  /** the share of the training this stage's thread was busy (worker stages) */
  utilization?: () => number;
  /** how the feeder gives the thread a turn (a worker stage: through its driver); default setImmediate */
  defer?: (fn: () => void) => void;
  /** whether something waits for such a turn now (a worker stage: a command); default never */
  waiting?: () => boolean;
  /** where its edges' subscriptions go (its owner may close them); default its own */
  subscriptions?: Subscription;
}

export interface StageContext extends StageInput {
  readonly routes: readonly Route[];
  /** the edge of every route whose source lives here (the data's included), by route key */
  readonly edges: ReadonlyMap<string, Edge<NetworkEvent>>;
  readonly losses: Edge<LossMessage>;
  /** each actor's "done with batch t" */
  readonly done: ReadonlyMap<string, Edge<number>>;
  /** the actors that live here, by systemId */
  readonly actors: ReadonlyMap<string, AnyActorRef>;
  /** what each of them published of the messages it has taken and not used yet, by systemId */
  readonly backlogs: ReadonlyMap<string, Backlog>;
  readonly synthesizers: readonly AnyActorRef[];
  /** its edges' subscriptions and teardowns, closed at once when it stops */
  readonly subscriptions: Subscription;
  readonly gauge: QueueGauge;
  readonly feeder: Feeder;
  /** whether its synthesizers that see the true gradient report their cosine (set at START) */
  readonly cosine: { on: boolean };
  /** how many of its actors report each batch done */
  readonly expected: number;
  drained: number;
}

export type StageEvent = StageCommand | { type: `xstate.error.actor.${string}`; error: unknown } | { type: `xstate.done.actor.${string}` };

/** An actor that holds no messages it has taken (a head, a readout). */
const NO_BACKLOG: Backlog = () => 0;

/** Connect every edge (on START): local targets through the scheduler, remote ones through the link. */
function connect(c: StageContext, readers: readonly string[]): void {
  const { scheduler } = c.scheduling;
  for (const r of c.routes) {
    const edge = c.edges.get(r.key);
    if (!edge) continue;
    const target = c.actors.get(r.target);
    if (target) {
      const counter = c.gauge.route(r.key),
        backlog = c.backlogs.get(r.target) ?? NO_BACKLOG;
      c.subscriptions.add(
        edge
          .pipe(
            tap(() => counter.sent()),
            deliverOn(scheduler),
          )
          .subscribe((e) => {
            counter.delivered(backlog(r));
            target.send(e);
          }),
      );
    } else if (c.link) {
      const link = c.link;
      c.subscriptions.add(edge.subscribe((e) => link.send(r, e)));
    } else throw new Error(`stage:${c.stage.index}: no actor '${r.target}' here and no link to the stage that has it`);
  }
  if (c.link) {
    c.subscriptions.add(
      c.link.incoming.pipe(deliverOn(scheduler)).subscribe({
        next: (a) => {
          const target = c.actors.get(a.route.target);
          if (!target) throw new Error(`stage:${c.stage.index}: an event for '${a.route.target}', which does not live here`);
          c.gauge.observe(a.route.key, a.queued + (c.backlogs.get(a.route.target) ?? NO_BACKLOG)(a.route));
          target.send(a.event);
        },
        // a broken link (a message on no known route) fails the stage, by name
        error: (error) => c.report({ type: 'FAILED', stage: c.stage.index, error }),
      }),
    );
  }
  c.subscriptions.add(c.losses.subscribe(c.report));
  const steps = new StepCounter(c.expected, stepWindow(c.network.topology) + 1, (batch) => {
    c.report({ type: 'STEP_FINISHED', stage: c.stage.index, batch });
    c.feeder.stepFinished(batch);
  });
  const readerIndex = new Map<string, number>();
  readers.forEach((id, k) => readerIndex.has(id) || readerIndex.set(id, k));
  for (const [id, edge] of c.done) {
    const reader = readerIndex.get(id) ?? -1;
    c.subscriptions.add(edge.subscribe((batch) => steps.done(batch)));
    if (reader >= 0) c.subscriptions.add(edge.subscribe((batch) => c.feeder.readerUpdated(reader, batch)));
  }
}

export const stageMachine = setup({
  types: { input: {} as StageInput, context: {} as StageContext & { readers: readonly string[] }, events: {} as StageEvent },
  actors: networkMachines(),
  actions: {
    connect: ({ context }) => connect(context, context.readers),
    measure: ({ context }, e: { cosine?: boolean }) => void (context.cosine.on = e.cosine === true),
    allow: ({ context }, e: { through: number; lrFactor?: number }) => {
      // between batches (the stage feeds nothing past a cut until allowed): no actor is mid-update
      if (e.lrFactor !== undefined) {
        if (isRecurrentModel(context.network))
          throw new Error(`stage:${context.stage.index}: a learning-rate factor for a recurrent network (fit() trains chains and graphs)`);
        applyLearningRates(context.network, context.network.topology, e.lrFactor);
      }
      context.feeder.allow(e.through);
    },
    // an epoch's end: every batch before the cut is finished here, so every synthesizer is ready,
    // holding only refits whose targets are in; FLUSH applies them (each synthesizer handles it at once)
    flushSynthesizers: ({ context }) => {
      for (const s of context.synthesizers) s.send({ type: 'FLUSH' });
    },
    halt: ({ context: c }) => c.report({ type: 'HALTED', stage: c.stage.index, fed: c.feeder.halt() }),
    capture: ({ context: c }, e: { step: number }) =>
      c.report({ type: 'CUT', stage: c.stage.index, step: e.step, state: captureModelState(c.network, new Set(c.stage.actors)) }),
    drainSynthesizers: ({ context }) => {
      for (const s of context.synthesizers) s.send({ type: 'DRAIN' });
    },
    countDrained: ({ context }) => void context.drained++,
    reportDrained: ({ context: c }) =>
      c.report({
        type: 'DRAINED',
        stage: c.stage.index,
        state: captureModelState(c.network, new Set(c.stage.actors)),
        queues: c.gauge.toJSON(),
        utilization: c.utilization?.() ?? null,
      }),
    reportFailure: ({ context: c, event }) =>
      c.report({ type: 'FAILED', stage: c.stage.index, error: 'error' in event ? event.error : event }),
    disconnect: ({ context }) => context.subscriptions.unsubscribe(),
  },
  guards: {
    allDrained: ({ context }) => context.drained === context.synthesizers.length,
  },
}).createMachine({
  id: 'stage',
  context: ({ input, spawn }) => {
    const subscriptions = input.subscriptions ?? new Subscription();
    return { ...input, ...build(input, spawn as unknown as Spawner, subscriptions), subscriptions, gauge: new QueueGauge(), drained: 0 };
  },
  initial: 'idle',
  on: { 'xstate.error.actor.*': { target: '.failed' } },
  states: {
    idle: {
      on: {
        START: { target: 'running', actions: { type: 'measure', params: ({ event }) => event } },
        DRAIN: 'draining',
        HALT: { actions: 'halt' },
      },
    },
    running: {
      entry: 'connect',
      on: {
        ALLOW: { actions: { type: 'allow', params: ({ event }) => event } },
        CAPTURE: { actions: { type: 'capture', params: ({ event }) => event } },
        END_EPOCH: { actions: ['flushSynthesizers', { type: 'capture', params: ({ event }) => event }] },
        HALT: { actions: 'halt' },
        DRAIN: 'draining',
      },
    },
    draining: {
      entry: 'drainSynthesizers',
      always: { guard: 'allDrained', target: 'drained' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' } },
    },
    // not final states: a stage reports how it ended to the trainer itself (it speaks the same
    // protocol from a worker thread), and its trainer stops it
    drained: { entry: ['disconnect', 'reportDrained'] },
    failed: { entry: ['disconnect', 'reportFailure'] },
  },
});
