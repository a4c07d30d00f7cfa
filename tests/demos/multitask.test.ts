/** `npm run demo:multitask`: a smoke run ends stdout with one JSON object of each head's test accuracy per method; bad flags exit 2. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const demo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'demos', 'multitask.ts'), ...args], { cwd: root, encoding: 'utf8' });

describe('demo:multitask', () => {
  it('a smoke run trains every method and prints the table, then one JSON object with each head per method', () => {
    const r = demo('--smoke', '--json', '--seed', '2');
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/method\s+test: digit \(10 classes\)\s+test: digit ≥ 5 \(2 classes\)\s+final training loss/);
    const lines = r.stdout.trim().split('\n');
    const out = JSON.parse(lines[lines.length - 1]);
    expect(out).toMatchObject({
      graph: { inputs: 784, trunk: 256, digit: [128, 10], high: [32, 2], decoupled: ['trunk>digit_hidden', 'trunk>high_hidden'] },
      heads: { digit: { classes: 10, weight: 1 }, high: { classes: 2, weight: 1 } },
      scheduler: 'queue',
      split: { train: 500, validation: 0, test: 200 },
    });
    expect(Object.keys(out.methods)).toEqual(['backprop', 'dni', 'cdni']);
    for (const [method, m] of Object.entries(out.methods) as [string, any][]) {
      expect(Object.keys(m.test_accuracy), method).toEqual(['digit', 'high']);
      for (const head of ['digit', 'high']) {
        // a share of the 200 test images (k / 200)
        expect(Math.abs(m.test_accuracy[head] * 200 - Math.round(m.test_accuracy[head] * 200)), `${method} ${head}`).toBeLessThan(1e-9);
      }
      expect(m.epochs).toBe(1);
      expect(m.curve).toEqual([{ epoch: 1, train_loss: m.train_loss, test_accuracy: m.test_accuracy }]);
      expect(m.train_loss).toBeGreaterThan(0);
    }
    // one epoch of backprop already beats chance (10% and about 50%) on both heads
    expect(out.methods.backprop.test_accuracy.digit).toBeGreaterThan(0.3);
    expect(out.methods.backprop.test_accuracy.high).toBeGreaterThan(0.6);
  });

  it.each([
    [['--methods', 'backprop,sgd'], /unknown method 'sgd' \(expected backprop, dni, cdni\)/],
    [['--trunk', '0'], /--trunk needs an integer >= 1, got 0/],
    [['--high-weight', '0'], /--high-weight must be > 0, got 0/],
    [['--epoch', '3'], /Unknown option '--epoch'/],
  ])('refuses %j with exit code 2 and the usage text', (args, message) => {
    const r = demo(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/usage: npx tsx demos\/multitask.ts \[options\][\s\S]*--smoke/);
  });
});
