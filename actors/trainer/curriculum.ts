/**
 * The copy-task curriculum through the actors, under any scheduler: the same experiment as the
 * bare loop's {@link runCurriculum} (the same batches from the same generator, the same decisions),
 * trained batch by batch, each batch one {@link createTraining} of its W = ceil(L / T) windows
 * that carries the parameters and every optimiser's state to the next. A batch's first window
 * starts from a zero state and (with the synthesizers' default delay 0) no refit is pending
 * between batches, so this is the bare loop's training exactly: the same bits. (With delay d > 0
 * each batch's training drains its last d refits, which the bare loop would apply during the next
 * batch.)
 *
 * Each batch's errors come from the readout's accuracy on each window (the share of masked output
 * bits on the right side of 0.5, before the window's update), as the bare loop counts them.
 *
 * Under the worker scheduler every batch's training runs on the same stage pool's threads (the
 * scheduler's `pool`, or the process's default one): they start once for the whole curriculum.
 */
import { TrainingOptionsError } from '../../lib/errors.ts';
import { type Matrix, release } from '../../lib/matrix.ts';
import type { OptimizerStates } from '../../lib/network.ts';
import type { ParameterSet } from '../../lib/params.ts';
import {
  CURRICULUM_KEYS,
  type CurriculumOptions,
  type CurriculumResult,
  cpuNow,
  curriculumBatches,
} from '../../lib/recurrent/curriculum.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { CurriculumState } from '../../lib/recurrent/curriculum-state.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import type { RecurrentTopology } from '../../lib/recurrent/topology.ts';
import type { SchedulerOption } from '../schedulers/schedulers.ts';
import { checkNestedKeys } from './trainingOptions.ts';
import { type Training, createTraining } from './training.ts';

export interface ActorCurriculumOptions extends CurriculumOptions {
  /** Default `'queue'`. */
  scheduler?: SchedulerOption;
  /** an xstate inspection observer, attached to every batch's training */
  inspect?: Parameters<typeof createTraining>[0]['inspect'];
  /** worker-hosted actors' trace lines */
  relay?: Parameters<typeof createTraining>[0]['relay'];
  /** each batch's training, before it runs (e.g. to watch its metrics) */
  onTraining?: (training: Training, batch: number) => void;
  /** stop at the end of the running batch's training: the promise rejects with a TrainingAbortedError */
  signal?: AbortSignal;
}

const ACTOR_CURRICULUM_KEYS = keysOf<ActorCurriculumOptions>()([
  ...CURRICULUM_KEYS,
  'scheduler',
  'inspect',
  'relay',
  'onTraining',
  'signal',
]);

/** The longest the curriculum runs without giving the event loop a turn. */
const YIELD_MS = 10;

/**
 * Scored bits (or steps, for softmax) of each window of a batch: what the readout's accuracy is a share of.
 */
function scoredPerWindow(data: Sequences, topology: RecurrentTopology): number[] {
  const T = topology.truncation,
    W = Math.ceil(data.length / T),
    per = topology.loss === 'softmax-cross-entropy' ? 1 : topology.outputs;
  const out = new Array<number>(W).fill(0),
    M = data.mask.data;
  for (let s = 0; s < data.mask.rows; s++)
    for (let t = 0; t < data.length; t++) if (M[s * data.length + t] !== 0) out[Math.floor(t / T)] += per;
  return out;
}

/**
 * Train a fresh network on the curriculum through the actors until the budget is spent.
 *
 * @example
 * const t = copyExperimentTopology('copy', 'dni', 3);
 * const r = await trainCurriculum(t, { budget: 20_000, seed: 1, scheduler: 'async' });
 * r.maxLength;
 */
export async function trainCurriculum(topology: RecurrentTopology, o: ActorCurriculumOptions): Promise<CurriculumResult> {
  refuseUnknownOptions(o, ACTOR_CURRICULUM_KEYS, 'trainCurriculum');
  checkNestedKeys(o, 'trainCurriculum');
  if (!Number.isFinite(o.budget) || o.budget < 1)
    throw new TrainingOptionsError(`curriculum: budget must be a number of sequences >= 1, got ${o.budget}`);
  const t0 = performance.now(),
    c0 = cpuNow();
  const state = new CurriculumState({
    budget: o.budget,
    threshold: o.threshold ?? 0.15,
    window: o.window ?? 10,
    start: o.start ?? 1,
    maxLength: o.maxLength,
  });
  const make = curriculumBatches(topology, o);
  const B = topology.batch;
  let params: ParameterSet | null = null,
    optimizerState: OptimizerStates | undefined,
    steps = 0,
    turn = performance.now();
  const free = (ms: Record<string, Matrix>) => Object.values(ms).forEach((m) => release(m));
  try {
    for (let batch = 0; !state.done; batch++) {
      const data = make(state.length),
        length = state.length;
      const windows = Math.ceil(data.length / topology.truncation),
        scored = scoredPerWindow(data, topology);
      let training: Training;
      try {
        training = createTraining({
          topology,
          data,
          steps: windows,
          ...(params ? { params, optimizerState } : { seed: o.seed }),
          scheduler: o.scheduler,
          inspect: o.inspect,
          relay: o.relay,
          signal: o.signal,
        });
      } finally {
        // the training holds copies: the last batch's parameters are not needed any more
        if (params) free(params);
        params = null;
      }
      // a batch's training is short enough to run in microtasks alone: give the event loop a turn
      // now and then (timers, signals, I/O: a Ctrl+C must be heard between batches too)
      if (performance.now() - turn > YIELD_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turn = performance.now();
      }
      o.onTraining?.(training, batch);
      let result;
      try {
        result = await training.run();
      } finally {
        free({ x: data.x, y: data.y, mask: data.mask });
      }
      ({ params, optimizerState } = result);
      steps += windows;
      let wrong = 0;
      for (let k = 0; k < windows; k++) wrong += Math.round((1 - result.accuracies[k]) * scored[k]);
      const error = wrong / B;
      state.record(B, error);
      o.onBatch?.(state.sequences, length, error);
    }
  } finally {
    if (params) free(params);
  }
  return {
    maxLength: state.solved,
    sequences: state.sequences,
    steps,
    wallSeconds: (performance.now() - t0) / 1000,
    cpuSeconds: cpuNow() - c0,
    curve: state.curve,
  };
}
