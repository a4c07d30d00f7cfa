/**
 * A stage in a worker thread, seen from the trainer: planning the threads (start-up data, shared
 * rings, ports) and the `stage:k` actor that owns one. It posts the trainer's commands to its
 * worker as they are (see stageProtocol.ts) and hands the trainer what the worker reports, as an
 * in-thread stage would; a worker that throws or exits is reported as a {@link StageError} naming
 * the stage, at once, and stopping the actor (the trainer stops its children when it ends)
 * terminates the thread.
 */
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { fromCallback } from 'xstate';
import { StageError } from '../lib/errors.ts';
import { backend } from '../lib/kernels.ts';
import type { Matrix } from '../lib/matrix.ts';
import { type Model, type ModelData, type ModelState, captureModelState, ringDepthOf } from '../lib/model.ts';
import type { Stage } from '../lib/placement.ts';
import { routesFor } from './events.ts';
import type { Interpreter } from './machines.ts';
import { type SharedRing, type StageLinkInit, createSharedRing } from './stageLink.ts';
import { type SerializedError, type StageCommand, type StageReport, type StageThreadInit, deserializeError } from './stageProtocol.ts';
import { workerEntry } from './workerEntry.ts';

/** A copy of a matrix in a SharedArrayBuffer, readable by every worker without copying. */
export function shareMatrix(m: Matrix): Matrix {
  const data = new Float32Array(new SharedArrayBuffer(m.data.length * 4));
  data.set(m.data);
  return { rows: m.rows, cols: m.cols, data };
}

/** A plain copy (never post a view into a larger buffer: structured clone would copy all of it). */
function detachMatrix(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

/** The data set (or sequences) in shared memory, label sets included. */
function shareDataset(data: ModelData): ModelData {
  if ('mask' in data) return { ...data, x: shareMatrix(data.x), y: shareMatrix(data.y), mask: shareMatrix(data.mask) };
  const y = data.y as Matrix | Record<string, Matrix>;
  const shared = 'data' in y && ArrayBuffer.isView(y.data) ? shareMatrix(y as Matrix) : Object.fromEntries(Object.entries(y as Record<string, Matrix>).map(([k, m]) => [k, shareMatrix(m)]));
  return { x: shareMatrix(data.x), y: shared };
}

/** Start-up data and the transfer list of every stage's worker. */
export function prepareStages(
  network: Model,
  data: ModelData,
  steps: number,
  stages: readonly Stage[],
  options: { inspect: boolean; interpreter: Interpreter; firstBatch: number },
): { init: StageThreadInit; transfer: MessagePort[] }[] {
  const topology = network.topology;
  const stageOf: Record<string, number> = {};
  for (const s of stages) for (const id of s.actors) stageOf[id] = s.index;
  const shared = shareDataset(data);
  const params = Object.fromEntries(Object.entries(network.params).map(([k, m]) => [k, detachMatrix(m)]));
  // optimisers, pending refits and carried states (fresh unless the training resumes from a checkpoint)
  const { params: _, ...state } = captureModelState(network);
  const links: StageLinkInit[] = stages.map(() => ({ peers: {}, rings: {}, stageOf }));
  const depth = ringDepthOf(topology);
  for (const route of routesFor(topology)) {
    const from = stageOf[route.source], to = stageOf[route.target];
    if (from === undefined || from === to) continue; // data routes stay inside their stage
    const ring: SharedRing = createSharedRing(depth, route.rows, route.cols);
    links[from].rings[route.key] = { route, ring };
    links[to].rings[route.key] = { route, ring };
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
      state: { params: {}, ...state } as ModelState,
      data: shared,
      steps,
      firstBatch: options.firstBatch,
      kernels: backend().name,
      inspect: options.inspect,
      interpreter: options.interpreter,
      link: links[i],
    },
    transfer: transfers[i],
  }));
}

export interface RemoteStageInput {
  init: StageThreadInit;
  transfer: MessagePort[];
  /** where the stage's reports go (the trainer) */
  report: (r: StageReport) => void;
  /** gives the trainer the thread, e.g. for tests that kill it */
  onWorker?: (worker: Worker) => void;
}


export const remoteStage = fromCallback<StageCommand, RemoteStageInput>(({ input, receive }) => {
  const { stage } = input.init;
  let ended = false;
  const fail = (error: Error) => {
    if (ended) return;
    ended = true;
    input.report({ type: 'FAILED', stage: stage.index, error });
  };
  const worker = new Worker(...workerEntry(new URL('./stageThread.ts', import.meta.url), { workerData: input.init, transferList: input.transfer as never[], name: `stage:${stage.index}` }));
  input.onWorker?.(worker);
  worker.on('message', (r: StageReport) => {
    if (ended) return;
    if (r.type === 'FAILED') return fail(deserializeError(r.error as SerializedError, stage));
    if (r.type === 'DRAINED') ended = true;
    input.report(r);
  });
  worker.on('error', (e) => fail(new StageError(stage.index, stage.actors, `its worker threw ${e.name}: ${e.message}`)));
  worker.on('exit', (code) => fail(new StageError(stage.index, stage.actors, `its worker exited with code ${code}`)));
  receive((command) => worker.postMessage(command));
  return () => {
    ended = true;
    void worker.terminate();
  };
});
