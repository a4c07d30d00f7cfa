/**
 * `npm run demo | head -1`: the reader goes away after the first line. The demo must end
 * quietly at its next write (exit 0), not with an EPIPE stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'dni-pipe-'));

/** Run a demo whose stdout reader closes after the first chunk, as `| head -1` does. */
function intoHead(args: string[]): Promise<{ code: number | null; stderr: string; first: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '',
      first = '';
    child.stdout.once('data', (d: Buffer) => {
      first = String(d);
      child.stdout.destroy();
    });
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stderr, first });
    });
  });
}

describe('a demo piped into head', () => {
  it.each([
    ['binary-addition', ['demos/binary-addition.ts', '--steps', '30']],
    ['inspector', ['demos/inspector.ts', '--steps', '40', '--no-serve', '--trace', join(dir, 'i.jsonl')]],
    ['mnist', ['demos/mnist.ts', '--train', '640', '--test', '64', '--hidden', '16,16', '--epochs', '1', '--methods', 'backprop']],
  ])(
    '%s: ends quietly with exit 0, no EPIPE stack trace',
    async (_, args) => {
      const r = await intoHead(args);
      expect(r.first.length).toBeGreaterThan(0);
      expect(r.stderr).not.toMatch(/EPIPE|^\s+at /m);
      expect(r.code, r.stderr).toBe(0);
    },
    150_000,
  );
});
