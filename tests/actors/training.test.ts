import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AnyActorRef } from 'xstate';
import { createTraining, train } from '../../actors/trainer/training.ts';
import { DataError, DivergenceError, DniError, TopologyError, TrainingOptionsError } from '../../lib/errors.ts';
import { fromArray, zeros } from '../../lib/matrix.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);

/** `actor:EVENT#batch` for every event an actor received, in order. */
async function eventLog(steps: number): Promise<string[]> {
  const log: string[] = [];
  await train({
    topology: dni.topology,
    data: dni.data,
    params: dni.initial,
    steps,
    inspect: (e) => {
      if (e.type !== '@xstate.event' || e.event.type.startsWith('xstate.')) return;
      const id = (e.actorRef as AnyActorRef).id;
      const batch = (e.event as { batch?: number }).batch;
      log.push(`${id}:${e.event.type}${batch === undefined ? '' : `#${batch}`}`);
    },
  });
  return log;
}

describe('the training system', () => {
  it('spawns one stage, and in it every layer, synthesizer and the head, under readable systemIds', () => {
    const t = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 1 });
    t.actor.start();
    const ids = ['stage:0', 'layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'];
    for (const id of ids) expect(t.actor.system.get(id), id).toBeDefined();
    expect(t.actor.system.get('synthesizer:2')).toBeUndefined();
    expect(t.actor.system.get('trainer')).toBe(t.actor);
    t.actor.stop();
  });

  it('runs the seed sequential order under the queue scheduler: batch t finishes before t+1 enters', async () => {
    const log = await eventLog(2);
    const start = ['trainer:START', 'stage:0:START', 'stage:0:ALLOW'];
    expect(log.slice(0, start.length)).toEqual(start);
    const batch0 = [
      'layer:0:FORWARD#0',
      'layer:1:FORWARD#0',
      'synthesizer:0:PREDICT#0',
      'layer:2:FORWARD#0',
      'synthesizer:1:PREDICT#0',
      'layer:0:SYNTHETIC_GRADIENT#0',
      'head:FORWARD#0',
      'layer:1:SYNTHETIC_GRADIENT#0',
      'layer:2:GRADIENT#0',
      'synthesizer:0:REFIT#0',
      'synthesizer:1:REFIT#0',
    ];
    expect(log.slice(start.length, start.length + batch0.length)).toEqual(batch0);
    expect(log.slice(start.length + batch0.length, start.length + 2 * batch0.length)).toEqual(batch0.map((e) => e.replace('#0', '#1')));
    expect(log.slice(start.length + 2 * batch0.length)).toEqual([
      'trainer:BATCHES_DONE',
      'stage:0:DRAIN',
      'synthesizer:0:DRAIN',
      'synthesizer:1:DRAIN',
      'trainer:STAGE_DRAINED',
    ]);
  });

  it('ends with the trainer done and every synthesizer drained', async () => {
    const t = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 3 });
    await t.run();
    expect(t.actor.getSnapshot().value).toBe('done');
    expect(t.actor.getSnapshot().status).toBe('done');
  });

  it('emits one metrics value per step, in order, matching the result', async () => {
    const t = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 7 });
    const seen: { batch: number; loss: number; synthesizerLoss: number }[] = [];
    t.metrics$.subscribe((m) => seen.push(m));
    const r = await t.run();
    expect(seen.map((m) => m.batch)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.map((m) => m.loss)).toEqual(Array.from(r.losses));
    expect(seen.map((m) => m.synthesizerLoss)).toEqual(Array.from(r.synthesizerLosses));
  });

  it('never modifies the initial parameters it was given', async () => {
    const before = dni.initial['layer0.W'].data.slice();
    await train({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 5 });
    expect(dni.initial['layer0.W'].data).toEqual(before);
  });

  it('trains zero steps into a finished training with unchanged parameters', async () => {
    const r = await train({ topology: dni.topology, data: dni.data, params: dni.initial, steps: 0 });
    expect(r.losses.length).toBe(0);
    expect(r.params['synth0.M'].data).toEqual(dni.initial['synth0.M'].data);
  });
});

describe('bad input is refused before any actor starts', () => {
  const data = { x: zeros(20, 4), y: zeros(20, 2) };
  const topology = { inputs: 4, batch: 5, layers: [{ units: 3, decoupled: true }, { units: 2 }] };

  it.each([
    [{ topology, data, steps: -1 }, /steps must be an integer >= 0, got -1/, TrainingOptionsError],
    [{ topology: { ...topology, inputs: 5 }, data, steps: 1 }, /x is 20x4 but layer 0 takes 5 inputs/, DataError],
    [{ topology, data: { x: zeros(20, 4), y: zeros(20, 3) }, steps: 1 }, /y is 20x3 but the head takes labels of width 2/, DataError],
    [{ topology: { ...topology, batch: 0 }, data, steps: 1 }, /batch must be a positive integer, got 0/, TopologyError],
    [{ topology: { ...topology, batch: 21 }, data, steps: 1 }, /batch 21 is larger than the 20 rows/, DataError],
    [
      { topology, data, steps: 1, scheduler: 'fast' },
      /unknown scheduler "fast" \(expected one of queue, async, worker/,
      TrainingOptionsError,
    ],
    [
      { topology, data, steps: 1, scheduler: { name: 'worker', stages: 0 } },
      /stages: expected a positive integer, got 0/,
      TrainingOptionsError,
    ],
  ])('%#', (options, message, kind) => {
    // every kind is a DniError
    expect(() => createTraining(options as never)).toThrow(kind);
    expect(() => createTraining(options as never)).toThrow(DniError);
    expect(() => createTraining(options as never)).toThrow(message);
  });

  it('refuses a non-finite initial parameter by name', () => {
    const t = createTraining({ topology, data, steps: 1 });
    const params = { ...t.actor.getSnapshot().context.network.params };
    params['layer1.W'] = fromArray(3, 2, [0, 0, 0, NaN, 0, 0]);
    expect(() => createTraining({ topology, data, steps: 1, params })).toThrow(/'layer1.W' holds NaN at element 3/);
  });
});

describe('divergence is loud', () => {
  it('stops at the first non-finite value and names the actor, the batch and the tensor', async () => {
    // linear layers with a huge learning rate blow up within a few batches
    const x = fromArray(8, 2, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const y = fromArray(8, 1, [1, -1, 1, -1, 1, -1, 1, -1]);
    const t = createTraining({
      topology: {
        inputs: 2,
        batch: 2,
        lr: 1e6,
        layers: [
          { units: 4, activation: 'linear', decoupled: true },
          { units: 1, activation: 'linear' },
        ],
        synthesizer: { lr: 1e6 },
      },
      data: { x, y },
      steps: 200,
    });
    const error = await t.run().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DivergenceError);
    const d = error as DivergenceError;
    expect(d.actor).toMatch(/^(layer:[01]|synthesizer:0|head)$/);
    expect(['h', 'g_hat', 'loss']).toContain(d.tensor);
    expect(d.batch).toBeGreaterThan(0);
    expect(d.batch).toBeLessThan(200);
    expect(d.message).toContain(`${d.actor}: non-finite ${d.tensor} at batch ${d.batch}`);
    expect(t.actor.getSnapshot().value).toBe('failed');
  });
});
