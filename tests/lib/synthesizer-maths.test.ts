/**
 * The synthesizer's maths on its own: `predictSynthetic` and `refitSynthesizer` are plain
 * functions (checked here against float64 re-computations and central finite differences), and
 * the delay bookkeeping is the `RefitQueue` (checked here without any maths).
 */
import { describe, expect, it } from 'vitest';
import { backend } from '../../lib/kernels/kernels.ts';
import { type Matrix, clone, zeros } from '../../lib/matrix.ts';
import { Optimizer } from '../../lib/optimizers.ts';
import { type PendingRefit, RefitQueue } from '../../lib/refit-queue.ts';
import { Rng } from '../../lib/rng.ts';
import { type SynthesizerParameters, parameterList, predictSynthetic, refitSynthesizer } from '../../lib/synthesizer.ts';
import { maxAbsDiff, numericGradient, randomMatrix } from '../helpers.ts';

const rng = new Rng(21);
const k = backend();
const relErr = (got: ArrayLike<number>, want: ArrayLike<number>) => maxAbsDiff(got, want) / Math.max(1e-12, ...Array.from(want, Math.abs));

/** float64 g_hat of a linear or one-hidden-layer (tanh) synthesizer, from float64 copies of its parameters. */
function reference(
  p: Record<string, Float64Array>,
  shapes: { u: number; w: number | null; labels: number },
  h: Matrix,
  y: Matrix | null,
  B: number,
): Float64Array {
  const { u, w, labels } = shapes;
  const out = new Float64Array(B * u);
  for (let i = 0; i < B; i++) {
    let a = Array.from(h.data.subarray(i * u, (i + 1) * u));
    if (w !== null) {
      a = Array.from({ length: w }, (_, j) => {
        let z = p.b0[j];
        for (let q = 0; q < u; q++) z += h.data[i * u + q] * p.W0[q * w + j];
        if (y) for (let q = 0; q < labels; q++) z += y.data[i * labels + q] * p.N0[q * w + j];
        return Math.tanh(z);
      });
    }
    for (let j = 0; j < u; j++) {
      let g = p.c[j];
      for (let q = 0; q < a.length; q++) g += a[q] * p.M[q * u + j];
      if (y && w === null) for (let q = 0; q < labels; q++) g += y.data[i * labels + q] * p.N[q * u + j];
      out[i * u + j] = g;
    }
  }
  return out;
}

describe.each([
  ['linear', null, false],
  ['linear, conditioned', null, true],
  ['MLP (tanh), conditioned', 5, true],
] as const)('%s synthesizer maths', (_, w, conditioned) => {
  const B = 3,
    u = 4,
    labels = 2,
    lr = 0.1;
  const make = () => {
    const hidden =
      w === null
        ? []
        : [{ W: randomMatrix(rng, u, w, 0.7), b: randomMatrix(rng, 1, w, 0.2), N: conditioned ? randomMatrix(rng, labels, w, 0.7) : null }];
    const p: SynthesizerParameters = {
      hidden,
      M: randomMatrix(rng, w ?? u, u, 0.7),
      c: randomMatrix(rng, 1, u, 0.2),
      N: conditioned && w === null ? randomMatrix(rng, labels, u, 0.7) : null,
    };
    return p;
  };
  const f64 = (p: SynthesizerParameters): Record<string, Float64Array> => {
    const out: Record<string, Float64Array> = { M: Float64Array.from(p.M.data), c: Float64Array.from(p.c.data) };
    if (p.N) out.N = Float64Array.from(p.N.data);
    if (p.hidden[0]) {
      out.W0 = Float64Array.from(p.hidden[0].W.data);
      out.b0 = Float64Array.from(p.hidden[0].b.data);
      if (p.hidden[0].N) out.N0 = Float64Array.from(p.hidden[0].N.data);
    }
    return out;
  };
  const scratch = () => ({ activations: w === null ? [] : [zeros(B, w)], deltas: w === null ? [] : [zeros(B, w)] });

  it('predictSynthetic is g_hat = f(h W0 + b0 (+ y N0)) M + c (+ y N)', () => {
    const p = make(),
      h = randomMatrix(rng, B, u),
      y = conditioned ? randomMatrix(rng, B, labels) : null;
    const out = predictSynthetic(k, p, 'tanh', h, y, zeros(B, u), scratch());
    expect(maxAbsDiff(out.data, reference(f64(p), { u, w, labels }, h, y, B))).toBeLessThan(1e-5);
  });

  it('refitSynthesizer steps every parameter by -lr × the gradient of 0.5 mean_rows |g_hat - target|² (finite differences)', () => {
    const p = make(),
      h = randomMatrix(rng, B, u),
      y = conditioned ? randomMatrix(rng, B, labels) : null,
      target = randomMatrix(rng, B, u);
    const before = f64(p);
    const params64 = f64(p);
    const objective = () => {
      const g = reference(params64, { u, w, labels }, h, y, B);
      let s = 0;
      for (let i = 0; i < g.length; i++) s += 0.5 * (g[i] - target.data[i]) ** 2;
      return s / B;
    };
    const { params, slots } = parameterList(p);
    refitSynthesizer(
      k,
      p,
      'tanh',
      new Optimizer({ kind: 'sgd', lr, momentum: 0 }, params),
      slots,
      h,
      y,
      target,
      zeros(B, u),
      scratch(),
      null,
    );
    const after = f64(p);
    for (const key of Object.keys(before)) {
      const step = before[key].map((v, i) => (v - after[key][i]) / lr);
      expect(relErr(step, numericGradient(objective, params64[key])), key).toBeLessThan(2e-4);
    }
  });

  it('refitSynthesizer with the prediction already made at these parameters gives the same bits as recomputing it', () => {
    const p = make(),
      h = randomMatrix(rng, B, u),
      y = conditioned ? randomMatrix(rng, B, labels) : null,
      target = randomMatrix(rng, B, u);
    const q: SynthesizerParameters = {
      hidden: p.hidden.map((l) => ({ W: clone(l.W), b: clone(l.b), N: l.N && clone(l.N) })),
      M: clone(p.M),
      c: clone(p.c),
      N: p.N && clone(p.N),
    };
    const refit = (ps: SynthesizerParameters, reuse: boolean) => {
      const s = scratch();
      const current = reuse ? predictSynthetic(k, ps, 'tanh', h, y, zeros(B, u), s) : null;
      const { params, slots } = parameterList(ps);
      refitSynthesizer(
        k,
        ps,
        'tanh',
        new Optimizer({ kind: 'adam', lr, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, params),
        slots,
        h,
        y,
        target,
        zeros(B, u),
        s,
        current,
      );
      return params.map((m) => Array.from(m.data));
    };
    expect(refit(q, true)).toEqual(refit(p, false));
  });
});

describe('RefitQueue', () => {
  const B = 1,
    u = 2;
  const queue = (delay: number) => new RefitQueue('synthesizer:0', delay, B, u, 0);
  const refits = (q: RefitQueue, batch: number) => {
    const seen: number[] = [];
    q.beginPrediction(batch, (slot: PendingRefit) => seen.push(slot.batch));
    return seen;
  };

  it('a prediction for batch t applies exactly the refits of batches <= t-1-delay, oldest first, once each', () => {
    const q = queue(2);
    expect(refits(q, 0)).toEqual([]);
    q.targetSlot(0);
    expect(refits(q, 1)).toEqual([]);
    q.targetSlot(1);
    expect(refits(q, 2)).toEqual([]);
    expect(q.canPredict(3)).toBe(true);
    expect(refits(q, 3)).toEqual([0]);
    q.targetSlot(2);
    q.targetSlot(3);
    expect(refits(q, 4)).toEqual([1]);
    expect(q.pending).toBe(3); // batches 2, 3 and 4: predicted, not refitted yet
  });

  it('waits for a missing target, takes a target before its prediction, and drains what has arrived', () => {
    const q = queue(0);
    refits(q, 0);
    expect(q.canPredict(1)).toBe(false);
    expect(q.canPredict(1, 0)).toBe(true); // with the target of batch 0 arriving
    q.targetSlot(1); // early (from another thread)
    q.targetSlot(0);
    expect(q.complete(0)).not.toBeNull();
    expect(q.complete(1)).toBeNull(); // not predicted yet
    expect(refits(q, 1)).toEqual([0]);
    const drained: number[] = [];
    q.drain((s) => drained.push(s.batch));
    expect(drained).toEqual([1]);
    expect(q.pending).toBe(0);
  });

  it('refuses what cannot happen, by name', () => {
    const q = queue(0);
    expect(() => q.beginPrediction(1, () => {})).toThrow(/synthesizer:0: asked to predict batch 1, expected batch 0/);
    refits(q, 0);
    q.targetSlot(0);
    expect(() => q.targetSlot(0)).toThrow(/synthesizer:0: a second target for batch 0/);
    refits(q, 1);
    expect(() => q.targetSlot(3)).toThrow(/batch 3 arrived while batch 1's refit is still pending/);
    expect(() => refits(q, 2)).toThrow(/refit of batch 1 is due but its target has not arrived/);
  });

  it('snapshots and restores its pending refits, refusing a snapshot that does not fit', () => {
    const q = queue(1);
    refits(q, 0);
    q.targetSlot(0).target.data.set([1, 2]);
    refits(q, 1);
    q.targetSlot(1).target.data.set([3, 4]);
    const snap = q.snapshot();
    expect(snap).toMatchObject({ nextRefit: 0, nextPrediction: 2 });
    expect(snap.pending.map((p) => [p.batch, Array.from(p.target)])).toEqual([
      [0, [1, 2]],
      [1, [3, 4]],
    ]);
    const r = queue(1);
    r.restore(snap);
    expect(refits(r, 2)).toEqual([0]);
    expect(() => queue(1).restore({ ...snap, pending: [snap.pending[1], snap.pending[0]] })).toThrow(
      /pending refit 0 is of batch 1, expected 0/,
    );
    expect(() => queue(0).restore(snap)).toThrow(/does not fit delay 0/);
  });

  it('takes refits given whole, tagged by step (some steps giving none), in the same slots and order (the recurrent synthesizer)', () => {
    const q = new RefitQueue('interface0', 1, 3, u, 0);
    const applied: [number, number][] = [];
    const apply = (slot: PendingRefit) => applied.push([slot.tag, slot.rows]);
    const give = (step: number, rows: number) => {
      q.give(step, rows).target.data.fill(step);
      q.refitThrough(step - 1, apply); // delay 1: applied once step+1's prediction is due
    };
    give(1, 3);
    give(2, 2);
    expect(applied).toEqual([[1, 3]]);
    give(5, 3); // steps 3 and 4 gave none (step 2's refit still waits: a ring indexed by step would collide)
    expect(applied).toEqual([
      [1, 3],
      [2, 2],
    ]);
    expect(q.held().map((s) => [s.tag, s.rows, s.target.data[0]])).toEqual([[5, 3, 5]]);
    expect(() => q.give(5, 1)).toThrow(/interface0: refit of step 5 after one of step 5/);
    expect(() => q.give(6, 4)).toThrow(/interface0: refit of step 6 has 4 rows, at most 3 fit/);
    give(6, 1);
    q.give(7, 1); // not applied: 6 and 7 wait
    expect(() => q.give(8, 1)).toThrow(/interface0: more than delay \+ 1 = 2 refits pending at step 8/);
    q.refitThrough(Infinity, apply);
    expect(applied).toEqual([
      [1, 3],
      [2, 2],
      [5, 3],
      [6, 1],
      [7, 1],
    ]);
    expect(q.held()).toEqual([]);
    q.clear();
    q.give(9, 2);
    expect(q.held().map((s) => s.tag)).toEqual([9]);
  });
});
