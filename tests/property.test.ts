/**
 * Property tests over random topologies and data: building either succeeds and one step trains
 * with finite numbers, or it throws a TopologyError (DataError for the data) whose message names what is wrong
 * (the topology, a layer, the data, the parameters) before any actor runs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createTraining } from '../actors/trainer/training.ts';
import { ACTIVATIONS } from '../lib/activations.ts';
import { DataError, TopologyError } from '../lib/errors.ts';
import { zeros } from '../lib/matrix.ts';
import { Rng } from '../lib/rng.ts';

/** Mostly valid values, sometimes a bad one. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) =>
  fc.oneof({ arbitrary: valid, weight: 14 }, { arbitrary: bad, weight: 1 });

const layerArb = fc.record({
  units: mostly(fc.integer({ min: 1, max: 12 }), fc.constantFrom(0, -3, 2.5)),
  activation: mostly(fc.constantFrom(...ACTIVATIONS, undefined), fc.constant('softplus')),
  decoupled: fc.boolean(),
  synthesizer: fc.option(
    fc.record(
      {
        delay: mostly(fc.integer({ min: 0, max: 3 }), fc.constant(-1)),
        conditioned: fc.boolean(),
        lr: mostly(fc.double({ min: 0, max: 0.5, noNaN: true }), fc.constant(-0.1)),
        clip: fc.double({ min: 0.1, max: 10, noNaN: true }),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined },
  ),
});

const caseArb = fc.record({
  inputs: mostly(fc.integer({ min: 1, max: 10 }), fc.constant(0)),
  batch: mostly(fc.integer({ min: 1, max: 8 }), fc.constantFrom(0, 40)),
  lr: mostly(fc.double({ min: 0, max: 1, noNaN: true }), fc.constant(Number.NaN)),
  loss: fc.constantFrom('mse' as const, 'softmax-cross-entropy' as const),
  layers: mostly(fc.array(layerArb, { minLength: 1, maxLength: 4 }), fc.array(layerArb, { maxLength: 0 })),
  rows: mostly(fc.integer({ min: 8, max: 24 }), fc.constant(0)),
  /** data shape mistakes */
  xColsOff: mostly(fc.constant(0), fc.constant(1)),
  yColsOff: mostly(fc.constant(0), fc.constant(-1)),
  poison: mostly(fc.constant('none'), fc.constantFrom('nan-x', 'inf-y')),
  seed: fc.integer({ min: 1, max: 1000 }),
});

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function dataFor(c: Case) {
  const rng = new Rng(c.seed);
  const last = c.layers[c.layers.length - 1]?.units ?? 1;
  const xCols = Math.max(1, c.inputs + c.xColsOff),
    yCols = Math.max(1, (Number.isInteger(last) && last > 0 ? last : 1) + c.yColsOff);
  const x = zeros(c.rows, xCols),
    y = zeros(c.rows, yCols);
  for (let i = 0; i < x.data.length; i++) x.data[i] = rng.uniform(-1, 1);
  for (let r = 0; r < c.rows; r++) {
    if (c.loss === 'softmax-cross-entropy') y.data[r * yCols + (rng.nextUint32() % yCols)] = 1;
    else for (let j = 0; j < yCols; j++) y.data[r * yCols + j] = rng.next();
  }
  if (c.poison === 'nan-x' && x.data.length) x.data[x.data.length - 1] = NaN;
  if (c.poison === 'inf-y' && y.data.length) y.data[0] = Infinity;
  return { x, y };
}

describe('random topologies', () => {
  it('either train one step with finite numbers, or are refused by name before any work', async () => {
    let built = 0,
      refused = 0;
    const messages = new Set<string>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        // keep the two mistakes the generator would make most often to one case in 15
        const keepMistake = c.seed % 15 === 0;
        const layers = c.layers.map((l, i) => ({
          ...l,
          synthesizer: l.decoupled || keepMistake ? l.synthesizer : undefined,
          activation: c.loss === 'softmax-cross-entropy' && i === c.layers.length - 1 && !keepMistake ? undefined : l.activation,
        }));
        const topology = { inputs: c.inputs, batch: c.batch, lr: c.lr, loss: c.loss, layers };
        let training;
        try {
          training = createTraining({ topology: topology as never, data: dataFor(c), steps: 1, seed: c.seed });
        } catch (e) {
          refused++;
          messages.add((e as Error).message.replace(/[-\d.]+/g, 'N').slice(0, 70));
          expect(e).toBeInstanceOf((e as Error).message.startsWith('data') ? DataError : TopologyError);
          expect((e as Error).message).toMatch(/^(topology|layer \d+|data|parameters|training)\b/);
          return;
        }
        built++;
        const r = await training.run();
        expect(Number.isFinite(r.losses[0])).toBe(true);
        expect(Number.isFinite(r.synthesizerLosses[0])).toBe(true);
        for (const [k, m] of Object.entries(r.params)) expect(m.data.every(Number.isFinite), k).toBe(true);
      }),
      { numRuns: 300, seed: 20261127 },
    );
    // the generator must exercise both sides
    expect(built).toBeGreaterThan(30);
    expect(refused).toBeGreaterThan(30);
    expect(messages.size, [...messages].join('\n')).toBeGreaterThan(8);
  });
});
