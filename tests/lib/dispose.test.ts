/**
 * Giving a network's buffers back: disposeNetwork frees everything buildNetwork allocated except
 * the parameters (which a training's result hands out), a disposed network refuses any further
 * use, and loops of trainings (fit epochs, trainings disposed one after another, evaluations) keep
 * the WebAssembly arena's used bytes flat. The arena never grows, so a leak there ends a long run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainCurriculum } from '../../actors/trainer/curriculum.ts';
import { fit } from '../../actors/trainer/fit.ts';
import { createTraining } from '../../actors/trainer/training.ts';
import { oneHot } from '../../lib/data.ts';
import { evaluate } from '../../lib/evaluate.ts';
import { typescriptBackend, useBackend } from '../../lib/kernels/kernels.ts';
import { wasmBackend } from '../../lib/kernels/backend-choice.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import { type Matrix, fromArray, release } from '../../lib/matrix.ts';
import { runCurriculum } from '../../lib/recurrent/curriculum.ts';
import { defineRecurrent } from '../../lib/recurrent/topology.ts';
import { type Network, buildNetwork, disposeNetwork, optimizerStates } from '../../lib/network.ts';
import { type ParameterSet, initParameters } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { defineTopology } from '../../lib/topology.ts';

const maybeWasm = wasmBackend();
if (!maybeWasm) throw new Error('wasm backend unavailable (npm run build:wasm)');
const wasm = maybeWasm;
const used = () => wasm.usage().usedBytes;
/** Bytes the arena reserves for a matrix (64-byte blocks, at least one). */
const blockBytes = (m: Matrix) => Math.max(64, Math.ceil((m.data.length * 4) / 64) * 64);
const paramBytes = (p: ParameterSet) => Object.values(p).reduce((s, m) => s + blockBytes(m), 0);

/** Every kind of buffer: Adam layers, a conditioned MLP synthesizer with delay 2, a momentum synthesizer, a softmax head. */
const topology = defineTopology({
  inputs: 12,
  batch: 8,
  loss: 'softmax-cross-entropy',
  optimizer: { kind: 'adam', lr: 0.01 },
  synthesizer: { optimizer: { kind: 'adam', lr: 0.003 } },
  layers: [
    { units: 16, activation: 'relu', decoupled: true, synthesizer: { conditioned: true, hidden: [8], delay: 2 } },
    { units: 16, activation: 'tanh', decoupled: true, synthesizer: { optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.9 } } },
    { units: 4 },
  ],
});

function dataset(rows: number, seed: number) {
  const rng = new Rng(seed),
    classes = Array.from({ length: rows }, () => Math.floor(rng.uniform(0, 4)));
  const x = fromArray(
    rows,
    12,
    Array.from({ length: rows * 12 }, (_, i) => rng.uniform(-1, 1) + (i % 12 === classes[Math.floor(i / 12)] ? 1 : 0)),
  );
  return { x, y: oneHot(classes, 4) };
}

beforeAll(() => void useBackend(wasm));
afterAll(() => void useBackend(typescriptBackend));

describe('disposeNetwork', () => {
  it('frees every buffer of the network but its parameters, which stay valid; then the parameters too when asked', () => {
    const data = dataset(64, 1),
      initial = initParameters(topology, 2);
    const before = used();
    const net = buildNetwork(topology, initial);
    trainSequential(net, data, 20);
    const kept = Object.fromEntries(Object.entries(net.params).map(([k, m]) => [k, m.data.slice()]));
    expect(used() - before).toBeGreaterThan(3 * paramBytes(net.params)); // rings, slots, moments...
    disposeNetwork(net);
    expect(used() - before).toBe(paramBytes(net.params));
    for (const [k, m] of Object.entries(net.params)) expect(Array.from(m.data), k).toEqual(Array.from(kept[k]));
    disposeNetwork(net); // again: nothing more to free
    expect(used() - before).toBe(paramBytes(net.params));
    disposeNetwork(net, { params: true });
    expect(used()).toBe(before);
  });

  it('a disposed network refuses any further use by name, rather than write into freed memory', () => {
    const data = dataset(16, 3);
    const net = buildNetwork(topology, initParameters(topology, 2));
    const h = net.layers[0].forward(0, [{ rows: 8, cols: 12, data: data.x.data.subarray(0, 96) }]);
    const g = net.synthesizers[0].predict(0, h, { rows: 8, cols: 4, data: data.y.data.subarray(0, 32) });
    disposeNetwork(net, { params: true });
    expect(() => net.layers[0].update(0, [g])).toThrow(/layer:0: update of batch 0 after dispose\(\)/);
    expect(() => net.layers[1].forward(0, [h])).toThrow(/layer:1: forward of batch 0 after dispose\(\)/);
    expect(() => net.synthesizers[0].target(0, g)).toThrow(/synthesizer:0: target of batch 0 after dispose\(\)/);
    expect(() => net.synthesizers[1].predict(0, h, null)).toThrow(/synthesizer:1: prediction of batch 0 after dispose\(\)/);
    expect(() => net.synthesizers[0].drain()).toThrow(/after dispose/);
    const z = { rows: 8, cols: 4, data: new Float32Array(32) };
    expect(() => net.heads[0].evaluate(0, z, { rows: 8, cols: 4, data: data.y.data.subarray(0, 32) })).toThrow(/after dispose/);
    expect(() => optimizerStates(net)).toThrow(/optimizer: state\(\) after dispose\(\)/);
  });
});

describe('loops of trainings keep the arena flat', () => {
  it('fit: 50 epochs hold one network and leave only the returned parameters', async () => {
    const train = dataset(48, 4),
      validation = dataset(20, 5);
    const before = used();
    const atEpoch: number[] = [];
    const result = await fit({ topology, train, validation, epochs: 50, onEpoch: () => atEpoch.push(used()) });
    expect(result.epochs).toHaveLength(50);
    expect(result.epochs[49].loss).toBeLessThan(result.epochs[0].loss); // it trained
    // the same bytes in use after every epoch (one training throughout), and less after the last (its network is freed)
    expect(new Set(atEpoch.slice(0, -1)).size).toBe(1);
    expect(atEpoch[49]).toBeLessThan(atEpoch[0]);
    expect(used() - before).toBe(paramBytes(result.params));
    // the returned parameters are alive and usable
    expect(evaluate(result.params, topology, validation).rows).toBe(20);
    expect(used() - before).toBe(paramBytes(result.params));
  });

  it('50 trainings, each disposed when done (as a trainer would), and 50 evaluations', async () => {
    const data = dataset(32, 6),
      initial = initParameters(topology, 7);
    const before = used();
    for (let i = 0; i < 50; i++) {
      const training = createTraining({ topology, data, steps: 6, params: initial });
      const result = await training.run();
      evaluate(result.params, topology, data);
      disposeNetwork(training.actor.getSnapshot().context.network as Network, { params: true });
      expect(used(), `after training ${i}`).toBe(before);
    }
  });
});

describe('recurrent trainings keep the arena flat', () => {
  const recurrent = defineRecurrent({
    cell: 'lstm',
    inputs: 9,
    hidden: [{ units: 12, decoupled: true, interface: { delay: 1 } }, 10],
    outputs: 8,
    truncation: 3,
    batch: 4,
    optimizer: { kind: 'adam', lr: 1e-3 },
    clip: 1,
    dni: { synthesizer: { hidden: [6], delay: 1 }, aux: true },
  });

  it('trainings under each in-thread scheduler, with a checkpoint, their parameters released after', async () => {
    const data = copyTask({ sequences: 8, length: 3, width: 8, seed: 1 });
    const before = used(),
      dir = mkdtempSync(join(tmpdir(), 'dni-rnn-dispose-'));
    for (const scheduler of ['queue', 'async', 'queue'] as const) {
      const r = await createTraining({
        topology: recurrent,
        data,
        steps: 9,
        scheduler,
        checkpoint: { path: join(dir, 'c.ckpt'), at: [4] },
      }).run();
      for (const m of Object.values(r.params)) release(m);
      expect(used(), scheduler).toBe(before);
    }
  });

  it('the curriculum, through the actors and in the bare loop', async () => {
    const t = defineRecurrent({ cell: 'lstm', inputs: 9, hidden: 12, outputs: 8, truncation: 2, batch: 4, dni: { aux: true } });
    const before = used();
    await trainCurriculum(t, { budget: 48, seed: 2 });
    expect(used()).toBe(before);
    runCurriculum(t, { budget: 48, seed: 2 });
    expect(used()).toBe(before);
  });
});
