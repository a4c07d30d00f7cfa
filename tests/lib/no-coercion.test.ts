/**
 * Non-numbers are never coerced: `null`, `true`, `"1"`, `[1]` in a matrix, `"false"` for a flag,
 * and seeds that are not uint32 are refused with the array (or option) and position at fault.
 */
import { describe, expect, it } from 'vitest';
import { createTraining } from '../../actors/trainer/training.ts';
import { tryParseDemoArgs } from '../../demos/cli.ts';
import { TopologyError } from '../../lib/errors.ts';
import { fromArray, fromNested } from '../../lib/matrix.ts';
import { initParameters, parametersFromJSON } from '../../lib/params.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { caseParametersFromJSON, loadAnyCase, loadCase } from '../../lib/reference.ts';
import { Rng } from '../../lib/rng.ts';
import { defineRecurrent } from '../../lib/recurrent/topology.ts';
import { tinyCase, tinyGraphCase, tinyRecurrentCase } from '../../bench/fuzz/_cases.ts';
import { REFERENCE_DIR } from '../helpers.ts';

describe('matrices from JSON', () => {
  it.each([
    [
      [
        [1, 2],
        [3, null],
      ],
      /^x\[1\]\[1\] is null, expected a number$/,
    ],
    [
      [
        [1, 2],
        [3, true],
      ],
      /^x\[1\]\[1\] is true, expected a number$/,
    ],
    [
      [
        [1, '1'],
        [3, 4],
      ],
      /^x\[0\]\[1\] is "1", expected a number$/,
    ],
    [
      [
        [1, 2],
        [[3], 4],
      ],
      /^x\[1\]\[0\] is \[3\], expected a number$/,
    ],
    [[[1, 2], 5], /^x\[1\] is 5, expected a row \(an array of 2 numbers\)$/],
    [[[1, 2], [3]], /^x\[1\] has 1 values, x\[0\] has 2$/],
    [[1, [2]], /^x\[1\] is \[2\], expected a number$/],
    [[1, undefined], /^x\[1\] is missing \(undefined\), expected a number$/],
    ['12', /^x is "12", expected an array$/],
  ] as [unknown, RegExp][])('fromNested(%j) is refused', (values, message) => {
    expect(() => fromNested(values as number[][], 'x')).toThrow(message);
  });

  it('numbers still load, NaN included (finiteness is checked where it matters)', () => {
    expect(
      Array.from(
        fromNested([
          [1, 2],
          [3, 4],
        ]).data,
      ),
    ).toEqual([1, 2, 3, 4]);
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
    [
      'initial',
      {
        initial: {
          ...c.initial,
          'layer1.W': [
            [1, 2],
            [3, 4],
            [5, [6]],
            [7, 8],
          ],
        },
      },
      /^initial: layer1\.W\[2\]\[1\] is \[6\], expected a number$/,
    ],
    [
      'initial vector',
      { initial: { ...c.initial, 'synth0.c': [0, 0, false, 0] } },
      /^initial: synth0\.c\[2\] is false, expected a number$/,
    ],
    [
      'decoupled "false"',
      { config: { ...c.config, decoupled: ['false', false] } },
      /^tiny: config\.decoupled\[0\] is "false", expected true or false$/,
    ],
    ['conditioned 1', { config: { ...c.config, conditioned: 1 } }, /^tiny: config\.conditioned is 1, expected true or false$/],
    ['x flat', { x: c.x.flat() }, /^tiny: 'x' must be a non-empty array of rows/],
    [
      'an extra initial key',
      {
        initial: {
          ...c.initial,
          'synth1.M': [
            [0, 0],
            [0, 0],
          ],
        },
      },
      /^initial: 'synth1\.M' is not a parameter of this topology/,
    ],
    [
      'a vector of the wrong shape',
      {
        initial: {
          ...c.initial,
          'layer0.b': [
            [0, 0],
            [0, 0],
          ],
        },
      },
      /^initial: 'layer0\.b' is 2x2, the topology needs 1x4$/,
    ],
  ])('%s', (_, patch, message) => {
    expect(load(patch)).toThrow(TopologyError);
    expect(load(patch)).toThrow(message);
  });

  it('parametersFromJSON names the set it reads', () => {
    const t = loadCase(c).topology;
    expect(() => parametersFromJSON({ ...c.initial, 'layer0.b': 'abc' } as never, t, 'final')).toThrow(
      /^final: layer0\.b is "abc", expected an array$/,
    );
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
    expect(() => initParameters(topology, 2 ** 40)).toThrow(
      /^initParameters: seed must be an integer in \[0, 4294967295\], got 1099511627776$/,
    );
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
    [
      'decoupled "false"',
      { hidden: [{ units: 4, decoupled: 'false' }, 3] },
      /^recurrent topology: hidden\[0\] decoupled must be true or false, got 'false'$/,
    ],
    [
      'decoupled 1',
      { hidden: [{ units: 4, decoupled: 1 }, 3] },
      /^recurrent topology: hidden\[0\] decoupled must be true or false, got 1$/,
    ],
    [
      'a layer typo',
      { hidden: [{ units: 4, decouple: true }, 3] },
      /^recurrent topology: hidden\[0\]: unknown option 'decouple' \(it takes units, decoupled, interface\); did you mean 'decoupled'\?$/,
    ],
    [
      'a layer of null',
      { hidden: [null, 3] },
      /^recurrent topology: hidden\[0\]: expected a width or \{ units, decoupled, interface \}, got null$/,
    ],
    [
      'a width "4"',
      { hidden: ['4', 3] },
      /^recurrent topology: hidden\[0\]: expected a width or \{ units, decoupled, interface \}, got '4'$/,
    ],
    [
      'dni.synthesiser',
      { dni: { synthesiser: { lr: 0.1 } } },
      /^recurrent topology: dni: unknown option 'synthesiser' \(it takes synthesizer, aux\); did you mean 'synthesizer'\?$/,
    ],
    ['dni "false"', { dni: 'false' }, /^recurrent topology: dni: expected true, false or \{ synthesizer, aux \}, got 'false'$/],
    ['dni 1', { dni: 1 }, /^recurrent topology: dni: expected true, false or \{ synthesizer, aux \}, got 1$/],
    ['dni null', { dni: null }, /^recurrent topology: 'dni' is null \(leave an option out for its default\)$/],
    ['dni.synthesizer "fast"', { dni: { synthesizer: 'fast' } }, /^recurrent topology: dni\.synthesizer: expected synthesizer options/],
    ['dni.synthesizer.lrr', { dni: { synthesizer: { lrr: 0.1 } } }, /^recurrent topology: dni\.synthesizer: unknown option 'lrr'/],
    [
      'aux.wieght',
      { dni: { aux: { wieght: 2 } } },
      /^recurrent topology: dni\.aux: unknown option 'wieght' \(it takes weight, lr, optimizer\); did you mean 'weight'\?$/,
    ],
    [
      'aux "true"',
      { dni: { aux: 'true' } },
      /^recurrent topology: dni\.aux must be true, false or \{ weight, lr \| optimizer \}, got 'true'$/,
    ],
    [
      'readout.lrr',
      { readout: { lrr: 0.5 } },
      /^recurrent topology: readout: unknown option 'lrr' \(it takes lr, optimizer\); did you mean 'lr'\?$/,
    ],
    ['readout 0.5', { readout: 0.5 }, /^recurrent topology: readout: expected \{ lr \} or \{ optimizer \}, got 0.5$/],
    [
      'an interface typo',
      { hidden: [{ units: 4, decoupled: true, interface: { delya: 1 } }, 3] },
      /^recurrent topology: hidden\[0\] interface: unknown option 'delya'/,
    ],
    [
      'interfaces "sgd"',
      { interfaces: 'sgd', hidden: [{ units: 4, decoupled: true }, 3] },
      /^recurrent topology: interfaces: expected synthesizer options/,
    ],
    ['a null option', { dni: { synthesizer: { clip: null } } }, /^recurrent topology: dni\.synthesizer: 'clip' is null/],
    [
      'delay "1"',
      { dni: { synthesizer: { delay: '1' } } },
      /^recurrent topology: dni\.synthesizer delay must be an integer >= 0, got '1'$/,
    ],
    // found by the fuzz campaign: a null top-level option, and interface defaults every layer overrides
    ['cell null', { cell: null }, /^recurrent topology: 'cell' is null \(leave an option out for its default\)$/],
    [
      'interfaces.lr {}',
      { interfaces: { lr: {} }, hidden: [{ units: 4, decoupled: true, interface: { lr: 0.1 } }, 3] },
      /^recurrent topology: interfaces: lr must be a finite number >= 0, got \{\}$/,
    ],
  ])('%s', (_, patch, message) => {
    expect(() => defineRecurrent({ ...base, ...patch } as never)).toThrow(TopologyError);
    expect(() => defineRecurrent({ ...base, ...patch } as never)).toThrow(message);
  });

  it('the correct spellings still define the same topology as before', () => {
    const t = defineRecurrent({
      ...base,
      hidden: [{ units: 4, decoupled: true, interface: { delay: 1 } }, 3],
      readout: { lr: 0.5 },
      dni: { synthesizer: { lr: 0.2 }, aux: { weight: 2 } },
    });
    expect(t.layers[0].interface?.delay).toBe(1);
    expect(t.readout.optimizer.lr).toBe(0.5);
    expect(t.layers.map((l) => [l.synthesizer?.optimizer.lr, l.aux?.weight])).toEqual([
      [0.2, 2],
      [0.2, 2],
    ]);
    expect(defineRecurrent({ ...base, dni: false }).dni).toBe(false);
    expect(defineRecurrent({ ...base, hidden: [{ units: 4, decoupled: false }, 3] }).layers[0].interface).toBeNull();
  });
});

describe('recurrent case files refuse coerced values by position, as chain and graph files do', () => {
  const c = tinyRecurrentCase(4);
  const at = <T>(rows: T[], i: number, f: (row: T) => T) => rows.map((r, k) => (k === i ? f(r) : r));
  const load = (patch: object) => () => loadAnyCase({ ...c, ...patch } as never);
  it.each([
    [
      '"1" in x',
      { x: at(c.x, 1, (s) => at(s, 2, (v) => ['1', v[1], v[2]] as never)) },
      /^tiny-rnn: sequences: x\[1\]\[2\]\[0\] is "1", expected a number$/,
    ],
    [
      'true in y',
      { y: at(c.y, 3, (s) => at(s, 0, (v) => [v[0], true] as never)) },
      /^tiny-rnn: sequences: y\[3\]\[0\]\[1\] is true, expected a number$/,
    ],
    [
      '[1] in x',
      { x: at(c.x, 0, (s) => at(s, 1, (v) => [v[0], [1], v[2]] as never)) },
      /^tiny-rnn: sequences: x\[0\]\[1\]\[1\] is \[1\], expected a number$/,
    ],
    [
      '{} in x',
      { x: at(c.x, 0, (s) => at(s, 0, (v) => [{}, v[1], v[2]] as never)) },
      /^tiny-rnn: sequences: x\[0\]\[0\]\[0\] is \{\}, expected a number$/,
    ],
    [
      'null in mask',
      { mask: at(c.mask, 2, () => [0, null, 1] as never) },
      /^tiny-rnn: sequences: mask\[2\]\[1\] is null, expected a number$/,
    ],
    ['"1" in mask', { mask: at(c.mask, 0, () => [0, '1', 1] as never) }, /^tiny-rnn: sequences: mask\[0\]\[1\] is "1", expected a number$/],
    [
      'a nested mask',
      { mask: at(c.mask, 0, () => [[0], [1], [1]] as never) },
      /^tiny-rnn: sequences: mask\[0\]\[0\] is \[0\], expected a number$/,
    ],
    [
      '[] as a step of x',
      { x: at(c.x, 1, (s) => at(s, 1, () => [] as never)) },
      /^tiny-rnn: sequences: x\[1\]\[1\] has 0 values, expected 3 numbers \(as x\[0\]\[0\]\)$/,
    ],
    ['a mask one step long', { mask: at(c.mask, 0, () => [0, 1, 1, 1]) }, /^tiny-rnn: sequences: mask\[0\] has 4 steps, x\[0\] has 3/],
    ['dni "false"', { config: { ...c.config, dni: 'false' } }, /^tiny-rnn: config\.dni must be true or false, got 'false'$/],
    ['dni 1', { config: { ...c.config, dni: 1 } }, /^tiny-rnn: config\.dni must be true or false, got 1$/],
    ['lr "0.1"', { config: { ...c.config, lr: '0.1' } }, /^tiny-rnn: config\.lr must be a finite number >= 0, got '0\.1'$/],
    [
      'loss null (found by the fuzz campaign)',
      { config: { ...c.config, loss: null } },
      /^tiny-rnn: config: 'loss' is null \(a case file states every value it needs\)$/,
    ],
    [
      '"1" in initial',
      { initial: { ...c.initial, 'core.b': [0, '1', 0, 0] } },
      /^tiny-rnn: parameters: core\.b\[1\] is "1", expected a number$/,
    ],
    [
      'a nested initial matrix entry',
      { initial: { ...c.initial, 'core.Wh': at(c.initial['core.Wh'] as number[][], 2, (r) => [r[0], [r[1]], r[2], r[3]] as never) } },
      /^tiny-rnn: parameters: core\.Wh\[2\]\[1\] is \[[^\]]+\], expected a number$/,
    ],
  ])('%s', (_, patch, message) => {
    expect(load(patch)).toThrow(TopologyError);
    expect(load(patch)).toThrow(message);
  });

  it('the valid case still loads, and dni false is plain truncated BPTT', () => {
    expect(loadAnyCase(c).topology).toMatchObject({ kind: 'recurrent', dni: true });
    expect(loadAnyCase(tinyRecurrentCase(4, { dni: false })).topology).toMatchObject({ kind: 'recurrent', dni: false });
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    "an own key '%s' in initial or final is no parameter (own-key checks, not `in`)",
    (key) => {
      const t = loadAnyCase(c);
      const json = JSON.parse(`{${JSON.stringify(key)}: [[1]]}`) as Record<string, number[][]>;
      expect(() => loadAnyCase({ ...c, initial: { ...c.initial, ...json } } as never)).toThrow(
        new RegExp(`^tiny-rnn: parameters: '${key}' not in the topology$`),
      );
      expect(() => caseParametersFromJSON(t, { ...c.initial, ...json }, 'final')).toThrow(
        new RegExp(`^final: '${key}' not in the topology$`),
      );
    },
  );
});

describe('case files state every config key they need, and no other (chain, graph, rnn)', () => {
  const cases = { chain: tinyCase(2), graph: tinyGraphCase(2), rnn: tinyRecurrentCase(2) };
  const without = (c: object, key: string) => {
    const copy = JSON.parse(JSON.stringify(c));
    delete copy.config[key];
    return copy;
  };
  const plus = (c: { config: object }, key: string) => ({ ...c, config: { ...c.config, [key]: 0.01 } });
  it.each([
    ['chain', 'lr'],
    ['chain', 'lr_synthesizer'],
    ['chain', 'delay'],
    ['chain', 'conditioned'],
    ['chain', 'steps'],
    ['graph', 'lr'],
    ['graph', 'lr_synthesizer'],
    ['graph', 'interfaces'],
    ['graph', 'batch'],
    ['rnn', 'lr'],
    ['rnn', 'lr_synthesizer'],
    ['rnn', 'loss'],
    ['rnn', 'cell'],
    ['rnn', 'dni'],
    ['rnn', 'truncation'],
  ] as const)('a %s case without config.%s is refused by name', (kind, key) => {
    const load = () => loadAnyCase(without(cases[kind], key));
    expect(load).toThrow(TopologyError);
    expect(load).toThrow(new RegExp(`^tiny(-rnn|-graph)?: config lacks '${key}' \\(a case file states everything it needs: `));
  });

  it.each([
    ['chain', 'lr_synthesiser'],
    ['graph', 'lr_synthesiser'],
    ['graph', 'delay'],
    ['rnn', 'lr_synthesiser'],
    ['rnn', 'decoupled'],
    ['chain', 'constructor'],
  ] as const)('a %s case with config.%s is refused by name', (kind, key) => {
    const load = () => loadAnyCase(plus(cases[kind], key) as never);
    expect(load).toThrow(TopologyError);
    expect(load).toThrow(new RegExp(`^tiny(-rnn|-graph)?: config has '${key}', which a case file does not hold \\(it holds `));
  });

  it('a graph node, head or interface without one of its fields is refused by name', () => {
    const g = cases.graph;
    const drop = (field: 'nodes' | 'heads' | 'interfaces', key: string) => {
      const copy = JSON.parse(JSON.stringify(g));
      delete copy.config[field][0][key];
      return () => loadAnyCase(copy);
    };
    expect(drop('nodes', 'merge')).toThrow(
      /^tiny-graph: config\.nodes\[0\] lacks 'merge' \(a case file states everything it needs: id, units, activation, inputs, merge\)$/,
    );
    expect(drop('heads', 'weight')).toThrow(/^tiny-graph: config\.heads\[0\] lacks 'weight'/);
    expect(drop('interfaces', 'delay')).toThrow(/^tiny-graph: config\.interfaces\[0\] lacks 'delay'/);
  });

  it('every shipped reference case loads (the descriptive seed, bits and task are optional)', () => {
    const files = readdirSync(REFERENCE_DIR).filter((f) => f.endsWith('.json'));
    for (const f of files) loadAnyCase(JSON.parse(readFileSync(join(REFERENCE_DIR, f), 'utf8')));
    expect(files.length).toBeGreaterThanOrEqual(9);
    for (const c of Object.values(cases)) expect(() => loadAnyCase(c as never)).not.toThrow();
  });
});
