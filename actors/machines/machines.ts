/**
 * The machines a network's actors run, under either interpreter: `table` (default; see
 * transitionTable.ts: the same definitions, the hot transitions taken from a precomputed table) or
 * `xstate` (xstate's own interpreter for every event). Both give the same transitions, the same
 * actions in the same order, and bit-identical trainings; `xstate` is there to check that, and to
 * see every microstep in xstate's general algorithm when debugging.
 */
import { withTransitionTable } from './transitionTable.ts';
import { coreMachine } from './coreMachine.ts';
import { headMachine } from './headMachine.ts';
import { layerMachine, unlockedLayerMachine } from './layerMachine.ts';
import { recurrentHeadMachine } from './recurrentHeadMachine.ts';
import { recurrentSynthesizerMachine } from './recurrentSynthesizerMachine.ts';
import { synthesizerMachine } from './synthesizerMachine.ts';

export const INTERPRETERS = ['table', 'xstate'] as const;
export type Interpreter = (typeof INTERPRETERS)[number];

const interpreted = {
  layer: layerMachine,
  unlockedLayer: unlockedLayerMachine,
  synthesizer: synthesizerMachine,
  head: headMachine,
  core: coreMachine,
  recurrentSynthesizer: recurrentSynthesizerMachine,
  recurrentHead: recurrentHeadMachine,
};
const tabled = {
  layer: withTransitionTable(layerMachine),
  unlockedLayer: withTransitionTable(unlockedLayerMachine),
  synthesizer: withTransitionTable(synthesizerMachine),
  head: withTransitionTable(headMachine),
  core: withTransitionTable(coreMachine),
  recurrentSynthesizer: withTransitionTable(recurrentSynthesizerMachine),
  recurrentHead: withTransitionTable(recurrentHeadMachine),
};

/**
 * The machines to spawn under `interpreter`: dense layers (unlocked: gradients may come before the forward), synthesizers and heads;
 * recurrent layers (cores), their synthesizers and the head.
 */
export function networkMachines(interpreter: Interpreter = 'table'): typeof interpreted {
  if (interpreter === 'table') return tabled;
  if (interpreter === 'xstate') return interpreted;
  throw new RangeError(`unknown interpreter '${String(interpreter)}' (expected one of ${INTERPRETERS.join(', ')})`);
}
