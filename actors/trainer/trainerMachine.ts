/**
 * The trainer: the single root actor. It trains through stages, always: one in-thread `stage:0`
 * holding every actor (queue and async schedulers), or one `stage:k` per worker thread (worker
 * scheduler); both speak the stage protocol (stageProtocol.ts). It tells the stages how far they
 * may feed, and takes one stream back: every loss, and every batch a stage is done with. A batch
 * every stage is done with is a finished step, and the finished steps drive everything else: the
 * step's metrics, a checkpoint cut before the next step when one is due (every stage reports its
 * share of the state, the trainer saves it, then lets the stages feed on), and the end (the
 * stages drain their synthesizers' pending refits and report their state).
 *
 *   idle ──START──▶ training ──(the last step finished)──▶ draining ──(every stage drained)──▶ done
 *   any stage failure ──▶ failed          STOP ──▶ stopped
 */
import { stopChildrenAtOnce } from '../machines/xstateInternals.ts';
import type { Worker } from 'node:worker_threads';
import { Subscription } from 'rxjs';
import { type AnyActorRef, assign, setup } from 'xstate';
import type { TrainingState } from '../../lib/checkpoint/checkpoint.ts';
import { History, type HistorySnapshot, type StepMetrics } from '../../lib/history.ts';
import { type Model, type ModelData, actorIdsOf, historyShapeOf } from '../../lib/model.ts';
import type { Stage } from '../../lib/placement.ts';
import { Edge } from '../machines/events.ts';
import type { TraceEvent } from '../inspect/inspection.ts';
import { type Interpreter, networkMachines } from '../machines/machines.ts';
import { QueueGauge } from '../stage/queueGauge.ts';
import { NatsStagePool } from '../nats/natsPool.ts';
import { natsRunFor, natsStage } from '../nats/natsStage.ts';
import { prepareStages, remoteStage } from '../stage/remoteStage.ts';
import type { StageLease, StagePool } from '../stage/stagePool.ts';
import type { Scheduling } from '../schedulers/schedulers.ts';
import { stageMachine } from '../stage/stageMachine.ts';
import type { StageCommand } from '../stage/stageProtocol.ts';
import { type EpochPlan, TrainerProgress } from './trainerProgress.ts';
import type { MetricsSource } from './metrics.ts';

export interface TrainerInput {
  network: Model;
  data: ModelData;
  steps: number;
  scheduling: Scheduling;
  /** worker stages, one thread each; null for one stage in this thread */
  stages: readonly Stage[] | null;
  /** the pool whose threads (or NATS stage hosts) the worker stages run on (leased when the training starts) */
  pool?: StagePool | NatsStagePool | null;
  /** the worker stages are the default plan: they run as one where the machine gives one core's worth */
  adaptivePlan?: boolean;
  /** receives worker-hosted actors' inspection events, as trace lines */
  relay?: (line: TraceEvent) => void;
  /** the first batch to train (a resumed training's step; its network and history are already restored) */
  firstBatch: number;
  /** the losses of the steps before `firstBatch`, from the checkpoint */
  resumedHistory: HistorySnapshot | null;
  /** checkpoints: the steps to cut at, and what to do with the state there */
  checkpoints: { steps: readonly number[]; save: (state: TrainingState) => void } | null;
  /** how the network's machines are interpreted (here and in worker stages) */
  interpreter: Interpreter;
  /** a training in epochs (fit.ts): where the stages pause, and what happens there */
  epochs?: EpochPlan | null;
  /** where it publishes what its metrics stream reads (metrics.ts), as it is built */
  publishMetrics?: (source: MetricsSource) => void;
}

export interface TrainerContext {
  readonly network: Model;
  readonly data: ModelData;
  readonly steps: number;
  readonly scheduling: Scheduling;
  readonly firstBatch: number;
  readonly history: History;
  /** every finished step's metrics */
  readonly metrics: Edge<StepMetrics>;
  /** the `stage:k` actors */
  readonly stages: readonly AnyActorRef[];
  /** the stages' worker threads, in stage order (none for an in-thread stage) */
  readonly workers: Worker[];
  /** queue high-water marks per route, from every stage */
  readonly gauge: QueueGauge;
  /** with worker stages: the share of time each stage's thread was busy */
  readonly utilization: number[];
  /** what the stages report, turned into finished steps, cuts, the end and stops */
  readonly progress: TrainerProgress;
  /** the edges of an in-thread stage (closed when the training ends, however it ends) */
  readonly subscriptions: Subscription;
  /** when training started (performance.now()) */
  readonly clock: { started: number };
  /** ask the pool for the worker stages' threads (once, at START; a no-op without worker stages) */
  readonly leaseThreads: () => void;
  drained: number;
  error: unknown;
  /** why it was stopped (a STOP's reason) */
  reason: unknown;
}

export type TrainerEvent =
  | { type: 'START' }
  | { type: 'BATCHES_DONE' }
  /** stop at a consistent cut (saving a checkpoint there when `checkpoint` and the training saves them) */
  | { type: 'STOP'; checkpoint?: boolean; reason?: unknown }
  | { type: 'STOPPED' }
  /** something outside the actors failed (writing a checkpoint): training fails with its error */
  | { type: 'FAIL'; error: unknown }
  | { type: 'STAGE_DRAINED'; stage: number }
  | { type: 'STAGE_FAILED'; stage: number; error: unknown }
  /** a child actor threw: training fails with its error */
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}` };

export const trainerMachine = setup({
  types: {
    input: {} as TrainerInput,
    context: {} as TrainerContext,
    events: {} as TrainerEvent,
  },
  actors: { stage: stageMachine, remoteStage, natsStage },
  actions: {
    startStages: ({ context }) => {
      context.clock.started = performance.now();
      context.leaseThreads();
      const start = { type: 'START', cosine: context.metrics.observed } satisfies StageCommand;
      for (const s of context.stages) s.send(start);
      const allow = context.progress.firstAllow();
      for (const s of context.stages) s.send(allow);
    },
    drainStages: ({ context }) => {
      for (const s of context.stages) s.send({ type: 'DRAIN' } satisfies StageCommand);
    },
    haltStages: ({ context, event }) => context.progress.stop(event.type === 'STOP' && event.checkpoint !== false),
    recordReason: assign({ reason: ({ event }) => (event.type === 'STOP' ? event.reason : undefined) }),
    countDrained: assign({ drained: ({ context }) => context.drained + 1 }),
    end: ({ context }) => {
      context.progress.end();
      // an in-thread stage's edges: nothing more is delivered once the training has ended
      context.subscriptions.unsubscribe();
      context.metrics.complete();
      // the in-thread stage's actors: stopped here in linear time (xstate's stop of their stage is quadratic in their number)
      for (const s of context.stages) stopChildrenAtOnce(s);
    },
    recordFailure: assign({ error: ({ event }) => ('error' in event ? event.error : event) }),
  },
  guards: {
    noSteps: ({ context }) => context.firstBatch >= context.steps,
    allDrained: ({ context }) => context.drained === context.stages.length,
  },
}).createMachine({
  id: 'trainer',
  context: ({ input, spawn, self }) => {
    const { network, data, steps, firstBatch } = input;
    const topology = network.topology;
    const shape = historyShapeOf(topology);
    const history = new History(
      steps,
      shape.heads.map((h) => h.weight),
      shape.synthesizers,
      shape.auxiliaries,
    );
    if (input.resumedHistory) history.restore(input.resumedHistory);
    const metrics = new Edge<StepMetrics>('metrics');
    const clock = { started: performance.now() };
    input.publishMetrics?.({ steps: metrics, cosineOf: (index, batch) => history.cosineOf(index, batch), startedAt: () => clock.started });
    const gauge = new QueueGauge(),
      utilization: number[] = [],
      workers: Worker[] = [];
    const stages: AnyActorRef[] = [];
    const subscriptions = new Subscription();
    let leaseThreads = () => {};
    const progress = new TrainerProgress({
      network,
      history,
      metrics,
      steps,
      firstBatch,
      stages: input.stages?.length ?? 1,
      checkpoints: input.checkpoints,
      epochs: input.epochs,
      gauge,
      utilization,
      relay: input.relay,
      broadcast: (c) => stages.forEach((s) => s.send(c)),
      send: (e) => self.send(e),
    });
    const report = progress.report;
    if (!input.stages) {
      const stage = { index: 0, actors: actorIdsOf(topology) };
      stages.push(
        spawn('stage', {
          id: 'stage:0',
          systemId: 'stage:0',
          input: { stage, network, data, steps, firstBatch, scheduling: input.scheduling, link: null, report, subscriptions },
        }),
      );
    } else if (input.pool instanceof NatsStagePool) {
      const run = natsRunFor(input.pool, network, data, steps, input.stages, { interpreter: input.interpreter, firstBatch });
      for (const st of input.stages)
        stages.push(
          spawn('natsStage', { id: `stage:${st.index}`, systemId: `stage:${st.index}`, input: { run, stage: st.index, report } }),
        );
    } else {
      const adaptive = input.adaptivePlan ?? false,
        count = input.stages.length,
        pool = input.pool;
      if (!pool) throw new Error('trainer: worker stages need a stage pool');
      const prepared = prepareStages(network, data, steps, input.stages, {
        inspect: Boolean(input.relay),
        interpreter: input.interpreter,
        firstBatch,
        adaptive,
      });
      // the threads are asked for at START: a training built and never run holds none
      const lease = new Promise<StageLease>(
        (resolve, reject) => (leaseThreads = () => pool.lease(count, { probe: adaptive }).then(resolve, reject)),
      );
      for (const p of prepared) {
        const id = `stage:${p.init.stage.index}`;
        stages.push(
          spawn('remoteStage', { id, systemId: id, input: { ...p, lease, report, onWorker: (w) => (workers[p.init.stage.index] = w) } }),
        );
      }
    }
    return {
      network,
      data,
      steps,
      scheduling: input.scheduling,
      firstBatch,
      history,
      metrics,
      stages,
      workers,
      gauge,
      utilization,
      progress,
      subscriptions,
      clock,
      leaseThreads,
      drained: 0,
      error: null,
      reason: undefined,
    };
  },
  initial: 'idle',
  on: {
    'xstate.error.actor.*': { target: '.failed', actions: 'recordFailure' },
    STAGE_FAILED: { target: '.failed', actions: 'recordFailure' },
    FAIL: { target: '.failed', actions: 'recordFailure' },
  },
  states: {
    idle: {
      on: {
        START: [{ guard: 'noSteps', target: 'draining' }, { target: 'training' }],
        STOP: { target: 'stopped', actions: 'recordReason' },
      },
    },
    training: {
      entry: 'startStages',
      on: { BATCHES_DONE: 'draining', STOP: { target: 'stopping', actions: 'recordReason' } },
    },
    // the stages feed nothing new; every batch fed finishes (and is saved, when asked)
    stopping: {
      entry: 'haltStages',
      on: { STOPPED: 'stopped' },
    },
    draining: {
      entry: 'drainStages',
      always: { guard: 'allDrained', target: 'done' },
      on: { STAGE_DRAINED: { actions: 'countDrained' } },
    },
    done: { type: 'final', entry: 'end' },
    stopped: { type: 'final', entry: 'end' },
    failed: { type: 'final', entry: 'end' },
  },
});

/** The trainer with its stages' machines interpreted as `interpreter` says. */
export function trainerFor(interpreter: Interpreter) {
  return trainerMachine.provide({
    actors: { stage: stageMachine.provide({ actors: networkMachines(interpreter) }), remoteStage, natsStage },
  });
}
