/**
 * The machines a network's actors run, under either interpreter: `compiled` (default; see
 * compiled.ts: the same definitions, the hot transitions taken from a precomputed table) or
 * `xstate` (xstate's own interpreter for every event). Both give the same transitions, the same
 * actions in the same order, and bit-identical trainings; `xstate` is there to check that, and to
 * see every microstep in xstate's general algorithm when debugging.
 */
import { compileMachine } from './compiled.ts';
import { coreMachine } from './coreMachine.ts';
import { headMachine } from './headMachine.ts';
import { layerMachine, unlockedLayerMachine } from './layerMachine.ts';
import { readoutMachine } from './readoutMachine.ts';
import { recurrentSynthesizerMachine } from './recurrentSynthesizerMachine.ts';
import { synthesizerMachine } from './synthesizerMachine.ts';

export const INTERPRETERS = ['compiled', 'xstate'] as const;
export type Interpreter = (typeof INTERPRETERS)[number];

const interpreted = {
  layer: layerMachine,
  unlockedLayer: unlockedLayerMachine,
  synthesizer: synthesizerMachine,
  head: headMachine,
  core: coreMachine,
  recurrentSynthesizer: recurrentSynthesizerMachine,
  readout: readoutMachine,
};
const compiled = {
  layer: compileMachine(layerMachine),
  unlockedLayer: compileMachine(unlockedLayerMachine),
  synthesizer: compileMachine(synthesizerMachine),
  head: compileMachine(headMachine),
  core: compileMachine(coreMachine),
  recurrentSynthesizer: compileMachine(recurrentSynthesizerMachine),
  readout: compileMachine(readoutMachine),
};

/** The machines to spawn under `interpreter`: dense layers (unlocked: gradients may come before the forward), synthesizers and heads; recurrent layers (cores), their synthesizers and the readout. */
export function networkMachines(interpreter: Interpreter = 'compiled'): typeof interpreted {
  if (interpreter === 'compiled') return compiled;
  if (interpreter === 'xstate') return interpreted;
  throw new RangeError(`unknown interpreter '${String(interpreter)}' (expected one of ${INTERPRETERS.join(', ')})`);
}
