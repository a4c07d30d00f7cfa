/**
 * With every interface backprop, one bare-loop step of plain SGD moves every node's W and b by
 * exactly `-lr ×` the gradient of the weighted total loss, for any graph: concat and sum merges,
 * fan-out, input skips, several weighted heads of both losses, every activation. The gradient is
 * the central finite difference of a float64 forward pass written here from docs/maths.md ("Graphs"),
 * independently of lib/.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { labelSet } from '../../lib/data.ts';
import { type GraphSpec, defineGraph } from '../../lib/graph.ts';
import { type Matrix, fromArray } from '../../lib/matrix.ts';
import { buildNetwork } from '../../lib/network.ts';
import type { ParameterSet } from '../../lib/params.ts';
import { Rng } from '../../lib/rng.ts';
import { trainSequential } from '../../lib/sequential.ts';
import { numericGradient } from '../helpers.ts';
import { dataOf, featuresOf, graphOf, rawGraph } from './_arbitraries.ts';

const LR = 0.5;

const F: Record<string, (z: number) => number> = {
  sigmoid: (z) => 1 / (1 + Math.exp(-z)),
  tanh: Math.tanh,
  relu: (z) => Math.max(z, 0),
  linear: (z) => z,
};

/**
 * The weighted total loss of one batch in float64, from the spec alone (nodes in listed order,
 * which the generator makes topological). Also reports the smallest |z| a relu sees (near its
 * kink a finite difference means nothing).
 */
function totalLoss(spec: GraphSpec, p: Record<string, Float64Array>, x: Float64Array, y: Record<string, Float64Array>, B: number) {
  const out = new Map<string, { h: Float64Array; width: number }>([['input', { h: x, width: spec.inputs }]]);
  let reluMargin = Infinity;
  for (const n of spec.nodes) {
    const srcs = n.inputs.map((s) => out.get(s)!);
    const fanIn = n.merge === 'sum' ? srcs[0].width : srcs.reduce((s, o) => s + o.width, 0);
    const input = new Float64Array(B * fanIn);
    for (let r = 0; r < B; r++) {
      let at = 0;
      for (const s of srcs) {
        for (let j = 0; j < s.width; j++) input[r * fanIn + (n.merge === 'sum' ? j : at + j)] += s.h[r * s.width + j];
        at += s.width;
      }
    }
    const W = p[`${n.id}.W`],
      b = p[`${n.id}.b`],
      u = n.units,
      h = new Float64Array(B * u);
    for (let r = 0; r < B; r++)
      for (let j = 0; j < u; j++) {
        let z = b[j];
        for (let k = 0; k < fanIn; k++) z += input[r * fanIn + k] * W[k * u + j];
        if (n.activation === 'relu') reluMargin = Math.min(reluMargin, Math.abs(z));
        h[r * u + j] = F[n.activation!](z);
      }
    out.set(n.id, { h, width: u });
  }
  let loss = 0;
  for (const head of spec.heads) {
    const { h, width } = out.get(head.node)!,
      t = y[head.id];
    let l = 0;
    for (let r = 0; r < B; r++) {
      if (head.loss === 'softmax-cross-entropy') {
        const row = Array.from(h.subarray(r * width, (r + 1) * width)),
          m = Math.max(...row);
        const logZ = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
        for (let j = 0; j < width; j++) l -= t[r * width + j] * (row[j] - logZ);
      } else for (let j = 0; j < width; j++) l += 0.5 * (h[r * width + j] - t[r * width + j]) ** 2;
    }
    loss += (head.weight ?? 1) * (l / B);
  }
  return { loss, reluMargin };
}

describe('finite differences on graphs (every interface backprop)', () => {
  it('one step of plain SGD moves each W and b by -lr × the gradient of the weighted total loss', () => {
    const seen = new Map<string, number>();
    let runs = 0,
      worst = 0;
    fc.assert(
      fc.property(rawGraph, (raw) => {
        const drawn = graphOf(raw, { interfaces: false, lr: LR });
        drawn.rows = raw.batch; // one batch
        const { spec } = drawn,
          B = raw.batch;
        const graph = defineGraph(spec);
        const data = dataOf(drawn, raw.seed);
        // initial parameters: float32 values, so both sides start from the same numbers
        const rng = new Rng(raw.seed + 1),
          initial: ParameterSet = {};
        for (const n of graph.nodes) {
          initial[`${n.id}.W`] = fromArray(
            n.inputs,
            n.units,
            Array.from({ length: n.inputs * n.units }, () => rng.uniform(-0.8, 0.8)),
          );
          initial[`${n.id}.b`] = fromArray(
            1,
            n.units,
            Array.from({ length: n.units }, () => rng.uniform(-0.2, 0.2)),
          );
        }
        const p64 = Object.fromEntries(Object.entries(initial).map(([k, m]) => [k, Float64Array.from(m.data)]));
        const x64 = Float64Array.from(data.x.data);
        const y64 = Object.fromEntries(spec.heads.map((h) => [h.id, Float64Array.from(labelSet(data, h.id).data)]));
        fc.pre(totalLoss(spec, p64, x64, y64, B).reluMargin > 1e-4);
        runs++;
        for (const f of featuresOf(spec)) seen.set(f, (seen.get(f) ?? 0) + 1);

        const net = buildNetwork(graph, initial);
        const history = trainSequential(net, data, 1);
        expect(history.losses[0]).toBeCloseTo(totalLoss(spec, p64, x64, y64, B).loss, 5);
        for (const [key, before] of Object.entries(initial)) {
          const after: Matrix = net.params[key];
          const step = Array.from(before.data, (v, i) => (after.data[i] - v) / -LR);
          const fd = numericGradient(() => totalLoss(spec, p64, x64, y64, B).loss, p64[key]);
          const scale = Math.max(...Array.from(fd, Math.abs));
          step.forEach((v, i) => {
            worst = Math.max(worst, Math.abs(v - fd[i]) / Math.max(scale, 1e-3));
            if (!(Math.abs(v - fd[i]) <= 1e-5 + 1e-4 * scale)) {
              expect.fail(
                `${key}[${i}]: the step gives ${v}, finite differences ${fd[i]} ` +
                  `(largest |gradient| ${scale.toExponential(2)})\n${JSON.stringify(spec)}`,
              );
            }
          });
        }
      }),
      { numRuns: 300, seed: 11_2026 },
    );
    expect(runs).toBeGreaterThan(200);
    console.log(`finite differences on ${runs} graphs: worst |step - fd| / max|fd| = ${worst.toExponential(1)}`);
    // the generator must reach every kind of graph this test claims to cover
    for (const f of [
      'sum merge',
      'concat of several',
      'input skip',
      'input between two sources',
      'fan-out',
      'several heads',
      'softmax head',
      'weighted head',
      'sigmoid',
      'tanh',
      'relu',
      'linear',
    ]) {
      expect(seen.get(f) ?? 0, `graphs with ${f}`).toBeGreaterThanOrEqual(10);
    }
    expect(seen.get("a sum with the data's x between two nodes") ?? 0).toBeGreaterThanOrEqual(1);
  });
});
