/**
 * The trainer: the single root actor. In one thread it spawns one actor per layer (`layer:i`),
 * one per synthesizer (`synthesizer:i`) and the head (`head`) and connects them with rxjs edges
 * under the chosen scheduler; with the worker scheduler it spawns one `stage:k` actor per
 * pipeline stage, each owning a worker thread in which that stage's layer, synthesizer and head
 * actors live (the same machines). Either way it feeds the batches, collects the losses, and
 * drains the synthesizers' pending refits at the end.
 *
 *   idle ──START──▶ training ──(every batch finished everywhere)──▶ draining ──(all drained)──▶ done
 *   any child error ──▶ failed          STOP ──▶ stopped
 */
import type { Worker } from 'node:worker_threads';
import { Subscription } from 'rxjs';
import { type AnyActorRef, assign, setup } from 'xstate';
import { type NetworkState, type TrainingState, captureNetworkState } from '../lib/checkpoint.ts';
import type { Dataset } from '../lib/data.ts';
import { History } from '../lib/history.ts';
import type { Network } from '../lib/network.ts';
import type { Stage } from '../lib/placement.ts';
import type { LossMessage } from './edge.ts';
import type { TraceEvent } from './inspection.ts';
import { type Interpreter, networkMachines } from './machines.ts';
import type { Scheduling } from './schedulers.ts';
import { spawnNetworkActors } from './spawn.ts';
import { type NetworkPorts, QueueGauge, connect, createPorts } from './wiring.ts';
import { type WorkerStageReport, prepareStages, workerStage } from './workerStage.ts';

export interface TrainerInput {
  network: Network;
  data: Dataset;
  steps: number;
  scheduling: Scheduling;
  /** pipeline stages, one worker thread each; null to run every actor in this thread */
  stages: readonly Stage[] | null;
  /** receives worker-hosted actors' inspection events, as trace lines */
  relay?: (line: TraceEvent) => void;
  /** the first batch to train (a resumed training's step; its network and history are already restored) */
  firstBatch: number;
  /** the losses of the steps before `firstBatch`, from the checkpoint */
  resumedHistory: TrainingState['history'] | null;
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
  readonly checkpoints: TrainerInput['checkpoints'];
  readonly ports: NetworkPorts;
  readonly history: History;
  /** actors living in this thread, by systemId (none with worker stages) */
  readonly actors: ReadonlyMap<string, AnyActorRef>;
  /** what must report drained before training is done: synthesizers here, or stages */
  readonly drainers: readonly AnyActorRef[];
  /** `stage:k` actors (worker scheduler) */
  readonly stages: readonly AnyActorRef[];
  /** the stages' worker threads, in stage order */
  readonly workers: Worker[];
  /** the edges' subscriptions, closed when training ends */
  readonly links: Subscription;
  /** queue high-water marks per route (from every stage with workers) */
  readonly gauge: QueueGauge;
  /** with worker stages: the share of time each stage's thread was busy */
  readonly utilization: number[];
  /** feeds the batch held back at a cut (set once the edges are connected) */
  readonly control: { resume: (step: number) => void };
  finishedStages: number;
  drained: number;
  error: unknown;
}

export type TrainerEvent =
  | { type: 'START' }
  | { type: 'BATCHES_DONE' }
  | { type: 'STOP' }
  /** something outside the actors failed (writing a checkpoint): training fails with its error */
  | { type: 'FAIL'; error: unknown }
  | WorkerStageReport
  /** a child actor threw (a DivergenceError, a bad message): training fails with its error */
  | { type: `xstate.error.actor.${string}`; error: unknown }
  /** a synthesizer reached its final state: its pending refits are applied */
  | { type: `xstate.done.actor.${string}` };

/** The training's state at a cut before batch t. */
function stateAt(c: Pick<TrainerContext, 'network' | 'history'>, t: number, part: NetworkState): TrainingState {
  return { topology: c.network.topology, step: t, ...part, history: c.history.snapshot(t), rng: null };
}

/** Record a loss and emit the step's metrics once the step has all of its losses. */
function recordLoss(history: History, ports: NetworkPorts, source: 'head' | number, m: LossMessage): void {
  const step =
    source === 'head'
      ? history.recordLoss(m.batch, m.loss, m.accuracy ?? NaN)
      : history.recordSynthesizerLoss(history.synthesizerLayers.indexOf(source), m.batch, m.loss);
  if (step) ports.metrics.next(step);
}

export const trainerMachine = setup({
  types: {
    input: {} as TrainerInput,
    context: {} as TrainerContext,
    events: {} as TrainerEvent,
  },
  actors: { ...networkMachines(), workerStage },
  actions: {
    startTraining: ({ context: c, self }) => {
      if (c.stages.length) {
        for (const s of c.stages) s.send({ type: 'START' });
        return;
      }
      const cuts = c.checkpoints && {
        due: (t: number) => c.checkpoints!.steps.includes(t),
        onCut: (t: number) => {
          try {
            c.checkpoints!.save(stateAt(c, t, captureNetworkState(c.network)));
          } catch (error) {
            return self.send({ type: 'FAIL', error });
          }
          c.control.resume(t);
        },
      };
      const connected = connect({
        ...c,
        topology: c.network.topology,
        cuts: cuts ?? undefined,
        onLoss: (source, m) => recordLoss(c.history, c.ports, source, m),
        onFinished: () => self.send({ type: 'BATCHES_DONE' }),
      });
      c.links.add(connected.links);
      c.control.resume = connected.resume;
      connected.start();
    },
    drain: ({ context }) => {
      for (const d of context.drainers) d.send({ type: 'DRAIN' });
    },
    countFinishedStage: assign({ finishedStages: ({ context }) => context.finishedStages + 1 }),
    countDrained: assign({ drained: ({ context }) => context.drained + 1 }),
    disconnect: ({ context }) => context.links.unsubscribe(),
    recordFailure: assign({ error: ({ event }) => ('error' in event ? event.error : event) }),
  },
  guards: {
    noSteps: ({ context }) => context.firstBatch >= context.steps,
    everyStageFinished: ({ context }) => context.stages.length > 0 && context.finishedStages === context.stages.length,
    allDrained: ({ context }) => context.drained === context.drainers.length,
  },
}).createMachine({
  id: 'trainer',
  context: ({ input, spawn }) => {
    const { network, data, steps } = input;
    const topology = network.topology;
    const ports = createPorts(topology);
    const history = new History(steps, topology.layers.flatMap((l) => (l.synthesizer ? [l.index] : [])));
    if (input.resumedHistory) history.restore(input.resumedHistory);
    const base = {
      ...input,
      ports,
      history,
      links: new Subscription(),
      gauge: new QueueGauge(),
      utilization: [] as number[],
      control: { resume: () => {} },
      finishedStages: 0,
      drained: 0,
      error: null,
      workers: [] as Worker[],
    };
    if (!input.stages) {
      const { byId, synthesizers } = spawnNetworkActors(spawn, network, ports);
      return { ...base, actors: byId, drainers: synthesizers, stages: [] };
    }
    const prepared = prepareStages(network, data, steps, input.stages, {
      inspect: Boolean(input.relay),
      interpreter: input.interpreter,
      firstBatch: input.firstBatch,
      cuts: input.checkpoints?.steps ?? [],
    });
    // each stage's share of a cut, until every stage has sent its own
    const cuts = new Map<number, NetworkState[]>();
    const onCut = (t: number, part: NetworkState) => {
      const parts = [...(cuts.get(t) ?? []), part];
      if (parts.length < prepared.length) return void cuts.set(t, parts);
      cuts.delete(t);
      const merged: NetworkState = { params: {}, optimizers: {}, synthesizers: {} };
      for (const p of parts) for (const k of ['params', 'optimizers', 'synthesizers'] as const) Object.assign(merged[k], p[k]);
      try {
        input.checkpoints!.save(stateAt({ ...input, history }, t, merged));
      } catch (error) {
        return stages[0].send({ type: 'FAIL_CUT', error });
      }
      stages[0].send({ type: 'RESUME', step: t });
    };
    const stages = prepared.map(({ init, transfer }) =>
      spawn('workerStage', {
        id: `stage:${init.stage.index}`,
        systemId: `stage:${init.stage.index}`,
        input: {
          init,
          transfer,
          onLoss: (source, batch, loss, accuracy) => recordLoss(history, ports, source, { batch, loss, accuracy }),
          onDrained: ({ params, optimizerState, queues, utilization }) => {
            for (const [k, v] of Object.entries(params)) network.params[k].data.set(v);
            for (const owner of [...network.layers, ...network.synthesizers]) {
              if (owner && optimizerState[owner.id]) owner.optimizer.setState(optimizerState[owner.id]);
            }
            base.gauge.merge(queues);
            base.utilization[init.stage.index] = utilization;
          },
          onInspection: input.relay && ((events) => events.forEach(input.relay!)),
          onCut,
          onWorker: (w) => (base.workers[init.stage.index] = w),
        },
      }),
    );
    return { ...base, actors: new Map(), drainers: stages, stages };
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
      entry: 'startTraining',
      always: { guard: 'everyStageFinished', target: 'draining' },
      on: { BATCHES_DONE: 'draining', STAGE_FINISHED: { actions: 'countFinishedStage' }, STOP: 'stopped' },
    },
    draining: {
      entry: 'drain',
      always: { guard: 'allDrained', target: 'done' },
      on: { 'xstate.done.actor.*': { actions: 'countDrained' }, STAGE_DRAINED: { actions: 'countDrained' } },
    },
    done: { type: 'final', entry: 'disconnect' },
    stopped: { type: 'final', entry: 'disconnect' },
    failed: { type: 'final', entry: 'disconnect' },
  },
});
