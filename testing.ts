/**
 * dni-actors/testing: what checks the library against its references, for tools and tests of your
 * own. The reference cases (`reference/*.json`, the numpy implementations' answers) and their
 * loaders; parameters to and from JSON; and the bare sequential loops (one thread, no actors) that
 * the actors must match bit for bit: {@link trainRecurrentSequential} and {@link runCurriculum}. To
 * train, use the root's `createTraining`/`trainCurriculum`, which give the same bits on every
 * scheduler.
 *
 * @example
 * import { readFileSync } from 'node:fs';
 * import { loadAnyCase } from 'dni-actors/testing';
 * const c = loadAnyCase(JSON.parse(readFileSync('case.json', 'utf8')));
 */
export {
  loadCase,
  loadAnyCase,
  graphCase,
  caseParametersToJSON,
  caseParametersFromJSON,
  type ReferenceCase,
  type LoadedCase,
  type CaseAnswers,
  type AnyLoadedCase,
} from './lib/reference.ts';
export { loadRecurrentCase, type RecurrentCase, type RecurrentCaseConfig, type LoadedRecurrentCase } from './lib/recurrent/case.ts';
export {
  initParameters,
  parametersFromJSON,
  parametersToJSON,
  parameterShapes,
  type ParameterSet,
  type ParameterJSON,
} from './lib/params.ts';
export {
  initRecurrentParameters,
  recurrentParameterShapes,
  recurrentParametersToJSON,
  recurrentParametersFromJSON,
  type RecurrentParameters,
} from './lib/recurrent/params.ts';
export {
  buildRecurrentNetwork,
  snapshotRecurrentNetwork,
  restoreRecurrentNetwork,
  disposeRecurrentNetwork,
  type RecurrentNetwork,
  type RecurrentNetworkSnapshot,
} from './lib/recurrent/network.ts';
export {
  trainRecurrentSequential,
  type SequenceSource,
  type RecurrentHistory,
  type RecurrentLoopState,
  type RecurrentLoopOptions,
  type RecurrentRun,
  type RecurrentStepInfo,
} from './lib/recurrent/sequential.ts';
export { runCurriculum, type CurriculumOptions, type CurriculumResult } from './lib/recurrent/curriculum.ts';
export { Rng } from './lib/rng.ts';
