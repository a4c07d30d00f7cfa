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
import type { Worker } from 'node:worker_threads';
import { type AnyActorRef, assign, setup } from 'xstate';
import type { NetworkState, TrainingState } from '../lib/checkpoint.ts';
import type { Dataset } from '../lib/data.ts';
import { History, type HistorySnapshot, type StepMetrics } from '../lib/history.ts';
import { type Network, optimizerOwners } from '../lib/network.ts';
import type { Stage } from '../lib/placement.ts';
import { Edge } from './events.ts';
import type { TraceEvent } from './inspection.ts';
import { type Interpreter, networkMachines } from './machines.ts';
import { QueueGauge } from './queueGauge.ts';
import { prepareStages, remoteStage } from './remoteStage.ts';
import type { Scheduling } from './schedulers.ts';
import { stageMachine } from './stageMachine.ts';
import type { StageCommand, StageReport } from './stageProtocol.ts';

export interface TrainerInput {
  network: Network;
  data: Dataset;
  steps: number;
  scheduling: Scheduling;
  /** worker stages, one thread each; null for one stage in this thread */
  stages: readonly Stage[] | null;
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
}

export interface TrainerContext {
  readonly network: Network;
  readonly data: Dataset;
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
  /** the last batch the stages may feed before the trainer lets them go on */
  readonly allowance: number;
  /** when training started (performance.now()) */
  readonly clock: { started: number };
  drained: number;
  error: unknown;
}

export type TrainerEvent =
  | { type: 'START' }
  | { type: 'BATCHES_DONE' }
  | { type: 'STOP' }
  /** something outside the actors failed (writing a checkpoint): training fails with its error */
  | { type: 'FAIL'; error: unknown }
  | { type: 'STAGE_DRAINED'; stage: number }
  | { type: 'STAGE_FAILED'; stage: number; error: unknown }
  /** a child actor threw: training fails with its error */
  | { type: `xstate.error.actor.${string}`; error: unknown }
  | { type: `xstate.done.actor.${string}` };

/** The last batch that may enter once `step`'s cut (or the start) is behind: the batch before the next cut, or the last. */
function allowanceAfter(step: number, steps: number, cuts: readonly number[]): number {
  const next = cuts.find((c) => c > step);
  return (next ?? steps) - 1;
}

export const trainerMachine = setup({
  types: {
    input: {} as TrainerInput,
    context: {} as TrainerContext,
    events: {} as TrainerEvent,
  },
  actors: { stage: stageMachine, remoteStage },
  actions: {
    startStages: ({ context }) => {
      context.clock.started = performance.now();
      for (const s of context.stages) s.send({ type: 'START' } satisfies StageCommand);
      for (const s of context.stages) s.send({ type: 'ALLOW', through: context.allowance } satisfies StageCommand);
    },
    drainStages: ({ context }) => {
      for (const s of context.stages) s.send({ type: 'DRAIN' } satisfies StageCommand);
    },
    countDrained: assign({ drained: ({ context }) => context.drained + 1 }),
    endMetrics: ({ context }) => context.metrics.complete(),
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
    const history = new History(steps, topology.heads.map((h) => h.weight), topology.synthesizers.length);
    if (input.resumedHistory) history.restore(input.resumedHistory);
    const metrics = new Edge<StepMetrics>('metrics');
    const gauge = new QueueGauge(), utilization: number[] = [], workers: Worker[] = [];
    const cuts = input.checkpoints?.steps ?? [];
    const stages: AnyActorRef[] = [];
    const broadcast = (c: StageCommand) => stages.forEach((s) => s.send(c));
    const count = input.stages?.length ?? 1;
    // each stage reports its batches in order, but stages run apart (and a worker's messages
    // may come many at once): a step is finished when the slowest stage has reported it
    const reported = new Array<number>(count).fill(firstBatch - 1);
    let finished = firstBatch - 1;
    const stageFinished = (stage: number, batch: number) => {
      reported[stage] = batch;
      const upTo = Math.min(...reported);
      while (finished < upTo) {
        const t = ++finished;
        metrics.next(history.finish(t));
        if (t + 1 >= steps) self.send({ type: 'BATCHES_DONE' });
        else if (cuts.includes(t + 1)) broadcast({ type: 'CAPTURE', step: t + 1 });
      }
    };
    // each stage's share of a cut, until every stage has sent its own
    const parts = new Map<number, NetworkState[]>();
    const onCut = (step: number, part: NetworkState) => {
      const all = [...(parts.get(step) ?? []), part];
      if (all.length < count) return void parts.set(step, all);
      parts.delete(step);
      const merged: NetworkState = { params: {}, optimizers: {}, synthesizers: {} };
      for (const p of all) for (const k of ['params', 'optimizers', 'synthesizers'] as const) Object.assign(merged[k], p[k]);
      try {
        input.checkpoints!.save({ topology, step, ...merged, history: history.snapshot(step), rng: null });
      } catch (error) {
        return self.send({ type: 'FAIL', error });
      }
      broadcast({ type: 'ALLOW', through: allowanceAfter(step, steps, cuts) });
    };
    const report = (r: StageReport): void => {
      switch (r.type) {
        case 'LOSS':
          if (r.kind === 'head') history.recordHeadLoss(r.index, r.batch, r.loss, r.accuracy);
          else history.recordSynthesizerLoss(r.index, r.batch, r.loss);
          return;
        case 'STEP_FINISHED':
          return stageFinished(r.stage, r.batch);
        case 'CUT':
          return onCut(r.step, r.state);
        case 'DRAINED': {
          // a worker trained copies: take its actors' parameters and optimiser states back
          for (const [k, m] of Object.entries(r.state.params)) network.params[k].data.set(m.data);
          for (const owner of optimizerOwners(network)) if (r.state.optimizers[owner.id]) owner.optimizer.setState(r.state.optimizers[owner.id]);
          gauge.merge(r.queues);
          if (r.utilization !== null) utilization[r.stage] = r.utilization;
          return self.send({ type: 'STAGE_DRAINED', stage: r.stage });
        }
        case 'FAILED':
          return self.send({ type: 'STAGE_FAILED', stage: r.stage, error: r.error });
        case 'TRACE':
          return input.relay && r.events.forEach(input.relay);
      }
    };
    if (!input.stages) {
      const stage = { index: 0, actors: [...topology.nodes.map((n) => n.actor), ...topology.synthesizers.map((s) => s.actor), ...topology.heads.map((h) => h.actor)] };
      stages.push(
        spawn('stage', {
          id: 'stage:0',
          systemId: 'stage:0',
          input: { stage, network, data, steps, firstBatch, scheduling: input.scheduling, link: null, report },
        }),
      );
    } else {
      const prepared = prepareStages(network, data, steps, input.stages, { inspect: Boolean(input.relay), interpreter: input.interpreter, firstBatch });
      for (const { init, transfer } of prepared) {
        const id = `stage:${init.stage.index}`;
        stages.push(spawn('remoteStage', { id, systemId: id, input: { init, transfer, report, onWorker: (w) => (workers[init.stage.index] = w) } }));
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
      allowance: allowanceAfter(firstBatch - 1, steps, cuts),
      clock: { started: performance.now() },
      drained: 0,
      error: null,
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
      on: { START: [{ guard: 'noSteps', target: 'draining' }, { target: 'training' }] },
    },
    training: {
      entry: 'startStages',
      on: { BATCHES_DONE: 'draining', STOP: 'stopped' },
    },
    draining: {
      entry: 'drainStages',
      always: { guard: 'allDrained', target: 'done' },
      on: { STAGE_DRAINED: { actions: 'countDrained' } },
    },
    done: { type: 'final', entry: 'endMetrics' },
    stopped: { type: 'final', entry: 'endMetrics' },
    failed: { type: 'final', entry: 'endMetrics' },
  },
});

/** The trainer with its stages' machines interpreted as `interpreter` says. */
export function trainerFor(interpreter: Interpreter) {
  return trainerMachine.provide({ actors: { stage: stageMachine.provide({ actors: networkMachines(interpreter) }), remoteStage } });
}
