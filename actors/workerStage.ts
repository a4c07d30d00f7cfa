/**
 * The trainer's side of worker stages: planning the threads (rings, ports, start-up data) and
 * the `stage:k` actor that owns one worker thread. That actor forwards START and DRAIN to its
 * worker, and reports back what the worker posts; a worker that throws or exits fails the
 * training at once with a {@link StageError} naming the stage, and stopping the actor (the
 * trainer stops its children when it ends) terminates the thread.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { fromCallback } from 'xstate';
import type { NetworkState } from '../lib/checkpoint.ts';
import type { Dataset } from '../lib/data.ts';
import { DivergenceError, StageError } from '../lib/errors.ts';
import { backend } from '../lib/kernels.ts';
import { type Network, type OptimizerStates, optimizerStates, ringDepth } from '../lib/network.ts';
import type { Stage } from '../lib/placement.ts';
import type { TraceEvent } from './inspection.ts';
import type { Interpreter } from './machines.ts';
import { workerEntry } from './workerEntry.ts';
import { type SharedRing, type StageLinkInit, createSharedRing, routesOf } from './transport.ts';
import {
  type SerializedError,
  type StageWorkerInit,
  type WorkerMessage,
  detachMatrix,
  shareMatrix,
} from './workerProtocol.ts';

/** Start-up data and the transfer list of every stage's worker. */
export function prepareStages(
  network: Network,
  data: Dataset,
  steps: number,
  stages: readonly Stage[],
  options: { inspect: boolean; interpreter: Interpreter; firstBatch: number; cuts: readonly number[] },
): { init: StageWorkerInit; transfer: MessagePort[] }[] {
  const topology = network.topology;
  const stageOf: Record<string, number> = {};
  for (const s of stages) for (const id of s.actors) stageOf[id] = s.index;
  const shared = { x: shareMatrix(data.x), y: shareMatrix(data.y) };
  const params = Object.fromEntries(Object.entries(network.params).map(([k, m]) => [k, detachMatrix(m)]));
  const optimizerState = optimizerStates(network);
  // pending refits (empty unless the training resumes from a checkpoint)
  const synthesizers = Object.fromEntries(network.synthesizers.flatMap((s) => (s ? [[s.id, s.snapshot()]] : [])));
  const links: StageLinkInit[] = stages.map(() => ({ peers: {}, rings: {}, stageOf }));
  const depth = ringDepth(topology);
  for (const r of routesOf(topology)) {
    const from = stageOf[r.source], to = stageOf[r.target];
    if (from === to) continue;
    const ring: SharedRing = createSharedRing(depth, r.rows, r.cols);
    links[from].rings[r.key] = ring;
    links[to].rings[r.key] = ring;
  }
  const transfers: MessagePort[][] = stages.map(() => []);
  for (let a = 0; a < stages.length; a++) {
    for (let b = a + 1; b < stages.length; b++) {
      const { port1, port2 } = new MessageChannel();
      links[a].peers[b] = port1;
      links[b].peers[a] = port2;
      transfers[a].push(port1 as unknown as MessagePort);
      transfers[b].push(port2 as unknown as MessagePort);
    }
  }
  return stages.map((stage, i) => ({
    init: {
      stage,
      topology,
      params,
      optimizerState,
      synthesizers,
      data: shared,
      steps,
      firstBatch: options.firstBatch,
      cuts: [...options.cuts],
      kernels: backend().name,
      inspect: options.inspect,
      interpreter: options.interpreter,
      link: links[i],
    },
    transfer: transfers[i],
  }));
}

export interface WorkerStageInput {
  init: StageWorkerInit;
  transfer: MessagePort[];
  onLoss: (source: 'head' | number, batch: number, loss: number, accuracy: number | undefined) => void;
  onDrained: (m: { params: Record<string, Float32Array>; optimizerState: OptimizerStates; queues: Record<string, number>; utilization: number }) => void;
  onInspection?: (events: TraceEvent[]) => void;
  /** this stage's share of the state at a checkpoint cut */
  onCut?: (step: number, state: NetworkState) => void;
  /** gives the trainer the thread, e.g. for tests that kill it */
  onWorker?: (worker: Worker) => void;
}

/** Events a stage actor sends its parent, the trainer. */
export type WorkerStageReport =
  | { type: 'STAGE_FINISHED'; stage: number }
  | { type: 'STAGE_DRAINED'; stage: number }
  | { type: 'STAGE_FAILED'; stage: number; error: Error };

export type WorkerStageCommand = { type: 'START' } | { type: 'DRAIN' } | { type: 'RESUME'; step: number } | { type: 'FAIL_CUT'; error: unknown };

export const workerStage = fromCallback<WorkerStageCommand, WorkerStageInput, WorkerStageReport>(
  ({ input, sendBack, receive }) => {
    const { stage } = input.init;
    let ended = false;
    const fail = (error: Error) => {
      if (ended) return;
      ended = true;
      sendBack({ type: 'STAGE_FAILED', stage: stage.index, error });
    };
    const worker = new Worker(...workerEntry(new URL('./stageWorker.ts', import.meta.url), {
      workerData: input.init,
      transferList: input.transfer as never[],
      name: `stage:${stage.index}`,
    }));
    input.onWorker?.(worker);
    worker.on('message', (m: WorkerMessage) => {
      switch (m.kind) {
        case 'loss':
          return input.onLoss(m.source, m.batch, m.loss, m.accuracy);
        case 'finished':
          return sendBack({ type: 'STAGE_FINISHED', stage: stage.index });
        case 'drained':
          ended = true;
          input.onDrained(m);
          return sendBack({ type: 'STAGE_DRAINED', stage: stage.index });
        case 'failed':
          return fail(deserializeError(m.error, stage));
        case 'inspection':
          return input.onInspection?.(m.events);
        case 'cut':
          return input.onCut?.(m.step, m.state);
      }
    });
    worker.on('error', (e) => fail(new StageError(stage.index, stage.actors, `its worker threw ${e.name}: ${e.message}`)));
    worker.on('exit', (code) => fail(new StageError(stage.index, stage.actors, `its worker exited with code ${code}`)));
    receive((e) => {
      if (e.type === 'FAIL_CUT') return fail(e.error instanceof Error ? e.error : new Error(String(e.error)));
      worker.postMessage(e.type === 'RESUME' ? { kind: 'resume', step: e.step } : { kind: e.type === 'START' ? 'start' : 'drain' });
    });
    return () => {
      ended = true;
      void worker.terminate();
    };
  },
);

function deserializeError(e: SerializedError, stage: Stage): Error {
  if (e.divergence) {
    const d = e.divergence;
    return new DivergenceError(d.actor, d.batch, d.tensor, d.detail);
  }
  const error = new StageError(stage.index, stage.actors, `${e.name}: ${e.message}`);
  if (e.stack) error.stack = e.stack;
  return error;
}
