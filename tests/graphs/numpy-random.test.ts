/**
 * Graph DNI against the independent numpy implementation (bench/dni_graph_numpy.py, written from
 * docs/maths.md alone): random graphs (fan-out, concat and sum merges, input skips, 1-3 weighted heads
 * of both losses, dni and cdni on any edge including node→head, delays 0-2, every activation; and
 * the unlocks: forward and complete interfaces on edges into a node, λ and warm-ups)
 * drawn and answered in float64 by numpy, trained here in float32 through the actors: every final
 * parameter within GRAPH_TOLERANCE (3e-6), every step's loss and synthesizer loss within it relative
 * (measured over the 200: parameters 6.2e-7, losses 2.5e-7, synthesizer losses 3.3e-7 at most).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { parametersToJSON } from '../../lib/params.ts';
import type { ReferenceCase } from '../../lib/reference.ts';
import { loadCase } from '../../lib/reference.ts';
import { GRAPH_TOLERANCE, HAS_NUMPY, NO_NUMPY, deviations, randomGraphCases } from './_numpy.ts';

/** seeds 1..SEEDS (203, 366 and 915 are near-unstable: float32 and float64 part ways; not in range) */
const SEEDS = 200;
const STEPS = 30;
const TOLERANCE = GRAPH_TOLERANCE;

/** What a set of cases exercises, counted (so a generator that stopped branching would be caught). */
function features(cases: { json: ReferenceCase }[]) {
  const count: Record<string, number> = {};
  const add = (k: string, yes: boolean) => (count[k] = (count[k] ?? 0) + (yes ? 1 : 0));
  for (const { json } of cases) {
    const c = json.config,
      nodes = c.nodes!,
      heads = c.heads!,
      ifs = c.interfaces ?? [];
    const consumers = (id: string) => nodes.filter((n) => n.inputs.includes(id)).length + heads.filter((h) => h.node === id).length;
    add(
      'sum merge',
      nodes.some((n) => n.merge === 'sum'),
    );
    add(
      'concat of several',
      nodes.some((n) => n.merge !== 'sum' && n.inputs.length > 1),
    );
    add(
      'input skip',
      nodes.some((n, i) => i > 0 && n.inputs.includes('input') && n.inputs.length > 1),
    );
    add(
      'fan-out',
      nodes.some((n) => consumers(n.id) > 1),
    );
    add('several heads', heads.length > 1);
    add(
      'softmax head',
      heads.some((h) => h.loss === 'softmax-cross-entropy'),
    );
    add(
      'head weight != 1',
      heads.some((h) => h.weight !== 1),
    );
    add(
      'dni',
      ifs.some((i) => i.kind === 'dni'),
    );
    add(
      'cdni',
      ifs.some((i) => i.kind === 'cdni'),
    );
    add(
      'decoupled edge into a head',
      ifs.some((i) => heads.some((h) => h.id === i.to)),
    );
    add(
      'delay 1',
      ifs.some((i) => i.delay === 1),
    );
    add(
      'delay 2',
      ifs.some((i) => i.delay === 2),
    );
    add(
      'forward',
      ifs.some((i) => i.kind === 'forward'),
    );
    add(
      'complete',
      ifs.some((i) => i.kind === 'complete'),
    );
    add(
      'complete with context',
      ifs.some((i) => i.kind === 'complete' && i.context !== undefined),
    );
    add(
      'lambda',
      ifs.some((i) => (i.lambda ?? 0) > 0),
    );
    add(
      'warm-up',
      ifs.some((i) => (i.warmup ?? 0) > 0),
    );
    add(
      'warm-up past the run',
      ifs.some((i) => (i.warmup ?? 0) > json.config.steps!),
    );
    for (const a of ['sigmoid', 'tanh', 'relu', 'linear'])
      add(
        a,
        nodes.some((n) => n.activation === a),
      );
  }
  return count;
}

describe('random graphs against the independent numpy implementation', () => {
  it.skipIf(!HAS_NUMPY)(
    `${SEEDS} random graphs, ${STEPS} steps each, through the actors: within ${TOLERANCE}${HAS_NUMPY ? '' : NO_NUMPY}`,
    async () => {
      const cases = randomGraphCases(1, SEEDS, STEPS, mkdtempSync(join(tmpdir(), 'dni-graph-numpy-')));
      expect(cases).toHaveLength(SEEDS);
      const seen = features(cases);
      for (const [k, n] of Object.entries(seen)) expect(n, `cases with ${k}`).toBeGreaterThanOrEqual(10);
      let worst = { param: 0, loss: 0, synthesizerLoss: 0 },
        moved = 0;
      for (const { name, json } of cases) {
        const c = loadCase(json, name);
        const r = await train({ topology: c.topology, data: c.data, params: c.initial, steps: c.steps, scheduler: 'queue' });
        const d = deviations(
          { final: parametersToJSON(r.params, c.topology), losses: r.losses, synthesizer_losses: r.synthesizerLosses },
          json as never,
        );
        expect(d.param, `${name}: worst parameter ${d.worstParam}`).toBeLessThan(TOLERANCE);
        expect(d.loss, `${name}: losses`).toBeLessThan(TOLERANCE);
        expect(d.synthesizerLoss, `${name}: synthesizer losses`).toBeLessThan(TOLERANCE);
        worst = {
          param: Math.max(worst.param, d.param),
          loss: Math.max(worst.loss, d.loss),
          synthesizerLoss: Math.max(worst.synthesizerLoss, d.synthesizerLoss),
        };
        // the training moved the parameters well past the tolerance (a run that trained nothing would not pass)
        if (
          deviations(
            { final: json.initial, losses: [], synthesizer_losses: [] },
            { final: json.final!, losses: [], synthesizer_losses: [] },
          ).param >
          100 * TOLERANCE
        )
          moved++;
      }
      expect(moved).toBe(SEEDS);
      console.log(
        `numpy agreement over ${SEEDS} random graphs: worst parameter ${worst.param.toExponential(1)}, ` +
          `loss ${worst.loss.toExponential(1)}, ` +
          `synthesizer loss ${worst.synthesizerLoss.toExponential(1)}`,
      );
      // numpy draws and answers 200 cases first (~8 s of CPU; a minute of wall time on a loaded machine)
    },
    240_000,
  );
});
