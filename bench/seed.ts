/**
 * `npm run bench -- seed [--json] [--steps N] [--backend typescript|wasm|wasm-fma]`: time per batch step
 * of the seed network (24-128-64-12 sigmoid, batch 10, DNI after layers 0 and 1) through the
 * actors under the queue scheduler, the same maths in a bare loop (lib/sequential.ts: no actors,
 * no streams), and a numpy implementation of the same maths (bench/dni_numpy.py, float32, one
 * OpenBLAS thread), all in one run. Actor and stream overhead = (actors - bare) / actors.
 */
import { train } from '../actors/training.ts';
import { binaryAddition } from '../lib/datasets/binaryAddition.ts';
import { backend, useBackend } from '../lib/kernels.ts';
import { autoBackend, backendByName } from '../lib/kernels-wasm.ts';
import { buildNetwork } from '../lib/network.ts';
import { initParameters } from '../lib/params.ts';
import { trainSequential } from '../lib/sequential.ts';
import { defineTopology } from '../lib/topology.ts';
import { numpySettings, runNumpy } from './_numpy.ts';

export async function main(argv: string[]): Promise<void> {
  const json = argv.includes('--json');
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const steps = Number(at('--steps') ?? 3000);
  const wanted = at('--backend');
  useBackend(wanted ? backendByName(wanted) : autoBackend());

  const topology = defineTopology({
    inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01 },
    layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
  });
  const data = binaryAddition(1000, 12);
  const params = initParameters(topology, 1);
  const bare = () => {
    const t0 = performance.now();
    trainSequential(buildNetwork(topology, params), data, steps);
    return (performance.now() - t0) / steps;
  };
  const actors = async () => {
    const t0 = performance.now();
    await train({ topology, data, params, steps, scheduler: 'queue' });
    return (performance.now() - t0) / steps;
  };
  // warm up both, then interleave; the best of each (other work on a shared machine only adds time)
  bare();
  await actors();
  let bestBare = Infinity, bestActors = Infinity;
  for (let round = 0; round < 5; round++) {
    bestBare = Math.min(bestBare, bare());
    bestActors = Math.min(bestActors, await actors());
  }
  const numpy = runNumpy<{ us_per_step_float32: number; us_per_step_float64: number; numpy: string; blas: unknown }>(
    'dni_numpy.py', ['--time', '--steps', String(steps)], 1,
  );
  const us = (ms: number) => ms * 1000;
  const result = {
    network: '24-128-64-12 sigmoid, batch 10, DNI (interfaces after layers 0 and 1), queue scheduler',
    backend: backend().name,
    steps,
    actors_us_per_step: us(bestActors),
    bare_loop_us_per_step: us(bestBare),
    actor_overhead: (bestActors - bestBare) / bestActors,
    numpy_us_per_step: typeof numpy === 'string' ? null : numpy.us_per_step_float32,
    numpy_float64_us_per_step: typeof numpy === 'string' ? null : numpy.us_per_step_float64,
    numpy_settings: typeof numpy === 'string' ? numpy : `${numpySettings(1)}; numpy ${numpy.numpy}; BLAS ${JSON.stringify(numpy.blas)}`,
    speedup_vs_numpy: typeof numpy === 'string' ? null : numpy.us_per_step_float32 / us(bestActors),
  };
  const f = (v: number) => `${v.toFixed(1)} µs`;
  console.log(`seed network, ${result.network}; ${steps} steps, best of 5 interleaved rounds; kernels: ${result.backend}`);
  console.log(`  through the actors      ${f(result.actors_us_per_step)} per step`);
  console.log(`  bare loop, same maths   ${f(result.bare_loop_us_per_step)} per step   → actor and stream overhead ${(100 * result.actor_overhead).toFixed(1)}% of step time`);
  if (result.numpy_us_per_step !== null) {
    console.log(`  numpy float32           ${f(result.numpy_us_per_step)} per step   (float64: ${f(result.numpy_float64_us_per_step!)})`);
    console.log(`  speed-up vs numpy       ${result.speedup_vs_numpy!.toFixed(2)}x   (numpy: ${result.numpy_settings})`);
  } else console.log(`  numpy: ${result.numpy_settings}`);
  if (json) console.log(JSON.stringify(result));
}
