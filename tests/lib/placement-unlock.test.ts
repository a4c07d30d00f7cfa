/**
 * Where the default plan puts a forward synthesizer (lib/placement.ts): a block of its own, so the
 * planner can balance its cost (a linear model of the data costs as much as the first layer), not
 * in its consumer's block, where it made the consumer's stage the slowest by far (issue 22).
 */
import { describe, expect, it } from 'vitest';
import { defaultStageCount, planStages, stageCost } from '../../lib/placement.ts';
import { defineTopology } from '../../lib/topology.ts';

// demos/unlock.ts's network: 784-256-256-10, a complete unlock after the first hidden layer
const demo = (complete: boolean) =>
  defineTopology({
    inputs: 784,
    batch: 64,
    loss: 'softmax-cross-entropy',
    optimizer: { kind: 'adam', lr: 1e-3 },
    synthesizer: { optimizer: { kind: 'adam', lr: 3e-3 } },
    layers: [
      { units: 256, activation: 'relu', decoupled: true, complete },
      { units: 256, activation: 'relu', decoupled: true },
      { units: 10, activation: 'linear' },
    ],
  });

describe('placing a forward synthesizer', () => {
  it('is a block of its own: with three stages it has one to itself, between its source and its consumer', () => {
    const stages = planStages(demo(true), 3).map((s) => s.actors);
    expect(stages).toEqual([['layer:0', 'synthesizer:0'], ['forward:0'], ['layer:1', 'synthesizer:1', 'layer:2', 'head']]);
  });

  it(
    "the default plan's slowest stage is no slower than the first layer's block " +
      "(it was the forward synthesizer and the second layer's together)",
    () => {
      const t = demo(true),
        stages = planStages(t, defaultStageCount(t, 2));
      const slowest = Math.max(...stages.map((s) => stageCost(t, s)));
      const first = stageCost(t, { index: 0, actors: ['layer:0', 'synthesizer:0'] });
      const forward = stageCost(t, { index: 0, actors: ['forward:0'] });
      expect(slowest).toBeLessThanOrEqual(Math.max(first, forward));
      expect(stages.find((s) => s.actors.includes('forward:0'))!.actors).toEqual(['forward:0']);
    },
  );
});
