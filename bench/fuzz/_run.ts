/**
 * How each kind of fuzz input is used, the way a user would: a case is loaded and trained, a
 * checkpoint decoded and resumed, a topology spec defined and trained, a data set trained on, a
 * command line run in its own process. Each returns whether the input was refused (and with what)
 * or accepted (every step of the way succeeded).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTraining } from '../../actors/trainer/training.ts';
import { UsageError, tryParseDemoArgs } from '../../demos/cli.ts';
import { decodeCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { type Dataset, labelSets } from '../../lib/data.ts';
import { type Matrix, release } from '../../lib/matrix.ts';
import { loadAnyCase, loadCase } from '../../lib/reference.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import type { Topology, TopologySpec } from '../../lib/topology.ts';
import type { GraphSpec } from '../../lib/graph.ts';
import type { Verdict } from './_generators.ts';
import { goodData, goodGraphData } from './_generators.ts';
import { goodSequences } from './_recurrent.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

const refused = (e: unknown): Verdict => ({
  kind: 'refused',
  name: e instanceof Error ? e.name : typeof e,
  message: e instanceof Error ? e.message : String(e),
});

async function trainBriefly(options: Parameters<typeof createTraining>[0]): Promise<void> {
  const result = await createTraining(options).run();
  for (const m of Object.values(result.params)) release(m);
}

/** Load a case's text and train it. */
export async function runCase(text: string): Promise<Verdict> {
  let made: Matrix[] = [];
  try {
    const c = loadCase(JSON.parse(text), 'fuzz');
    made = [c.data.x, ...labelSets(c.data).map(([, m]) => m), ...Object.values(c.initial)];
    await trainBriefly({ topology: c.topology, data: c.data, params: c.initial, steps: c.steps });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  } finally {
    for (const m of made) release(m);
  }
}

/** Load a case of any kind (chain, graph, rnn) from its text and train it. */
export async function runAnyCase(text: string): Promise<Verdict> {
  try {
    const c = loadAnyCase(JSON.parse(text), 'fuzz');
    await trainBriefly({ topology: c.topology, data: c.data, params: c.initial, steps: c.steps });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Define a recurrent topology from a spec and train it on valid sequences (3 inputs, 2 outputs, 4 sequences of 3 steps). */
export async function runRecurrent(spec: unknown): Promise<Verdict> {
  try {
    await trainBriefly({ topology: spec as never, data: goodSequences(), steps: 4 });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Train a valid recurrent topology on sequence data. */
export async function runSequences(topology: unknown, data: unknown): Promise<Verdict> {
  try {
    await trainBriefly({ topology: topology as never, data: data as Sequences, steps: 4 });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Decode a checkpoint's text and resume from it the training it came from. */
export async function runCheckpoint(text: string, base: { topology: Topology; data: Dataset; steps: number }): Promise<Verdict> {
  try {
    // the decoded parameters are the training's to release once it has built its network (and a
    // few floats stay behind when it refuses the state before that)
    await trainBriefly({ ...base, resume: decodeCheckpoint(text, 'fuzz.ckpt') });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Define a topology from a spec and train it on valid data (3 inputs, 2 labels, 8 rows). */
export async function runTopology(spec: unknown): Promise<Verdict> {
  try {
    await trainBriefly({ topology: spec as TopologySpec, data: goodData(), steps: 4 });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Define a graph from a spec and train it on valid graph data (3 inputs, label sets bits 3 and class 2, 8 rows). */
export async function runGraph(spec: unknown): Promise<Verdict> {
  try {
    await trainBriefly({ topology: spec as GraphSpec, data: goodGraphData(), steps: 4 });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** Train a valid topology on a data set. */
export async function runData(topology: Topology, data: unknown): Promise<Verdict> {
  try {
    await trainBriefly({ topology, data: data as Dataset, steps: 4 });
    return { kind: 'accepted' };
  } catch (e) {
    return refused(e);
  }
}

/** The demos' shared command line, with binary-addition's own options. */
export const DEMO_SPEC = {
  name: 'binary-addition',
  options: {
    lr: { type: 'number' as const, default: 1, help: 'learning rate of every layer' },
    synthesizerLr: { type: 'number' as const, default: 0.003, help: 'learning rate of every synthesizer' },
    seed: { type: 'seed' as const, default: 1, help: 'seed of the data and the initial weights', value: 'N' },
  },
};

/** Parse a demo's arguments (a UsageError is the demos' refusal by name). */
export function runDemoArgs(args: string[]): Verdict {
  try {
    return tryParseDemoArgs(args, DEMO_SPEC) === null ? { kind: 'refused', name: 'UsageError', message: '--help' } : { kind: 'accepted' };
  } catch (e) {
    return e instanceof UsageError ? { kind: 'refused', name: 'UsageError', message: e.message } : refused(e);
  }
}

export interface CliRun {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** the child's peak resident memory, in bytes (reported by the child as it exits) */
  maxRSS: number | null;
}

const tsx = import.meta.resolve('tsx');
const reportRss = join(import.meta.dirname, '_maxrss.mjs');

/** Run a TypeScript entry point in its own process (killed after `timeout` ms). */
export function runCli(
  script: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeout?: number },
): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', tsx, '--import', reportRss, script, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '',
    stderr = '',
    rss = '',
    timedOut = false;
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (d) => (rss += d));
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeout ?? 30_000);
  return new Promise((resolve) =>
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr, timedOut, maxRSS: rss ? Number(rss) * 1024 : null });
    }),
  );
}

/** Run `jobs` with at most `width` at a time. */
export async function inParallel<T, R>(items: readonly T[], width: number, job: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await job(items[i]);
      }
    }),
  );
  return out;
}

/**
 * Valid checkpoints to break: the tiny case (conditioned, delay 1) saved at step 5 with plain SGD,
 * and with Adam layers and momentum synthesizers; `base` resumes either to step 12.
 */
export async function baseCheckpoints(
  dir: string,
): Promise<{ texts: string[]; bases: { topology: Topology; data: Dataset; steps: number }[] }> {
  const { readFileSync } = await import('node:fs');
  const { tinyCase } = await import('./_cases.ts');
  const c = loadCase(tinyCase(7, { conditioned: true, delay: 1, steps: 12 }));
  const adam: Topology = withOptimizers(c.topology);
  const texts: string[] = [],
    bases = [];
  for (const [i, topology] of [c.topology, adam].entries()) {
    const path = join(dir, `base-${i}.ckpt`);
    await trainBriefly({ topology, data: c.data, params: c.initial, steps: 12, checkpoint: { path, at: [5] } });
    texts.push(readFileSync(path, 'utf8'));
    bases.push({ topology, data: c.data, steps: 12 });
  }
  return { texts, bases };
}

/** The topology with Adam on every layer and momentum on every synthesizer (lr 0.01 each). */
export function withOptimizers(t: Topology): Topology {
  return {
    ...t,
    nodes: t.nodes.map((n) => ({ ...n, lr: 0.01, optimizer: { kind: 'adam' as const, lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 } })),
    synthesizers: t.synthesizers.map((s) => ({ ...s, lr: 0.01, optimizer: { kind: 'sgd' as const, lr: 0.01, momentum: 0.9 } })),
  };
}
