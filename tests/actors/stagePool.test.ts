/**
 * Stage pools: threads that outlive a training. Trainings in a row and at once share them (same
 * bits as queue), a thread that dies is replaced and the training on it fails naming it, a pool
 * that is not closed does not keep the process alive, and the threads get the kernels compiled.
 */
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { createStagePool } from '../../actors/stage/stagePool.ts';
import { type TrainingResult, createTraining, train } from '../../actors/trainer/training.ts';
import { StageError, TrainingOptionsError } from '../../lib/errors.ts';
import { wasmBackend } from '../../lib/kernels/backend-choice.ts';
import { createWasmBackend } from '../../lib/kernels/kernels-wasm.ts';
import { smallPoolNetwork } from '../helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const { topology, data } = smallPoolNetwork();
const pool = createStagePool({ threads: 2, capacity: 2 });
afterAll(() => pool.close());

function expectSameBits(want: TrainingResult, got: TrainingResult, what: string): void {
  expect(Array.from(got.losses), `${what}: losses`).toEqual(Array.from(want.losses));
  for (const k of Object.keys(want.params)) expect(got.params[k].data, `${what}: ${k}`).toEqual(want.params[k].data);
}

describe('a stage pool', () => {
  it('serves trainings one after another and at once on the same threads, with the bits of queue', async () => {
    const queue = await train({ topology, data, steps: 200 });
    const queue2 = await train({ topology, data, steps: 200, seed: 2 });
    const scheduler = { name: 'worker' as const, pool, stages: 2 };
    for (let i = 0; i < 3; i++) expectSameBits(queue, await train({ topology, data, steps: 200, scheduler }), `in a row, ${i}`);
    // two at once on two threads: the second waits for the first's threads
    const [a, b] = await Promise.all([
      train({ topology, data, steps: 200, scheduler }),
      train({ topology, data, steps: 200, seed: 2, scheduler }),
    ]);
    expectSameBits(queue, a, 'at once, first');
    expectSameBits(queue2, b, 'at once, second');
    await pool.idle();
    expect(pool.stats()).toMatchObject({ threads: 2, started: 2, replaced: 0, leased: 0, waiting: 0 });
    expect(pool.stats().residues).toEqual([
      { usedBytes: 0, stages: 0 },
      { usedBytes: 0, stages: 0 },
    ]);
  });

  it('runs two trainings side by side when it has the threads for both', async () => {
    const wide = createStagePool({ threads: 4, capacity: 2 });
    try {
      const queue = await train({ topology, data, steps: 300 });
      const scheduler = { name: 'worker' as const, pool: wide, stages: 2 };
      let most = 0;
      const trainings = [
        createTraining({ topology, data, steps: 300, scheduler }),
        createTraining({ topology, data, steps: 300, scheduler }),
      ];
      for (const t of trainings) t.metrics$.subscribe(() => (most = Math.max(most, wide.stats().leased)));
      for (const r of await Promise.all(trainings.map((t) => t.run()))) expectSameBits(queue, r, 'side by side');
      expect(most).toBe(2);
      expect(wide.stats().started).toBe(4);
    } finally {
      await wide.close();
    }
  });

  it('replaces a thread that dies; the training on it fails naming the stage and the thread; the next runs normally', async () => {
    const queue = await train({ topology, data, steps: 200 });
    const t = createTraining({ topology, data, steps: 1_000_000, scheduler: { name: 'worker', pool, stages: 2 } });
    const workers: Worker[] = t.actor.getSnapshot().context.workers;
    t.metrics$.subscribe((m) => m.batch === 30 && void workers[0].terminate());
    const error = await t.run().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StageError);
    expect((error as StageError).stage).toBe(0);
    expect((error as Error).message).toMatch(
      /^stage:0 \(layer:0, synthesizer:0\): its worker \(pool thread \d+\) exited with code 1; training stopped$/,
    );
    expectSameBits(queue, await train({ topology, data, steps: 200, scheduler: { name: 'worker', pool, stages: 2 } }), 'after the death');
    await pool.idle();
    expect(pool.stats()).toMatchObject({ threads: 2, replaced: 1 });
  });

  it('refuses bad options and a closed pool by name, before any work', async () => {
    expect(() => createStagePool({ threads: 0 })).toThrow(new TrainingOptionsError('stage pool: threads must be an integer >= 1, got 0'));
    expect(() => createStagePool({ capacity: 'fast' as never })).toThrow(
      /stage pool: capacity must be 'probe' or a positive number, got "fast"/,
    );
    const closed = createStagePool();
    await closed.close();
    expect(() => createTraining({ topology, data, steps: 10, scheduler: { name: 'worker', pool: closed } })).toThrow(
      new TrainingOptionsError('training: scheduler.pool is closed'),
    );
    expect(() => createTraining({ topology, data, steps: 10, scheduler: { name: 'worker', pool: {} as never } })).toThrow(
      /scheduler.pool must be a pool from createStagePool\(\)/,
    );
  });

  it('does not keep the process alive when nobody closes it (and its threads end with the process)', { timeout: 120_000 }, () => {
    const child = runScript(`
      // three threads, two stages: one thread is never leased (it must not hold the process either)
      const pool = createStagePool({ threads: 3, capacity: 2 });
      const topology = { inputs: 24, batch: 10, lr: 0.5, layers: [{ units: 16, decoupled: true }, { units: 12 }] };
      const r = await train({ topology, data: binaryAddition(100, 12, 2), steps: 50, scheduler: { name: 'worker', pool, stages: 2 } });
      await train({ topology, data: binaryAddition(100, 12, 2), steps: 50, scheduler: 'worker' });
      console.log('trained', r.steps, pool.stats().threads);
    `);
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('trained 50 3');
    expect(child.status).toBe(0);
  });

  it(
    'keeps the process alive until close() has ended its threads: a script that awaits it at the top exits 0',
    { timeout: 120_000 },
    () => {
      // the idle threads are unreferenced: a close() that awaited only their end left a top-level
      // await unsettled, and Node exited with code 13 before 'closed' was printed
      const child = runScript(`
      const pool = createStagePool({ threads: 2, capacity: 2 });
      const topology = { inputs: 24, batch: 10, lr: 0.5, layers: [{ units: 16, decoupled: true }, { units: 12 }] };
      await train({ topology, data: binaryAddition(100, 12, 2), steps: 50, scheduler: { name: 'worker', pool, stages: 2 } });
      await pool.close();
      console.log('closed', pool.stats().threads);
    `);
      expect(child.stderr).toBe('');
      expect(child.stdout.trim()).toBe('closed 0');
      expect(child.status).toBe(0);
    },
  );
});

/** Run `body` as an ES module in a new Node process, with createStagePool, train and binaryAddition imported. */
function runScript(body: string): SpawnSyncReturns<string> {
  const at = (path: string) => JSON.stringify(pathToFileURL(join(root, path)).href);
  const script = `
    import { createStagePool } from ${at('actors/stage/stagePool.ts')};
    import { train } from ${at('actors/trainer/training.ts')};
    import { binaryAddition } from ${at('lib/datasets/binaryAddition.ts')};
    ${body}
  `;
  const dir = mkdtempSync(join(tmpdir(), 'dni-pool-exit-')),
    file = join(dir, 'script.mts');
  writeFileSync(file, script);
  // a process its pool held would run into the timeout (killed: status null)
  const child = spawnSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8', timeout: 90_000 });
  rmSync(dir, { recursive: true, force: true });
  return child;
}

describe('the WebAssembly kernels, compiled once', () => {
  it("a backend built from another backend's module reads no file and computes the same", () => {
    const wasm = wasmBackend();
    if (!wasm) return;
    const twin = createWasmBackend({ module: wasm.module, memoryMiB: 16, wasmPath: '/nonexistent/kernels.wasm' });
    const a = { rows: 2, cols: 3, data: wasm.alloc(6) },
      b = { rows: 3, cols: 2, data: wasm.alloc(6) };
    a.data.set([1, 2, 3, 4, 5, 6]);
    b.data.set([0.5, -1, 2, 0.25, -3, 1]);
    const out = wasm.matmul(a, b, { rows: 2, cols: 2, data: wasm.alloc(4) });
    const twinOut = twin.matmul(a, b, { rows: 2, cols: 2, data: twin.alloc(4) });
    expect(Array.from(twinOut.data)).toEqual(Array.from(out.data));
    expect(twin.module).toBe(wasm.module);
    expect(() => createWasmBackend({ memoryMiB: 16, wasmPath: '/nonexistent/kernels.wasm' })).toThrow(
      /cannot read \/nonexistent\/kernels.wasm/,
    );
  });
});
