/**
 * Malformed inputs for the fuzz tests and `npm run bench -- fuzz`: each is a known-good input
 * (bench/fuzz/_cases.ts) broken in one way that must be refused, so "accepted" is always a bug.
 * Every generator is a function of a seed (a uint32), so a failure is reproduced by its seed, and
 * each input carries a label saying what was broken.
 */
import { createHash } from 'node:crypto';
import { type Dataset } from '../../lib/data.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import type { TopologySpec } from '../../lib/topology.ts';
import type { GraphSpec } from '../../lib/graph.ts';
import { tinyCase } from './_cases.ts';

/** What an input was refused with, or that it was accepted. */
export type Verdict = { kind: 'refused'; name: string; message: string } | { kind: 'accepted' };

/**
 * The library's error classes (by name, so the classes lib/errors.ts gains are counted too):
 * anything else (a TypeError from deep inside, a RangeError from an allocation) is not a refusal
 * by name.
 */
export const NAMED_ERRORS = [
  'TopologyError',
  'CheckpointError',
  'DivergenceError',
  'StageError',
  'FileError',
  'DataError',
  'TrainingOptionsError',
  'EnvironmentError',
  'DniError',
  'AbortError',
];
export const isNamed = (e: unknown): boolean => e instanceof Error && NAMED_ERRORS.includes(e.name);

/** A seeded picker for one generated input. */
export class Pick {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed >>> 0);
  }
  int(n: number): number {
    return this.rng.nextUint32() % n;
  }
  one<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  chance(p: number): boolean {
    return this.rng.next() < p;
  }
}

export const clone = <T>(v: T): T => structuredClone(v);
/** JSON text in which the string "__INF__" becomes the literal 1e999 (JSON.parse reads Infinity) */
export const INF = '__INF__';
const toText = (v: unknown): string => JSON.stringify(v).replaceAll(`"${INF}"`, '1e999').replaceAll(`"-${INF}"`, '-1e999');
export const show = (v: unknown): string =>
  v === INF ? 'Infinity' : v === undefined ? 'undefined' : (JSON.stringify(v) ?? String(v)).slice(0, 30);

/** values that are not a number */
export const NOT_NUMBERS: unknown[] = [null, true, false, '1', '', '0.5', [1], [], {}, 'NaN'];
/** values that are not a positive integer (a size, a batch, a count of steps when 0 is excluded) */
export const NOT_POSITIVE_INTS: unknown[] = [0, -1, -3, 1.5, 0.5, '3', null, true, [3], {}, INF, `-${INF}`];
export const NOT_COUNTS: unknown[] = [-1, -100, 1.5, 2.25, '8', null, true, [8], {}, INF];
export const NOT_RATES: unknown[] = [-0.1, -1, '0.1', null, true, [0.1], {}, INF, `-${INF}`];

/** Values each optimiser setting must refuse. */
const BAD_OPTIMIZER_SETTINGS: Record<string, unknown[]> = {
  lr: NOT_RATES.map((x) => (x === INF ? Infinity : x === `-${INF}` ? -Infinity : x)),
  momentum: [1, 1.5, -0.1, '0.5', null, true, NaN],
  beta1: [1, 1.5, -0.1, '0.9', null, true, NaN],
  beta2: [1, 2, -0.5, '0.999', null, NaN],
  eps: [0, -1e-8, '1e-8', null, Infinity, NaN],
};
export const NOT_BOOLEANS: unknown[] = ['false', 'true', 0, 1, 'yes', [], {}, [true]];
export const NOT_ACTIVATIONS: unknown[] = ['relu6', 'Sigmoid', 'TANH', '', 'softmax', 3, null, true, ['tanh'], {}];

// ---------------------------------------------------------------------------------------------
// reference cases (JSON text)

export interface CaseInput {
  label: string;
  text: string;
}

type Json = Record<string, any>;

/** A malformed reference case as JSON text, from `seed`. */
export function malformedCase(seed: number): CaseInput {
  const p = new Pick(seed);
  const c = clone(tinyCase(1 + (seed % 7), { conditioned: p.chance(0.5), delay: p.int(3) })) as unknown as Json;
  const cfg = c.config as Json;
  const mutations: [string, () => string | Json][] = [
    [
      'config.sizes[k]',
      () => {
        const k = p.int(cfg.sizes.length),
          v = p.one(NOT_POSITIVE_INTS);
        cfg.sizes[k] = v;
        return `config.sizes[${k}] := ${show(v)}`;
      },
    ],
    [
      'config.sizes shape',
      () => {
        const v = p.one<unknown>([[3], [], '3,4,2', 3, null, {}, [3, 4, 2, 2]]);
        cfg.sizes = v;
        return `config.sizes := ${show(v)}`;
      },
    ],
    [
      'config.activations[k]',
      () => {
        const k = p.int(cfg.activations.length),
          v = p.one(NOT_ACTIVATIONS);
        cfg.activations[k] = v;
        return `config.activations[${k}] := ${show(v)}`;
      },
    ],
    [
      'config.activations length',
      () => {
        if (p.chance(0.5)) cfg.activations.push('tanh');
        else cfg.activations.pop();
        return `config.activations has ${cfg.activations.length} entries`;
      },
    ],
    [
      'config.decoupled[k]',
      () => {
        const k = p.int(cfg.decoupled.length),
          v = p.one(NOT_BOOLEANS);
        cfg.decoupled[k] = v;
        return `config.decoupled[${k}] := ${show(v)}`;
      },
    ],
    [
      'config.decoupled length',
      () => {
        if (p.chance(0.5)) cfg.decoupled.push(false);
        else cfg.decoupled.pop();
        return `config.decoupled has ${cfg.decoupled.length} entries`;
      },
    ],
    [
      'config.conditioned',
      () => {
        const v = p.one(NOT_BOOLEANS);
        cfg.conditioned = v;
        return `config.conditioned := ${show(v)}`;
      },
    ],
    [
      'config.delay',
      () => {
        const v = p.one<unknown>([-1, -2, 1.5, '1', true, [1], {}, INF]);
        cfg.delay = v;
        return `config.delay := ${show(v)}`;
      },
    ],
    [
      'config.batch',
      () => {
        const v = p.one<unknown>([...NOT_POSITIVE_INTS, 9, 100]); // 9 and 100: more than the 8 rows
        cfg.batch = v;
        return `config.batch := ${show(v)}`;
      },
    ],
    [
      'config.lr',
      () => {
        const k = p.one(['lr', 'lr_synthesizer']),
          v = p.one(NOT_RATES);
        cfg[k] = v;
        return `config.${k} := ${show(v)}`;
      },
    ],
    [
      'config.steps',
      () => {
        const v = p.one(NOT_COUNTS);
        cfg.steps = v;
        return `config.steps := ${show(v)}`;
      },
    ],
    [
      'config',
      () => {
        const v = p.one<unknown>([undefined, null, [], 'dni', 3]);
        if (v === undefined) delete c.config;
        else c.config = v;
        return `config := ${show(v)}`;
      },
    ],
    [
      'x or y element',
      () => {
        const k = p.one(['x', 'y']),
          i = p.int(c[k].length),
          j = p.int(c[k][i].length),
          v = p.one([...NOT_NUMBERS, INF, `-${INF}`]);
        c[k][i][j] = v;
        return `${k}[${i}][${j}] := ${show(v)}`;
      },
    ],
    [
      'x or y row length',
      () => {
        const k = p.one(['x', 'y']),
          i = 1 + p.int(c[k].length - 1);
        if (p.chance(0.5)) c[k][i].push(0.5);
        else c[k][i].pop();
        return `${k}[${i}] has ${c[k][i].length} values`;
      },
    ],
    [
      'x or y width',
      () => {
        const k = p.one(['x', 'y']);
        const grow = p.chance(0.5);
        for (const row of c[k]) grow ? row.push(0.25) : row.pop();
        return `every row of ${k} has ${c[k][0].length} values`;
      },
    ],
    [
      'x or y rows',
      () => {
        const k = p.one(['x', 'y']);
        if (p.chance(0.5)) c[k].pop();
        else c[k].push(c[k][0].slice());
        return `${k} has ${c[k].length} rows, the other ${c[k === 'x' ? 'y' : 'x'].length}`;
      },
    ],
    [
      'x or y shape',
      () => {
        const k = p.one(['x', 'y']),
          v = p.one<unknown>([undefined, null, [], 'x', 3, {}, c[k].flat(), [c[k][0], 1], [[]]]);
        if (v === undefined) delete c[k];
        else c[k] = v;
        return `${k} := ${show(v)}`;
      },
    ],
    [
      'initial key',
      () => {
        const keys = Object.keys(c.initial);
        if (p.chance(0.5)) {
          const k = p.one(keys);
          delete c.initial[k];
          return `initial['${k}'] deleted`;
        }
        const k = p.one(['layer2.W', 'synth1.M', 'synth0.N2', 'layer0.w', 'Layer0.W', 'synth0.hidden0.W']);
        c.initial[k] = [[0]];
        return `initial['${k}'] added`;
      },
    ],
    [
      'initial element',
      () => {
        const k = p.one(Object.keys(c.initial)),
          m = c.initial[k];
        const v = p.one([...NOT_NUMBERS, INF, `-${INF}`]);
        if (Array.isArray(m[0])) {
          const i = p.int(m.length),
            j = p.int(m[i].length);
          m[i][j] = v;
          return `initial['${k}'][${i}][${j}] := ${show(v)}`;
        }
        const i = p.int(m.length);
        m[i] = v;
        return `initial['${k}'][${i}] := ${show(v)}`;
      },
    ],
    [
      'initial shape',
      () => {
        const k = p.one(Object.keys(c.initial)),
          m = c.initial[k];
        if (Array.isArray(m[0]) && p.chance(0.5)) {
          m.pop();
          return `initial['${k}'] lost a row`;
        }
        if (Array.isArray(m[0])) {
          for (const row of m) row.push(0);
          return `initial['${k}'] gained a column`;
        }
        m.pop();
        return `initial['${k}'] lost an element`;
      },
    ],
    [
      'initial',
      () => {
        const v = p.one<unknown>([undefined, null, [], 'initial', 3]);
        if (v === undefined) delete c.initial;
        else c.initial = v;
        return `initial := ${show(v)}`;
      },
    ],
    [
      'top level',
      () => {
        const v = p.one<unknown>([null, [], [c], 'case', 42, true]);
        return { label: `the case := ${show(v)}`, value: v };
      },
    ],
  ];
  const [, mutate] = p.one(mutations);
  const r = mutate();
  if (typeof r === 'string') return { label: r, text: toText(c) };
  return { label: r.label as string, text: toText(r.value) };
}

// ---------------------------------------------------------------------------------------------
// checkpoints (text)

export interface CheckpointInput {
  label: string;
  text: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Edit the payload and recompute the header's length and SHA-256 (so the checksum passes). */
export function reseal(text: string, edit: (payload: Json, header: Json) => void): string {
  const nl = text.indexOf('\n');
  const header = JSON.parse(text.slice(0, nl)),
    payload = JSON.parse(text.slice(nl + 1));
  edit(payload, header);
  const body = JSON.stringify(payload);
  return `${JSON.stringify({ ...header, bytes: Buffer.byteLength(body), sha256: sha256(body) })}\n${body}\n`;
}

/** Every path in a JSON value, with the value there. */
function paths(v: unknown, at: (string | number)[] = [], out: [(string | number)[], unknown][] = []): [(string | number)[], unknown][] {
  out.push([at, v]);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

const NAN_F32 = Buffer.from(new Float32Array([NaN]).buffer)
  .toString('base64')
  .slice(0, 6); // 'AADAfw'

/**
 * A structured edit of a checkpoint payload that must be refused: a value of another type, a key
 * removed or added, an array longer or shorter, an encoded array of another length or holding
 * NaN, a matrix's shape swapped. (Edits that a valid checkpoint could hold, such as another loss
 * value, another optimiser step count or a fingerprint removed, are never made.) Returns null when
 * the picked edit does not apply there.
 */
function editPayload(payload: Json, p: Pick): string | null {
  const all = paths(payload).filter(([at]) => at.length > 0 && at[at.length - 1] !== 'dataFingerprint');
  const [at, value] = p.one(all);
  const where = at.join('.');
  const parent = at.slice(0, -1).reduce<any>((o, k) => o[k], payload);
  const key = at[at.length - 1];
  const how = p.int(6);
  if (how === 0) {
    // another type
    const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    const choices = [null, true, 'x', '1', 7, -1, [], {}, [1]].filter(
      (c) => (c === null ? 'null' : Array.isArray(c) ? 'array' : typeof c) !== kind,
    );
    // null stands for "none" in a few places (rng, spare, a synthesizer's y when it is not conditioned)
    const v = p.one(choices.filter((c) => !(c === null && (key === 'rng' || key === 'y' || key === 'spare'))));
    parent[key] = v;
    return `${where} := ${show(v)}`;
  }
  if (how === 1 && !Array.isArray(parent)) {
    delete parent[key];
    return `${where} deleted`;
  }
  if (how === 2 && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    (value as Json)[p.one(['extra', 'Rows', 'version', 'comment', 'kind2'])] = 1;
    return `${where} gained an unknown key`;
  }
  if (how === 3 && Array.isArray(value)) {
    if (value.length === 0 || p.chance(0.5)) value.push(value.length > 0 ? clone(value[0]) : 0);
    else value.pop();
    return `${where} has ${value.length} elements`;
  }
  if (how === 4 && typeof value === 'string' && value.length >= 8 && /^[A-Za-z0-9+/]+=*$/.test(value) && key !== 'sha256') {
    const v = p.chance(0.5) ? value.slice(4) : NAN_F32 + value.slice(NAN_F32.length);
    if (v === value) return null;
    parent[key] = v;
    return v.length < value.length ? `${where} lost 3 bytes` : `${where} starts with NaN`;
  }
  if (
    how === 5 &&
    typeof value === 'number' &&
    Number.isInteger(value) &&
    /^(step|nextRefit|nextPrediction|batch|rows|cols)$/.test(String(key)) &&
    !at.includes('topology')
  ) {
    if (key === 'rows' || key === 'cols') {
      if (parent.rows === parent.cols) parent[key] = value + 1;
      else [parent.rows, parent.cols] = [parent.cols, parent.rows];
      return `${at.slice(0, -1).join('.')} is ${parent.rows}x${parent.cols}`;
    }
    if (key === 'step' && at.length > 1) return null; // an optimiser's step count: any value is valid
    const v = p.one([value + 1, value - 1, -1, value + 0.5]);
    parent[key] = v;
    return `${where} := ${v}`;
  }
  return null;
}

/** A malformed checkpoint from a valid one (`good`): a byte flipped, truncated, padded, or a resealed edit. */
export function malformedCheckpoint(good: string, seed: number): CheckpointInput {
  const p = new Pick(seed);
  const bytes = Buffer.from(good, 'utf8');
  for (;;) {
    const how = p.int(10);
    if (how < 3) {
      const at = p.int(bytes.length),
        mask = 1 + p.int(255);
      const b = Buffer.from(bytes);
      b[at] ^= mask;
      return { label: `byte ${at} xor ${mask}`, text: b.toString('latin1') === bytes.toString('latin1') ? good + 'x' : b.toString('utf8') };
    }
    if (how < 5) {
      const at = p.int(bytes.length - 1); // the trailing newline alone is optional: keep at least it off
      return { label: `truncated to ${at} bytes`, text: bytes.subarray(0, at).toString('utf8') };
    }
    if (how === 5) {
      const extra = p.one(['x', ' ', '\n\n', '{}', '\u0000']);
      return { label: `padded with ${JSON.stringify(extra)}`, text: good + extra };
    }
    let label: string | null = null;
    const text = reseal(good, (payload) => {
      label = editPayload(payload, p);
    });
    if (label && text !== good) return { label: `resealed: ${label}`, text };
  }
}

// ---------------------------------------------------------------------------------------------
// topology specs

export interface TopologyInput {
  label: string;
  spec: unknown;
}

/** A valid spec whose every option is given (3-4-2, an MLP synthesizer with clipping, Adam, momentum). */
export function fullSpec(): TopologySpec {
  return {
    inputs: 3,
    batch: 2,
    loss: 'mse',
    labels: 2,
    optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    synthesizer: { conditioned: true, delay: 1, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.5 } },
    layers: [
      { units: 4, activation: 'tanh', decoupled: true, synthesizer: { hidden: [3], activation: 'relu', clip: 5 } },
      { units: 2, activation: 'sigmoid', lr: 0.1 },
    ],
  };
}

/** A malformed topology spec from `seed`. */
export function malformedTopology(seed: number): TopologyInput {
  const p = new Pick(seed);
  const s = fullSpec() as Json;
  const l0 = s.layers[0],
    l1 = s.layers[1];
  const mutations: (() => string)[] = [
    () => {
      const [o, k, name] = p.one<[Json, string, string]>([
        [s, 'inputs', 'inputs'],
        [s, 'batch', 'batch'],
        [s, 'labels', 'labels'],
        [l0, 'units', 'layers[0].units'],
        [l1, 'units', 'layers[1].units'],
      ]);
      const v = p.one([...NOT_POSITIVE_INTS.map((x) => (x === INF ? Infinity : x === `-${INF}` ? -Infinity : x)), NaN]);
      o[k] = v;
      return `${name} := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>([-1, 1.5, '1', true, [1], {}, Infinity, NaN]);
      if (p.chance(0.5)) s.synthesizer.delay = v;
      else l0.synthesizer.delay = v;
      return `synthesizer delay := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>([0, -1, 1.5, '3', null, true, Infinity, NaN, [3]]);
      const arr = p.chance(0.3) ? (p.chance(0.5) ? 'notarray' : []) : null;
      if (arr === 'notarray') l0.synthesizer.hidden = p.one<unknown>(['3', 3, {}, null, true]);
      else l0.synthesizer.hidden = [v];
      return `layers[0].synthesizer.hidden := ${show(l0.synthesizer.hidden)}`;
    },
    () => {
      const v = p.one<unknown>([0, -1, '5', null, true, Infinity, NaN, [5]]);
      l0.synthesizer.clip = v;
      return `layers[0].synthesizer.clip := ${show(v)}`;
    },
    () => {
      const [o, name] = p.one<[Json, string]>([
        [l0, 'layers[0]'],
        [l1, 'layers[1]'],
      ]);
      const v = p.one(NOT_ACTIVATIONS);
      o.activation = v;
      return `${name}.activation := ${show(v)}`;
    },
    () => {
      const v = p.one(NOT_ACTIVATIONS);
      l0.synthesizer.activation = v;
      return `layers[0].synthesizer.activation := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>(['MSE', 'cross-entropy', '', 3, null, true, ['mse']]);
      s.loss = v;
      return `loss := ${show(v)}`;
    },
    () => {
      const [o, name] = p.one<[Json, string]>([
        [l0, 'layers[0].decoupled'],
        [s.synthesizer, 'synthesizer.conditioned'],
        [l0.synthesizer, 'layers[0].synthesizer.conditioned'],
      ]);
      const k = name.endsWith('decoupled') ? 'decoupled' : 'conditioned';
      const v = p.one(NOT_BOOLEANS);
      o[k] = v;
      return `${name} := ${show(v)}`;
    },
    () => breakOptimizerSetting(p, s, show),
    () => {
      const [o, name] = p.one<[Json, string]>([
        [s.optimizer, 'optimizer'],
        [s.synthesizer.optimizer, 'synthesizer.optimizer'],
      ]);
      const v = p.one<unknown>(['adamw', 'SGD', '', 3, null, undefined]);
      o.kind = v;
      return `${name}.kind := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>([-0.1, '0.1', null, true, Infinity, NaN, [0.1]]);
      l1.lr = v;
      return `layers[1].lr := ${show(v)}`;
    },
    () => {
      const [o, name] = p.one<[Json, string]>([
        [s, 'the spec'],
        [l0, 'layers[0]'],
        [l1, 'layers[1]'],
        [s.synthesizer, 'synthesizer'],
        [l0.synthesizer, 'layers[0].synthesizer'],
        [s.optimizer, 'optimizer'],
        [s.synthesizer.optimizer, 'synthesizer.optimizer'],
      ]);
      const k = p.one(['activaton', 'unit', 'decouple', 'Inputs', 'learningRate', 'delays', 'hiddden', 'momentun', 'beta', 'extra']);
      o[k] = p.one<unknown>([1, true, 'tanh', [4], {}]);
      return `${name} has an unknown key '${k}'`;
    },
    () => {
      const v = p.one<unknown>([[], 'layers', null, {}, [null], [3], [{}]]);
      s.layers = v;
      return `layers := ${show(v)}`;
    },
    () => {
      l1.synthesizer = { delay: 1 };
      return 'layers[1] has synthesizer options but is not decoupled';
    },
    () => {
      l1.optimizer = { kind: 'sgd', lr: 0.1 };
      return 'layers[1] gives both lr and optimizer';
    },
    () => {
      s.labels = p.one([1, 3, 5]);
      return `labels := ${s.labels} (the mse head needs the last layer's 2)`;
    },
    () => {
      const v = p.one<unknown>([null, 'spec', 3, [], true, undefined]);
      return `the spec := ${show(v)}${(Object.assign(s, { __replace: true, __value: v }), '')}`;
    },
  ];
  const label = p.one(mutations)();
  return { label, spec: s.__replace ? s.__value : s };
}

// ---------------------------------------------------------------------------------------------
// data sets

export interface DataInput {
  label: string;
  data: unknown;
}

/** A valid data set for {@link fullSpec} and tinyCase: 8 rows of 3 inputs and 2 labels. */
export function goodData(seed = 1): Dataset {
  const rng = new Rng(seed);
  const m = (rows: number, cols: number): Matrix => ({
    rows,
    cols,
    data: Float32Array.from({ length: rows * cols }, () => rng.uniform(-1, 1)),
  });
  return { x: m(8, 3), y: m(8, 2) };
}

/** A malformed data set from `seed` (for a topology of 3 inputs, 2 labels, batch 2). */
export function malformedData(seed: number): DataInput {
  const p = new Pick(seed);
  const d = goodData(1 + (seed % 5)) as { x: Json; y: Json };
  const k = p.one(['x', 'y'] as const),
    m = d[k];
  const mutations: (() => string)[] = [
    () => {
      const at = p.int(m.data.length),
        v = p.one([NaN, Infinity, -Infinity]);
      m.data[at] = v;
      return `${k}.data[${at}] := ${v}`;
    },
    () => {
      const cols = m.cols + p.one([1, -1, 2]);
      d[k] = { rows: 8, cols, data: new Float32Array(8 * cols) };
      return `${k} is 8x${cols}`;
    },
    () => {
      const rows = p.one([7, 9, 16]);
      d[k] = { rows, cols: m.cols, data: new Float32Array(rows * m.cols) };
      return `${k} has ${rows} rows, the other 8`;
    },
    () => {
      const rows = p.one([0, 1]);
      d.x = { rows, cols: 3, data: new Float32Array(rows * 3) };
      d.y = { rows, cols: 2, data: new Float32Array(rows * 2) };
      return `${rows} rows for batch 2`;
    },
    () => {
      const len = p.one([0, m.data.length - 1, m.data.length + 1, 1]);
      m.data = new Float32Array(len);
      return `${k}.data has ${len} values for ${m.rows}x${m.cols}`;
    },
    () => {
      const v = p.one<() => unknown>([
        () => Array.from(m.data),
        () => Float64Array.from(m.data),
        () => Int32Array.from(m.data),
        () => Array.from(m.data).map((x, i) => (i === 3 ? '1' : x)),
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
      const [key, v] = p.one<[string, unknown]>([
        ['rows', 8.5],
        ['rows', -8],
        ['rows', '8'],
        ['cols', 1.5],
        ['cols', null],
        ['rows', NaN],
        ['cols', Infinity],
      ]);
      m[key] = v;
      return `${k}.${key} := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>([undefined, null, 'x', [], [[1, 2, 3]], 3]);
      if (v === undefined) delete d[k];
      else (d as Json)[k] = v;
      return `${k} := ${show(v)}`;
    },
    () => {
      const v = p.one<unknown>([null, [], 'data', 3]);
      return `the data := ${show(v)}${(Object.assign(d, { __replace: true, __value: v }), '')}`;
    },
  ];
  const label = p.one(mutations)();
  return { label, data: (d as Json).__replace ? (d as Json).__value : d };
}

// ---------------------------------------------------------------------------------------------
// graph specs and graph data

/**
 * A valid graph spec whose every option is given: fan-out, a concat with an input skip, a sum, two
 * heads (mse; softmax with a weight), dni with an MLP synthesizer and clipping, cdni with a delay,
 * an interface into a head, a listed backprop edge, Adam, momentum, a node's own lr. Its data:
 * {@link goodGraphData}.
 */
export function fullGraphSpec(): GraphSpec {
  return {
    inputs: 3,
    batch: 2,
    optimizer: { kind: 'adam', lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    synthesizer: { delay: 1, optimizer: { kind: 'sgd', lr: 0.01, momentum: 0.5 } },
    nodes: [
      { id: 'trunk', units: 4, activation: 'tanh', inputs: ['input'] },
      { id: 'a', units: 3, activation: 'sigmoid', inputs: ['trunk', 'input'], merge: 'concat', lr: 0.1 },
      { id: 'b', units: 4, activation: 'relu', inputs: ['trunk'] },
      { id: 'logits', units: 2, activation: 'linear', inputs: ['b', 'trunk'], merge: 'sum' },
    ],
    heads: [
      { id: 'bits', node: 'a', loss: 'mse', labels: 'bits', weight: 1 },
      { id: 'class', node: 'logits', loss: 'softmax-cross-entropy', labels: 'class', weight: 0.5 },
    ],
    interfaces: [
      { from: 'trunk', to: 'a', kind: 'dni', hidden: [3], activation: 'relu', clip: 5 },
      { from: 'trunk', to: 'b', kind: 'cdni', context: 'class', delay: 2 },
      { from: 'b', to: 'logits', kind: 'backprop' },
      { from: 'logits', to: 'class', kind: 'dni', lr: 0.05 },
    ],
  };
}

/** Valid data for {@link fullGraphSpec}: 8 rows, x 8x3, y.bits 8x3 in [0, 1], y.class one-hot 8x2. */
export function goodGraphData(seed = 1): Dataset {
  const rng = new Rng(seed);
  const m = (rows: number, cols: number, f: (i: number) => number): Matrix => ({
    rows,
    cols,
    data: Float32Array.from({ length: rows * cols }, (_, i) => f(i)),
  });
  return { x: m(8, 3, () => rng.uniform(-1, 1)), y: { bits: m(8, 3, () => rng.next()), class: m(8, 2, (i) => ((i >> 1) + (i & 1)) % 2) } };
}

/** `show`, naming non-finite numbers (JSON would write them as null) */
const showValue = (v: unknown): string => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : show(v));

/** A malformed graph spec from `seed`: {@link fullGraphSpec} broken in one way that must be refused. */
export function malformedGraph(seed: number): TopologyInput {
  const p = new Pick(seed);
  const s = fullGraphSpec() as Json;
  const node = () => p.int(s.nodes.length),
    head = () => p.int(s.heads.length),
    iface = () => p.int(s.interfaces.length);
  const finite = (v: unknown) => (v === INF ? Infinity : v === `-${INF}` ? -Infinity : v);
  const mutations: (() => string)[] = [
    () => {
      const [o, k, name] = p.one<[Json, string, string]>([
        [s, 'inputs', 'inputs'],
        [s, 'batch', 'batch'],
        ...s.nodes.map((n: Json, i: number): [Json, string, string] => [n, 'units', `nodes[${i}].units`]),
      ]);
      const v = p.one([...NOT_POSITIVE_INTS.map(finite), NaN]);
      o[k] = v;
      return `${name} := ${showValue(v)}`;
    },
    () => {
      const i = node(),
        v = p.one(NOT_ACTIVATIONS);
      s.nodes[i].activation = v;
      return `nodes[${i}].activation := ${showValue(v)}`;
    },
    () => {
      const i = node(),
        v = p.one<unknown>(['max', 'Sum', 'add', '', 3, null, true, ['sum']]);
      s.nodes[i].merge = v;
      return `nodes[${i}].merge := ${showValue(v)}`;
    },
    () => {
      const i = node(),
        v = p.one<unknown>([[], 'input', null, {}, 3, [3], [null], ['input', 'input'], ['trunkk'], ['INPUT'], [s.nodes[i].id]]);
      s.nodes[i].inputs = v;
      return `nodes[${i}].inputs := ${showValue(v)}`;
    },
    () => {
      // a node reads one that depends on it: a cycle
      const [i, j] = p.one([
        [0, 1],
        [0, 2],
        [0, 3],
        [2, 3],
      ]);
      s.nodes[i].inputs = [...s.nodes[i].inputs, s.nodes[j].id];
      return `nodes[${i}] also reads ${s.nodes[j].id} (a cycle)`;
    },
    () => {
      s.nodes[3].inputs = p.one([
        ['b', 'a'],
        ['a', 'trunk'],
        ['input', 'b'],
      ]);
      return `the sum node reads ${s.nodes[3].inputs.join(' + ')} (widths differ)`;
    },
    () => {
      s.nodes.push({ id: 'lonely', units: 2, inputs: [p.one(['input', 'trunk', 'a'])] });
      return 'a node that feeds nothing';
    },
    () => {
      const [o, name] = p.one<[Json, string]>([
        ...s.nodes.map((n: Json, i: number): [Json, string] => [n, `nodes[${i}]`]),
        ...s.heads.map((h: Json, i: number): [Json, string] => [h, `heads[${i}]`]),
      ]);
      const v = p.one<unknown>([
        'input',
        '',
        'a b',
        'x.y',
        'trunk/1',
        3,
        null,
        true,
        [],
        s.nodes[p.int(s.nodes.length)].id,
        s.heads[p.int(s.heads.length)].id,
      ]);
      if (v === o.id) o.id = 'input';
      else o.id = v;
      return `${name}.id := ${showValue(o.id)}`;
    },
    () => {
      const i = head(),
        v = p.one<unknown>(['logit', 'input', '', 3, null, s.heads[1 - i].id]);
      s.heads[i].node = v;
      return `heads[${i}].node := ${showValue(v)}`;
    },
    () => {
      const i = head(),
        v = p.one<unknown>(['MSE', 'cross-entropy', 'softmax', '', 3, null, ['mse']]);
      s.heads[i].loss = v;
      return `heads[${i}].loss := ${showValue(v)}`;
    },
    () => {
      const i = head(),
        v = p.one<unknown>([0, -1, '1', null, true, Infinity, NaN, [1]]);
      s.heads[i].weight = v;
      return `heads[${i}].weight := ${showValue(v)}`;
    },
    () => {
      const i = head(),
        v = p.one<unknown>(['', 3, null, true, [], s.heads[1 - i].labels]);
      s.heads[i].labels = v;
      return `heads[${i}].labels := ${showValue(v)}`;
    },
    () => {
      s.heads[1].node = p.one(['a', 'b', 'trunk']);
      return `the softmax head on ${s.heads[1].node}, not a linear node`;
    },
    () => {
      const i = iface(),
        k = p.one(['from', 'to']),
        v = p.one<unknown>(['x', 'input', '', 3, null, 'a>b', k === 'from' ? 'bits' : 'trunk']);
      s.interfaces[i][k] = v;
      return `interfaces[${i}].${k} := ${showValue(v)}`;
    },
    () => {
      const i = iface(),
        v = p.one<unknown>(['DNI', 'sdni', '', 'synthetic', 3, null, undefined]);
      s.interfaces[i].kind = v;
      return `interfaces[${i}].kind := ${showValue(v)}`;
    },
    () => {
      const v = p.one<unknown>([undefined, 'digits', 'trunk', '', 3, null, 'input']);
      if (v === undefined) delete s.interfaces[1].context;
      else s.interfaces[1].context = v;
      return `the cdni interface's context := ${showValue(v)}`;
    },
    () => {
      const i = p.one([0, 3]);
      s.interfaces[i].context = p.one(['bits', 'class']);
      return `interfaces[${i}] (dni) has a context`;
    },
    () => {
      const e = p.one([
        ['a', 'b'],
        ['b', 'a'],
        ['logits', 'bits'],
        ['input', 'trunk'],
        ['bits', 'a'],
        ['trunk', 'class'],
        ['a', 'a'],
      ]);
      s.interfaces.push({ from: e[0], to: e[1], kind: 'dni' });
      return `an interface on ${e[0]} → ${e[1]}: not an edge`;
    },
    () => {
      const i = iface();
      s.interfaces.push({ ...clone(s.interfaces[i]) });
      return `interfaces[${i}] listed twice`;
    },
    () => {
      const k = p.one(['delay', 'lr', 'hidden', 'context', 'clip']);
      s.interfaces[2][k] = k === 'hidden' ? [2] : k === 'context' ? 'class' : 1;
      return `the backprop interface has '${k}'`;
    },
    () => {
      const o = p.one<Json>([s.synthesizer, s.interfaces[p.int(s.interfaces.length)]]),
        v = p.one<unknown>([-1, 1.5, '1', true, [1], {}, Infinity, NaN]);
      if (o.kind === 'backprop') {
        s.interfaces[1].delay = v;
        return `interfaces[1].delay := ${showValue(v)}`;
      }
      o.delay = v;
      return `a synthesizer delay := ${showValue(v)}`;
    },
    () => {
      const v = p.one<unknown>([[0], [-1], [1.5], ['3'], [null], '3', 3, {}, null, true]);
      s.interfaces[0].hidden = v;
      return `interfaces[0].hidden := ${showValue(v)}`;
    },
    () => {
      const v = p.one<unknown>([0, -1, '5', null, true, Infinity, NaN, [5]]);
      s.interfaces[0].clip = v;
      return `interfaces[0].clip := ${showValue(v)}`;
    },
    () => {
      const i = p.one([1, 3]);
      s.interfaces[i].activation = p.one(['relu', 'tanh']);
      return `interfaces[${i}] (linear) has an activation`;
    },
    () => {
      const v = p.one(NOT_ACTIVATIONS);
      s.interfaces[0].activation = v;
      return `interfaces[0].activation := ${showValue(v)}`;
    },
    () => breakOptimizerSetting(p, s, showValue),
    () => {
      const [o, name] = p.one<[Json, string]>([
        [s.nodes[1], 'nodes[1] (lr 0.1)'],
        [s.interfaces[3], 'interfaces[3] (lr 0.05)'],
        [s, 'the spec (its optimizer)'],
      ]);
      if (o === s) s.lr = 0.1;
      else o.optimizer = { kind: 'sgd', lr: 0.1 };
      return `${name} gives both lr and optimizer`;
    },
    () => {
      const v = p.one<unknown>([-0.1, '0.1', null, true, Infinity, NaN, [0.1]]);
      const [o, name] = p.one<[Json, string]>([
        [s.nodes[1], 'nodes[1].lr'],
        [s.interfaces[3], 'interfaces[3].lr'],
      ]);
      o.lr = v;
      return `${name} := ${showValue(v)}`;
    },
    () => {
      const [o, name] = p.one<[Json, string]>([
        [s, 'the spec'],
        [s.nodes[p.int(4)], 'a node'],
        [s.heads[p.int(2)], 'a head'],
        [s.interfaces[p.int(4)], 'an interface'],
        [s.synthesizer, 'synthesizer'],
        [s.optimizer, 'optimizer'],
      ]);
      const k = p.one([
        'unit',
        'input',
        'activaton',
        'Merge',
        'layers',
        'label',
        'weights',
        'decoupled',
        'conditioned',
        'delays',
        'kinds',
        'extra',
      ]);
      o[k] = p.one<unknown>([1, true, 'tanh', [4], {}]);
      return `${name} has an unknown key '${k}'`;
    },
    () => {
      const [k, v] = p.one<[string, unknown]>([
        ['nodes', []],
        ['nodes', null],
        ['nodes', {}],
        ['nodes', [null]],
        ['nodes', 'trunk'],
        ['heads', []],
        ['heads', [3]],
        ['heads', null],
        ['interfaces', {}],
        ['interfaces', 'dni'],
        ['interfaces', [null]],
      ]);
      s[k] = v;
      return `${k} := ${showValue(v)}`;
    },
    () => {
      const v = p.one<unknown>([null, 'graph', 3, [], true, undefined]);
      return `the spec := ${showValue(v)}${(Object.assign(s, { __replace: true, __value: v }), '')}`;
    },
  ];
  const label = p.one(mutations)();
  return { label, spec: s.__replace ? s.__value : s };
}

/** A malformed data set for {@link fullGraphSpec} from `seed`. */
export function malformedGraphData(seed: number): DataInput {
  const p = new Pick(seed);
  const d = goodGraphData(1 + (seed % 5)) as { x: Json; y: Json };
  const set = p.one(['bits', 'class']),
    m = d.y[set];
  const mutations: (() => string)[] = [
    () => {
      delete d.y[set];
      return `y.${set} missing`;
    },
    () => {
      const cols = m.cols + p.one([1, -1]);
      d.y[set] = { rows: 8, cols, data: new Float32Array(8 * cols).fill(cols === 1 ? 1 : 0).map((v, i) => (i % cols === 0 ? 1 : v)) };
      return `y.${set} is 8x${cols}`;
    },
    () => {
      d.y = p.one([d.y.bits, d.y.class]);
      return 'y is one matrix for two label sets';
    },
    () => {
      const r = p.int(8),
        v = p.one([0.5, 2, -1, 0]);
      d.y.class.data[r * 2] = v;
      d.y.class.data[r * 2 + 1] = v === -1 ? 2 : 0;
      return `y.class row ${r} := [${v}, ${d.y.class.data[r * 2 + 1]}] (not one-hot)`;
    },
    () => {
      const k = p.one(['x', 'bits', 'class']),
        at = p.int(k === 'x' ? 24 : k === 'bits' ? 24 : 16),
        v = p.one([NaN, Infinity, -Infinity]);
      (k === 'x' ? d.x : d.y[k]).data[at] = v;
      return `${k}.data[${at}] := ${v}`;
    },
    () => {
      const rows = p.one([7, 9]);
      d.y[set] = { rows, cols: m.cols, data: new Float32Array(rows * m.cols).map((_, i) => (i % m.cols === 0 ? 1 : 0)) };
      return `y.${set} has ${rows} rows, x 8`;
    },
    () => {
      const cols = p.one([2, 4]);
      d.x = { rows: 8, cols, data: new Float32Array(8 * cols) };
      return `x is 8x${cols}`;
    },
    () => {
      const v = p.one<unknown>([null, 'y', 3, [], [[1, 0]], { rows: 8, cols: 2 }, Array.from(m.data)]);
      d.y[set] = v;
      return `y.${set} := ${showValue(v)}`;
    },
    () => {
      const v = p.one<unknown>([undefined, null, 'y', 3, []]);
      if (v === undefined) delete (d as Json).y;
      else d.y = v as Json;
      return `y := ${showValue(v)}`;
    },
  ];
  const label = p.one(mutations)();
  return { label, data: d };
}

// ---------------------------------------------------------------------------------------------
// command lines

/** A malformed argument list for a demo (tryParseDemoArgs with binary-addition's options). */
export function malformedDemoArgs(seed: number): { label: string; args: string[] } {
  const p = new Pick(seed);
  const base = p.one([[], ['--steps', '10'], ['--epochs', '2'], ['--scheduler', 'async'], ['--json']]);
  const bad = p.one<string[]>([
    ['--stpes', '10'],
    ['--steps'],
    ['--steps', p.one(['-1', '1.5', 'abc', '', '1e3x', 'NaN', 'Infinity'])],
    ['--epochs', p.one(['0', '-1', 'abc', '', 'NaN'])],
    ['--steps', '5', '--epochs', '1'],
    ['--scheduler', p.one(['fast', '', 'Queue', 'workers'])],
    ['--trace', ''],
    ['--sample', p.one(['0', '-2', 'abc', '1.5'])],
    ['--sample', '2'],
    ['--inspect-port', p.one(['70000', '-1', 'abc', '80.5'])],
    [`--seed=${p.one(['-1', 'abc', '1.5', '4294967296', '1e3', 'NaN', ''])}`],
    ['--lr', p.one(['abc', '', 'NaN', 'Infinity', '1,5'])],
    ['stray-positional'],
    ['-x'],
    ['--json=yes'],
  ]);
  const args = p.chance(0.5) ? [...base, ...bad] : [...bad, ...base];
  return { label: args.join(' '), args };
}

/**
 * A malformed `npm run reference` argument list, in a folder holding `case.json` (valid, 8 steps) and `case.ckpt` (a valid checkpoint of
 * it).
 */
export function malformedReferenceArgs(seed: number): { label: string; args: string[] } {
  const p = new Pick(seed);
  const ok = ['case.json', '--out', 'out.json'];
  const lists: (() => string[])[] = [
    () => [...ok, p.one(['--frobnicate', '-x', '--OUT', '--out2', '--save_at'])],
    () => [...ok, p.one(['--scheduler', '--save-at', '--checkpoint', '--resume'])],
    () => ['case.json', '--out'],
    () => ['case.json', '--out', ''],
    () => [...ok, '--out', 'b.json'],
    () => [...ok, 'extra.json'],
    () => [...ok, '--scheduler', p.one(['fast', 'QUEUE', '', 'worker2'])],
    () => [...ok, '--save-at', p.one(['0', '-1', 'abc', '1.5', '1e3', '']), '--checkpoint', 'c.ckpt'],
    () => [...ok, '--save-at', '2'],
    () => [...ok, '--save-at', p.one(['8', '9', '1000']), '--checkpoint', 'c.ckpt'],
    () => ['case.json', '--out', p.one(['case.json', './case.json'])],
    () => [...ok, '--save-at', '2', '--checkpoint', p.one(['case.json', 'out.json', './out.json'])],
    () => ['case.json', '--out', 'case.ckpt', '--resume', 'case.ckpt'],
    () => ['--out', 'out.json'],
    () => [p.one(['missing.json', '.', '/dev/zero', '/dev/null']), '--out', 'out.json'],
    () => ['case.json', '--out', p.one(['nofolder/out.json', '.', '/proc/x.json'])],
    () => [...ok, '--resume', p.one(['missing.ckpt', 'case.json', '/dev/zero', '.'])],
    () => [],
  ];
  const args = p.one(lists)();
  return { label: args.join(' ') || '(no arguments)', args };
}

/** A malformed `npm run inspect` argument list, in a folder holding `trace.jsonl` and `fifo` (a FIFO). */
export function malformedInspectArgs(seed: number): { label: string; args: string[]; env?: Record<string, string> } {
  const p = new Pick(seed);
  const lists: (() => { args: string[]; env?: Record<string, string> })[] = [
    () => ({ args: [] }),
    () => ({ args: ['trace.jsonl', '--port', p.one(['70000', '-1', 'abc', '1.5', ''])] }),
    () => ({ args: ['trace.jsonl', p.one(['--frobnicate', '-x', '--Port'])] }),
    () => ({ args: ['trace.jsonl', 'trace.jsonl'] }),
    () => ({ args: [p.one(['missing.jsonl', '.', '/dev/zero', 'fifo'])] }),
    () => ({ args: ['trace.jsonl', '--port'] }),
    () => ({ args: ['trace.jsonl', '--host', ''] }),
    () => ({ args: ['trace.jsonl'], env: { DNI_MAX_TRACE_BYTES: p.one(['1', 'abc', '-5']) } }),
  ];
  const r = p.one(lists)();
  return {
    label: `${
      r.env
        ? `${Object.entries(r.env)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')} `
        : ''
    }${r.args.join(' ') || '(no arguments)'}`,
    ...r,
  };
}

export { toText };

/** Break one setting (not `kind`) of a spec's optimiser or its synthesizers' optimiser; says which, and to what. */
function breakOptimizerSetting(p: Pick, s: Json, display: (v: unknown) => string): string {
  const [o, name] = p.one<[Json, string]>([
    [s.optimizer, 'optimizer'],
    [s.synthesizer.optimizer, 'synthesizer.optimizer'],
  ]);
  const k = p.one(Object.keys(o).filter((x) => x !== 'kind'));
  const v = p.one(BAD_OPTIMIZER_SETTINGS[k]);
  o[k] = v;
  return `${name}.${k} := ${display(v)}`;
}
