/**
 * `npm run demo:mnist`: strict flags with a usage text, the JSON last line, the SVG curves. Each bad flag is
 * checked in-process against the demo's own parser (demos/mnist-args.ts), one of them also end to end through
 * the demo's exit path (a child run of the demo costs a start of tsx).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../demos/cli.ts';
import { mnistUsageError, parseMnistArgs } from '../../demos/mnist-args.ts';
import { thrownBy } from '../helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const demo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'demos', 'mnist.ts'), ...args], { cwd: root, encoding: 'utf8' });

describe('demo:mnist', () => {
  /** What the demo's parser throws for a command line (the demo prints it with the usage, and exits with code 2). */
  const refusal = (argv: string[]) => thrownBy(() => parseMnistArgs(argv));

  it.each([
    [['--epoch', '3'], /Unknown option '--epoch'/],
    [['--scheduler', 'fastest'], /unknown scheduler 'fastest' \(expected one of queue/],
    [['--epochs', 'two'], /--epochs needs a number > 0, got 'two'/],
    [['--batch', '0'], /--batch needs an integer >= 1, got 0/],
    [['--hidden', '256,x'], /--hidden needs widths like 256,256, got '256,x'/],
    [['--methods', 'backprop,sgd'], /unknown method 'sgd' \(expected backprop, dni, cdni\)/],
  ])('refuses %j with a usage error and the usage text', (args, message) => {
    const err = refusal(args);
    expect(err).toBeInstanceOf(UsageError);
    const stderr = mnistUsageError((err as UsageError).message);
    expect(stderr).toMatch(message);
    expect(stderr).toMatch(/usage: npx tsx demos\/mnist.ts \[options\][\s\S]*--synthesizer-lr X[\s\S]*--plot FILE/);
  });

  it('prints that usage error and the usage text, and exits with code 2', () => {
    const argv = ['--hidden', '256,x'];
    const err = refusal(argv);
    expect(err).toBeInstanceOf(UsageError);
    const r = demo(...argv);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`${mnistUsageError((err as UsageError).message)}\n`);
    expect(r.stderr).toMatch(/--hidden needs widths like 256,256, got '256,x'/);
  });

  it('trains, prints the table, writes the curves, and ends stdout with one JSON object', () => {
    const svg = join(mkdtempSync(join(tmpdir(), 'mnist-')), 'curves.svg');
    const r = demo(
      '--methods',
      'backprop,cdni',
      '--train',
      '300',
      '--validation',
      '50',
      '--test',
      '100',
      '--batch',
      '25',
      '--epochs',
      '2',
      '--hidden',
      '32,32',
      '--backend',
      'typescript',
      '--json',
      '--plot',
      svg,
    );
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines[lines.length - 1]);
    expect(out).toMatchObject({
      network: [784, 32, 32, 10],
      batch: 25,
      scheduler: 'queue',
      backend: 'typescript',
      split: { train: 250, validation: 50, test: 100 },
    });
    expect(Object.keys(out.methods)).toEqual(['backprop', 'cdni']);
    for (const m of Object.values(out.methods) as Record<string, number>[]) {
      expect(m.epochs).toBe(2);
      // a share of the 100 test images (k / 100; two epochs on 250 images need not beat chance)
      expect(Math.abs(m.test_accuracy * 100 - Math.round(m.test_accuracy * 100))).toBeLessThan(1e-9);
      expect(m.wall_seconds).toBeGreaterThan(0);
    }
    expect(r.stdout).toMatch(/method\s+test accuracy\s+validation accuracy\s+final training loss\s+epochs/);
    const chart = readFileSync(svg, 'utf8');
    expect(chart).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(chart.match(/<path /g)).toHaveLength(4);
    expect(chart).toContain('validation accuracy');
  });
});
