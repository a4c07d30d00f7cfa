/**
 * `npm run bench -- rnn [--json] [--hidden 256] [--batch 16] [--truncation 8] [--width 8] [--length 10] [--steps 200] [--backend NAME]`:
 * µs per training step (one window) of an LSTM core with DNI, Adam and gradient clipping on the
 * copy task (the paper's copy-task model size: 256 LSTM units, 8-bit vectors), through the actors
 * (createTraining, queue scheduler) and through the bare loop (lib/recurrent/sequential.ts, the
 * same bits), side by side with the same window step in numpy float32
 * (bench/rnn_numpy.py, one OpenBLAS thread, OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for it).
 * Both sides: forward through the window, readout and loss, the boundary prediction, BPTT, the
 * synthesizer's refit, Adam steps on core, readout and synthesizer. Best of 5 rounds after a warm-up.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { copyTask } from '../lib/datasets/copy.ts';
import { release } from '../lib/matrix.ts';
import { backend, useBackend } from '../lib/kernels/kernels.ts';
import { autoBackend, backendByName } from '../lib/kernels/backend-choice.ts';
import { buildRecurrentNetwork, disposeRecurrentNetwork } from '../lib/recurrent/network.ts';
import { initRecurrentParameters } from '../lib/recurrent/params.ts';
import { trainRecurrentSequential } from '../lib/recurrent/sequential.ts';
import { defineRecurrent } from '../lib/recurrent/topology.ts';
import { numpySettings, runNumpy } from './_numpy.ts';

/** `npm run bench -- rnn --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- rnn [options]',
  about:
    'µs per training step (one window) of an LSTM core with DNI, Adam and clipping on the copy task: through the actors,\n' +
    'through the bare loop, and in numpy float32 (bench/rnn_numpy.py), side by side; best of 5 rounds.',
  options: [
    ['--hidden N, --batch N', 'LSTM units and batch (256, 16)'],
    ['--truncation T, --width W, --length L', 'window, bit width and sequence length (8, 8, 10)'],
    ['--steps N', 'steps per round (default 200)'],
    ['--backend NAME', "kernels (default: the library's default)"],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'about half a minute (5 rounds of 200 steps of ~6 ms on each side)',
};

export async function main(argv: string[]): Promise<void> {
  const at = (flag: string, d: number) => (argv.includes(flag) ? Number(argv[argv.indexOf(flag) + 1]) : d);
  const hidden = at('--hidden', 256),
    batch = at('--batch', 16),
    truncation = at('--truncation', 8),
    width = at('--width', 8);
  const length = at('--length', 10),
    steps = at('--steps', 200);
  const wanted = argv.includes('--backend') ? argv[argv.indexOf('--backend') + 1] : undefined;
  useBackend(wanted ? backendByName(wanted) : autoBackend());
  const topology = defineRecurrent({
    cell: 'lstm',
    inputs: width + 1,
    hidden,
    outputs: width,
    truncation,
    batch,
    clip: 1,
    optimizer: { kind: 'adam', lr: 1e-3 },
    dni: { synthesizer: { optimizer: { kind: 'adam', lr: 1e-4 } } },
  });
  const data = copyTask({ sequences: batch, length, width, seed: 1 });
  const params = initRecurrentParameters(topology, 1);
  const time = (n: number) => {
    const net = buildRecurrentNetwork(topology, params);
    const t0 = performance.now();
    trainRecurrentSequential(net, data, n);
    const us = ((performance.now() - t0) * 1000) / n;
    disposeRecurrentNetwork(net);
    return us;
  };
  const timeActors = async (n: number) => {
    const training = createTraining({ topology, data, steps: n, params });
    const t0 = performance.now();
    const r = await training.run();
    const us = ((performance.now() - t0) * 1000) / n;
    for (const m of Object.values(r.params)) release(m);
    return us;
  };
  time(20);
  await timeActors(20);
  // interleaved rounds: the two sides see the same machine
  let ours = Infinity,
    actors = Infinity;
  for (let r = 0; r < 5; r++) {
    ours = Math.min(ours, time(steps));
    actors = Math.min(actors, await timeActors(steps));
  }
  const numpy = runNumpy<{ us_per_step_float32: number; numpy: string }>(
    'rnn_numpy.py',
    [
      '--time',
      '--hidden',
      String(hidden),
      '--batch',
      String(batch),
      '--truncation',
      String(truncation),
      '--width',
      String(width),
      '--length',
      String(length),
      '--steps',
      String(steps),
    ],
    1,
  );
  const windows = Math.ceil((2 * length + 1) / truncation);
  const result = {
    model:
      `LSTM ${hidden}, copy task width ${width} length ${length} (L = ${2 * length + 1}, ${windows} windows of T = ${truncation}), ` +
      `batch ${batch}, DNI (linear synthesizer over [h | c]), Adam, clip 1`,
    backend: backend().name,
    steps,
    ours_us_per_step: ours,
    actors_us_per_step: actors,
    actor_overhead: actors / ours - 1,
    numpy_us_per_step: typeof numpy === 'string' ? null : numpy.us_per_step_float32,
    numpy_settings: typeof numpy === 'string' ? numpy : `${numpySettings(1)}; numpy ${numpy.numpy}`,
    ratio: typeof numpy === 'string' ? null : ours / numpy.us_per_step_float32,
    actors_ratio: typeof numpy === 'string' ? null : actors / numpy.us_per_step_float32,
  };
  console.log(`recurrent step (one window), ${result.model}; kernels: ${result.backend}; best of 5 rounds of ${steps} steps`);
  console.log(
    `  ours, actors       ${actors.toFixed(0)} µs per step   ` +
      `(actor overhead ${(100 * result.actor_overhead).toFixed(1)}% of the bare loop)`,
  );
  console.log(`  ours, bare loop    ${ours.toFixed(0)} µs per step`);
  if (result.numpy_us_per_step !== null) {
    console.log(`  numpy float32      ${result.numpy_us_per_step.toFixed(0)} µs per step   (${result.numpy_settings})`);
    console.log(`  actors / numpy     ${result.actors_ratio!.toFixed(2)}x the time   (goal ≤ 2)`);
    console.log(`  bare / numpy       ${result.ratio!.toFixed(2)}x the time`);
  } else console.log(`  numpy: ${result.numpy_settings}`);
  if (argv.includes('--json')) console.log(JSON.stringify(result));
}
