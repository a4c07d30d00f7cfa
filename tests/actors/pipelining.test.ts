/**
 * The schedulers must actually reorder: queue runs one batch at a time; async and worker
 * pipeline (batch t+1 enters while batch t is further down). These tests fail if a change to the
 * stages, the feeding or the schedulers quietly serialises the pipelined ones.
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { train } from '../../actors/training.ts';
import { defineGraph } from '../../lib/graph.ts';
import { loadCase } from '../../lib/reference.ts';
import { defineTopology } from '../../lib/topology.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { referenceCases } from '../helpers.ts';

/** The most batches that were in flight at once: a batch is in flight from the first to the last event an actor received for it. */
function overlap(batches: number[]): number {
  const first = new Map<number, number>(), last = new Map<number, number>();
  batches.forEach((b, i) => {
    if (!first.has(b)) first.set(b, i);
    last.set(b, i);
  });
  let most = 0;
  for (let i = 0; i < batches.length; i++) {
    let open = 0;
    for (const [b, f] of first) if (f <= i && last.get(b)! >= i) open++;
    most = Math.max(most, open);
  }
  return most;
}

async function eventBatches(scheduler: 'queue' | 'async', topology: Parameters<typeof train>[0]['topology'], data: Parameters<typeof train>[0]['data'], steps: number) {
  const batches: number[] = [];
  const inspect = (e: InspectionEvent) => {
    const b = (e as { event?: { batch?: unknown } }).event?.batch;
    if (e.type === '@xstate.event' && typeof b === 'number') batches.push(b);
  };
  await train({ topology, data, steps, scheduler, inspect });
  return batches;
}

describe('pipelining', () => {
  const dni = referenceCases().find((c) => c.name === 'dni-all')!.json;

  it.each([0, 1, 2])('delay %i: queue keeps one batch in flight, async several', async (delay) => {
    const c = loadCase({ ...dni, config: { ...dni.config, delay } });
    expect(overlap(await eventBatches('queue', c.topology, c.data, 12))).toBe(1);
    expect(overlap(await eventBatches('async', c.topology, c.data, 12))).toBeGreaterThanOrEqual(2);
  });

  it('async pipelines a graph too: a decoupled trunk takes the next batch before its branches are done', async () => {
    const graph = defineGraph({
      inputs: 24, batch: 10, lr: 0.5, synthesizer: { lr: 0.01 },
      nodes: [
        { id: 'trunk', units: 16, inputs: ['input'] },
        { id: 'a', units: 12, inputs: ['trunk'] },
        { id: 'b', units: 12, inputs: ['trunk', 'input'] },
      ],
      heads: [{ id: 'ha', node: 'a', labels: 'y' }, { id: 'hb', node: 'b', labels: 'y' }],
      interfaces: [{ from: 'trunk', to: 'a', kind: 'dni' }, { from: 'trunk', to: 'b', kind: 'dni' }],
    });
    const data = binaryAddition(100, 12, 3);
    expect(overlap(await eventBatches('async', graph, data, 10))).toBeGreaterThanOrEqual(2);
  });

  it('worker: some route into a stage holds more than one batch (the stages run at once)', async () => {
    const topology = defineTopology({
      inputs: 12, batch: 4, lr: 0.5, synthesizer: { lr: 0.01, delay: 1 },
      layers: [{ units: 16, decoupled: true }, { units: 16, decoupled: true }, { units: 6 }],
    });
    const { queues } = await train({ topology, data: binaryAddition(200, 6, 3), steps: 400, scheduler: { name: 'worker', stages: 3 } });
    expect(Math.max(...Object.values(queues))).toBeGreaterThan(1);
  });
});
