/**
 * Bounded memory: with delay d, no route (a target actor and an event type) ever holds more
 * than d + 2 batches, under any scheduler, over 5,000 steps.
 */
import { describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { defineTopology } from '../../lib/topology.ts';

const data = binaryAddition(200, 6, 3);

describe.each([0, 1, 2])('delay %i', (delay) => {
  // every layer decoupled, the last one too: the most freedom to run ahead
  const topology = defineTopology({
    inputs: 12,
    batch: 4,
    lr: 0.5,
    synthesizer: { lr: 0.01, delay },
    layers: [
      { units: 16, decoupled: true },
      { units: 16, decoupled: true },
      { units: 6, decoupled: true },
    ],
  });

  it.each(['queue', 'async', 'worker'] as const)('%s: every queue stays within d + 2 over 5,000 steps', async (scheduler) => {
    const { queues } = await train({ topology, data, steps: 5000, scheduler });
    const routes = Object.keys(queues);
    expect(routes).toEqual(
      expect.arrayContaining(['FORWARD>layer:1', 'PREDICT>synthesizer:0', 'REFIT>synthesizer:0', 'SYNTHETIC_GRADIENT>layer:2']),
    );
    for (const r of routes) expect(queues[r], r).toBeLessThanOrEqual(delay + 2);
    if (scheduler === 'queue') expect(Math.max(...Object.values(queues))).toBe(1);
  });
});
