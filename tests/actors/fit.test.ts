/**
 * fit() is one training for all its epochs (worker threads start once), and computes exactly what
 * one training per epoch did: checked against that older design, written out here (a fresh
 * training per epoch on the epoch's shuffled rows and scaled learning rates, parameters and
 * optimiser states carried over), bit for bit, under every scheduler.
 */
import { describe, expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { type FitOptions, fit } from '../../actors/trainer/fit.ts';
import { createTraining, topologyOf } from '../../actors/trainer/training.ts';
import { type Dataset, batchesPerEpoch, shuffleRows, zerosLike } from '../../lib/data.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { TopologyError, TrainingAbortedError } from '../../lib/errors.ts';
import { evaluate } from '../../lib/evaluate.ts';
import { cosineLr, scaleLearningRates } from '../../lib/lr-schedule.ts';
import { fromArray } from '../../lib/matrix.ts';
import type { OptimizerStates } from '../../lib/network.ts';
import { type ParameterSet, initParameters } from '../../lib/params.ts';
import { defineRecurrent } from '../../lib/recurrent/topology.ts';
import { Rng } from '../../lib/rng.ts';
import { defineTopology } from '../../lib/topology.ts';

/** The fit of before: one createTraining per epoch (queue scheduler). */
async function fitPerEpoch(o: FitOptions) {
  const topology = topologyOf(o.topology);
  const perEpoch = batchesPerEpoch(o.train, topology.batch);
  let remaining = o.steps ?? o.epochs * perEpoch;
  const rng = o.shuffle === null ? null : new Rng(o.shuffle ?? 1);
  const order = rng ? zerosLike(o.train) : null;
  const data = order ?? { ...o.train };
  let params: ParameterSet = o.params ?? initParameters(topology, o.seed ?? 1);
  let optimizerState: OptimizerStates | undefined;
  const epochs: { loss: number; accuracy: number; synthesizerLoss: number; lrFactor: number; validation: number | null; steps: number }[] =
    [];
  const mean = (a: Float64Array) => a.reduce((s, v) => s + v, 0) / a.length;
  for (let epoch = 1; epoch <= o.epochs && remaining > 0; epoch++) {
    const steps = Math.min(perEpoch, remaining);
    remaining -= steps;
    if (rng && order) shuffleRows(o.train, rng, order);
    const lrFactor = o.lrSchedule ? o.lrSchedule(epoch) : 1;
    const r = await createTraining({ topology: scaleLearningRates(topology, lrFactor), data, steps, params, optimizerState }).run();
    params = r.params;
    optimizerState = r.optimizerState;
    const validation = o.validation ? evaluate(params, topology, o.validation).loss : null;
    epochs.push({
      loss: mean(r.losses),
      accuracy: mean(r.accuracies),
      synthesizerLoss: mean(r.synthesizerLosses),
      lrFactor,
      validation,
      steps,
    });
  }
  return { params, optimizerState: optimizerState!, epochs };
}

function expectSame(a: Awaited<ReturnType<typeof fitPerEpoch>>, b: Awaited<ReturnType<typeof fit>>, what: string) {
  for (const k of Object.keys(a.params)) expect(Array.from(b.params[k].data), `${what}: ${k}`).toEqual(Array.from(a.params[k].data));
  for (const [owner, s] of Object.entries(a.optimizerState)) {
    expect(b.optimizerState![owner].step, `${what}: ${owner} steps`).toBe(s.step);
    s.moments.forEach((m, i) =>
      expect(Array.from(b.optimizerState![owner].moments[i]), `${what}: ${owner} moment ${i}`).toEqual(Array.from(m)),
    );
  }
  expect(
    b.epochs.map((e) => ({
      loss: e.loss,
      accuracy: e.accuracy,
      synthesizerLoss: e.synthesizerLoss,
      lrFactor: e.lrFactor,
      validation: e.validation?.loss ?? null,
      steps: e.steps,
    })),
    `${what}: epoch reports`,
  ).toEqual(a.epochs);
}

const seedNetwork = (delay: number) =>
  defineTopology({
    inputs: 24,
    batch: 10,
    lr: 0.5,
    synthesizer: { lr: 0.01, delay },
    layers: [{ units: 128, decoupled: true }, { units: 64, decoupled: true }, { units: 12 }],
  });

function classes(rows: number, inputs: number, k: number, seed: number): Dataset {
  const rng = new Rng(seed),
    labels = Array.from({ length: rows }, () => Math.floor(rng.uniform(0, k)));
  const y = fromArray(
    rows,
    k,
    labels.flatMap((c) => Array.from({ length: k }, (_, j) => (j === c ? 1 : 0))),
  );
  return {
    x: fromArray(
      rows,
      inputs,
      Array.from({ length: rows * inputs }, () => rng.uniform(-1, 1)),
    ),
    y,
  };
}

describe('fit: one training for every epoch, the bits of one training per epoch', () => {
  const train = binaryAddition(205, 12, 3),
    validation = binaryAddition(60, 12, 4);

  it.each([0, 1, 2])('seed network, delay %i, shuffled: queue, async and worker (default and 3 stages)', async (delay) => {
    const options: FitOptions = { topology: seedNetwork(delay), train, validation, epochs: 3, seed: 2 };
    const before = await fitPerEpoch(options);
    for (const scheduler of ['queue', 'async', 'worker', { name: 'worker', stages: 3 }] as const)
      expectSame(before, await fit({ ...options, scheduler }), JSON.stringify(scheduler));
  });

  it('Adam, cDNI, softmax head, a cosine learning-rate schedule, a last epoch cut short by steps', async () => {
    const topology = defineTopology({
      inputs: 8,
      batch: 6,
      labels: 3,
      loss: 'softmax-cross-entropy',
      optimizer: { kind: 'adam', lr: 0.01 },
      synthesizer: { optimizer: { kind: 'adam', lr: 0.003 }, conditioned: true, delay: 1 },
      layers: [
        { units: 16, activation: 'relu', decoupled: true },
        { units: 12, activation: 'tanh', decoupled: true },
        { units: 3, activation: 'linear' },
      ],
    });
    const data = classes(50, 8, 3, 5);
    const options: FitOptions = {
      topology,
      train: data,
      validation: classes(20, 8, 3, 6),
      epochs: 4,
      steps: 30,
      lrSchedule: cosineLr(4, 0.1),
      shuffle: 9,
    };
    const before = await fitPerEpoch(options);
    expect(before.epochs.map((e) => e.steps)).toEqual([8, 8, 8, 6]);
    expectSame(before, await fit(options), 'queue');
    expectSame(before, await fit({ ...options, scheduler: 'worker' }), 'worker');
  });

  it('rows in order (no shuffle), plain SGD momentum', async () => {
    const topology = defineTopology({
      inputs: 24,
      batch: 10,
      optimizer: { kind: 'sgd', lr: 0.1, momentum: 0.9 },
      synthesizer: { lr: 0.01, delay: 1 },
      layers: [{ units: 32, decoupled: true }, { units: 12 }],
    });
    const options: FitOptions = { topology, train, epochs: 2, shuffle: null, lrSchedule: (e) => 1 / e };
    expectSame(await fitPerEpoch(options), await fit({ ...options, scheduler: 'worker' }), 'worker');
  });

  it('under the worker scheduler the stages (and their threads) are made once, not once per epoch', async () => {
    const stages = new Set<string>();
    const inspect = (e: InspectionEvent) => {
      const id = (e.actorRef as { id?: string }).id;
      if (e.type === '@xstate.actor' && id?.startsWith('stage:')) stages.add(e.actorRef.sessionId);
    };
    const result = await fit({ topology: seedNetwork(1), train, epochs: 4, scheduler: 'worker', inspect });
    expect(result.epochs).toHaveLength(4);
    expect(stages.size).toBe(2);
  });

  it('a bad learning-rate factor or a throwing onEpoch between epochs fails the fit by name, under every scheduler', async () => {
    for (const scheduler of ['queue', 'worker'] as const) {
      const bad = await fit({ topology: seedNetwork(0), train, epochs: 3, scheduler, lrSchedule: (e) => (e === 2 ? -1 : 1) }).catch(
        (e: unknown) => e,
      );
      expect((bad as Error).name, scheduler).toBe('TrainingOptionsError');
      expect((bad as Error).message).toMatch(/lr schedule: the factor must be finite and >= 0, got -1/);
      const thrown = await fit({
        topology: seedNetwork(0),
        train,
        epochs: 3,
        scheduler,
        onEpoch: () => {
          throw new Error('onEpoch bug');
        },
      }).catch((e: unknown) => e);
      expect((thrown as Error).message, scheduler).toBe('onEpoch bug');
    }
  });

  it('an abort stops the fit at a consistent cut, whatever the epoch, and rejects with a TrainingAbortedError', async () => {
    const controller = new AbortController();
    const error = await fit({
      topology: seedNetwork(1),
      train,
      epochs: 50,
      scheduler: 'worker',
      signal: controller.signal,
      onEpoch: (e) => e.epoch === 2 && controller.abort('enough'),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingAbortedError);
    expect((error as TrainingAbortedError).step).toBeGreaterThanOrEqual(2 * 20);
    expect((error as TrainingAbortedError).step).toBeLessThan(50 * 20);
  });

  // Ctrl+C is a signal, handled on the event loop: a fit of many short epochs (each well under the
  // feeder's 10 ms slice) ran from epoch to epoch on microtasks and never gave it a turn, so a demo
  // stopped in such a fit trained to the end and exited 0 (seen under load in cli-interrupt's mnist case)
  it.each(['queue', 'async'] as const)('%s: many epochs shorter than a slice still give the event loop its turns', async (scheduler) => {
    const topology = defineTopology({
      inputs: 4,
      batch: 8,
      lr: 0.1,
      synthesizer: { lr: 0.01 },
      layers: [{ units: 4, decoupled: true }, { units: 2 }],
    });
    const tiny = { x: fromArray(8, 4, new Float32Array(32).fill(0.5)), y: fromArray(8, 2, new Float32Array(16).fill(1)) };
    const epochs = 400;
    let at = -1,
      reported = 0;
    const turn = setTimeout(() => (at = reported), 0);
    await fit({ topology, train: tiny, epochs, scheduler, onEpoch: () => void reported++ });
    clearTimeout(turn);
    expect(reported).toBe(epochs);
    // a turn within a slice or two of the start, long before the last epoch
    expect(at, `the timer fired after epoch ${at} of ${epochs}`).toBeGreaterThanOrEqual(0);
    expect(at).toBeLessThan(epochs - 1);
  });
});

describe('fit() given a recurrent topology', () => {
  it.each([
    ['a recurrent spec', { inputs: 9, hidden: 8, outputs: 8, truncation: 3, batch: 4 }],
    ['a recurrent topology', defineRecurrent({ inputs: 9, hidden: 8, outputs: 8, truncation: 3, batch: 4 })],
  ])('%s: says that fit trains dense and graph networks, and what to use instead', async (_, topology) => {
    const train = copyTask({ sequences: 8, length: 3, width: 8, seed: 1 });
    const run = fit({ topology: topology as never, train: train as never, epochs: 1 });
    await expect(run).rejects.toBeInstanceOf(TopologyError);
    await expect(run).rejects.toThrow(
      new RegExp(
        /^fit: fit trains dense and graph networks \(defineTopology, defineGraph\) by epochs over rows; /.source +
          /this topology is recurrent: train it with train\(\) or createTraining\(\) on sequences/.source,
      ),
    );
  });
});
