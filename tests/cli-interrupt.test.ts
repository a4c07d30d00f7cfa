/**
 * Ctrl+C in the reference CLI and the demo: the training stops at a consistent cut, the CLI says
 * where the state was saved (and it was), writes no result, and exits 130.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCheckpoint } from '../lib/checkpoint.ts';
import { REFERENCE_DIR } from './helpers.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'dni-sigint-'));

/** Run a script, send SIGINT once `ready` matches its stderr or stdout (or after `afterMs`), and collect what it says. */
function interrupt(args: string[], afterMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGINT'), afterMs);
    const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
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
    delete c.final, delete c.losses, delete c.synthesizer_losses;
    const casePath = join(dir, `long-${scheduler}.json`), out = join(dir, `out-${scheduler}.json`), ckpt = join(dir, `stop-${scheduler}.ckpt`);
    writeFileSync(casePath, JSON.stringify(c));
    const r = await interrupt(['bin/reference.ts', casePath, '--out', out, '--checkpoint', ckpt, '--scheduler', scheduler], 4000);
    expect(r.code).toBe(130);
    const said = /reference: stopped before step (\d+) of 1000000; the state there is in (.*) \(go on with --resume .*\); nothing written to/.exec(r.stderr);
    expect(said, r.stderr).not.toBeNull();
    expect(said![2]).toBe(ckpt);
    expect(readCheckpoint(ckpt).step).toBe(Number(said![1]));
    expect(existsSync(out)).toBe(false);
  });

  it('the binary-addition demo stops, says so, and exits 130', async () => {
    const r = await interrupt(['demos/binary-addition.ts', '--steps', '5000000'], 4000);
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/binary-addition: \w+ stopped before step \d+ of 5000000 \(Ctrl\+C\); no table/);
  });
});
