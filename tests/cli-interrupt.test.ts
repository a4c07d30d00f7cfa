/**
 * Ctrl+C in the reference CLI and the demo: the training stops at a consistent cut, the CLI says
 * where the state was saved (and it was), writes no result, and exits 130.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../lib/checkpoint/checkpoint.ts';
import { REFERENCE_DIR } from './helpers.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'dni-sigint-'));

/** Run a script, send SIGINT after `after` ms or once its stderr matches `after`, and collect what it says. */
function interrupt(args: string[], after: number | RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root });
    let stdout = '',
      stderr = '',
      sent = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (after instanceof RegExp && !sent && after.test(stderr)) ((sent = true), child.kill('SIGINT'));
    });
    const timer = typeof after === 'number' ? setTimeout(() => child.kill('SIGINT'), after) : undefined;
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('Ctrl+C', () => {
  it.each(['queue', 'worker'])('reference CLI (%s): stops at a cut, saves it, says where, writes nothing, exits 130', async (scheduler) => {
    const c = JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8'));
    c.config.steps = 1_000_000;
    (delete c.final, delete c.losses, delete c.synthesizer_losses);
    const casePath = join(dir, `long-${scheduler}.json`),
      out = join(dir, `out-${scheduler}.json`),
      ckpt = join(dir, `stop-${scheduler}.ckpt`);
    writeFileSync(casePath, JSON.stringify(c));
    const r = await interrupt(['bin/reference.ts', casePath, '--out', out, '--checkpoint', ckpt, '--scheduler', scheduler], 4000);
    expect(r.code).toBe(130);
    const said =
      /reference: stopped before step (\d+) of 1000000; the state there is in (.*) \(go on with --resume .*\); nothing written to/.exec(
        r.stderr,
      );
    expect(said, r.stderr).not.toBeNull();
    expect(said![2]).toBe(ckpt);
    expect(readCheckpoint(ckpt).step).toBe(Number(said![1]));
    expect(existsSync(out)).toBe(false);
  });

  it('the binary-addition demo stops, says so, and exits 130', async () => {
    const r = await interrupt(['demos/binary-addition.ts', '--steps', '5000000'], 4000);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(
      new RegExp(
        /binary-addition: backprop stopped before step \d+ of 5000000 \(Ctrl\+C\); /.source +
          /not finished: backprop, DNI, cDNI\. No method finished: no table; no JSON line was written\./.source,
      ),
    );
    expect(r.stdout).not.toMatch(/^method /m);
  });

  // stopped while the second method trains: the first one's finished row is printed, not thrown away
  it.each([
    [
      'binary-addition',
      ['demos/binary-addition.ts', '--steps', '20000', '--json'],
      /^DNI /m,
      /^backprop +[\d.]+ +— +[\d.]+% +\d+ +[\d.]+$/m,
      'DNI',
      'DNI, cDNI',
    ],
    [
      'mnist',
      ['demos/mnist.ts', '--train', '640', '--test', '64', '--hidden', '16,16', '--methods', 'backprop,dni', '--epochs', '300', '--json'],
      /^dni /m,
      /^backprop +[\d.]+% +— +[\d.]+ +300 +[\d.]+ +[\d.]+$/m,
      'dni',
      'dni',
    ],
    [
      'multitask',
      ['demos/multitask.ts', '--train', '640', '--test', '64', '--trunk', '16', '--methods', 'backprop,dni', '--epochs', '300', '--json'],
      /^dni /m,
      /^backprop +[\d.]+% +[\d.]+% +[\d.]+ +300 +[\d.]+ +[\d.]+$/m,
      'dni',
      'dni',
    ],
  ])(
    "%s: Ctrl+C in the second method prints the first one's row, says what did not finish, exits 130",
    async (demo, args, second, row, stopped, unfinished) => {
      const r = await interrupt(args as string[], second as RegExp);
      expect(r.code, r.stderr).toBe(130);
      expect(r.stdout).toMatch(row as RegExp);
      expect(r.stdout.split('\n').filter((l) => /^(backprop|c?dni) /i.test(l))).toHaveLength(1);
      expect(r.stdout).not.toMatch(/^\{/m); // no JSON line: it would read as a whole run
      expect(r.stderr).toMatch(
        new RegExp(
          `${demo}: ${stopped} stopped before step \\d+ of \\d+.*; ` +
            `not finished: ${unfinished}\\. The table holds the methods that finished only; no .*written\\.`,
        ),
      );
    },
    150_000,
  );
});
