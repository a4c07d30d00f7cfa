/**
 * Malformed recurrent and graph inputs for the fuzz tests and `npm run bench -- fuzz` (where issue
 * 24's bugs lived): rnn and graph case files, recurrent specs and sequence data sets. As in
 * _generators.ts, each is a known-good input (bench/fuzz/_cases.ts, or below) broken in one way
 * that must be refused, from a seed, with a label saying what was broken.
 */
import { tinyGraphCase, tinyRecurrentCase } from './_cases.ts';
import {
  type CaseInput,
  type DataInput,
  INF,
  NOT_ACTIVATIONS,
  NOT_BOOLEANS,
  NOT_COUNTS,
  NOT_NUMBERS,
  NOT_POSITIVE_INTS,
  NOT_RATES,
  Pick,
  type TopologyInput,
  clone,
  show,
  toText,
} from './_generators.ts';
import type { Sequences } from '../../lib/recurrent/sequences.ts';
import type { RecurrentSpec } from '../../lib/recurrent/topology.ts';

type Json = Record<string, any>;

/** keys inherited from Object.prototype: as own keys of user data they are keys like any other */
const PROTOTYPE_KEYS = ['constructor', 'toString', 'hasOwnProperty', 'valueOf'];
const NOT_NUMBERS_OR_FINITE = [...NOT_NUMBERS, INF, `-${INF}`];
/** Infinity itself (specs are objects, not JSON) */
const real = (v: unknown) => (v === INF ? Infinity : v === `-${INF}` ? -Infinity : v);

/** One element of a nested array, by a random path; returns the path as `[i][j]…`. */
function setLeaf(p: Pick, rows: Json[], v: unknown): string {
  let at: Json = rows,
    path = '';
  for (;;) {
    const i = p.int(at.length);
    path += `[${i}]`;
    if (!Array.isArray(at[i])) {
      at[i] = v;
      return path;
    }
    at = at[i];
  }
}

/** A config key of a case taken away, or one it does not hold added. */
function breakConfigKeys(p: Pick, cfg: Json, unknown: string[]): string {
  if (p.chance(0.5)) {
    const k = p.one(Object.keys(cfg).filter((x) => !['seed', 'bits', 'task'].includes(x)));
    delete cfg[k];
    return `config.${k} deleted`;
  }
  const k = p.one(unknown);
  cfg[k] = p.one<unknown>([1, 0.01, true, 'x']);
  return `config.${k} := ${show(cfg[k])} added`;
}

/** initial: a key taken away or a foreign one (a prototype name, a typo) added, an element broken, or a shape changed. */
function breakParameters(p: Pick, c: Json, foreign: string[]): string {
  const keys = Object.keys(c.initial);
  const r = p.int(4);
  if (r === 0) {
    const k = p.one(keys);
    delete c.initial[k];
    return `initial['${k}'] deleted`;
  }
  if (r === 1) {
    const k = p.one([...foreign, ...PROTOTYPE_KEYS]);
    c.initial[k] = [[0]];
    return `initial['${k}'] added`;
  }
  const k = p.one(keys),
    m = c.initial[k];
  if (r === 2) return `initial['${k}']${setLeaf(p, m, p.one(NOT_NUMBERS_OR_FINITE))} broken`;
  if (Array.isArray(m[0])) for (const row of m) row.push(0);
  else m.pop();
  return `initial['${k}'] reshaped`;
}

/**
 * A malformed recurrent case (`config.kind = "rnn"`) as JSON text, from `seed`. With `answers`, its
 * expected answers may be the part broken (the CLI checks them; the loader does not read them).
 */
export function malformedRecurrentCase(seed: number, options: { answers?: boolean } = {}): CaseInput {
  const p = new Pick(seed);
  const c = clone(tinyRecurrentCase(1 + (seed % 7), { dni: p.chance(0.7) })) as unknown as Json;
  const cfg = c.config as Json;
  const seqKey = () => p.one(['x', 'y', 'mask']);
  const mutations: (() => string | { label: string; value: unknown })[] = [
    () =>
      breakConfigKeys(p, cfg, [
        'lr_synthesiser',
        'decoupled',
        'delay',
        'sizes',
        'forgetBias',
        'optimiser',
        'Dni',
        'hidden_units',
        ...PROTOTYPE_KEYS,
      ]),
    () => `config.dni := ${show((cfg.dni = p.one(NOT_BOOLEANS)))}`,
    () => `config.cell := ${show((cfg.cell = p.one<unknown>(['gru', 'LSTM', '', 3, null, true, ['tanh'], {}])))}`,
    () => `config.loss := ${show((cfg.loss = p.one<unknown>(['hinge', 'MSE', 'bce', '', 3, null, true, {}])))}`,
    () => {
      const k = p.one(['inputs', 'hidden', 'outputs', 'truncation', 'batch']);
      return `config.${k} := ${show((cfg[k] = p.one([...NOT_POSITIVE_INTS, ...(k === 'batch' ? [5, 100] : [])])))}`;
    },
    () => {
      const k = p.one(['lr', 'lr_synthesizer']);
      return `config.${k} := ${show((cfg[k] = p.one(NOT_RATES)))}`;
    },
    () => `config.steps := ${show((cfg.steps = p.one(NOT_COUNTS)))}`,
    () => {
      const k = p.one(['x', 'y']);
      return `${k}${setLeaf(p, c[k], p.one(NOT_NUMBERS_OR_FINITE))} broken`;
    },
    () => `mask${setLeaf(p, c.mask, p.one([...NOT_NUMBERS_OR_FINITE, 0.5, 2, -1]))} broken`,
    () => {
      const n = p.int(c.mask.length);
      c.mask[n] = c.mask[n].map((v: number) => [v]);
      return `mask[${n}] nested`;
    },
    () => {
      const k = seqKey(),
        n = p.int(c[k].length);
      if (p.chance(0.5)) c[k][n].pop();
      else c[k][n].push(k === 'mask' ? 1 : c[k][n][0].slice());
      return `${k}[${n}] has ${c[k][n].length} steps`;
    },
    () => {
      const k = p.one(['x', 'y']),
        n = p.int(c[k].length),
        t = p.int(c[k][n].length);
      if (p.chance(0.5)) c[k][n][t].pop();
      else c[k][n][t].push(0);
      return `${k}[${n}][${t}] has ${c[k][n][t].length} values`;
    },
    () => {
      const k = seqKey();
      c[k].pop();
      return `${k} has ${c[k].length} sequences, the others 4`;
    },
    () => {
      const k = seqKey(),
        v = p.one<unknown>([undefined, null, [], 'x', 3, {}, c[k].flat(), [[]]]);
      if (v === undefined) delete c[k];
      else c[k] = v;
      return `${k} := ${show(v)}`;
    },
    () => breakParameters(p, c, ['core1.Wx', 'synth.N', 'Core.Wx', 'readout.w', 'aux.W', ...(cfg.dni ? [] : ['synth.M'])]),
    () => ({ label: 'the case := not an object', value: p.one<unknown>([null, [], 'rnn', 3, [c]]) }),
  ];
  if (options.answers) {
    mutations.push(() => {
      const r = p.int(3);
      if (r === 0) {
        c.final = { ...clone(c.initial), [p.one(PROTOTYPE_KEYS)]: [[1]] };
        return `final with an own key ${Object.keys(c.final).at(-1)}`;
      }
      const k = r === 1 ? 'losses' : 'synthesizer_losses',
        n = cfg.steps + p.one([-1, 1, -cfg.steps, 5]);
      c[k] = Array.from({ length: n }, () => 0.5);
      return `${k} has ${n} values for ${cfg.steps} steps`;
    });
  }
  const r = p.one(mutations)();
  return typeof r === 'string' ? { label: `rnn case: ${r}`, text: toText(c) } : { label: `rnn case: ${r.label}`, text: toText(r.value) };
}

/** A malformed graph case (`config.kind = "graph"`) as JSON text, from `seed`. */
export function malformedGraphCase(seed: number): CaseInput {
  const p = new Pick(seed);
  const c = clone(tinyGraphCase(1 + (seed % 7))) as unknown as Json;
  const cfg = c.config as Json;
  const FIELDS: Record<string, string[]> = {
    nodes: ['lr', 'optimizer', 'hidden', 'decoupled', 'Merge', 'delay'],
    heads: ['lr', 'Weight', 'classes'],
    interfaces: ['hidden', 'clip', 'lr', 'optimizer', 'conditioned'],
  };
  const mutations: (() => string)[] = [
    () => breakConfigKeys(p, cfg, ['delay', 'lr_synthesiser', 'sizes', 'conditioned', 'decoupled', 'dni', 'truncation', ...PROTOTYPE_KEYS]),
    () => {
      const field = p.one(Object.keys(FIELDS)),
        i = p.int(cfg[field].length),
        o = cfg[field][i];
      if (p.chance(0.5)) {
        const k = p.one(Object.keys(o).filter((x) => x !== 'context'));
        delete o[k];
        return `config.${field}[${i}].${k} deleted`;
      }
      const k = p.one([...FIELDS[field], ...PROTOTYPE_KEYS]);
      o[k] = 1;
      return `config.${field}[${i}].${k} added`;
    },
    () => {
      const i = p.int(cfg.nodes.length),
        n = cfg.nodes[i];
      const [k, v] = p.one<[string, unknown[]]>([
        ['activation', NOT_ACTIVATIONS],
        ['units', NOT_POSITIVE_INTS],
        ['merge', ['avg', '', null, 3, true]],
        ['inputs', [['x'], [], 'input', null, [3]]],
        ['id', ['', null, 3, 'input']],
      ]);
      return `config.nodes[${i}].${k} := ${show((n[k] = p.one(v)))}`;
    },
    () => {
      const o = cfg.interfaces[0];
      const [k, v] = p.one<[string, unknown[]]>([
        ['kind', ['DNI', 'synthetic', '', null, 3]],
        ['delay', [-1, 1.5, '1', null, true, INF]],
        ['from', ['b', '', null]],
        ['to', ['input', 'x', null]],
      ]);
      return `config.interfaces[0].${k} := ${show((o[k] = p.one(v)))}`;
    },
    () => {
      const h = cfg.heads[0];
      const [k, v] = p.one<[string, unknown[]]>([
        ['loss', ['hinge', '', null, 3]],
        ['weight', [-1, '1', null, true, INF, 0]],
        ['node', ['x', 'input', null]],
        ['labels', ['z', '', null, 3]],
      ]);
      return `config.heads[0].${k} := ${show((h[k] = p.one(v)))}`;
    },
    () => {
      const [k, v] = p.one<[string, unknown[]]>([
        ['lr', NOT_RATES],
        ['lr_synthesizer', NOT_RATES],
        ['steps', NOT_COUNTS],
        ['batch', [...NOT_POSITIVE_INTS, 9, 100]],
        ['inputs', NOT_POSITIVE_INTS],
      ]);
      return `config.${k} := ${show((cfg[k] = p.one(v)))}`;
    },
    () =>
      p.chance(0.5)
        ? `x${setLeaf(p, c.x, p.one(NOT_NUMBERS_OR_FINITE))} broken`
        : `y.y${setLeaf(p, c.y.y, p.one(NOT_NUMBERS_OR_FINITE))} broken`,
    () => {
      const v = p.one<unknown>([undefined, null, c.y.y, { z: c.y.y }, { y: c.y.y.slice(1) }, 'y', {}]);
      if (v === undefined) delete c.y;
      else c.y = v;
      return `y := ${show(v)}`;
    },
    () => breakParameters(p, c, ['synth:a>o.N', 'a.w', 'b.W', 'synth0.M', 'fwd:a>o.M']),
  ];
  return { label: `graph case: ${p.one(mutations)()}`, text: toText(c) };
}

/**
 * A valid recurrent spec with every option given (two layers, the lower interface decoupled, DNI with aux). Its data:
 * {@link goodSequences}.
 */
export function fullRecurrentSpec(): RecurrentSpec {
  return {
    cell: 'lstm',
    inputs: 3,
    hidden: [{ units: 4, decoupled: true, interface: { lr: 0.01, delay: 1 } }, 3],
    outputs: 2,
    loss: 'sigmoid-cross-entropy',
    truncation: 2,
    batch: 2,
    lr: 0.1,
    readout: { lr: 0.05 },
    clip: 1,
    forgetBias: 1,
    dni: { synthesizer: { lr: 0.01, delay: 1, hidden: [3], activation: 'tanh' }, aux: { weight: 0.5 } },
    interfaces: { lr: 0.02 },
  };
}

/** A malformed recurrent spec from `seed`: a nested typo, a coerced flag, a null, a bad number. */
export function malformedRecurrentSpec(seed: number): TopologyInput {
  const p = new Pick(seed);
  const s = fullRecurrentSpec() as unknown as Json;
  const at = (path: string): Json =>
    path
      .split('.')
      .filter(Boolean)
      .reduce((o, k) => o[k], s);
  const mutations: (() => string | { label: string; value: unknown })[] = [
    () => {
      const [path, k] = p.one<[string, string]>([
        ['', 'hiden'],
        ['', 'batchSize'],
        ['', 'decoupled'],
        ['hidden.0', 'decouple'],
        ['hidden.0', 'unit'],
        ['hidden.0.interface', 'delya'],
        ['dni', 'synthesiser'],
        ['dni', 'Aux'],
        ['dni.synthesizer', 'lrr'],
        ['dni.synthesizer', 'hiden'],
        ['dni.aux', 'wieght'],
        ['readout', 'lrr'],
        ['interfaces', 'lrr'],
        ['interfaces', 'scale'],
      ]);
      at(path)[k] = 1;
      return `${path || 'the spec'}.${k} added`;
    },
    () => `hidden[0].decoupled := ${show((s.hidden[0].decoupled = p.one(NOT_BOOLEANS)))}`,
    () => `dni := ${show((s.dni = p.one(NOT_BOOLEANS.filter((v) => !(typeof v === 'object' && v !== null && !Array.isArray(v))))))}`,
    () => `dni.aux := ${show((s.dni.aux = p.one(['true', 'false', 0, 1, [], [true], null])))}`,
    () => {
      const [path, k] = p.one<[string, string]>([
        ['', 'cell'],
        ['', 'loss'],
        ['', 'clip'],
        ['', 'forgetBias'],
        ['', 'lr'],
        ['', 'readout'],
        ['', 'dni'],
        ['', 'interfaces'],
        ['hidden.0', 'interface'],
        ['dni', 'synthesizer'],
        ['dni.synthesizer', 'delay'],
        ['dni.aux', 'weight'],
        ['readout', 'lr'],
      ]);
      at(path)[k] = null;
      return `${path || 'the spec'}.${k} := null`;
    },
    () => {
      const [path, k] = p.one<[string, string]>([
        ['', 'inputs'],
        ['', 'outputs'],
        ['', 'batch'],
        ['', 'truncation'],
        ['hidden.0', 'units'],
        ['hidden', '1'],
      ]);
      return `${path || 'the spec'}.${k} := ${show((at(path)[k] = real(p.one(NOT_POSITIVE_INTS))))}`;
    },
    () => {
      const [path, k] = p.one<[string, string]>([
        ['', 'lr'],
        ['readout', 'lr'],
        ['dni.synthesizer', 'lr'],
        ['interfaces', 'lr'],
        ['hidden.0.interface', 'lr'],
      ]);
      return `${path || 'the spec'}.${k} := ${show((at(path)[k] = real(p.one(NOT_RATES))))}`;
    },
    () => {
      const [path, k] = p.one<[string, string]>([
        ['', 'clip'],
        ['dni.aux', 'weight'],
        ['dni.synthesizer', 'delay'],
        ['hidden.0.interface', 'delay'],
        ['', 'forgetBias'],
      ]);
      return (
        `${path || 'the spec'}.${k} := ` +
        `${show((at(path)[k] = p.one<unknown>(['1', true, [1], {}, NaN, k === 'forgetBias' ? Infinity : -1])))}`
      );
    },
    () => {
      const [path, k, v] = p.one<[string, string, unknown[]]>([
        ['', 'cell', ['gru', 'LSTM', '', 3]],
        ['', 'loss', ['hinge', 'MSE', 3]],
        ['dni.synthesizer', 'activation', NOT_ACTIVATIONS.filter((x) => x !== null)],
      ]);
      return `${path || 'the spec'}.${k} := ${show((at(path)[k] = p.one(v)))}`;
    },
    () => ({ label: 'the spec := not an object', value: p.one<unknown>([null, [], 'lstm', 3]) }),
  ];
  const r = p.one(mutations)();
  return typeof r === 'string' ? { label: `recurrent spec: ${r}`, spec: s } : { label: `recurrent spec: ${r.label}`, spec: r.value };
}

/** Valid sequences for {@link fullRecurrentSpec} (and any core of 3 inputs, 2 outputs, batch 2): 4 sequences of 3 steps. */
export function goodSequences(seed = 1): Sequences {
  const p = new Pick(seed);
  const m = (rows: number, cols: number, f: () => number) => ({ rows, cols, data: Float32Array.from({ length: rows * cols }, f) });
  return { length: 3, inputs: 3, outputs: 2, x: m(4, 9, () => p.int(2)), y: m(4, 6, () => p.int(2)), mask: m(4, 3, () => 1) };
}

/** Malformed sequences from `seed` (for a core of 3 inputs, 2 outputs, batch 2). */
export function malformedSequences(seed: number): DataInput {
  const p = new Pick(seed);
  const d = goodSequences(1 + (seed % 5)) as unknown as Json;
  const k = p.one(['x', 'y', 'mask']),
    m = d[k];
  const mutations: (() => string | { label: string; value: unknown })[] = [
    () => {
      const i = p.int(m.data.length);
      return `${k}.data[${i}] := ${(m.data[i] = p.one([NaN, Infinity, -Infinity, ...(k === 'mask' ? [0.5, 2, -1] : [])]))}`;
    },
    () => {
      const n = p.one([0, 1, 10, m.data.length - 1, m.data.length + 1, 2 * m.data.length]);
      m.data = new Float32Array(n).fill(1);
      return `${k}.data has ${n} values for ${m.rows}x${m.cols}`;
    },
    () => {
      const v = p.one<() => unknown>([
        () => Array.from(m.data),
        () => Float64Array.from(m.data),
        () => null,
        () => 'data',
        () => ({ length: m.data.length }),
      ])();
      m.data = v;
      return (
        `${k}.data := ` +
        `${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v === 'object' ? (v as object).constructor.name : show(v)}`
      );
    },
    () => {
      const f = p.one(['rows', 'cols']);
      return `${k}.${f} := ${show((m[f] = p.one<unknown>([8.5, -4, '4', NaN, Infinity, null, m[f] + 1])))}`;
    },
    () => {
      const f = p.one(['length', 'inputs', 'outputs']);
      return `${f} := ${show((d[f] = p.one<unknown>([0, -1, 2.5, '3', null, NaN, d[f] + 1, d[f] - 1])))}`;
    },
    () => {
      const rows = p.one([1, 3, 5]);
      m.rows = rows;
      m.data = new Float32Array(rows * m.cols).fill(k === 'mask' ? 1 : 0);
      return `${k} has ${rows} sequences, the others 4`;
    },
    () => {
      for (const key of ['x', 'y', 'mask']) d[key] = { rows: 1, cols: d[key].cols, data: d[key].data.slice(0, d[key].cols) };
      return 'one sequence for batch 2';
    },
    () => {
      const inputs = p.one([2, 4]);
      d.inputs = inputs;
      d.x = { rows: 4, cols: 3 * inputs, data: new Float32Array(12 * inputs) };
      return `x_t has ${inputs} values, the core takes 3`;
    },
    () => {
      const v = p.one<unknown>([undefined, null, 'x', [], 3]);
      if (v === undefined) delete d[k];
      else d[k] = v;
      return `${k} := ${show(v)}`;
    },
    () => ({ label: 'the data := not sequences', value: p.one<unknown>([null, [], 'data', 3, { x: d.x, y: d.y }]) }),
  ];
  const r = p.one(mutations)();
  return typeof r === 'string' ? { label: `sequences: ${r}`, data: d } : { label: `sequences: ${r.label}`, data: r.value };
}
