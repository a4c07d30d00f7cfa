/**
 * The recurrent maths (truncated BPTT, DNI at window boundaries and between stacked layers), for
 * the package's index.ts to re-export; plain classes and functions, no xstate, no rxjs.
 */
export { CELLS, RECURRENT_LOSSES, defineRecurrent, keyOf, windowsPerSequence, type Cell, type RecurrentLoss, type RecurrentSpec, type RecurrentTopology, type RecurrentLayerTopology, type RecurrentSynthesizerTopology, type RecurrentLayerSpec, type RecurrentSynthesizerSpec, type DniSpec, type AuxSpec } from './topology.ts';
export { RecurrentCore, type RecurrentCoreSnapshot } from './core.ts';
export { RecurrentSynthesizer, type RecurrentSynthesizerSnapshot } from './synthesizer.ts';
export { RecurrentHead } from './head.ts';
export { ParameterStep } from './step.ts';
export { buildRecurrentNetwork, snapshotRecurrentNetwork, restoreRecurrentNetwork, disposeRecurrentNetwork, type RecurrentNetwork, type RecurrentNetworkSnapshot } from './network.ts';
export { trainRecurrentSequential, type SequenceSource, type RecurrentHistory, type RecurrentLoopState, type RecurrentLoopOptions, type RecurrentRun, type RecurrentStepInfo } from './sequential.ts';
export { sequencesFromNested, validateSequences, gatherWindow, sequenceBatches, type Sequences } from './sequences.ts';
export { initRecurrentParameters, checkRecurrentParameters, recurrentParameterShapes, recurrentParametersToJSON, recurrentParametersFromJSON, type RecurrentParameters } from './params.ts';
export { loadRecurrentCase, type RecurrentCase, type RecurrentCaseConfig, type LoadedRecurrentCase } from './case.ts';
export { runCurriculum, copyExperimentTopology, COPY_EXPERIMENT, COPY_METHODS, type CopyMethod, type CopyExperimentConfig, type CurriculumOptions, type CurriculumResult } from './curriculum.ts';
export { copyTask, repeatCopyTask, type CopyTaskOptions, type RepeatCopyOptions } from '../datasets/copy.ts';
