/**
 * Non-numbers are never coerced: `null`, `true`, `"1"`, `[1]` in a matrix, `"false"` for a flag,
 * and seeds that are not uint32 are refused with the array (or option) and position at fault.
 */
import { describe, expect, it } from 'vitest';
import { createTraining } from '../../actors/training.ts';
import { tryParseDemoArgs } from '../../demos/cli.ts';
import { TopologyError } from '../../lib/errors.ts';
import { fromArray, fromNested } from '../../lib/matrix.ts';
import { initParameters, parametersFromJSON } from '../../lib/params.ts';
import { loadCase } from '../../lib/reference.ts';
import { Rng } from '../../lib/rng.ts';
import { defineRecurrent } from '../../lib/recurrent/topology.ts';
import { tinyCase } from '../fuzz/_cases.ts';

describe('matrices from JSON', () => {
  it.each([
    [[[1, 2], [3, null]], /^x\[1\]\[1\] is null, expected a number$/],
    [[[1, 2], [3, true]], /^x\[1\]\[1\] is true, expected a number$/],
    [[[1, '1'], [3, 4]], /^x\[0\]\[1\] is "1", expected a number$/],
    [[[1, 2], [[3], 4]], /^x\[1\]\[0\] is \[3\], expected a number$/],
    [[[1, 2], 5], /^x\[1\] is 5, expected a row \(an array of 2 numbers\)$/],
    [[[1, 2], [3]], /^x\[1\] has 1 values, x\[0\] has 2$/],
    [[1, [2]], /^x\[1\] is \[2\], expected a number$/],
    [[1, undefined], /^x\[1\] is missing \(undefined\), expected a number$/],
    ['12', /^x is "12", expected an array$/],
  ] as [unknown, RegExp][])('fromNested(%j) is refused', (values, message) => {
    expect(() => fromNested(values as number[][], 'x')).toThrow(message);
  });

  it('numbers still load, NaN included (finiteness is checked where it matters)', () => {
    expect(Array.from(fromNested([[1, 2], [3, 4]]).data)).toEqual([1, 2, 3, 4]);
    expect(fromNested([1, 2, 3]).rows).toBe(1);
    expect(Number.isNaN(fromNested([[NaN]]).data[0])).toBe(true);
  });

  it('fromArray refuses non-numbers in a plain array, and a non-array', () => {
    expect(() => fromArray(1, 2, [1, '2'] as unknown as number[])).toThrow(/^fromArray: values\[1\] is "2", expected a number$/);
    expect(() => fromArray(1, 2, 'ab' as unknown as number[])).toThrow(/^fromArray: values is "ab", expected an array of numbers$/);
    expect(Array.from(fromArray(1, 2, new Float64Array([1, 2])).data)).toEqual([1, 2]);
  });
});

describe('reference cases and parameters', () => {
  const c = tinyCase(2);
  const load = (patch: object) => () => loadCase({ ...c, ...patch } as never);

  it.each([
    ['x', { x: c.x.map((r, i) => (i === 3 ? [r[0], r[1], '1'] : r)) }, /^tiny: x\[3\]\[2\] is "1", expected a number$/],
    ['y', { y: (c.y as number[][]).map((r, i) => (i === 7 ? [null, r[1]] : r)) }, /^tiny: y\[7\]\[0\] is null, expected a number$/],
    ['initial', { initial: { ...c.initial, 'layer1.W': [[1, 2], [3, 4], [5, [6]], [7, 8]] } }, /^initial: layer1\.W\[2\]\[1\] is \[6\], expected a number$/],
    ['initial vector', { initial: { ...c.initial, 'synth0.c': [0, 0, false, 0] } }, /^initial: synth0\.c\[2\] is false, expected a number$/],
    ['decoupled "false"', { config: { ...c.config, decoupled: ['false', false] } }, /^tiny: config\.decoupled\[0\] is "false", expected true or false$/],
    ['conditioned 1', { config: { ...c.config, conditioned: 1 } }, /^tiny: config\.conditioned is 1, expected true or false$/],
    ['x flat', { x: c.x.flat() }, /^tiny: 'x' must be a non-empty array of rows/],
    ['an extra initial key', { initial: { ...c.initial, 'synth1.M': [[0, 0], [0, 0]] } }, /^initial: 'synth1\.M' is not a parameter of this topology/],
    ['a vector of the wrong shape', { initial: { ...c.initial, 'layer0.b': [[0, 0], [0, 0]] } }, /^initial: 'layer0\.b' is 2x2, the topology needs 1x4$/],
  ])('%s', (_, patch, message) => {
    expect(load(patch)).toThrow(TopologyError);
    expect(load(patch)).toThrow(message);
  });

  it('parametersFromJSON names the set it reads', () => {
    const t = loadCase(c).topology;
    expect(() => parametersFromJSON({ ...c.initial, 'layer0.b': 'abc' } as never, t, 'final')).toThrow(/^final: layer0\.b is "abc", expected an array$/);
    expect(() => parametersFromJSON([] as never, t)).toThrow(/^parameters: expected an object of named arrays, got \[\]$/);
  });
});

describe('seeds are integers in [0, 2^32 - 1], never coerced', () => {
  it.each([NaN, 'abc', 2 ** 40, -1, 1.5, Infinity, '7', null])('Rng(%j) is refused', (seed) => {
    expect(() => new Rng(seed as number)).toThrow(/^Rng: seed must be an integer in \[0, 4294967295\], got /);
  });

  it('the whole range is accepted, and distinct seeds differ', () => {
    expect(new Rng(0).nextUint32()).not.toBe(new Rng(2 ** 32 - 1).nextUint32());
    expect(new Rng().nextUint32()).toBe(new Rng(1).nextUint32());
  });

  it('initParameters and createTraining refuse a bad seed', () => {
    const { topology, data } = loadCase(tinyCase(2));
    expect(() => initParameters(topology, 2 ** 40)).toThrow(/^initParameters: seed must be an integer in \[0, 4294967295\], got 1099511627776$/);
    expect(() => createTraining({ topology, data, steps: 1, seed: NaN })).toThrow(/seed must be an integer in \[0, 4294967295\], got NaN/);
  });

  it('Rng.setState refuses a malformed state', () => {
    const r = new Rng(3);
    expect(() => r.setState({ s: [0, 0, 0, 0], spare: null })).toThrow(/not all zero/);
    expect(() => r.setState({ s: [1, 2, 3], spare: null })).toThrow(/4 integers/);
    expect(() => r.setState({ s: [1, 2, 3, 2 ** 32], spare: null })).toThrow(/4 integers/);
    expect(() => r.setState({ s: [1, 2, 3, 4], spare: NaN })).toThrow(/spare must be null or a finite number/);
  });

  it("the demos' --seed flags", () => {
    const spec = { name: 'demo', options: { seed: { type: 'seed' as const, default: 1, help: 'seed' } } };
    expect(tryParseDemoArgs(['--seed', '4294967295'], spec)?.seed).toBe(4294967295);
    for (const bad of ['NaN', 'abc', '1099511627776', '-1', '1.5', '', '0x10', '1e3']) {
      expect(() => tryParseDemoArgs([`--seed=${bad}`], spec)).toThrow(/--seed needs a seed, an integer in 0\.\.4294967295/);
    }
  });
});

describe('recurrent specs: nested typos and coerced values are refused by name', () => {
  const base = { inputs: 3, hidden: [4, 3], outputs: 2, truncation: 2, batch: 2 };
  it.each([
    ['decoupled "false"', { hidden: [{ units: 4, decoupled: 'false' }, 3] }, /^recurrent topology: hidden\[0\] decoupled must be true or false, got 'false'$/],
    ['decoupled 1', { hidden: [{ units: 4, decoupled: 1 }, 3] }, /^recurrent topology: hidden\[0\] decoupled must be true or false, got 1$/],
    ['a layer typo', { hidden: [{ units: 4, decouple: true }, 3] }, /^recurrent topology: hidden\[0\]: unknown option 'decouple' \(it takes units, decoupled, interface\)$/],
    ['a layer of null', { hidden: [null, 3] }, /^recurrent topology: hidden\[0\]: expected a width or \{ units, decoupled, interface \}, got null$/],
    ['a width "4"', { hidden: ['4', 3] }, /^recurrent topology: hidden\[0\]: expected a width or \{ units, decoupled, interface \}, got '4'$/],
    ['dni.synthesiser', { dni: { synthesiser: { lr: 0.1 } } }, /^recurrent topology: dni: unknown option 'synthesiser' \(it takes synthesizer, aux\)$/],
    ['dni "false"', { dni: 'false' }, /^recurrent topology: dni: expected true, false or \{ synthesizer, aux \}, got 'false'$/],
    ['dni 1', { dni: 1 }, /^recurrent topology: dni: expected true, false or \{ synthesizer, aux \}, got 1$/],
    ['dni null', { dni: null }, /^recurrent topology: dni: expected true, false or \{ synthesizer, aux \}, got null$/],
    ['dni.synthesizer "fast"', { dni: { synthesizer: 'fast' } }, /^recurrent topology: dni\.synthesizer: expected synthesizer options/],
    ['dni.synthesizer.lrr', { dni: { synthesizer: { lrr: 0.1 } } }, /^recurrent topology: dni\.synthesizer: unknown option 'lrr'/],
    ['aux.wieght', { dni: { aux: { wieght: 2 } } }, /^recurrent topology: dni\.aux: unknown option 'wieght' \(it takes weight, lr, optimizer\)$/],
    ['aux "true"', { dni: { aux: 'true' } }, /^recurrent topology: dni\.aux must be true, false or \{ weight, lr \| optimizer \}, got 'true'$/],
    ['readout.lrr', { readout: { lrr: 0.5 } }, /^recurrent topology: readout: unknown option 'lrr' \(it takes lr, optimizer\)$/],
    ['readout 0.5', { readout: 0.5 }, /^recurrent topology: readout: expected \{ lr \} or \{ optimizer \}, got 0.5$/],
    ['an interface typo', { hidden: [{ units: 4, decoupled: true, interface: { delya: 1 } }, 3] }, /^recurrent topology: hidden\[0\] interface: unknown option 'delya'/],
    ['interfaces "sgd"', { interfaces: 'sgd', hidden: [{ units: 4, decoupled: true }, 3] }, /^recurrent topology: interfaces: expected synthesizer options/],
    ['a null option', { dni: { synthesizer: { clip: null } } }, /^recurrent topology: dni\.synthesizer: 'clip' is null/],
    ['delay "1"', { dni: { synthesizer: { delay: '1' } } }, /^recurrent topology: dni\.synthesizer delay must be an integer >= 0, got '1'$/],
  ])('%s', (_, patch, message) => {
    expect(() => defineRecurrent({ ...base, ...patch } as never)).toThrow(TopologyError);
    expect(() => defineRecurrent({ ...base, ...patch } as never)).toThrow(message);
  });

  it('the correct spellings still define the same topology as before', () => {
    const t = defineRecurrent({ ...base, hidden: [{ units: 4, decoupled: true, interface: { delay: 1 } }, 3], readout: { lr: 0.5 }, dni: { synthesizer: { lr: 0.2 }, aux: { weight: 2 } } });
    expect(t.layers[0].link?.delay).toBe(1);
    expect(t.readout.optimizer.lr).toBe(0.5);
    expect(t.layers.map((l) => [l.synthesizer?.optimizer.lr, l.aux?.weight])).toEqual([[0.2, 2], [0.2, 2]]);
    expect(defineRecurrent({ ...base, dni: false }).dni).toBe(false);
    expect(defineRecurrent({ ...base, hidden: [{ units: 4, decoupled: false }, 3] }).layers[0].link).toBeNull();
  });
});
