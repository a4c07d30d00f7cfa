/**
 * `npm run bench -- graph-scale [--json] [--sizes 1000,3000,10000] [--steps 5] [--scheduler queue]`:
 * setup time against the node count. A graph of N + 2 nodes: a trunk, N one-unit branches reading
 * it (every other one decoupled by a DNI synthesizer), and an output node concatenating them under
 * an mse head. For each N: `defineGraph`, `createTraining` (validation, parameters, wiring the
 * actors) and a `run()` of a few steps, each timed alone; then the growth of each from one size to
 * the next, against the growth of N. Linear setup grows as N does (ratio ≈ N's ratio); quadratic
 * setup as its square.
 */
import { SCHEDULERS, type SchedulerName } from '../actors/schedulers/schedulers.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { type GraphSpec, defineGraph } from '../lib/graph.ts';
import { zeros } from '../lib/matrix.ts';
import type { CommandHelp } from '../lib/io/help.ts';
import { Rng } from '../lib/rng.ts';

/** `npm run bench -- graph-scale --help` (bench/index.ts prints it; main never runs). */
export const help: CommandHelp = {
  usage: 'npm run bench -- graph-scale [options]',
  about:
    'Setup time against the node count: a trunk, N one-unit branches (every other one decoupled) and a head on their\n' +
    'concatenation; for each N, defineGraph, createTraining and a run() of a few steps, timed alone, and their growth.',
  options: [
    ['--sizes N,N,…', 'branch counts (default 1000,3000,10000)'],
    ['--steps N', 'steps of each run (default 5)'],
    ['--scheduler NAME', `one of ${SCHEDULERS.join(', ')} (default queue)`],
    ['--json', 'one JSON object as the last line'],
  ],
  takes: 'about a minute on 2 cores with the default sizes',
};

/** A trunk, `n` one-unit branches (every other one decoupled), and a head on their concatenation. */
export function branchyGraph(n: number): GraphSpec {
  const branches = Array.from({ length: n }, (_, i) => ({ id: `b${i}`, units: 1, activation: 'tanh' as const, inputs: ['trunk'] }));
  return {
    inputs: 4,
    batch: 2,
    lr: 0.05,
    synthesizer: { lr: 0.01 },
    nodes: [
      { id: 'trunk', units: 4, activation: 'tanh', inputs: ['input'] },
      ...branches,
      { id: 'out', units: 2, activation: 'linear', inputs: branches.map((b) => b.id) },
    ],
    heads: [{ id: 'y', node: 'out' }],
    interfaces: branches.filter((_, i) => i % 2 === 0).map((b) => ({ from: 'trunk', to: b.id, kind: 'dni' as const })),
  };
}

interface Row {
  nodes: number;
  define_s: number;
  create_s: number;
  run_s: number;
}

export async function main(argv: string[]): Promise<void> {
  const at = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const sizes = (at('--sizes') ?? '1000,3000,10000').split(',').map(Number);
  const steps = Number(at('--steps') ?? 5);
  const scheduler = (at('--scheduler') ?? 'queue') as SchedulerName;
  if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !Number.isInteger(steps) || steps < 1 || !SCHEDULERS.includes(scheduler)) {
    console.error(
      `graph-scale: --sizes takes positive integers (got ${at('--sizes')}), --steps a positive integer, --scheduler one of ` +
        `${SCHEDULERS.join(', ')}`,
    );
    process.exit(2);
  }
  const rng = new Rng(1);
  const rows: Row[] = [];
  for (const n of sizes) {
    const spec = branchyGraph(n);
    const x = zeros(8, 4),
      y = zeros(8, 2);
    for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
    for (let i = 0; i < y.data.length; i++) y.data[i] = rng.uniform(-1, 1);
    let t0 = performance.now();
    const topology = defineGraph(spec);
    const define = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const training = createTraining({ topology, data: { x, y: { y } }, steps, seed: 1, scheduler });
    const create = (performance.now() - t0) / 1000;
    t0 = performance.now();
    await training.run();
    const run = (performance.now() - t0) / 1000;
    rows.push({ nodes: topology.nodes.length, define_s: define, create_s: create, run_s: run });
    if (!argv.includes('--json'))
      console.log(
        `${String(topology.nodes.length).padStart(6)} nodes   defineGraph ${define.toFixed(3).padStart(8)} s   createTraining ` +
          `${create.toFixed(3).padStart(8)} s   run (${steps} steps, ${scheduler}) ${run.toFixed(3).padStart(8)} s`,
      );
  }
  const growth = rows.slice(1).map((r, i) => {
    const p = rows[i];
    return {
      from: p.nodes,
      to: r.nodes,
      nodes: r.nodes / p.nodes,
      define: r.define_s / p.define_s,
      create: r.create_s / p.create_s,
      run: r.run_s / p.run_s,
    };
  });
  if (argv.includes('--json')) return console.log(JSON.stringify({ scheduler, steps, rows, growth }));
  for (const g of growth) {
    const x = (v: number) => `${v.toFixed(1)}x`;
    console.log(
      `${g.from} → ${g.to} nodes (${x(g.nodes)}; linear grows ${x(g.nodes)}, quadratic ${x(g.nodes ** 2)}): defineGraph ${x(g.define)}, ` +
        `createTraining ${x(g.create)}, run ${x(g.run)}`,
    );
  }
}
