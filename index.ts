/// <reference types="node" preserve="true" />
/**
 * dni-actors: Decoupled Neural Interfaces where every layer and synthesizer is an xstate actor
 * and rxjs streams carry activations and gradients between them.
 *
 * The root holds what a user needs on day one: train, define a network, data, errors, checkpoints,
 * and what a training lets you subscribe to. The rest sits behind subpaths (docs/api.md):
 * `dni-actors/recurrent` (recurrent sequences and the copy experiment), `dni-actors/inspect` (the
 * inspector's pages, the Stately inspector), `dni-actors/kernels` (the compute backends),
 * `dni-actors/machines` (the xstate machines and schedulers), `dni-actors/nats` (stage hosts over
 * NATS) and `dni-actors/testing` (reference cases, the bare sequential loops, parameter JSON).
 * tests/api.test.ts pins the list of values exported here.
 */
// train
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
export { fit, type FitOptions, type FitResult, type EpochReport } from './actors/trainer/fit.ts';
export { trainCurriculum, type ActorCurriculumOptions } from './actors/trainer/curriculum.ts';
export type { SchedulerName, SchedulerOption, WorkerSchedulerOptions } from './actors/schedulers/schedulers.ts';
export type { NatsSchedulerOptions } from './actors/nats/natsStage.ts';
export type { Interpreter } from './actors/machines/machines.ts';
export { createStagePool, defaultStagePool, type StagePool, type StagePoolOptions, type StagePoolStats } from './actors/stage/stagePool.ts';
export { type LrSchedule, constantLr, cosineLr, exponentialLr, stepLr, parseLrSchedule } from './lib/lr-schedule.ts';
// define a network
export { defineTopology, describeSizes, type Topology, type TopologySpec, type LayerSpec, type SynthesizerSpec } from './lib/topology.ts';
export {
  defineGraph,
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
export {
  defineRecurrent,
  type Cell,
  type RecurrentLoss,
  type RecurrentSpec,
  type RecurrentTopology,
  type RecurrentLayerTopology,
  type RecurrentSynthesizerTopology,
  type RecurrentLayerSpec,
  type RecurrentSynthesizerSpec,
  type DniSpec,
  type AuxSpec,
} from './lib/recurrent/topology.ts';
export type { AnyTopology, ModelData } from './lib/model.ts';
export type { OptimizerSpec, OptimizerConfig, OptimizerState } from './lib/optimizers.ts';
// data
export { type Matrix, fromArray, fromNested, toNested } from './lib/matrix.ts';
export { type Dataset, type Labels, oneHot } from './lib/data.ts';
export type { Sequences } from './lib/recurrent/sequences.ts';
export type { ParameterSet } from './lib/params.ts';
export { binaryAddition } from './lib/datasets/binaryAddition.ts';
export { copyTask, type CopyTaskOptions, type RepeatCopyOptions } from './lib/datasets/copy.ts';
export { loadMnist, type MnistSplit, type MnistSplitOptions } from './lib/datasets/mnist.ts';
export { evaluate, type Evaluation } from './lib/evaluate.ts';
// checkpoints
export {
  readCheckpoint,
  writeCheckpoint,
  type TrainingState,
  type GraphTrainingState,
  type RecurrentTrainingState,
} from './lib/checkpoint/checkpoint.ts';
// errors
export {
  DniError,
  TopologyError,
  DataError,
  TrainingOptionsError,
  DivergenceError,
  StageError,
  CheckpointError,
  TrainingAbortedError,
  PortError,
  EnvironmentError,
} from './lib/errors.ts';
export { FileError } from './lib/io/files.ts';
export { checkEnvironment } from './lib/io/environment.ts';
// what a training lets you subscribe to
export type { StepMetrics } from './lib/history.ts';
export type { TrainingMetrics } from './actors/trainer/metrics.ts';
export {
  createTraceRecorder,
  parseTrace,
  type Inspection,
  type TraceEvent,
  type TraceRecorder,
  type TraceRecorderOptions,
} from './actors/inspect/inspection.ts';
