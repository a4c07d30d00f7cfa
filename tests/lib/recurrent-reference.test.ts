/**
 * Recurrent parity with the independent float64 numpy implementation of docs/maths.md's "Recurrent
 * interfaces": reference/rnn-bptt.json and rnn-dni.json reproduced by the bare loop within
 * 3e-6 (every final parameter absolute; every per-step loss relative, with a floor of 1e-3 so exact
 * zeros compare absolutely) and 1e-5 (synthesizer losses), on the default kernels and the TypeScript ones.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KernelBackend, backend, typescriptBackend, useBackend } from '../../lib/kernels/kernels.ts';
import { type RecurrentCase, loadRecurrentCase } from '../../lib/recurrent/case.ts';
import { buildRecurrentNetwork } from '../../lib/recurrent/network.ts';
import { recurrentParametersToJSON } from '../../lib/recurrent/params.ts';
import { trainRecurrentSequential } from '../../lib/recurrent/sequential.ts';
import { REFERENCE_DIR } from '../helpers.ts';

export function maxRelative(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-3));
  return m;
}

export function maxParamDiff(
  got: Record<string, number[] | number[][]>,
  want: Record<string, number[] | number[][]>,
): { diff: number; key: string } {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  let diff = 0,
    key = '';
  for (const [k, v] of Object.entries(want)) {
    const a = got[k].flat(),
      b = v.flat();
    expect(a.length, k).toBe(b.length);
    for (let i = 0; i < b.length; i++) if (!(Math.abs(a[i] - b[i]) <= diff)) ((diff = Math.abs(a[i] - b[i])), (key = k));
  }
  return { diff, key };
}

/** Run a recurrent case in the bare loop and compare with its answers; returns the deviations. */
export function checkCase(json: RecurrentCase) {
  const c = loadRecurrentCase(json);
  const net = buildRecurrentNetwork(c.topology, c.initial);
  const run = trainRecurrentSequential(net, c.sequences, c.steps);
  const p = maxParamDiff(recurrentParametersToJSON(c.topology, net.params), json.final!);
  const deviations = {
    param: p.diff,
    worst: p.key,
    loss: maxRelative(run.losses, json.losses!),
    synthesizer: maxRelative(run.synthesizerLosses, json.synthesizer_losses!),
  };
  // docs/maths.md: float32 within ~1e-6. Measured (default and TypeScript kernels): parameters 2.0e-6, losses
  // 1.1e-6, synthesizer losses 4.9e-6 (relative, small values) at most
  expect(deviations.param, `worst parameter ${p.key}`).toBeLessThan(3e-6);
  expect(deviations.loss).toBeLessThan(3e-6);
  expect(deviations.synthesizer).toBeLessThan(1e-5);
  return deviations;
}

const read = (name: string) => JSON.parse(readFileSync(join(REFERENCE_DIR, `${name}.json`), 'utf8')) as RecurrentCase;

describe('recurrent reference parity (bare loop)', () => {
  let saved: KernelBackend | null = null;
  afterEach(() => {
    if (saved) useBackend(saved);
    saved = null;
  });

  describe.each(['rnn-bptt', 'rnn-dni'])('%s', (name) => {
    it('default kernels', () => {
      const json = read(name);
      const d = checkCase(json);
      // the case really trains: losses move and, with DNI, the synthesizer learns something
      expect(json.losses!.some((l) => l > 0)).toBe(true);
      if (json.config.dni) expect(json.synthesizer_losses!.some((l) => l > 0)).toBe(true);
      console.info(
        `${name} (${backend().name}): max |param diff| ${d.param.toExponential(2)} (${d.worst}), ` +
          `max rel loss ${d.loss.toExponential(2)}, max rel synthesizer loss ${d.synthesizer.toExponential(2)}`,
      );
    });

    it('TypeScript kernels', () => {
      saved = backend();
      useBackend(typescriptBackend);
      const d = checkCase(read(name));
      console.info(
        `${name} (typescript): max |param diff| ${d.param.toExponential(2)} (${d.worst}), ` +
          `max rel loss ${d.loss.toExponential(2)}, max rel synthesizer loss ${d.synthesizer.toExponential(2)}`,
      );
    });
  });

  it('refuses a case that is not recurrent, naming it', () => {
    const json = read('rnn-bptt');
    expect(() => loadRecurrentCase({ ...json, config: { ...json.config, kind: 'graph' as 'rnn' } }, 'x')).toThrow(
      "x: config.kind is 'graph', expected 'rnn'",
    );
    expect(() => loadRecurrentCase({ ...json, config: { ...json.config, truncation: 0 } }, 'x')).toThrow(
      'x: recurrent topology: truncation T must be an integer >= 1',
    );
    expect(() => loadRecurrentCase({ ...json, mask: json.mask.slice(1) }, 'x')).toThrow(
      'x: sequences: mask has 39 rows, x has 40 sequences',
    );
  });
});

/**
 * An LSTM case from bench/rnn_numpy.py (float64, written independently of lib/recurrent): DNI with
 * Adam on the core, readout and synthesizer, gradient clipping at 1, forget bias 1, three windows of
 * T = 3 per sequence. Committed as tests/fixtures/rnn-lstm-dni.json; when python3 with numpy is
 * here, the script is run again and must write the same case.
 */
describe('LSTM parity with bench/rnn_numpy.py', () => {
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'rnn-lstm-dni.json');

  it('the committed LSTM + DNI + Adam + clip case, on the default and TypeScript kernels', () => {
    const json = JSON.parse(readFileSync(fixture, 'utf8')) as RecurrentCase;
    expect(json.config.cell).toBe('lstm');
    const d = checkCase(json);
    const saved = backend();
    useBackend(typescriptBackend);
    try {
      const t = checkCase(json);
      console.info(
        `rnn-lstm-dni: ${saved.name} param ${d.param.toExponential(2)}, ` +
          `loss ${d.loss.toExponential(2)}, synthesizer ${d.synthesizer.toExponential(2)}; ` +
          `typescript param ${t.param.toExponential(2)}, ` +
          `loss ${t.loss.toExponential(2)}, synthesizer ${t.synthesizer.toExponential(2)}`,
      );
    } finally {
      useBackend(saved);
    }
  });

  it.skipIf(spawnSync('python3', ['-c', 'import numpy']).status !== 0)('bench/rnn_numpy.py writes the committed case again', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'rnn-')), 'case.json');
    const run = spawnSync('python3', [join(import.meta.dirname, '..', '..', 'bench', 'rnn_numpy.py'), '--emit-lstm', out], {
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const fresh = JSON.parse(readFileSync(out, 'utf8')) as RecurrentCase,
      committed = JSON.parse(readFileSync(fixture, 'utf8')) as RecurrentCase;
    expect(maxParamDiff(fresh.final!, committed.final!).diff).toBeLessThan(1e-12);
    expect(maxRelative(fresh.losses!, committed.losses!)).toBeLessThan(1e-12);
  });
});
