/** The binary-addition demo: refuses to train nothing, and explains every row that has not learned. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainResults } from '../../demos/explain.ts';

const root = join(import.meta.dirname, '..', '..');
const demo = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), ...args], { cwd: root, encoding: 'utf8' });

describe('binary-addition demo', () => {
  it('refuses --steps 0 (a table of zeros would read as a perfect score) and an --epochs that makes no step', () => {
    const zero = demo('--steps', '0');
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain("binary-addition: --steps needs an integer >= 1, got '0'");
    expect(zero.stdout).not.toContain('bit accuracy');
    const tiny = demo('--epochs', '0.001');
    expect(tiny.status).toBe(2);
    expect(tiny.stderr).toContain('--epochs 0.001 is 0 steps (an epoch is 100 batches): nothing would be trained');
  });

  it('explains each row near chance under its table', () => {
    const r = demo('--steps', '3000');
    expect(r.status).toBe(0);
    const table = r.stdout.slice(r.stdout.indexOf('method'));
    const rows = [...table.matchAll(/^(backprop|DNI|cDNI)\s.*?([\d.]+)%/gm)].map((m) => ({ method: m[1]!, accuracy: Number(m[2]) / 100 }));
    expect(rows.map((x) => x.method)).toEqual(['backprop', 'DNI', 'cDNI']);
    for (const row of rows.filter((x) => x.accuracy < 0.9)) {
      expect(table, `${row.method} at ${row.accuracy} is not explained`).toMatch(
        row.method === 'DNI' ? /DNI stays near chance here/ : new RegExp(`${row.method}.* not learned the task yet in 3000 steps`),
      );
    }
  });

  it('says nothing of rows that learned', () => {
    expect(explainResults({ backprop: { bit_accuracy: 0.999 }, dni: { bit_accuracy: 0.95 }, cdni: { bit_accuracy: 1 } }, 60_000)).toEqual(
      [],
    );
    const lines = explainResults({ backprop: { bit_accuracy: 0.999 }, dni: { bit_accuracy: 0.507 }, cdni: { bit_accuracy: 0.7 } }, 20_000);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^DNI stays near chance here: .*label.*cDNI gives the synthesizers the label too/);
    expect(lines[1]).toBe(
      'cDNI has not learned the task yet in 20000 steps (cDNI takes longer than backprop: ' +
        'its synthesizers must learn the gradients first); ' +
        'give more --steps (the default is 60000).',
    );
  });
});
