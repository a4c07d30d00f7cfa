/**
 * `npm run bench -- seed [--json] [--steps N] [--backend typescript|wasm|wasm-fma] [--interpreter table|xstate] [--no-mnist]`:
 * time per batch step of the seed network (24-128-64-12 sigmoid, batch 10, DNI after layers 0 and
 * 1) through the actors under the queue scheduler, the same maths in a bare loop (lib/sequential.ts:
 * no actors, no streams), and a numpy implementation of the same maths (bench/dni_numpy.py,
 * float32, one OpenBLAS thread), all in one run. Actor and stream overhead = (actors - bare) /
 * actors. The same two sides then run on the MNIST network (784-256-256-10 relu, batch 64, DNI,
 * Adam; the package's digits), where the overhead should vanish next to the maths.
 */
import type { CommandHelp } from '../lib/io/help.ts';
import type { Interpreter } from '../actors/machines/machines.ts';
import { createTraining } from '../actors/trainer/training.ts';
import type { Dataset } from '../lib/data.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { loadMnist } from '../lib/datasets/mnist.ts';
import { backend, useBackend } from '../lib/kernels/kernels.ts';
import { autoBackend, backendByName } from '../lib/kernels/backend-choice.ts';
import { buildNetwork } from '../lib/network.ts';
import { type ParameterSet, initParameters } from '../lib/params.ts';
import { trainSequential } from '../lib/sequential.ts';
import { type Topology, defineTopology } from '../lib/topology.ts';
import { numpySettings, runNumpy } from './_numpy.ts';

/** `npm run bench -- seed --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- seed [options]',
  about:
    'Time per batch step of the seed network (24-128-64-12, batch 10, DNI) through the actors, in a bare loop and in numpy,\n' +
    'in one run (actor and stream overhead = (actors - bare) / actors); then the same two sides on the MNIST network.',
  options: [
    ['--steps N', 'steps per run of the seed network (default 3000)'],
    ['--backend typescript|wasm|wasm-fma', "kernels (default: the library's default)"],
    ['--interpreter table|xstate', 'how the actors run (default table)'],
    ['--no-mnist', 'leave out the MNIST network'],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: "about a minute (5 interleaved rounds per network and side, and numpy's)",
};

/** steps per MNIST run: enough that starting and finishing a training (~2 ms) is noise next to ~1.4 s of steps */
const MNIST_STEPS = 500;

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const steps = Number(at('--steps') ?? 3000);
  const wanted = at('--backend');
  const interpreter = (at('--interpreter') ?? 'table') as Interpreter;
  useBackend(wanted ? backendByName(wanted) : autoBackend());

  const topology = defineTopology({
    inputs: 24,
    batch: 10,
    lr: 0.5,
    synthesizer: { lr: 0.01 },
    layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
  });
  const data = binaryAddition(1000, 12);
  const params = initParameters(topology, 1);
  const seed = await sideBySide(topology, data, params, steps, interpreter);
  const [bestBare, bestActors] = [seed.bare, seed.actors];
  const numpy = runNumpy<{ us_per_step_float32: number; us_per_step_float64: number; numpy: string; blas: unknown }>(
    'dni_numpy.py',
    ['--time', '--steps', String(steps)],
    1,
  );
  const us = (ms: number) => ms * 1000;
  let mnist: { bare: number; actors: number } | null = null;
  if (!argv.includes('--no-mnist')) {
    const mnistTopology = defineTopology({
      inputs: 784,
      batch: 64,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 1e-3 },
      synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 } },
      layers: [{ units: 256, activation: 'relu', decoupled: true }, { units: 256, activation: 'relu', decoupled: true }, { units: 10 }],
    });
    const digits = loadMnist({ train: 4000, test: 0, validation: 0 }).train;
    mnist = await sideBySide(mnistTopology, digits, initParameters(mnistTopology, 1), MNIST_STEPS, interpreter);
  }
  const result = {
    network: '24-128-64-12 sigmoid, batch 10, DNI (interfaces after layers 0 and 1), queue scheduler',
    backend: backend().name,
    interpreter,
    steps,
    actors_us_per_step: us(bestActors),
    bare_loop_us_per_step: us(bestBare),
    actor_overhead: (bestActors - bestBare) / bestActors,
    numpy_us_per_step: typeof numpy === 'string' ? null : numpy.us_per_step_float32,
    numpy_float64_us_per_step: typeof numpy === 'string' ? null : numpy.us_per_step_float64,
    numpy_settings: typeof numpy === 'string' ? numpy : `${numpySettings(1)}; numpy ${numpy.numpy}; BLAS ${JSON.stringify(numpy.blas)}`,
    speedup_vs_numpy: typeof numpy === 'string' ? null : numpy.us_per_step_float32 / us(bestActors),
    mnist: mnist && {
      network: '784-256-256-10 relu, batch 64, DNI, Adam, queue scheduler',
      actors_ms_per_step: mnist.actors,
      bare_loop_ms_per_step: mnist.bare,
      actor_overhead: (mnist.actors - mnist.bare) / mnist.actors,
    },
  };
  const f = (v: number) => `${v.toFixed(1)} µs`;
  console.log(
    `seed network, ${result.network}; ${steps} steps, best of 5 interleaved rounds; kernels: ${result.backend}; ${interpreter} machines`,
  );
  console.log(`  through the actors      ${f(result.actors_us_per_step)} per step`);
  console.log(
    `  bare loop, same maths   ${f(result.bare_loop_us_per_step)} per step   → actor and stream overhead ` +
      `${(100 * result.actor_overhead).toFixed(1)}% of step time`,
  );
  if (result.numpy_us_per_step !== null) {
    console.log(`  numpy float32           ${f(result.numpy_us_per_step)} per step   (float64: ${f(result.numpy_float64_us_per_step!)})`);
    console.log(`  speed-up vs numpy       ${result.speedup_vs_numpy!.toFixed(2)}x   (numpy: ${result.numpy_settings})`);
  } else console.log(`  numpy: ${result.numpy_settings}`);
  if (result.mnist) {
    const m = result.mnist,
      ms = (v: number) => `${v.toFixed(2)} ms`;
    console.log(`MNIST network, ${m.network}; ${MNIST_STEPS} steps, best of 5 interleaved rounds`);
    console.log(`  through the actors      ${ms(m.actors_ms_per_step)} per step`);
    console.log(
      `  bare loop, same maths   ${ms(m.bare_loop_ms_per_step)} per step   → actor and stream overhead ` +
        `${(100 * m.actor_overhead).toFixed(1)}% of step time`,
    );
  }
  if (json) console.log(JSON.stringify(result));
}

/**
 * Milliseconds per step of the bare loop and of the actors (queue scheduler) on the same
 * training, from the first step to the result (building the network, and for the actors
 * validating the data and spawning, not timed on either side): both warmed up, then 5
 * interleaved rounds, the best of each (other work on a shared machine only adds time).
 */
async function sideBySide(topology: Topology, data: Dataset, params: ParameterSet, steps: number, interpreter: Interpreter) {
  const bare = () => {
    const network = buildNetwork(topology, params);
    const t0 = performance.now();
    trainSequential(network, data, steps);
    return (performance.now() - t0) / steps;
  };
  const actors = async () => {
    const training = createTraining({ topology, data, params, steps, scheduler: 'queue', interpreter });
    const t0 = performance.now();
    await training.run();
    return (performance.now() - t0) / steps;
  };
  bare();
  await actors();
  let best = { bare: Infinity, actors: Infinity };
  for (let round = 0; round < 5; round++) {
    best = { bare: Math.min(best.bare, bare()), actors: Math.min(best.actors, await actors()) };
  }
  return best;
}
