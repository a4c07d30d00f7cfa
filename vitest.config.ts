import { defineConfig } from 'vitest/config';

/**
 * Tests by cost (issue 23): each project runs on its own (`npm run test:unit`, `test:actors`, `test:workers`,
 * `test:slow`) and `npm test` runs them all. A test file belongs to exactly one project (tests/projects.test.ts
 * checks it, so a new file must be listed here to run at all).
 * - unit: lib/ maths, milliseconds to seconds; imports nothing from actors/, starts no thread and no process.
 * - actors: in-process actors (queue and async schedulers, the trainer); starts no thread and no process.
 * - workers: worker threads, NATS, child processes (CLIs, demos, python cross-checks).
 * - slow: Chromium, npm pack, fuzzing, MNIST, and files of a minute or more (NATS faults, the copy curriculum, the wasm
 *   kernels' sweep of every shape and alpha/beta: pure maths, but 80% of what unit took with it).
 * unit and actors run tests/_in-process.ts first, which makes starting a worker thread or a child process throw.
 */
export const PROJECTS = {
  unit: [
    'tests/lib/{clip,errors,evaluate,gradients,kernels,gradient-quality,recurrent-gradients,' +
      'recurrent-training,softmax-head,checkpoint-renames,mnist-missing}.test.ts',
    'tests/lib/{synthesizer-maths,synthesizer-refit,topology,wire,placement-unlock,layout}.test.ts',
    'tests/graphs/finite-differences.test.ts',
    'tests/reference-drift.test.ts',
    'tests/projects.test.ts',
  ],
  actors: [
    'tests/actors/{backlog,directScheduler,feeder,machines,option-keys,stageData,trainerProgress,training,' +
      'xstate-fallback,xstateInternals}.test.ts',
    'tests/lib/{checkpoint-decode,checkpoint-refits,dispose,lr-schedule,mlp-synthesizer,no-coercion,optimizers}.test.ts',
    'tests/graphs/{scale,sum-merge,validation}.test.ts',
    'tests/property.test.ts',
    'tests/reference.test.ts',
    'tests/api.test.ts',
  ],
  workers: [
    'tests/actors/{backpressure,checkpoint,transitionTable,data-snapshot,fit,handoff,inspection,metrics,pipelining,' +
      'recurrent,schedulers}.test.ts',
    'tests/actors/{stagePool,stagePool.capacity,stagePool.property,stately,stop,workerBundle,workerEntry}.test.ts',
    'tests/lib/{environment,files,footprint,recurrent-reference}.test.ts',
    'tests/graphs/{chain-as-graph,graph-case,numpy-random,reference-cli,schedulers,unlock}.test.ts',
    'tests/demos/{binary-addition,cli,closed-pipe,multitask,plural,trace-files,unlock}.test.ts',
    'tests/nats/{cli,link,netns,parity,pool}.test.ts',
    'tests/{cli-interrupt,examples,help,live-inspector,local-servers,readme,reference-cli,reference-cli-safety}.test.ts',
  ],
  slow: [
    'tests/*.e2e.test.ts',
    'tests/package.test.ts',
    'tests/fuzz/**/*.test.ts',
    'tests/{mnist,demos/mnist-cli}.test.ts',
    'tests/nats/faults.test.ts',
    'tests/demos/copy.test.ts',
    'tests/kernels-wasm.test.ts',
  ],
} as const;

const IN_PROCESS = new Set<keyof typeof PROJECTS>(['unit', 'actors']);

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // one worker per core: some tests start worker threads of their own
    maxWorkers: 2,
    projects: Object.entries(PROJECTS).map(([name, include]) => ({
      extends: true,
      test: { name, include: [...include], setupFiles: IN_PROCESS.has(name as keyof typeof PROJECTS) ? ['tests/_in-process.ts'] : [] },
    })),
  },
});
