/**
 * dni-actors/machines: the xstate machines a training is made of, for reading them in xstate's
 * tools (the Stately inspector, the visualiser), and the schedulers and stage planning that place
 * them. A training builds and runs them itself (`createTraining` in the root); nothing here is needed
 * to train.
 *
 * @example
 * import { layerMachine } from 'dni-actors/machines';
 * console.log(Object.keys(layerMachine.config.states ?? {}));
 */
export { trainerMachine } from './actors/trainer/trainerMachine.ts';
export { stageMachine } from './actors/stage/stageMachine.ts';
export { layerMachine } from './actors/machines/layerMachine.ts';
export { synthesizerMachine } from './actors/machines/synthesizerMachine.ts';
export { headMachine } from './actors/machines/headMachine.ts';
export { INTERPRETERS, networkMachines, type Interpreter } from './actors/machines/machines.ts';
export { SCHEDULERS, type SchedulerName } from './actors/schedulers/schedulers.ts';
export { EventLoopScheduler } from './actors/schedulers/eventLoopScheduler.ts';
export { Trampoline, deliverOn, type DirectScheduler } from './actors/schedulers/directScheduler.ts';
export { planStages, validatePlan, defaultStageCount, type Stage } from './lib/placement.ts';
