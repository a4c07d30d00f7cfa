/**
 * dni-actors/recurrent: recurrent networks beyond the root's `defineRecurrent`, `copyTask` and
 * `createTraining` (the one way to train them): sequences of your own, the repeat-copy task, the
 * paper's copy experiment, and the windowed accuracy a recurrent training reports.
 *
 * @example
 * import { createTraining } from 'dni-actors';
 * import { COPY_EXPERIMENT, copyExperimentTopology, repeatCopyTask } from 'dni-actors/recurrent';
 * const topology = copyExperimentTopology('repeat-copy', 'dni', 5, COPY_EXPERIMENT);
 * const data = repeatCopyTask({ sequences: 64, length: 3, repeats: 2, maxRepeats: 10, width: COPY_EXPERIMENT.width, seed: 1 });
 * await createTraining({ topology, data, steps: 20 }).run();
 */
export { keyOf } from './lib/recurrent/topology.ts';
export { sequencesFromNested, validateSequences, type Sequences } from './lib/recurrent/sequences.ts';
export { windowAccuracy } from './lib/recurrent/schedule.ts';
export { repeatCopyTask, type CopyTaskOptions, type RepeatCopyOptions } from './lib/datasets/copy.ts';
export {
  copyExperimentTopology,
  COPY_EXPERIMENT,
  COPY_METHODS,
  type CopyMethod,
  type CopyExperimentConfig,
} from './lib/recurrent/curriculum.ts';
