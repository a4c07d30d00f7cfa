/**
 * `npm run reference` on graph cases: reference/graph-branch.json reproduced within GRAPH_TOLERANCE (3e-6)
 * under queue, async and worker, with the keys of docs/maths.md; `--save-at/--checkpoint` then
 * `--resume` ends with the bits of the unbroken run (across schedulers); graph cases it cannot run
 * are refused in one line, exit 2, nothing written.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReferenceCase } from '../../lib/reference.ts';
import { cliServer } from '../_cli.ts';
import { REFERENCE_DIR } from '../helpers.ts';
import { type Answers, GRAPH_TOLERANCE, ROOT, deviations } from './_numpy.ts';

const BIN = join(ROOT, 'bin', 'reference.ts');
const tsx = import.meta.resolve('tsx');
const BRANCH = join(REFERENCE_DIR, 'graph-branch.json');
const branch = JSON.parse(readFileSync(BRANCH, 'utf8')) as ReferenceCase;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], cwd: string): Promise<Run> {
  const child = spawn(process.execPath, ['--import', tsx, BIN, ...args], { cwd, timeout: 60_000 });
  let stdout = '',
    stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/**
 * The same CLI in one process for the whole file (tests/_cli.ts; its runs take turns); the runs that need a process of
 * their own keep {@link cli}: the worker scheduler's (its threads, and the checkpoint another process resumes) and one
 * refusal. One child and the shared process at a time: the machine has two cores.
 */
const server = cliServer('bin/reference.ts', 120_000);
afterAll(() => server.close());
const run = (args: string[], cwd: string): Promise<Run> => server.run(args, cwd);

const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as Answers;

describe('npm run reference on graph cases', () => {
  it('reproduces graph-branch.json under queue, async and worker; a run saved and resumed ends with the same bits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-graph-cli-'));
    const runs = await Promise.all([
      run([BRANCH, '--out', 'queue.json'], dir),
      run([BRANCH, '--out', 'async.json', '--scheduler', 'async'], dir),
      cli([BRANCH, '--out', 'worker.json', '--scheduler', 'worker', '--save-at', '120', '--checkpoint', 'run.ckpt'], dir),
    ]);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    expect(runs[2].stdout).toMatch(/checkpoint at step 120 → run\.ckpt/);
    const resumed = await run([BRANCH, '--out', 'resumed.json', '--resume', 'run.ckpt', '--scheduler', 'async'], dir);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/^graph-branch: resumed from run\.ckpt, 300 steps under the async scheduler/);

    const want = branch as unknown as Answers;
    const keys = [
      'trunk.W',
      'trunk.b',
      'a.W',
      'a.b',
      'sum_out.W',
      'sum_out.b',
      'b.W',
      'b.b',
      'mod4_out.W',
      'mod4_out.b',
      'synth:trunk>a.M',
      'synth:trunk>a.c',
      'synth:trunk>b.M',
      'synth:trunk>b.c',
      'synth:trunk>b.N',
      'synth:a>sum_out.M',
      'synth:a>sum_out.c',
    ];
    expect(Object.keys(want.final).sort()).toEqual([...keys].sort());
    for (const name of ['queue', 'async', 'worker', 'resumed']) {
      const got = read(join(dir, `${name}.json`));
      expect(Object.keys(got.final).sort(), `${name}: keys`).toEqual([...keys].sort());
      const d = deviations(got, want);
      expect(d.param, `${name}: worst parameter ${d.worstParam}`).toBeLessThan(GRAPH_TOLERANCE);
      expect(d.loss, `${name}: losses`).toBeLessThan(GRAPH_TOLERANCE);
      expect(d.synthesizerLoss, `${name}: synthesizer losses`).toBeLessThan(GRAPH_TOLERANCE);
    }
    // one computation: every file holds the same numbers, the resumed run's included
    const queue = readFileSync(join(dir, 'queue.json'), 'utf8');
    for (const name of ['async', 'worker', 'resumed']) expect(readFileSync(join(dir, `${name}.json`), 'utf8'), name).toBe(queue);
  });

  it(
    'reproduces graph-unlock.json (forward and complete unlocks, λ, a warm-up) ' +
      'under queue, async and worker; saved and resumed, the same bits',
    async () => {
      const UNLOCK = join(REFERENCE_DIR, 'graph-unlock.json');
      const dir = mkdtempSync(join(tmpdir(), 'dni-unlock-cli-'));
      const runs = await Promise.all([
        run([UNLOCK, '--out', 'queue.json'], dir),
        run([UNLOCK, '--out', 'async.json', '--scheduler', 'async'], dir),
        cli([UNLOCK, '--out', 'worker.json', '--scheduler', 'worker', '--save-at', '150', '--checkpoint', 'run.ckpt'], dir),
      ]);
      for (const r of runs) expect(r.status, r.stderr).toBe(0);
      const resumed = await run([UNLOCK, '--out', 'resumed.json', '--resume', 'run.ckpt', '--scheduler', 'queue'], dir);
      expect(resumed.status, resumed.stderr).toBe(0);
      const want = JSON.parse(readFileSync(UNLOCK, 'utf8')) as Answers;
      expect(Object.keys(want.final)).toEqual(
        expect.arrayContaining(['fwd:l0>l1.M', 'fwd:l0>l1.c', 'fwd:l2>m.M', 'fwd:l2>m.c', 'synth:l0>l1.M']),
      );
      for (const name of ['queue', 'async', 'worker', 'resumed']) {
        const got = read(join(dir, `${name}.json`));
        expect(Object.keys(got.final).sort(), `${name}: keys`).toEqual(Object.keys(want.final).sort());
        const d = deviations(got, want);
        expect(d.param, `${name}: worst parameter ${d.worstParam}`).toBeLessThan(GRAPH_TOLERANCE);
        expect(d.loss, `${name}: losses`).toBeLessThan(GRAPH_TOLERANCE);
        expect(d.synthesizerLoss, `${name}: synthesizer losses`).toBeLessThan(GRAPH_TOLERANCE);
      }
      const queue = readFileSync(join(dir, 'queue.json'), 'utf8');
      for (const name of ['async', 'worker', 'resumed']) expect(readFileSync(join(dir, `${name}.json`), 'utf8'), name).toBe(queue);
    },
    180_000,
  );

  it('refuses graph cases it cannot run in one line, exit 2, writing nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-graph-cli-bad-'));
    const cfg = branch.config;
    const bad: [string, ReferenceCase, RegExp][] = [
      [
        'cycle',
        { ...branch, config: { ...cfg, nodes: cfg.nodes!.map((n) => (n.id === 'trunk' ? { ...n, inputs: ['input', 'a'] } : n)) } },
        /graph: nodes 'a' → 'trunk' → 'a' form a cycle$/,
      ],
      [
        'unknown-node',
        { ...branch, config: { ...cfg, heads: cfg.heads!.map((h) => (h.id === 'sum' ? { ...h, node: 'sum_output' } : h)) } },
        /head 'sum': node 'sum_output' is not a node \(nodes: trunk, a, sum_out, b, mod4_out\)$/,
      ],
      [
        'no-context',
        { ...branch, config: { ...cfg, interfaces: cfg.interfaces!.map((i) => (i.kind === 'cdni' ? { ...i, context: 'digits' } : i)) } },
        /interface 'trunk' → 'b': a cdni interface needs a context naming a head \(heads: sum, mod4\), got 'digits'$/,
      ],
      [
        'no-label-set',
        { ...branch, y: { sum: (branch.y as Record<string, number[][]>).sum } },
        /data: y has no label set 'mod4' \(a matrix\), which head 'mod4' reads$/,
      ],
      [
        'y-matrix',
        { ...branch, y: (branch.y as Record<string, number[][]>).sum },
        /'y' must be an object of label sets \(a graph case's\), got /,
      ],
      [
        'chain-keys',
        { ...branch, final: { ...branch.final, 'synth0.M': [[0]] } },
        /final: 'synth0\.M' is not a parameter of this topology/,
      ],
    ];
    for (const [name, c] of bad) writeFileSync(join(dir, `${name}.json`), JSON.stringify(c));
    const before = readdirSync(dir).sort();
    const runs = await Promise.all(bad.map(([name]) => (name === 'cycle' ? cli : run)([`${name}.json`, '--out', `${name}.out.json`], dir)));
    runs.forEach((r, i) => {
      const [name, , message] = bad[i];
      expect(r.stderr, name).not.toMatch(/^\s+at /m);
      expect(r.stderr.trimEnd().split('\n'), `${name}: ${r.stderr}`).toHaveLength(1);
      expect(r.stderr.trimEnd(), name).toMatch(new RegExp(`^reference: ${name}\\.json: ${message.source}`));
      expect(r.status, name).toBe(2);
      expect(r.stdout, name).toBe('');
    });
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
