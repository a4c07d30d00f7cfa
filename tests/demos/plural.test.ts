/** "1 epochs": counts read as English wherever the demos print them. */
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { plural } from '../../lib/text.ts';

const root = join(import.meta.dirname, '..', '..');
const run = (args: string[]) =>
  execFileSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });

describe('counts', () => {
  it('plural: the singular for exactly one', () => {
    expect([
      plural(0, 'step'),
      plural(1, 'epoch'),
      plural(2, 'epoch'),
      plural(1, 'batch', 'batches'),
      plural(3, 'batch', 'batches'),
    ]).toEqual(['0 steps', '1 epoch', '2 epochs', '1 batch', '3 batches']);
    expect(plural(1000, 'step', undefined, '1,000')).toBe('1,000 steps');
  });

  it('binary-addition: one epoch of steps is "1 epoch"', () => {
    expect(run(['demos/binary-addition.ts', '--steps', '100'])).toContain('100 steps (1 epoch) per method');
  }, 150_000);

  it('mnist: "1 epoch of 10 steps per method"', () => {
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'demos/mnist.ts',
        '--train',
        '640',
        '--test',
        '64',
        '--hidden',
        '16,16',
        '--epochs',
        '1',
        '--methods',
        'backprop',
      ],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('\n1 epoch of 10 steps per method');
  }, 150_000);
});
