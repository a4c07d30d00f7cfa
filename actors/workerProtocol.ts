/**
 * What the trainer and a worker stage say to each other: the stage's start-up data, and the
 * messages it posts back. Tensors never go through here on the hot path (see transport.ts);
 * losses are a few numbers; parameters cross once each way.
 */
import type { Dataset } from '../lib/data.ts';
import { typescriptBackend, useBackend } from '../lib/kernels.ts';
import { wasmBackend, wasmFmaBackend, wasmFmaUnavailableReason, wasmUnavailableReason } from '../lib/kernels-wasm.ts';
import type { Matrix } from '../lib/matrix.ts';
import type { NetworkState } from '../lib/checkpoint.ts';
import type { OptimizerStates } from '../lib/network.ts';
import type { SynthesizerSnapshot } from '../lib/synthesizer.ts';
import type { ParameterSet } from '../lib/params.ts';
import type { Stage } from '../lib/placement.ts';
import type { Topology } from '../lib/topology.ts';
import { type TraceEvent, createTraceRelay } from './inspection.ts';
import type { Interpreter } from './machines.ts';
import type { StageLinkInit } from './transport.ts';

export interface StageWorkerInit {
  stage: Stage;
  topology: Topology;
  /** every parameter (each stage builds the whole network and spawns its own actors) */
  params: ParameterSet;
  /** every optimiser's state (Adam's moments and step count, momentum buffers) */
  optimizerState: OptimizerStates;
  /** every synthesizer's pending refits (a resumed training's) */
  synthesizers: Record<string, SynthesizerSnapshot>;
  /** the first batch to train */
  firstBatch: number;
  /** checkpoint cuts: before these batches, every stage sends its state */
  cuts: number[];
  /** the data set in shared memory */
  data: Dataset;
  steps: number;
  /** the kernel backend the trainer uses */
  kernels: string;
  /** relay inspection events as trace lines */
  inspect: boolean;
  /** how the stage's machines are interpreted */
  interpreter: Interpreter;
  link: StageLinkInit;
}

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** set for a DivergenceError */
  divergence?: { actor: string; batch: number; tensor: string; detail: string };
}

export type WorkerMessage =
  | { kind: 'loss'; source: 'head' | number; batch: number; loss: number; accuracy?: number }
  | { kind: 'finished' }
  | {
      kind: 'drained';
      /** the hosted actors' parameters and optimiser states */
      params: Record<string, Float32Array>;
      optimizerState: OptimizerStates;
      queues: Record<string, number>;
      utilization: number;
    }
  | { kind: 'failed'; error: SerializedError }
  | { kind: 'inspection'; events: TraceEvent[] }
  | { kind: 'cut'; step: number; state: NetworkState };

/** A copy of a matrix in a SharedArrayBuffer, readable by every worker without copying. */
export function shareMatrix(m: Matrix): Matrix {
  const data = new Float32Array(new SharedArrayBuffer(m.data.length * 4));
  data.set(m.data);
  return { rows: m.rows, cols: m.cols, data };
}

/** A plain copy (never post a view into a larger buffer: structured clone would copy all of it). */
export function detachMatrix(m: Matrix): Matrix {
  return { rows: m.rows, cols: m.cols, data: m.data.slice() };
}

/** Use the kernel backend the trainer uses (the backends agree only to float32 rounding, and every scheduler must give the same bits). */
export function selectKernels(name: string): void {
  if (name === typescriptBackend.name) useBackend(typescriptBackend);
  else if (name === 'wasm') {
    const wasm = wasmBackend();
    if (!wasm) throw new Error(`the trainer uses the wasm kernels, but they do not load in this worker: ${wasmUnavailableReason()}`);
    useBackend(wasm);
  } else if (name === 'wasm-fma') {
    const fma = wasmFmaBackend(); // switches relaxed SIMD on in V8 before compiling its module
    if (!fma) throw new Error(`the trainer uses the wasm-fma kernels, but they do not load in this worker: ${wasmFmaUnavailableReason()}`);
    useBackend(fma);
  } else throw new Error(`unknown kernel backend '${name}'`);
}

/**
 * A worker's inspection observer: each event becomes a trace line at once (no live tensors),
 * posted in batches once per turn of the event loop.
 */
export function relayInspection(post: (events: TraceEvent[]) => void, thread: string) {
  let pending: TraceEvent[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length) post(pending);
    pending = [];
  };
  const observer = createTraceRelay((line) => {
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  }, { thread });
  return Object.assign(observer, { flush });
}
