/**
 * Checkpoints of every kind for the fuzz campaign: a chain, a graph (two synthesizers, delays 0
 * and 2, one conditioned) and two recurrent networks (a boundary synthesizer with delay 2; an LSTM
 * with a decoupled interface, delay 2), each saved mid-run with refits pending. Each is broken in
 * one way that must be refused, as a file or as a state given in memory: the file's own breakages
 * (bench/fuzz/_generators.ts: a byte flipped, truncation, a resealed edit of any field), a pending
 * refit or a whole entry dropped (a synthesizer, an optimiser, a parameter, a carried state), and
 * a tampered bookkeeping field (a refit's step, nextRefit, a layer's step). A function of a seed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTraining } from '../../actors/trainer/training.ts';
import { type TrainingState, decodeCheckpoint } from '../../lib/checkpoint/checkpoint.ts';
import { copyTask } from '../../lib/datasets/copy.ts';
import type { Dataset } from '../../lib/data.ts';
import { type GraphSpec, defineGraph } from '../../lib/graph.ts';
import { release, zeros } from '../../lib/matrix.ts';
import type { ModelData } from '../../lib/model.ts';
import { loadCase } from '../../lib/reference.ts';
import type { RecurrentSpec } from '../../lib/recurrent/topology.ts';
import { Rng } from '../../lib/rng.ts';
import { tinyCase } from './_cases.ts';
import { type Verdict, malformedCheckpoint, reseal } from './_generators.ts';

/** A valid checkpoint and the training that resumes from it. */
export interface CheckpointBase {
  readonly kind: 'chain' | 'graph' | 'recurrent boundary' | 'recurrent interface';
  readonly text: string;
  readonly topology: Parameters<typeof createTraining>[0]['topology'];
  readonly data: ModelData;
  readonly steps: number;
}

const GRAPH: GraphSpec = {
  inputs: 3,
  batch: 2,
  lr: 0.1,
  synthesizer: { lr: 0.01 },
  nodes: [
    { id: 'trunk', units: 4, activation: 'tanh', inputs: ['input'] },
    { id: 'a', units: 3, activation: 'sigmoid', inputs: ['trunk'] },
    { id: 'b', units: 2, activation: 'linear', inputs: ['a', 'trunk'] },
  ],
  heads: [{ id: 'y', node: 'b' }],
  interfaces: [
    { from: 'trunk', to: 'a', kind: 'dni', delay: 2 },
    { from: 'a', to: 'b', kind: 'cdni', context: 'y' },
  ],
};
const RECURRENT: Record<'recurrent boundary' | 'recurrent interface', RecurrentSpec> = {
  'recurrent boundary': { cell: 'tanh', inputs: 9, hidden: 5, outputs: 8, truncation: 3, batch: 4, dni: { synthesizer: { delay: 2 } } },
  'recurrent interface': {
    cell: 'lstm',
    inputs: 9,
    hidden: [{ units: 4, decoupled: true, interface: { delay: 2 } }, 3],
    outputs: 8,
    truncation: 4,
    batch: 4,
    dni: { synthesizer: { delay: 1 } },
  },
};

/** Save each kind at a step where refits are pending; `steps` resumes to the end. */
export async function checkpointBases(dir = mkdtempSync(join(tmpdir(), 'dni-fuzz-ckpt-'))): Promise<CheckpointBase[]> {
  const chain = loadCase(tinyCase(7, { conditioned: true, delay: 1, steps: 12 }));
  const rng = new Rng(3);
  const x = zeros(8, 3),
    y = zeros(8, 2);
  for (const m of [x, y]) for (let i = 0; i < m.data.length; i++) m.data[i] = rng.uniform(-1, 1);
  const graphData: Dataset = { x, y: { y } };
  const sequences = copyTask({ sequences: 8, length: 4, width: 8, seed: 5 });
  const plans: Omit<CheckpointBase, 'text'>[] = [
    { kind: 'chain', topology: chain.topology, data: chain.data, steps: 12 },
    { kind: 'graph', topology: defineGraph(GRAPH), data: graphData, steps: 12 },
    { kind: 'recurrent boundary', topology: RECURRENT['recurrent boundary'], data: sequences, steps: 12 },
    { kind: 'recurrent interface', topology: RECURRENT['recurrent interface'], data: sequences, steps: 12 },
  ];
  const out: CheckpointBase[] = [];
  for (const p of plans) {
    const path = join(dir, `${p.kind.replace(/\W+/g, '-')}.ckpt`);
    const result = await createTraining({
      topology: p.topology,
      data: p.data,
      steps: p.steps,
      seed: 2,
      checkpoint: { path, at: [5] },
    }).run();
    for (const m of Object.values(result.params)) release(m);
    out.push({ ...p, text: readFileSync(path, 'utf8') });
  }
  return out;
}

/** One broken checkpoint: as text (a file), or as a decoded state edited in memory. */
export interface BrokenCheckpoint {
  readonly label: string;
  readonly text?: string;
  readonly state?: TrainingState;
}

type Json = Record<string, any>;

/** Drop a pending refit, or a whole entry, or tamper with a bookkeeping field; null when the pick does not apply. */
function dropOrTamper(payload: Json, r: Rng): string | null {
  const pick = <T>(xs: readonly T[]): T => xs[r.nextUint32() % xs.length];
  const synths = Object.entries(payload.synthesizers as Record<string, Json>).filter(([, s]) => s.pending.length > 0);
  switch (r.nextUint32() % 6) {
    case 0: {
      // a pending refit dropped (the first, the last, or one between), bookkeeping kept consistent
      if (!synths.length) return null;
      const [id, s] = pick(synths),
        at = pick([0, s.pending.length - 1]);
      s.pending.splice(at, 1);
      if ('nextRefit' in s && at === 0) s.nextRefit++;
      else if ('nextRefit' in s) return null; // a graph's last refit dropped leaves a gap the batch numbers already refuse
      return `synthesizer '${id}' lost pending[${at}]`;
    }
    case 1: {
      // a pending refit duplicated (one too many)
      if (!synths.length) return null;
      const [id, s] = pick(synths);
      s.pending.push(structuredClone(s.pending[s.pending.length - 1]));
      return `synthesizer '${id}' has its last refit twice`;
    }
    case 2: {
      // a pending refit's step (batch) moved
      if (!synths.length) return null;
      const [id, s] = pick(synths),
        q = pick(s.pending as Json[]),
        key = 'batch' in q ? 'batch' : 'step',
        d = pick([-1, 1, 2]);
      q[key] += d;
      return `synthesizer '${id}' pending ${key} ${q[key] - d} → ${q[key]}`;
    }
    case 3: {
      // a whole entry dropped
      const groups = ['synthesizers', 'optimizers', 'params', ...(payload.layers ? ['layers'] : [])].filter(
        (g) => Object.keys(payload[g]).length > 0,
      );
      const g = pick(groups),
        k = pick(Object.keys(payload[g]));
      delete payload[g][k];
      return `${g} '${k}' dropped`;
    }
    case 4: {
      // a graph synthesizer's nextRefit, or a recurrent layer's step
      if (payload.layers) {
        const id = pick(Object.keys(payload.layers));
        payload.layers[id].step += pick([-1, 1]);
        return `layer '${id}' step tampered`;
      }
      const ids = Object.keys(payload.synthesizers);
      if (!ids.length) return null;
      const id = pick(ids);
      payload.synthesizers[id].nextRefit += pick([-1, 1]);
      return `synthesizer '${id}' nextRefit tampered`;
    }
    default: {
      // the step moved (its refits and history no longer match)
      payload.step += pick([-1, 1]);
      return `step ${payload.step}`;
    }
  }
}

/** A broken checkpoint of `base`, as a file or a state in memory. */
export function brokenCheckpoint(base: CheckpointBase, seed: number): BrokenCheckpoint {
  const r = new Rng(seed >>> 0);
  const inMemory = r.next() < 0.4;
  for (;;) {
    if (!inMemory && r.next() < 0.4) {
      const m = malformedCheckpoint(base.text, r.nextUint32());
      return { label: `${base.kind}, file: ${m.label}`, text: m.text };
    }
    let label: string | null = null;
    const text = reseal(base.text, (payload) => {
      label = dropOrTamper(payload, r);
    });
    if (!label || text === base.text) continue;
    if (!inMemory) return { label: `${base.kind}, file: ${label}`, text };
    // the same edit on a state in memory: decode the edited payload without its checks (a state a caller holds)
    const state = stateOf(text);
    return { label: `${base.kind}, in memory: ${label}`, state };
  }
}

/**
 * A state in memory carrying the edit: the valid state, with its JSON-level fields (what the edit
 * touched) taken from the edited payload and its tensors decoded as they are.
 */
function stateOf(text: string): TrainingState {
  const payload = JSON.parse(text.slice(text.indexOf('\n') + 1)) as Json;
  const f32 = (b64: string) => {
    const buf = Buffer.from(b64, 'base64');
    const out = new Float32Array(Math.floor(buf.length / 4));
    new Uint8Array(out.buffer).set(buf.subarray(0, out.length * 4));
    return out;
  };
  const params = Object.fromEntries(
    Object.entries(payload.params as Record<string, Json>).map(([k, m]) => [k, { rows: m.rows, cols: m.cols, data: f32(m.data) }]),
  );
  const optimizers = Object.fromEntries(
    Object.entries(payload.optimizers as Record<string, Json>).map(([k, o]) => [k, { ...o, moments: o.moments.map(f32) }]),
  );
  const synthesizers = Object.fromEntries(
    Object.entries(payload.synthesizers as Record<string, Json>).map(([k, s]) => [
      k,
      {
        ...s,
        pending: s.pending.map((q: Json) => ({
          ...q,
          ...('h' in q ? { h: f32(q.h), y: q.y === null ? null : f32(q.y) } : { input: f32(q.input) }),
          target: f32(q.target),
        })),
      },
    ]),
  );
  const layers = payload.layers
    ? Object.fromEntries(
        Object.entries(payload.layers as Record<string, Json>).map(([k, l]) => [k, { step: l.step, carried: f32(l.carried) }]),
      )
    : undefined;
  return { ...payload, params, optimizers, synthesizers, ...(layers ? { layers } : {}) } as unknown as TrainingState;
}

/** Resume `base`'s training from the broken checkpoint (decoded from its text, or given in memory). */
export async function resumeBroken(input: BrokenCheckpoint, base: CheckpointBase): Promise<Verdict> {
  try {
    const resume = input.state ?? decodeCheckpoint(input.text!, 'fuzz.ckpt');
    const result = await createTraining({ topology: base.topology, data: base.data, steps: base.steps, resume }).run();
    for (const m of Object.values(result.params)) release(m);
    return { kind: 'accepted' };
  } catch (e) {
    return { kind: 'refused', name: e instanceof Error ? e.name : typeof e, message: e instanceof Error ? e.message : String(e) };
  }
}
