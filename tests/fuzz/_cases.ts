/** Small, valid inputs that the fuzz and CLI tests break on purpose (each trains in milliseconds). */
import type { ReferenceCase } from '../../lib/reference.ts';
import { Rng } from '../../lib/rng.ts';

/**
 * A valid reference case: 3-4-2, layer 0 decoupled (optionally conditioned), 8 rows, batch 2.
 * `seed` varies the numbers, never the shape.
 */
export function tinyCase(seed = 1, options: { conditioned?: boolean; delay?: number; steps?: number } = {}): ReferenceCase {
  const rng = new Rng(seed);
  const mat = (r: number, c: number, s = 0.5) => Array.from({ length: r }, () => Array.from({ length: c }, () => Math.fround(rng.uniform(-s, s))));
  const vec = (n: number, s = 0.1) => mat(1, n, s)[0];
  const initial: Record<string, number[][] | number[]> = {
    'layer0.W': mat(3, 4),
    'layer0.b': vec(4),
    'layer1.W': mat(4, 2),
    'layer1.b': vec(2),
    'synth0.M': mat(4, 4, 0.05),
    'synth0.c': vec(4, 0.05),
  };
  if (options.conditioned) initial['synth0.N'] = mat(2, 4, 0.05);
  return {
    case: 'tiny',
    config: {
      sizes: [3, 4, 2],
      activations: ['tanh', 'sigmoid'],
      decoupled: [true, false],
      conditioned: options.conditioned ?? false,
      delay: options.delay ?? 0,
      batch: 2,
      lr: 0.1,
      lr_synthesizer: 0.01,
      steps: options.steps ?? 8,
    },
    x: mat(8, 3, 1),
    y: mat(8, 2, 1),
    initial,
  };
}
