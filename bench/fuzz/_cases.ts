/** Small, valid inputs that the fuzz and CLI tests break on purpose (each trains in milliseconds). */
import type { RecurrentCase } from '../../lib/recurrent/case.ts';
import type { ReferenceCase } from '../../lib/reference.ts';
import { Rng } from '../../lib/rng.ts';

/**
 * A valid reference case: 3-4-2, layer 0 decoupled (optionally conditioned), 8 rows, batch 2.
 * `seed` varies the numbers, never the shape.
 */
export function tinyCase(seed = 1, options: { conditioned?: boolean; delay?: number; steps?: number } = {}): ReferenceCase {
  const rng = new Rng(seed);
  const mat = (r: number, c: number, s = 0.5) =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => Math.fround(rng.uniform(-s, s))));
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

/**
 * A valid recurrent case (`config.kind = "rnn"`): tanh core 3 → 4, readout 2, truncation 2, four
 * sequences of 3 steps, batch 2, with DNI unless `dni: false`. `seed` varies the numbers, never the shape.
 */
export function tinyRecurrentCase(seed = 1, options: { dni?: boolean; steps?: number } = {}): RecurrentCase {
  const rng = new Rng(seed);
  const dni = options.dni ?? true;
  const mat = (r: number, c: number, s = 0.5) =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => Math.fround(rng.uniform(-s, s))));
  const bits = (r: number, c: number) => Array.from({ length: r }, () => Array.from({ length: c }, () => (rng.next() < 0.5 ? 0 : 1)));
  const initial: Record<string, number[][] | number[]> = {
    'core.Wx': mat(3, 4),
    'core.Wh': mat(4, 4),
    'core.b': mat(1, 4, 0.1)[0],
    'readout.W': mat(4, 2),
    'readout.b': mat(1, 2, 0.1)[0],
  };
  if (dni) Object.assign(initial, { 'synth.M': mat(4, 4, 0.05), 'synth.c': mat(1, 4, 0.05)[0] });
  return {
    case: 'tiny-rnn',
    config: {
      kind: 'rnn',
      cell: 'tanh',
      inputs: 3,
      hidden: 4,
      outputs: 2,
      loss: 'sigmoid-cross-entropy',
      truncation: 2,
      dni,
      batch: 2,
      lr: 0.1,
      lr_synthesizer: 0.01,
      steps: options.steps ?? 6,
    },
    x: Array.from({ length: 4 }, () => bits(3, 3)),
    y: Array.from({ length: 4 }, () => bits(3, 2)),
    mask: Array.from({ length: 4 }, () => [0, 1, 1]),
    initial,
  };
}

/**
 * A valid graph case (`config.kind = "graph"`): input 3 → a (4, tanh) → o (2, sigmoid), an mse head, a dni interface a → o; 8 rows,
 * batch 2.
 */
export function tinyGraphCase(seed = 1, options: { steps?: number } = {}): ReferenceCase {
  const rng = new Rng(seed);
  const mat = (r: number, c: number, s = 0.5) =>
    Array.from({ length: r }, () => Array.from({ length: c }, () => Math.fround(rng.uniform(-s, s))));
  return {
    case: 'tiny-graph',
    config: {
      kind: 'graph',
      inputs: 3,
      batch: 2,
      lr: 0.1,
      lr_synthesizer: 0.01,
      steps: options.steps ?? 8,
      nodes: [
        { id: 'a', units: 4, activation: 'tanh', inputs: ['input'], merge: 'concat' },
        { id: 'o', units: 2, activation: 'sigmoid', inputs: ['a'], merge: 'concat' },
      ],
      heads: [{ id: 'h', node: 'o', loss: 'mse', labels: 'y', weight: 1 }],
      interfaces: [{ from: 'a', to: 'o', kind: 'dni', delay: 0 }],
    },
    x: mat(8, 3, 1),
    y: { y: mat(8, 2, 1) },
    initial: {
      'a.W': mat(3, 4),
      'a.b': mat(1, 4, 0.1)[0],
      'o.W': mat(4, 2),
      'o.b': mat(1, 2, 0.1)[0],
      'synth:a>o.M': mat(4, 4, 0.05),
      'synth:a>o.c': mat(1, 4, 0.05)[0],
    },
  };
}
