/** demos/unlock.ts: strict flags with a usage text, and the JSON last line the issue names. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const demo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'demos', 'unlock.ts'), ...args], { cwd: root, encoding: 'utf8' });

describe('demos/unlock.ts', () => {
  it('--help lists the methods and its options', () => {
    const r = demo('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/backprop, dni, complete, dni-warmup/);
    expect(r.stdout).toMatch(/--warmup N[\s\S]*--complete-layers N[\s\S]*--stages N/);
    expect(r.stdout).toMatch(/--unconditioned +synthesizers see the layer only, not the labels \(plain DNI; default: cDNI\)/);
  });

  it.each([
    [['--methods', 'dni,cdni'], /unknown method 'cdni' \(expected backprop, dni, complete, dni-warmup\)/],
    [['--warmup', '2.5'], /--warmup needs an integer >= 0, got 2.5/],
    [['--complete-layers', '0'], /--complete-layers needs an integer >= 1, got 0/],
    [['--scheduler', 'worker'], /--scheduler: this demo trains every method under queue and under worker/],
  ])('refuses %j with exit code 2 and the usage text', (args, message) => {
    const r = demo(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: npx tsx demos\/unlock.ts \[options\]/);
  });

  it(
    'trains every method under queue and worker, same bits, ' +
      'and ends stdout with {"methods": {NAME: {"test_accuracy", "steps_per_second": {"queue", "worker"}}}}',
    () => {
      const r = demo(
        '--train',
        '200',
        '--test',
        '100',
        '--batch',
        '20',
        '--steps',
        '12',
        '--warmup',
        '4',
        '--hidden',
        '16,16',
        '--stages',
        '2',
        '--json',
      );
      expect(r.stderr).not.toMatch(/Error/);
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      // the paper's complete-unlock set-up by default: synthesizers conditioned on the labels
      expect(lines[0]).toMatch(/linear synthesizers conditioned on the labels \(cDNI\)/);
      const out = JSON.parse(lines[lines.length - 1]);
      // the table: the CPU time a step costs beside the wall-time steps/s, per method and scheduler
      expect(r.stdout).toMatch(/CPU ms\/step queue +CPU ms\/step worker/);
      for (const m of ['backprop', 'dni', 'complete', 'dni-warmup'])
        expect(r.stdout).toMatch(new RegExp(`^${m} .* \\d+\\.\\d\\d +\\d+\\.\\d\\d$`, 'm'));
      expect(Object.keys(out)).toEqual(['methods']);
      expect(Object.keys(out.methods)).toEqual(['backprop', 'dni', 'complete', 'dni-warmup']);
      for (const m of Object.values(out.methods) as { test_accuracy: number; steps_per_second: Record<string, number> }[]) {
        expect(Object.keys(m)).toEqual(['test_accuracy', 'steps_per_second']);
        // a share of the 100 test digits (not a number that merely lies in [0, 1])
        expect(Math.abs(m.test_accuracy * 100 - Math.round(m.test_accuracy * 100))).toBeLessThan(1e-9);
        expect(Object.keys(m.steps_per_second)).toEqual(['queue', 'worker']);
        for (const v of Object.values(m.steps_per_second)) expect(v).toBeGreaterThan(0);
      }
      // 12 steps of backprop learn past chance (0.1 on ten digits): measured 0.22
      expect(out.methods.backprop.test_accuracy).toBeGreaterThan(0.15);
    },
    240_000,
  );
});
