/**
 * dni-actors: Decoupled Neural Interfaces where every layer and synthesizer is an xstate actor
 * and rxjs streams carry activations and gradients between them.
 */
export { createTraining, train, type Training, type TrainingOptions, type TrainingResult } from './actors/training.ts';
export { SCHEDULERS, type SchedulerName } from './actors/schedulers.ts';
export { fit, type FitOptions, type FitResult, type EpochReport } from './actors/fit.ts';
export { trainerMachine } from './actors/trainerMachine.ts';
export { layerMachine } from './actors/layerMachine.ts';
export { synthesizerMachine } from './actors/synthesizerMachine.ts';
export { headMachine } from './actors/headMachine.ts';
export { defineTopology, describeSizes, type Topology, type TopologySpec, type LayerSpec, type SynthesizerSpec } from './lib/topology.ts';
export { type Matrix, zeros, fromArray, fromNested, toNested } from './lib/matrix.ts';
export { type Dataset, batchAt, batchesPerEpoch, oneHot, classesOf, shuffleRows, selectRows } from './lib/data.ts';
export { evaluate, type Evaluation } from './lib/evaluate.ts';
export { Optimizer, type OptimizerSpec, type OptimizerConfig, type OptimizerState } from './lib/optimizers.ts';
export { optimizerStates, restoreOptimizerStates, type OptimizerStates } from './lib/network.ts';
export { loadMnist, mnistDigits, type MnistSplit, type MnistSplitOptions } from './lib/datasets/mnist.ts';
export { initParameters, parametersFromJSON, parametersToJSON, parameterShapes, type ParameterSet } from './lib/params.ts';
export { loadCase, type ReferenceCase } from './lib/reference.ts';
export { binaryAddition } from './lib/datasets/binaryAddition.ts';
export { Rng } from './lib/rng.ts';
export { TopologyError, DivergenceError } from './lib/errors.ts';
export { backend, useBackend, typescriptBackend, type KernelBackend } from './lib/kernels.ts';
export type { StepMetrics } from './lib/history.ts';
export { type TrainingMetrics } from './actors/metrics.ts';
export { cosine, trueGradientInterfaces } from './lib/metrics.ts';
export { createTraceRecorder, createTraceRelay, combineInspections, parseTrace, toTraceEvent, type Inspection, type TraceEvent, type TraceRecorder } from './actors/inspection.ts';
export { attachStatelyInspector, type StatelyInspector, type StatelyInspectorOptions } from './actors/stately.ts';
