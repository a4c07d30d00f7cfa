/// <reference types="node" preserve="true" />
/**
 * dni-actors: Decoupled Neural Interfaces where every layer and synthesizer is an xstate actor
 * and rxjs streams carry activations and gradients between them.
 */
export {
  createTraining,
  train,
  trainWithRestarts,
  type Training,
  type TrainingOptions,
  type TrainingResult,
  type CheckpointOptions,
  type RestartOptions,
} from './actors/trainer/training.ts';
export { SCHEDULERS, type SchedulerName, type SchedulerOption, type WorkerSchedulerOptions } from './actors/schedulers/schedulers.ts';
export { createStagePool, defaultStagePool, StagePool, type StagePoolOptions, type StagePoolStats } from './actors/stage/stagePool.ts';
// the nats scheduler's options (stage hosts themselves: the `dni-actors/nats` subpath)
export type { NatsSchedulerOptions } from './actors/nats/natsStage.ts';
export { EventLoopScheduler } from './actors/schedulers/eventLoopScheduler.ts';
export { Trampoline, deliverOn, type DirectScheduler } from './actors/schedulers/directScheduler.ts';
export { INTERPRETERS, networkMachines, type Interpreter } from './actors/machines/machines.ts';
export { planStages, pipelineActors, validatePlan, defaultStageCount, type Stage } from './lib/placement.ts';
export { readCheckpoint, writeCheckpoint, encodeCheckpoint, decodeCheckpoint, isRecurrentState, CHECKPOINT_VERSION, type TrainingState, type GraphTrainingState, type RecurrentTrainingState } from './lib/checkpoint/checkpoint.ts';
// recurrent networks: truncated BPTT with synthetic gradients at the boundaries (train them with createTraining too)
export * from './lib/recurrent/index.ts';
export { recurrentActorIds, recurrentSynthesizers, type CarriedState, type PendingRefits } from './lib/recurrent/actors.ts';
export { windowAccuracy } from './lib/recurrent/schedule.ts';
export { isRecurrent, type AnyTopology, type ModelData } from './lib/model.ts';
export { datasetFingerprint } from './lib/fingerprint.ts';
export { FileError, writeFileAtomic, readFileBounded, checkWritable, sameFile } from './lib/io/files.ts';
export { MAX_CASE_BYTES, MAX_CHECKPOINT_BYTES, MAX_TRACE_BYTES, type ByteLimit } from './lib/io/limits.ts';
export { fit, type FitOptions, type FitResult, type EpochReport } from './actors/trainer/fit.ts';
export { trainCurriculum, type ActorCurriculumOptions } from './actors/trainer/curriculum.ts';
export { trainerMachine } from './actors/trainer/trainerMachine.ts';
export { stageMachine } from './actors/stage/stageMachine.ts';
export { layerMachine } from './actors/machines/layerMachine.ts';
export { synthesizerMachine } from './actors/machines/synthesizerMachine.ts';
export { headMachine } from './actors/machines/headMachine.ts';
export { defineTopology, describeSizes, type Topology, type TopologySpec, type LayerSpec, type SynthesizerSpec } from './lib/topology.ts';
export {
  defineGraph,
  describeGraph,
  graphSpecOf,
  isGraph,
  INPUT,
  LOSSES,
  MERGES,
  INTERFACE_KINDS,
  type Graph,
  type GraphSpec,
  type NodeSpec,
  type HeadSpec,
  type InterfaceSpec,
  type SynthesizerOptions,
  type GraphNode,
  type GraphHead,
  type GraphEdge,
  type GraphSynthesizer,
  type LabelSet,
  type Loss,
  type Merge,
  type InterfaceKind,
} from './lib/graph.ts';
export { type Matrix, zeros, fromArray, fromNested, toNested, release } from './lib/matrix.ts';
export { type Dataset, type Labels, batchAt, batchesPerEpoch, oneHot, classesOf, shuffleRows, selectRows, labelSet } from './lib/data.ts';
export { evaluate, type Evaluation } from './lib/evaluate.ts';
export { type LrSchedule, constantLr, cosineLr, exponentialLr, stepLr, parseLrSchedule, scaleLearningRates } from './lib/lr-schedule.ts';
export { Optimizer, type OptimizerSpec, type OptimizerConfig, type OptimizerState } from './lib/optimizers.ts';
export { optimizerStates, restoreOptimizerStates, disposeNetwork, type DisposeOptions, type OptimizerStates } from './lib/network.ts';
export { loadMnist, mnistDigits, type MnistSplit, type MnistSplitOptions } from './lib/datasets/mnist.ts';
export { initParameters, parametersFromJSON, parametersToJSON, parameterShapes, type ParameterSet } from './lib/params.ts';
export { loadCase, loadAnyCase, graphCase, caseParametersToJSON, caseParametersFromJSON, type ReferenceCase, type CaseAnswers, type AnyLoadedCase } from './lib/reference.ts';
export { binaryAddition } from './lib/datasets/binaryAddition.ts';
export { Rng, MAX_SEED, checkSeed } from './lib/rng.ts';
export { DniError, TopologyError, DataError, TrainingOptionsError, DivergenceError, StageError, CheckpointError, TrainingAbortedError, PortError, EnvironmentError } from './lib/errors.ts';
export { checkEnvironment } from './lib/io/environment.ts';
export { backend, useBackend, typescriptBackend, type KernelBackend } from './lib/kernels/kernels.ts';
export { autoBackend, backendByName, wasmBackend, wasmFmaBackend, wasmFmaUnavailableReason, wasmUnavailableReason } from './lib/kernels/backend-choice.ts';
export type { StepMetrics } from './lib/history.ts';
export { type TrainingMetrics } from './actors/trainer/metrics.ts';
export { cosine, trueGradientInterfaces } from './lib/metrics.ts';
export { createTraceRecorder, createTraceRelay, combineInspections, parseTrace, toTraceEvent, type Inspection, type TraceEvent, type TraceRecorder } from './actors/inspect/inspection.ts';
export { attachStatelyInspector, type StatelyInspector, type StatelyInspectorOptions } from './actors/inspect/stately.ts';
