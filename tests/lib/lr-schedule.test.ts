/**
 * Learning-rate schedules: their factors, their short forms, the topology they scale (every
 * learning rate, nothing else), and fit() applying one per epoch.
 */
import { describe, expect, it } from 'vitest';
import { fit } from '../../actors/trainer/fit.ts';
import { oneHot } from '../../lib/data.ts';
import { constantLr, cosineLr, exponentialLr, parseLrSchedule, scaleLearningRates, stepLr } from '../../lib/lr-schedule.ts';
import { fromArray } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology } from '../../lib/topology.ts';

const topology = defineTopology({
  inputs: 6,
  batch: 4,
  loss: 'softmax-cross-entropy',
  optimizer: { kind: 'adam', lr: 0.01 },
  synthesizer: { optimizer: { kind: 'sgd', lr: 0.02, momentum: 0.9 }, conditioned: true },
  layers: [
    { units: 8, activation: 'relu', decoupled: true },
    { units: 5, activation: 'tanh', lr: 0.3, decoupled: true, synthesizer: { lr: 0.05 } },
    { units: 3 },
  ],
});

describe('learning-rate schedules', () => {
  it('give their factors by epoch (from 1)', () => {
    const at = (s: (e: number) => number, n: number) => Array.from({ length: n }, (_, i) => +s(i + 1).toFixed(6));
    expect(at(constantLr, 3)).toEqual([1, 1, 1]);
    expect(at(cosineLr(4), 4)).toEqual([1, 0.853553, 0.5, 0.146447]);
    expect(at(cosineLr(2, 0.2), 3)).toEqual([1, 0.6, 0.6]); // held at its last value after `epochs`
    expect(at(exponentialLr(0.5), 3)).toEqual([1, 0.5, 0.25]);
    expect(at(stepLr(2, 0.1), 5)).toEqual([1, 1, 0.1, 0.1, 0.01]);
  });

  it('parse from their short forms, and refuse bad ones by name', () => {
    expect(parseLrSchedule('constant', 5)(3)).toBe(1);
    expect(parseLrSchedule('cosine', 4)(3)).toBeCloseTo(0.5, 12);
    expect(parseLrSchedule('cosine:0.5', 4)(3)).toBeCloseTo(0.75, 12);
    expect(parseLrSchedule('exp:0.9', 9)(3)).toBeCloseTo(0.81, 12);
    expect(parseLrSchedule('step:10:0.3', 30)(11)).toBeCloseTo(0.3, 12);
    expect(() => parseLrSchedule('linear', 5)).toThrow(/expected constant, cosine\[:FLOOR\], exp:GAMMA or step:EVERY:GAMMA/);
    expect(() => parseLrSchedule('step:10', 5)).toThrow(/step takes 2 arguments/);
    expect(() => parseLrSchedule('exp:x', 5)).toThrow(/arguments must be numbers/);
    expect(() => parseLrSchedule('exp:1.5', 5)).toThrow(/gamma must be in \(0, 1\]/);
  });

  it('scale every learning rate of a topology (layers and synthesizers, plain SGD and optimisers) and nothing else', () => {
    const half = scaleLearningRates(topology, 0.5);
    const lrs = (t: typeof topology) => [...t.nodes, ...t.synthesizers].flatMap((l) => [l.lr, l.optimizer?.lr]);
    expect(lrs(half)).toEqual(lrs(topology).map((v) => (v === undefined ? undefined : v * 0.5)));
    const strip = (t: typeof topology) => JSON.parse(JSON.stringify(t, (k, v) => (k === 'lr' ? undefined : v)));
    expect(strip(half)).toEqual(strip(topology));
    expect(topology.nodes[0].optimizer?.lr).toBe(0.01); // the original is untouched
    expect(Object.isFrozen(half.synthesizers[1])).toBe(true);
    expect(scaleLearningRates(topology, 1)).toBe(topology);
    expect(() => scaleLearningRates(topology, -1)).toThrow(/factor must be finite and >= 0/);
  });

  it('fit() applies the factor per epoch: a factor of 0 leaves an epoch without effect on the parameters', async () => {
    const rng = new Rng(2),
      classes = Array.from({ length: 24 }, () => Math.floor(rng.uniform(0, 3)));
    const train = {
      x: fromArray(
        24,
        6,
        Array.from({ length: 144 }, () => rng.uniform(-1, 1)),
      ),
      y: oneHot(classes, 3),
    };
    const one = await fit({ topology, train, epochs: 1 });
    const two = await fit({ topology, train, epochs: 2, lrSchedule: (e) => (e === 1 ? 1 : 0) });
    const twoFull = await fit({ topology, train, epochs: 2 });
    expect(two.epochs.map((e) => e.lrFactor)).toEqual([1, 0]);
    for (const [k, m] of Object.entries(one.params)) {
      expect(Array.from(two.params[k].data), k).toEqual(Array.from(m.data));
      expect(Array.from(twoFull.params[k].data), k).not.toEqual(Array.from(m.data));
    }
  });
});
