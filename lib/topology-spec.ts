/**
 * The shape of a topology spec, checked before its values: every key must be one the spec
 * understands (a misspelt `activaton: 'tanh'` would otherwise leave the default in place without
 * a word), `null` is never taken for "the default" (leave the key out for that), and flags are
 * true or false (`decoupled: "false"` is not false). {@link defineTopology} checks the values.
 */
import { TopologyError } from './errors.ts';
import { describeValue } from './matrix.ts';

const SPEC_KEYS = ['inputs', 'batch', 'layers', 'loss', 'labels', 'lr', 'optimizer', 'synthesizer'];
const LAYER_KEYS = ['units', 'activation', 'lr', 'optimizer', 'decoupled', 'complete', 'synthesizer'];
const SYNTHESIZER_KEYS = ['conditioned', 'delay', 'lr', 'optimizer', 'hidden', 'activation', 'clip', 'lambda', 'warmup', 'forward'];

/** Refuse unknown keys, `null` values and non-boolean flags at `where` (e.g. `layer 1`). */
function checkLevel(o: Record<string, unknown>, keys: readonly string[], flags: readonly string[], where: string): void {
  for (const [k, v] of Object.entries(o)) {
    if (!keys.includes(k)) throw new TopologyError(`${where}: unknown option '${k}' (it takes ${keys.join(', ')})`);
    if (v === null) throw new TopologyError(`${where}: ${k} is null (leave it out for the default)`);
    if (flags.includes(k) && v !== undefined && typeof v !== 'boolean') throw new TopologyError(`${where}: ${k} is ${describeValue(v)}, expected true or false`);
  }
}

/** An optimiser's own keys are checked where its values are; its nulls here. */
function checkOptimizer(o: unknown, where: string): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return; // defineTopology says what it must be
  for (const [k, v] of Object.entries(o)) if (v === null) throw new TopologyError(`${where}: optimizer ${k} is null (leave it out for the default)`);
}

/** Check the keys and flags of a spec and of its layers and synthesizers (throws a TopologyError naming the first fault). */
export function checkSpecShape(spec: Record<string, unknown>): void {
  checkLevel(spec, SPEC_KEYS, [], 'topology');
  checkOptimizer(spec.optimizer, 'topology');
  const synthesizer = (s: unknown, where: string) => {
    if (s === undefined) return;
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new TopologyError(`${where}: synthesizer options must be an object, got ${describeValue(s)}`);
    checkLevel(s as Record<string, unknown>, SYNTHESIZER_KEYS, ['conditioned'], `${where}: synthesizer`);
    checkOptimizer((s as Record<string, unknown>).optimizer, `${where}: synthesizer`);
  };
  synthesizer(spec.synthesizer, 'topology');
  if (!Array.isArray(spec.layers)) return; // defineTopology says what layers must be
  spec.layers.forEach((l, i) => {
    if (l === null || typeof l !== 'object' || Array.isArray(l)) return;
    checkLevel(l as Record<string, unknown>, LAYER_KEYS, ['decoupled', 'complete'], `layer ${i}`);
    checkOptimizer((l as Record<string, unknown>).optimizer, `layer ${i}`);
    synthesizer((l as Record<string, unknown>).synthesizer, `layer ${i}`);
  });
}
