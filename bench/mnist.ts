/**
 * `npm run bench -- mnist [--epochs N] [--methods backprop,dni,cdni] [--json] [--no-numpy]`: time per
 * epoch of the MNIST comparison (784-256-256-10 relu, batch 64, Adam; linear synthesizers), ours
 * through the actors on the best available kernels, and the plain numpy implementation of the same
 * maths (bench/mnist_numpy.py) measured in the same run, method by method, with the ratio ours ÷ numpy.
 *
 * Both sides time whole epochs of training (shuffle included, evaluation not) and report the best and
 * the median epoch (the ratio uses the best: on a shared machine other work only ever adds time); numpy runs with OpenBLAS's default
 * threads (both cores here) and without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (removed for that child only: they slow numpy down on this
 * machine).
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { spawnSync } from 'node:child_process';
import { runNumpy } from './_numpy.ts';
import { fit } from '../actors/trainer/fit.ts';
import { loadMnist } from '../lib/datasets/mnist.ts';
import { backend, useBackend } from '../lib/kernels/kernels.ts';
import { autoBackend } from '../lib/kernels/backend-choice.ts';
import { defineTopology } from '../lib/topology.ts';

/** `npm run bench -- mnist --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- mnist [--epochs N] [--methods backprop,dni,cdni] [--no-numpy] [--json]',
  about:
    'Seconds per epoch of the MNIST comparison (784-256-256-10 relu, batch 64, Adam), ours through the actors beside\n' +
    'the same maths in numpy (bench/mnist_numpy.py), method by method, with the ratio ours ÷ numpy. Needs the mnist dev dependency.',
  options: [
    ['--epochs N', 'epochs per method and side (default 3)'],
    ['--methods LIST', 'any of backprop, dni, cdni (default all three)'],
    ['--no-numpy', 'leave out numpy'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'about half a minute with the defaults (3 epochs of 0.3-0.45 s per method and side, plus loading)',
};

const METHODS = ['backprop', 'dni', 'cdni'] as const;

function numpyEpochs(method: string, epochs: number): { best: number; median: number; accuracy: number } | string {
  // both sides may use both cores here: OpenBLAS keeps its default threads
  const out = runNumpy<{ methods: Record<string, { best_seconds_per_epoch: number; seconds_per_epoch: number; test_accuracy: number }> }>(
    'mnist_numpy.py',
    ['--json', '--validation', '0', '--methods', method, '--epochs', String(epochs)],
  );
  if (typeof out === 'string') return out;
  const r = out.methods[method];
  return { best: r.best_seconds_per_epoch, median: r.seconds_per_epoch, accuracy: r.test_accuracy };
}

export async function main(args: string[]): Promise<void> {
  const value = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const known = new Set(['--epochs', '--methods', '--json', '--no-numpy']);
  const unknown = args.filter((a, i) => a.startsWith('--') && !known.has(a) && !['--epochs', '--methods'].includes(args[i - 1]));
  if (unknown.length) throw new Error(`bench mnist: unknown option ${unknown[0]} (takes --epochs N, --methods a,b, --json, --no-numpy)`);
  const epochs = Number(value('--epochs') ?? 3);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`bench mnist: --epochs needs a positive integer`);
  const methods = (value('--methods') ?? METHODS.join(',')).split(',') as (typeof METHODS)[number][];
  const json = args.includes('--json');
  const withNumpy = !args.includes('--no-numpy') && spawnSync('python3', ['-c', 'import numpy']).status === 0;
  const log = json ? () => {} : (line = '') => console.log(line);

  useBackend(autoBackend());
  const split = loadMnist({ validation: 0 });
  log(
    `MNIST ${split.train.x.rows} training digits, 784-256-256-10 relu, batch 64, Adam: ${epochs} epochs per method and side, s/epoch ` +
      `best (median) (${backend().name} kernels, queue scheduler)\n`,
  );
  const rows: {
    method: string;
    ours: number;
    oursMedian: number;
    numpy: number | null;
    numpyMedian: number | null;
    ratio: number | null;
  }[] = [];
  for (const method of methods) {
    if (!METHODS.includes(method)) throw new Error(`bench mnist: unknown method '${method}'`);
    const np = withNumpy ? numpyEpochs(method, epochs) : 'numpy not run';
    const decoupled = method !== 'backprop';
    const topology = defineTopology({
      inputs: 784,
      batch: 64,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-3 },
      synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 }, conditioned: method === 'cdni' },
      layers: [{ units: 256, activation: 'relu', decoupled }, { units: 256, activation: 'relu', decoupled }, { units: 10 }],
    });
    const result = await fit({ topology, train: split.train, epochs });
    const sorted = result.epochs.map((e) => e.seconds).sort((a, b) => a - b);
    const [ours, oursMedian] = [sorted[0], sorted[epochs >> 1]];
    const numpy = typeof np === 'string' ? null : np.best,
      numpyMedian = typeof np === 'string' ? null : np.median;
    rows.push({ method, ours, oursMedian, numpy, numpyMedian, ratio: numpy ? ours / numpy : null });
    const f = (v: number | null) => (v === null ? '—' : v.toFixed(3));
    log(
      `${method.padEnd(8)}  ours ${f(ours)} (${f(oursMedian)}) s/epoch  numpy ${f(numpy)} (${f(numpyMedian)}) s/epoch  ratio ` +
        `${numpy ? (ours / numpy).toFixed(2) : '—'}${typeof np === 'string' ? `  (${np})` : ''}`,
    );
  }
  if (json)
    console.log(
      JSON.stringify({
        backend: backend().name,
        epochs,
        methods: Object.fromEntries(
          rows.map((r) => [
            r.method,
            {
              ours_seconds_per_epoch: r.ours,
              ours_median: r.oursMedian,
              numpy_seconds_per_epoch: r.numpy,
              numpy_median: r.numpyMedian,
              ratio: r.ratio,
            },
          ]),
        ),
      }),
    );
}
