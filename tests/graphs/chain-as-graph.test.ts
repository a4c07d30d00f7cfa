/**
 * Every chain reference case written as a graph case (by renaming, here in TypeScript) trains to
 * the chain's bits: node `layer{i}` keeps `layer{i}.W/.b`, `synth{i}.*` becomes
 * `synth:layer{i}>layer{i+1}.*` (`>head` after the last layer), one mse head `head` on label set
 * `y`, `conditioned` → `cdni` with context `head`. Same float32 parameters (under that mapping),
 * losses and synthesizer losses as loading the chain case itself, under queue and async.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import type { ParameterJSON } from '../../lib/params.ts';
import { type ReferenceCase, loadCase } from '../../lib/reference.ts';
import { referenceCases } from '../helpers.ts';
import { HAS_NUMPY, NO_NUMPY, numpy } from './_numpy.ts';

/** The chain case as the graph case it is, and the chain key each graph key came from. */
function chainAsGraph(chain: ReferenceCase): { graph: ReferenceCase; keyOf: (chainKey: string) => string } {
  const c = chain.config,
    L = c.sizes!.length - 1;
  const id = (i: number) => `layer${i}`,
    consumer = (i: number) => (i === L - 1 ? 'head' : id(i + 1));
  const keyOf = (k: string) => k.replace(/^synth(\d+)\./, (_, i) => `synth:${id(+i)}>${consumer(+i)}.`);
  const rename = (p: ParameterJSON) => Object.fromEntries(Object.entries(p).map(([k, v]) => [keyOf(k), v]));
  const graph: ReferenceCase = {
    case: `${chain.case} (as graph)`,
    config: {
      kind: 'graph',
      inputs: c.sizes![0],
      batch: c.batch,
      lr: c.lr,
      lr_synthesizer: c.lr_synthesizer,
      steps: c.steps,
      nodes: c
        .sizes!.slice(1)
        .map((units, i) => ({ id: id(i), units, activation: c.activations![i], inputs: [i === 0 ? 'input' : id(i - 1)], merge: 'concat' })),
      heads: [{ id: 'head', node: id(L - 1), loss: 'mse', labels: 'y', weight: 1 }],
      interfaces: c.decoupled!.flatMap((d, i) =>
        d
          ? [
              {
                from: id(i),
                to: consumer(i),
                kind: c.conditioned ? ('cdni' as const) : ('dni' as const),
                ...(c.conditioned ? { context: 'head' } : {}),
                delay: c.delay ?? 0,
              },
            ]
          : [],
      ),
    },
    x: chain.x,
    y: { y: chain.y as number[][] },
    initial: rename(chain.initial),
    ...(chain.final ? { final: rename(chain.final) } : {}),
    ...(chain.losses ? { losses: chain.losses, synthesizer_losses: chain.synthesizer_losses } : {}),
  };
  return { graph, keyOf };
}

const chains = referenceCases('chain');

function expectSameBits(chain: TrainingResult, graph: TrainingResult, keyOf: (k: string) => string, what: string): void {
  expect(Array.from(graph.losses), `${what}: losses`).toEqual(Array.from(chain.losses));
  expect(Array.from(graph.synthesizerLosses), `${what}: synthesizer losses`).toEqual(Array.from(chain.synthesizerLosses));
  expect(Object.keys(graph.params).sort()).toEqual(Object.keys(chain.params).map(keyOf).sort());
  for (const k of Object.keys(chain.params))
    expect(graph.params[keyOf(k)].data, `${what}: ${k} as ${keyOf(k)}`).toEqual(chain.params[k].data);
}

describe('chain reference cases written as graphs', () => {
  it('covers the five chain cases, decoupled and conditioned among them', () => {
    expect(chains.map((c) => c.name).sort()).toEqual(['backprop', 'cdni', 'dni', 'dni-all', 'dni-delay2']);
    expect(
      chainAsGraph(chains.find((c) => c.name === 'cdni')!.json).graph.config.interfaces!.map((i) => [i.from, i.to, i.kind, i.context]),
    ).toEqual([
      ['layer0', 'layer1', 'cdni', 'head'],
      ['layer1', 'layer2', 'cdni', 'head'],
    ]);
    expect(chainAsGraph(chains.find((c) => c.name === 'dni-all')!.json).graph.config.interfaces!.map((i) => i.to)).toEqual([
      'layer1',
      'layer2',
      'head',
    ]);
  });

  describe.each(chains)('$name', ({ name, json }) => {
    it("the graph case trains to the chain case's bits, under queue and async", async () => {
      const { graph, keyOf } = chainAsGraph(json);
      const asChain = loadCase(json, name),
        asGraph = loadCase(graph, `${name} (as graph)`);
      expect(asGraph.topology.naming).toBe('graph');
      const L = json.config.decoupled!.length;
      expect(asGraph.topology.synthesizers.map((s) => s.name)).toEqual(
        json.config.decoupled!.flatMap((d, i) => (d ? [`layer${i}>${i === L - 1 ? 'head' : `layer${i + 1}`}`] : [])),
      );
      for (const scheduler of ['queue', 'async'] as const) {
        const chain = await train({
          topology: asChain.topology,
          data: asChain.data,
          params: asChain.initial,
          steps: asChain.steps,
          scheduler,
        });
        const g = await train({ topology: asGraph.topology, data: asGraph.data, params: asGraph.initial, steps: asGraph.steps, scheduler });
        expectSameBits(chain, g, keyOf, `${name} ${scheduler}`);
      }
    });
  });

  it.skipIf(!HAS_NUMPY)(`is the graph case bench/dni_numpy.py --chain-as-graph writes${HAS_NUMPY ? '' : NO_NUMPY}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-chain-as-graph-'));
    for (const { name, json } of chains) {
      const src = join(dir, `${name}.json`),
        out = join(dir, `${name}.graph.json`);
      writeFileSync(src, JSON.stringify(json));
      numpy(['--chain-as-graph', src, '--out', out]);
      const theirs = JSON.parse(readFileSync(out, 'utf8')) as ReferenceCase,
        ours = chainAsGraph(json).graph;
      for (const k of ['kind', 'inputs', 'batch', 'lr', 'lr_synthesizer', 'steps', 'nodes', 'heads', 'interfaces'] as const)
        expect(ours.config[k], `${name}: config.${k}`).toEqual(theirs.config[k]);
      for (const k of ['x', 'y', 'initial', 'final', 'losses', 'synthesizer_losses'] as const)
        expect(ours[k], `${name}: ${k}`).toEqual(theirs[k]);
    }
  });
});
