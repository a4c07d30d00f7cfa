/**
 * A sum merge whose sources list the data's x between two nodes (`inputs: ['a', 'input', 'b']`):
 * every node source gets the whole of `d Wᵀ`. (Found by the numpy agreement test, random graph
 * 167: the second node's share was taken from the slot before it, the data's, which is null.)
 */
import { describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { DenseLayer } from '../../lib/dense.ts';
import { defineGraph } from '../../lib/graph.ts';
import { clone } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { naiveMatmul, randomMatrix } from '../helpers.ts';

const graph = defineGraph({
  inputs: 3,
  batch: 2,
  nodes: [
    { id: 'a', units: 3, inputs: ['input'] },
    { id: 'b', units: 3, activation: 'tanh', inputs: ['input'] },
    { id: 'c', units: 2, activation: 'linear', inputs: ['a', 'input', 'b'], merge: 'sum' },
  ],
  heads: [{ id: 'y', node: 'c' }],
});

describe("a sum merge with the data's x between two node sources", () => {
  it('sends the whole of d Wᵀ (pre-update W) to both nodes, nothing to the data', () => {
    const rng = new Rng(5),
      spec = graph.nodes[2];
    const W = randomMatrix(rng, 3, 2),
      b = randomMatrix(rng, 1, 2, 0.1);
    const layer = new DenseLayer('layer:c', spec, clone(W), clone(b), 2, 3);
    const xs = [randomMatrix(rng, 2, 3), randomMatrix(rng, 2, 3), randomMatrix(rng, 2, 3)];
    layer.forward(0, xs);
    const g = randomMatrix(rng, 2, 2); // linear: d = g
    const shares = layer.update(0, [g]);
    const want = Array.from(naiveMatmul(g, W, false, true));
    expect(shares[1]).toBeNull();
    for (const k of [0, 2]) {
      expect(shares[k], `share of source ${k}`).not.toBeNull();
      Array.from(shares[k]!.data).forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    }
  });

  it('trains through the actors', async () => {
    const rng = new Rng(6);
    const data = { x: randomMatrix(rng, 8, 3), y: randomMatrix(rng, 8, 2) };
    const r = await train({ topology: graph, data, steps: 4 });
    expect(r.losses.every(Number.isFinite)).toBe(true);
  });
});
