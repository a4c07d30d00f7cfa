/**
 * Recurrent topologies, sequences and the bare loop: validation errors that name the field, the
 * copy tasks' layout, bit-identical resume from a snapshot, delays, interfaces between layers.
 */
import { describe, expect, it } from 'vitest';
import { copyTask, repeatCopyTask } from '../../lib/datasets/copy.ts';
import { TopologyError } from '../../lib/errors.ts';
import { buildRecurrentNetwork, restoreRecurrentNetwork, snapshotRecurrentNetwork } from '../../lib/recurrent/network.ts';
import { initRecurrentParameters, recurrentParameterShapes } from '../../lib/recurrent/params.ts';
import { type Sequences, sequencesFromNested, validateSequences } from '../../lib/recurrent/sequences.ts';
import { trainRecurrentSequential } from '../../lib/recurrent/sequential.ts';
import { type RecurrentSpec, defineRecurrent } from '../../lib/recurrent/topology.ts';

const base: RecurrentSpec = { inputs: 9, hidden: 16, outputs: 8, truncation: 3, batch: 4 };

describe('defineRecurrent', () => {
  it('fills defaults and freezes the result', () => {
    const t = defineRecurrent(base);
    expect(t).toMatchObject({ cell: 'tanh', loss: 'sigmoid-cross-entropy', dni: false, clip: null, truncation: 3 });
    expect(t.layers[0]).toMatchObject({
      key: 'core',
      inputs: 9,
      units: 16,
      state: 16,
      synthesizer: null,
      optimizer: { kind: 'sgd', lr: 0.1 },
    });
    expect(Object.isFrozen(t) && Object.isFrozen(t.layers[0])).toBe(true);
    expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    const lstm = defineRecurrent({ ...base, cell: 'lstm', hidden: [8, 6], dni: { aux: true } });
    expect(lstm.layers.map((l) => [l.key, l.inputs, l.state])).toEqual([
      ['core', 9, 16],
      ['core1', 8, 12],
    ]);
    expect(lstm.forgetBias).toBe(1);
    expect(recurrentParameterShapes(lstm).map((s) => s.key)).toEqual([
      'core.Wx',
      'core.Wh',
      'core.b',
      'core1.Wx',
      'core1.Wh',
      'core1.b',
      'readout.W',
      'readout.b',
      'synth.M',
      'synth.c',
      'aux.W',
      'aux.b',
      'synth1.M',
      'synth1.c',
      'aux1.W',
      'aux1.b',
    ]);
  });

  it.each([
    [{ truncation: 0 }, 'recurrent topology: truncation T must be an integer >= 1 (steps per window), got 0'],
    [{ truncation: 2.5 }, 'truncation T must be an integer >= 1'],
    [{ cell: 'gru' }, "recurrent topology: unknown cell 'gru' (expected one of tanh, lstm)"],
    [{ loss: 'hinge' }, "unknown loss 'hinge'"],
    [{ hidden: [] }, 'hidden must be a width or a non-empty array'],
    [{ hidden: [16, 0] }, 'recurrent topology: hidden[1] units must be a positive integer, got 0'],
    [{ hidden: [{ units: 4, decoupled: true }] }, 'only an interface between two layers can be decoupled'],
    [{ forgetBias: 2 }, "forgetBias 2 given, but the 'tanh' cell has no forget gate"],
    [{ lr: 0.1, optimizer: { kind: 'adam', lr: 1e-3 } }, 'give lr (plain SGD) or optimizer, not both'],
    [{ dni: { synthesizer: { delay: -1 } } }, 'dni.synthesizer delay must be an integer >= 0, got -1'],
    [{ clip: 0 }, 'recurrent topology: clip must be a finite number > 0, got 0'],
    [{ batchSize: 3 }, "recurrent topology: unknown field 'batchSize'"],
  ])('refuses %j', (patch, message) => {
    expect(() => defineRecurrent({ ...base, ...(patch as object) } as RecurrentSpec)).toThrow(TopologyError);
    expect(() => defineRecurrent({ ...base, ...(patch as object) } as RecurrentSpec)).toThrow(message);
  });
});

describe('sequences', () => {
  it('copy task: n bits, the delimiter, recall of the same bits on the masked steps', () => {
    const s = copyTask({ sequences: 3, length: 4, width: 5, seed: 2 });
    expect([s.length, s.inputs, s.outputs]).toEqual([9, 6, 5]);
    for (let n = 0; n < 3; n++) {
      const x = (t: number, j: number) => s.x.data[(n * 9 + t) * 6 + j],
        y = (t: number, j: number) => s.y.data[(n * 9 + t) * 5 + j];
      for (let t = 0; t < 4; t++) for (let j = 0; j < 5; j++) expect(y(5 + t, j)).toBe(x(t, j));
      expect([x(4, 5), x(3, 5), x(5, 5)]).toEqual([1, 0, 0]);
      expect(Array.from(s.mask.data.subarray(n * 9, n * 9 + 9))).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
    }
    expect(copyTask({ sequences: 3, length: 4, width: 5, seed: 2 }).x.data).toEqual(s.x.data);
    expect(copyTask({ sequences: 3, length: 4, width: 5, seed: 3 }).x.data).not.toEqual(s.x.data);
  });

  it('repeat copy: start marker, bits, repeat count, r recalls, end marker', () => {
    const s = repeatCopyTask({ sequences: 1, length: 2, repeats: 3, width: 4, maxRepeats: 6, seed: 1 });
    expect([s.length, s.inputs, s.outputs]).toEqual([2 + 2 + 6 + 1, 6, 5]);
    const x = (t: number, j: number) => s.x.data[t * 6 + j],
      y = (t: number, j: number) => s.y.data[t * 5 + j];
    expect([x(0, 4), x(3, 5)]).toEqual([1, 0.5]);
    for (let r = 0; r < 3; r++) for (let t = 0; t < 2; t++) for (let j = 0; j < 4; j++) expect(y(4 + 2 * r + t, j)).toBe(x(1 + t, j));
    expect(y(10, 4)).toBe(1);
    expect(Array.from(s.mask.data)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1]);
    validateSequences(s);
  });

  it('refuses ragged, non-finite, misshapen data by name, and data that does not fit the topology', () => {
    expect(() =>
      sequencesFromNested(
        [[[1], [0]], [[1]]],
        [
          [[1], [0]],
          [[1], [0]],
        ],
        [
          [1, 1],
          [1, 1],
        ],
      ),
    ).toThrow('sequences: x[1] has 1 steps, x[0] has 2 (ragged lengths: pad and mask)');
    expect(() => sequencesFromNested([[[1], [NaN]]], [[[1], [0]]], [[1, 1]])).toThrow('sequences: x[0, 1] is NaN');
    expect(() => sequencesFromNested([[[1], [0]]], [[[1], [0]]], [[1, 1, 1]])).toThrow('sequences: mask[0] has 3 steps, x[0] has 2');
    const s = copyTask({ sequences: 4, length: 3, width: 8 });
    const bad: Sequences = { ...s, mask: { ...s.mask, cols: 6, data: s.mask.data.subarray(0, 24) } };
    expect(() => validateSequences(bad)).toThrow('sequences: mask is 4x6, expected 4x7 (one value per sequence and step)');
    expect(() => validateSequences(s, defineRecurrent({ ...base, inputs: 5 }))).toThrow(
      'sequences: x_t has 9 values but the core takes 5 inputs',
    );
    expect(() => validateSequences(s, defineRecurrent({ ...base, batch: 8 }))).toThrow(
      'sequences: 4 sequences are fewer than one batch of 8',
    );
    const t = defineRecurrent(base),
      net = buildRecurrentNetwork(t, initRecurrentParameters(t, 1));
    const before = net.params['core.Wh'].data.slice();
    const nan = copyTask({ sequences: 4, length: 3, width: 8 });
    nan.y.data[17] = NaN;
    expect(() => trainRecurrentSequential(net, nan, 5)).toThrow('sequences: y[0, 2, 1] is NaN');
    expect(net.params['core.Wh'].data).toEqual(before); // nothing written
  });
});

describe('the bare loop', () => {
  const spec: RecurrentSpec = {
    cell: 'lstm',
    inputs: 9,
    hidden: [12, { units: 10 }],
    outputs: 8,
    truncation: 2,
    batch: 4,
    clip: 1,
    optimizer: { kind: 'adam', lr: 3e-3 },
    dni: { synthesizer: { optimizer: { kind: 'adam', lr: 1e-3 }, hidden: [8] }, aux: true },
  };

  it('resumes from a snapshot bit-identically', () => {
    const t = defineRecurrent(spec),
      data = copyTask({ sequences: 12, length: 4, width: 8, seed: 3 }),
      p = initRecurrentParameters(t, 5);
    const whole = buildRecurrentNetwork(t, p);
    const all = trainRecurrentSequential(whole, data, 40);
    const first = buildRecurrentNetwork(t, p);
    const a = trainRecurrentSequential(first, data, 17, { drain: false });
    const snap = JSON.parse(
      JSON.stringify(snapshotRecurrentNetwork(first), (_, v) => (v instanceof Float32Array ? { f32: Array.from(v) } : v)),
      (_, v) => (v && v.f32 ? Float32Array.from(v.f32) : v),
    );
    const second = buildRecurrentNetwork(t, first.params);
    restoreRecurrentNetwork(second, snap);
    const b = trainRecurrentSequential(second, data, 23, { from: a.next });
    expect([...a.losses, ...b.losses]).toEqual(Array.from(all.losses));
    expect([...a.synthesizerLosses, ...b.synthesizerLosses]).toEqual(Array.from(all.synthesizerLosses));
    for (const k of Object.keys(whole.params)) expect(second.params[k].data, k).toEqual(whole.params[k].data);
  });

  it('a decoupled interface between layers: its synthesizer learns, and with delay the refits lag', () => {
    const t = defineRecurrent({ ...base, hidden: [{ units: 12, decoupled: true, interface: { lr: 0.05 } }, 10], dni: true });
    const data = copyTask({ sequences: 8, length: 3, width: 8, seed: 1 }),
      p = initRecurrentParameters(t, 2);
    const net = buildRecurrentNetwork(t, p);
    const run = trainRecurrentSequential(net, data, 60);
    expect(Array.from(net.params['interface0.M'].data).some((v) => v !== 0)).toBe(true);
    expect(run.synthesizerLosses.every(Number.isFinite)).toBe(true);
    const lagged = defineRecurrent({ ...base, hidden: [{ units: 12, decoupled: true, interface: { lr: 0.05, delay: 2 } }, 10], dni: true });
    const other = buildRecurrentNetwork(lagged, p);
    trainRecurrentSequential(other, data, 60);
    expect(other.params['interface0.M'].data).not.toEqual(net.params['interface0.M'].data);
    expect(other.params['synth.M'].data).not.toEqual(net.params['synth.M'].data); // the layer learns from other ĝ
  });
});

describe('copy-task curriculum (smoke)', () => {
  it('learns length 1 within a small budget, lengthens, and repeats itself for a seed', async () => {
    const { runCurriculum } = await import('../../lib/recurrent/curriculum.ts');
    const t = defineRecurrent({
      cell: 'lstm',
      inputs: 9,
      hidden: 16,
      outputs: 8,
      truncation: 3,
      batch: 8,
      clip: 1,
      optimizer: { kind: 'adam', lr: 1e-2 },
      dni: true,
    });
    const seen: number[] = [];
    const a = runCurriculum(t, { budget: 3000, seed: 2, onBatch: (_, length) => seen.push(length) });
    expect(a.maxLength).toBeGreaterThanOrEqual(1);
    expect(a.curve[0][1]).toBe(1);
    expect(seen[seen.length - 1]).toBe(a.maxLength + 1); // training goes on at the next length
    const b = runCurriculum(t, { budget: 3000, seed: 2 });
    expect([b.maxLength, b.steps, b.curve]).toEqual([a.maxLength, a.steps, a.curve]);
  });

  it('starts at a given length; the table configuration builds each method', async () => {
    const { runCurriculum, copyExperimentTopology, COPY_EXPERIMENT } = await import('../../lib/recurrent/curriculum.ts');
    const small = { ...COPY_EXPERIMENT, hidden: 8 };
    const seen = new Set<number>();
    const r = runCurriculum(copyExperimentTopology('copy', 'bptt', 2, small), {
      budget: 160,
      seed: 3,
      start: 4,
      onBatch: (_, length) => seen.add(length),
    });
    expect([...seen]).toEqual([4]);
    expect(r.sequences).toBe(160);
    expect(r.cpuSeconds).toBeGreaterThan(0); // 160 sequences take measurable CPU time
    const dni = copyExperimentTopology('copy', 'dni', 3, small),
      aux = copyExperimentTopology('repeat-copy', 'dni-aux', 5, small);
    expect(dni.layers[0].synthesizer).toMatchObject({
      scale: COPY_EXPERIMENT.scale,
      discount: COPY_EXPERIMENT.scale,
      hidden: [],
      optimizer: { kind: 'adam', lr: COPY_EXPERIMENT.synthesizerLr },
    });
    expect(dni.layers[0].aux).toBeNull();
    expect(aux.layers[0].aux?.weight).toBe(COPY_EXPERIMENT.auxWeight);
    expect([aux.inputs, aux.outputs, aux.truncation]).toEqual([10, 9, 5]);
    expect(copyExperimentTopology('copy', 'bptt', 4, small).dni).toBe(false);
    expect(() => copyExperimentTopology('copy', 'nope' as 'bptt', 4)).toThrow(/unknown method 'nope'/);
  });
});
