/**
 * A stage on a stage pool's thread, seen from the trainer: planning the stages (start-up data, and
 * the shared memory they talk through: doorbells, channels, rings; see stageLink.ts) and the
 * `stage:k` actor that owns one. Once the training has its threads (a lease, stagePool.ts) it
 * has the stage hosted on its thread, passes the trainer's commands on as they are (see
 * stageProtocol.ts) and rings the stage's doorbell, so a stage waiting on shared memory turns to
 * them; it hands the trainer what the stage reports, as an in-thread stage would (a batch of
 * losses and finished steps as the reports it stands for). A thread that throws or exits is
 * reported as a {@link StageError} naming the stage and the thread, at once; stopping the actor
 * (the trainer stops its children when it ends) ends the stage there and gives the thread back.
 */
import type { Worker } from 'node:worker_threads';
import { fromCallback } from 'xstate';
import { StageError } from '../../lib/errors.ts';
import { backend } from '../../lib/kernels/kernels.ts';
import type { Matrix } from '../../lib/matrix.ts';
import type { Graph } from '../../lib/graph.ts';
import {
  type AnyTopology,
  type Model,
  type ModelData,
  type ModelState,
  captureModelState,
  isRecurrent,
  ringDepthOf,
} from '../../lib/model.ts';
import type { Stage } from '../../lib/placement.ts';
import { DATA, routesFor } from '../machines/events.ts';
import type { Interpreter } from '../machines/machines.ts';
import {
  type SharedChannel,
  type SharedRing,
  type StageLinkInit,
  createDoorbell,
  createSharedChannel,
  createSharedRing,
  ringControl,
} from './stageLink.ts';
import { cancelStart, createStartBarrier } from './startBarrier.ts';
import { type StageLease, leaseError } from './stagePool.ts';
import {
  type SerializedError,
  type StageCommand,
  type StageReport,
  type StageThreadInit,
  type ProgressReport,
  type WorkerReport,
  deserializeError,
} from './stageProtocol.ts';

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

/** In shared memory: as it is when it is there already (a data set fit() rewrites between epochs), else a copy. */
function shared(m: Matrix): Matrix {
  return m.data.buffer instanceof SharedArrayBuffer ? m : shareMatrix(m);
}

/** The data set (or sequences) in shared memory, label sets included. */
function shareDataset(data: ModelData): ModelData {
  if ('mask' in data) return { ...data, x: shared(data.x), y: shared(data.y), mask: shared(data.mask) };
  const y = data.y as Matrix | Record<string, Matrix>;
  const labels =
    'data' in y && ArrayBuffer.isView(y.data)
      ? shared(y as Matrix)
      : Object.fromEntries(Object.entries(y as Record<string, Matrix>).map(([k, m]) => [k, shared(m)]));
  return { x: shared(data.x), y: labels };
}

/** What every stage of a training starts from, wherever it runs: the start-up data but its stage and its link. */
export type StageStart = Omit<StageThreadInit, 'stage' | 'link' | 'adaptive'>;

/** The start-up data every stage shares (copies of the parameters; the data as it is). */
export function stageStart(
  network: Model,
  data: ModelData,
  steps: number,
  options: { inspect: boolean; interpreter: Interpreter; firstBatch: number },
): StageStart {
  const params = Object.fromEntries(Object.entries(network.params).map(([k, m]) => [k, detachMatrix(m)]));
  // optimisers, pending refits and carried states (fresh unless the training resumes from a checkpoint)
  const { params: _, ...state } = captureModelState(network);
  return {
    topology: network.topology,
    params,
    state: { params: {}, ...state } as ModelState,
    data,
    steps,
    firstBatch: options.firstBatch,
    kernels: backend().name,
    inspect: options.inspect,
    interpreter: options.interpreter,
  };
}

/** A matrix of `m`'s columns and no rows: what a stage is sent of data it does not read. */
function noRows(m: Matrix): Matrix {
  return { rows: 0, cols: m.cols, data: new Float32Array(0) };
}

/**
 * What of `data` stage `stage` reads (for a stage that gets its own copy, over a network): the
 * inputs where a layer here reads the data, each label set a head or a context-conditioned
 * synthesizer here reads; the rest has no rows. Sequences go whole (a window gathers inputs,
 * targets and mask at once).
 */
export function stageData(topology: AnyTopology, data: ModelData, stage: Stage): ModelData {
  if ('mask' in data || isRecurrent(topology)) return data;
  const g = topology as Graph,
    here = new Set(stage.actors);
  const readsX = routesFor(g).some((r) => r.source === DATA && here.has(r.target));
  const labels = new Set([
    ...g.heads.filter((h) => here.has(h.actor)).map((h) => h.labels),
    ...g.synthesizers.filter((s) => here.has(s.actor) && s.contextLabels).map((s) => s.contextLabels!),
  ]);
  const y = data.y as Matrix | Record<string, Matrix>;
  const single = 'data' in y && ArrayBuffer.isView(y.data);
  return {
    x: readsX ? data.x : noRows(data.x),
    y: single
      ? labels.size > 0
        ? y
        : noRows(y as Matrix)
      : Object.fromEntries(Object.entries(y as Record<string, Matrix>).map(([k, m]) => [k, labels.has(k) ? m : noRows(m)])),
  };
}

/** Start-up data and the doorbell of every stage's worker. */
export function prepareStages(
  network: Model,
  data: ModelData,
  steps: number,
  stages: readonly Stage[],
  options: { inspect: boolean; interpreter: Interpreter; firstBatch: number; adaptive?: boolean },
): { init: StageThreadInit; bell: SharedArrayBuffer }[] {
  const topology = network.topology;
  const stageOf: Record<string, number> = {};
  for (const s of stages) for (const id of s.actors) stageOf[id] = s.index;
  const start = stageStart(network, shareDataset(data), steps, options);
  const bells = stages.map(() => createDoorbell());
  const barrier = createStartBarrier();
  const links: StageLinkInit[] = stages.map((s) => ({
    stage: s.index,
    bells,
    channels: [],
    rings: {},
    start: barrier,
    stages: stages.length,
  }));
  const depth = ringDepthOf(topology);
  // the routes between each ordered pair of stages, in the routes' order
  const between = new Map<string, string[]>();
  for (const route of routesFor(topology)) {
    const from = stageOf[route.source],
      to = stageOf[route.target];
    if (from === undefined || from === to) continue; // data routes stay inside their stage
    const ring: SharedRing = createSharedRing(depth, route.rows, route.cols);
    links[from].rings[route.key] = { route, ring };
    links[to].rings[route.key] = { route, ring };
    const pair = `${from}>${to}`;
    between.set(pair, [...(between.get(pair) ?? []), route.key]);
  }
  for (const [pair, keys] of between) {
    const [from, to] = pair.split('>').map(Number);
    const channel: SharedChannel = createSharedChannel(from, to, keys, keys.length * depth);
    links[from].channels.push(channel);
    links[to].channels.push(channel);
  }
  return stages.map((stage, i) => ({ init: { ...start, stage, adaptive: options.adaptive ?? false, link: links[i] }, bell: bells[i] }));
}

export interface RemoteStageInput {
  init: StageThreadInit;
  /** the stage's doorbell: rung after each command */
  bell: SharedArrayBuffer;
  /** the threads of the training's pool it runs on (requested when the training starts), this stage's at its index */
  lease: Promise<StageLease>;
  /** where the stage's reports go (the trainer), batches of progress as they are */
  report: (r: StageReport | ProgressReport) => void;
  /** gives the trainer the thread once leased, e.g. for tests that kill it */
  onWorker?: (worker: Worker) => void;
}

export const remoteStage = fromCallback<StageCommand, RemoteStageInput>(({ input, receive }) => {
  const { stage } = input.init;
  let ended = false,
    lease: StageLease | null = null;
  /** commands sent before the training had its threads */
  const queued: StageCommand[] = [];
  const bell = new Int32Array(input.bell);
  const fail = (error: Error) => {
    if (ended) return;
    ended = true;
    input.report({ type: 'FAILED', stage: stage.index, error });
  };
  const send = (command: StageCommand) => {
    lease!.hosts[stage.index].command(lease!.id, command);
    ringControl(bell);
  };
  input.lease.then(
    (l) => {
      lease = l;
      if (ended) return l.release(stage.index);
      const host = l.hosts[stage.index];
      if (host.worker) input.onWorker?.(host.worker);
      host.host(l.id, input.init, l.capacity, {
        report: (r: WorkerReport) => {
          if (ended) return;
          if (r.type === 'FAILED') return fail(deserializeError(r.error as SerializedError, stage));
          if (r.type === 'DRAINED') ended = true;
          input.report(r);
        },
        lost: (reason) => fail(new StageError(stage.index, stage.actors, reason)),
      });
      for (const c of queued.splice(0)) send(c);
    },
    (e: unknown) => fail(leaseError(stage, e)),
  );
  receive((command) => (lease ? send(command) : queued.push(command)));
  return () => {
    ended = true;
    // a peer still waiting for this stage at the start stops waiting; then the thread frees the stage
    cancelStart(input.init.link.start);
    lease?.release(stage.index);
  };
});
