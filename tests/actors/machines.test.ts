/** Each machine alone: its states, what it defers, what it sends on its ports. */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { Edge, type LossMessage, type NetworkEvent, type Route } from '../../actors/machines/events.ts';
import { layerMachine } from '../../actors/machines/layerMachine.ts';
import { synthesizerMachine } from '../../actors/machines/synthesizerMachine.ts';
import { DenseLayer } from '../../lib/dense.ts';
import { defineGraph } from '../../lib/graph.ts';
import { zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { defineTopology } from '../../lib/topology.ts';
import { randomMatrix } from '../helpers.ts';

const rng = new Rng(5);

/** A port that records what is sent on it as `label#batch`. */
function recorder(sent: string[], label: string, type: Route['type'], slot = 0) {
  const edge = new Edge<NetworkEvent>(label);
  edge.subscribe((e) => sent.push(`${label}#${e.batch}`));
  return { route: { key: label, type, source: 'a', target: 'b', slot, edge: 0, rows: 0, cols: 0 }, edge };
}

function layerActor(decoupled: boolean) {
  // the second layer of a chain, so it has an upstream to send g_x to
  const spec = defineTopology({ inputs: 2, batch: 2, layers: [{ units: 3 }, { units: 4, decoupled }, { units: 1 }] }).nodes[1];
  const layer = new DenseLayer('layer:1', spec, randomMatrix(rng, 3, 4), zeros(1, 4), 2, 4);
  const sent: string[] = [];
  const done = new Edge<number>('done');
  done.subscribe((b) => sent.push(`updated#${b}`));
  const ports = {
    outputs: decoupled ? [recorder(sent, 'h', 'FORWARD'), recorder(sent, 'h→synth', 'PREDICT')] : [recorder(sent, 'h', 'FORWARD')],
    upstream: [recorder(sent, 'g_x', 'GRADIENT')],
    done,
  };
  return { actor: createActor(layerMachine, { input: { layer, ports, depth: 4, firstBatch: 0 } }).start(), sent };
}

describe('layerMachine', () => {
  const x = randomMatrix(rng, 2, 3),
    g = randomMatrix(rng, 2, 4);

  it('a backprop layer defers the next FORWARD until its gradient has been applied', () => {
    const { actor, sent } = layerActor(false);
    actor.send({ type: 'FORWARD', batch: 0, slot: 0, x });
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
    actor.send({ type: 'FORWARD', batch: 1, slot: 0, x });
    expect(sent).toEqual(['h#0']);
    actor.send({ type: 'GRADIENT', batch: 0, slot: 0, g });
    expect(sent).toEqual(['h#0', 'g_x#0', 'updated#0', 'h#1']);
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
  });

  it('a decoupled layer waits for its synthetic gradient, not the true one', () => {
    const { actor, sent } = layerActor(true);
    actor.send({ type: 'FORWARD', batch: 0, slot: 0, x });
    expect(actor.getSnapshot().value).toBe('awaitingSyntheticGradient');
    actor.send({ type: 'GRADIENT', batch: 0, slot: 0, g }); // not an event it takes in this state
    expect(sent).toEqual(['h#0', 'h→synth#0']);
    actor.send({ type: 'SYNTHETIC_GRADIENT', batch: 0, slot: 0, g });
    expect(actor.getSnapshot().value).toBe('ready');
    expect(sent).toEqual(['h#0', 'h→synth#0', 'g_x#0', 'updated#0']);
  });

  it('a graph node forwards once every source has sent its batch, and updates once every outgoing edge has', () => {
    const g3 = defineGraph({
      inputs: 2,
      batch: 2,
      nodes: [
        { id: 'a', units: 3, inputs: ['input'] },
        { id: 'b', units: 2, inputs: ['input'] },
        { id: 'm', units: 4, inputs: ['a', 'b'] },
        { id: 'p', units: 1, inputs: ['m'] },
      ],
      heads: [
        { id: 'hm', node: 'm' },
        { id: 'hp', node: 'p' },
      ],
      interfaces: [{ from: 'm', to: 'p', kind: 'dni' }],
    });
    const spec = g3.nodes[2];
    expect(spec.inputs).toBe(5);
    expect(spec.decoupled).toBe(false); // m > hm is a backprop edge
    const layer = new DenseLayer('layer:m', spec, randomMatrix(rng, 5, 4), zeros(1, 4), 2, 4);
    const sent: string[] = [];
    const done = new Edge<number>('done');
    done.subscribe((b) => sent.push(`updated#${b}`));
    const ports = {
      outputs: [recorder(sent, 'h→p', 'FORWARD'), recorder(sent, 'h→synth', 'PREDICT'), recorder(sent, 'h→hm', 'FORWARD')],
      upstream: [recorder(sent, 'g→a', 'GRADIENT'), recorder(sent, 'g→b', 'GRADIENT')],
      done,
    };
    const actor = createActor(layerMachine, { input: { layer, ports, depth: 4, firstBatch: 0 } }).start();
    const xa = randomMatrix(rng, 2, 3),
      xb = randomMatrix(rng, 2, 2),
      g4 = randomMatrix(rng, 2, 4);
    actor.send({ type: 'FORWARD', batch: 0, slot: 1, x: xb });
    actor.send({ type: 'FORWARD', batch: 1, slot: 0, x: xa }); // the next batch's, early
    expect(actor.getSnapshot().value).toBe('ready');
    expect(sent).toEqual([]);
    actor.send({ type: 'FORWARD', batch: 0, slot: 0, x: xa });
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
    expect(sent).toEqual(['h→p#0', 'h→synth#0', 'h→hm#0']);
    actor.send({ type: 'FORWARD', batch: 1, slot: 1, x: xb }); // batch 1 complete, but batch 0 is not updated
    actor.send({ type: 'SYNTHETIC_GRADIENT', batch: 0, slot: 0, g: g4 });
    expect(sent).toHaveLength(3);
    actor.send({ type: 'GRADIENT', batch: 0, slot: 1, g: g4 });
    // both edges in: the update, each source's share, then batch 1's forward at once
    expect(sent).toEqual(['h→p#0', 'h→synth#0', 'h→hm#0', 'g→a#0', 'g→b#0', 'updated#0', 'h→p#1', 'h→synth#1', 'h→hm#1']);
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
  });
});

describe('synthesizerMachine', () => {
  function synthActor(delay: number) {
    const spec = { units: 3, conditioned: false, delay, lr: 0.1, labels: 0 };
    const s = new Synthesizer('synthesizer:0', spec, zeros(3, 3), zeros(1, 3), null, 2);
    const sent: string[] = [];
    const loss = new Edge<LossMessage>('loss'),
      done = new Edge<number>('done');
    loss.subscribe((m) => sent.push(`loss#${m.batch}`));
    const ports = { prediction: recorder(sent, 'g_hat', 'SYNTHETIC_GRADIENT'), loss, done };
    return { actor: createActor(synthesizerMachine, { input: { synthesizer: s, index: 0, ports, labels: null } }).start(), sent };
  }
  const h = randomMatrix(rng, 2, 3),
    target = randomMatrix(rng, 2, 3);

  it('holds a prediction until the target it must have seen arrives (delay 0)', () => {
    const { actor, sent } = synthActor(0);
    actor.send({ type: 'PREDICT', batch: 0, h });
    actor.send({ type: 'PREDICT', batch: 1, h });
    expect(actor.getSnapshot().value).toBe('awaitingTarget');
    expect(sent).toEqual(['g_hat#0']);
    actor.send({ type: 'REFIT', batch: 0, target });
    expect(sent).toEqual(['g_hat#0', 'loss#0', 'g_hat#1']);
    expect(actor.getSnapshot().value).toBe('ready');
  });

  it('with delay 1 predicts the next batch before the last target arrives', () => {
    const { actor, sent } = synthActor(1);
    actor.send({ type: 'PREDICT', batch: 0, h });
    actor.send({ type: 'PREDICT', batch: 1, h });
    expect(sent).toEqual(['g_hat#0', 'g_hat#1']);
    actor.send({ type: 'PREDICT', batch: 2, h });
    expect(actor.getSnapshot().value).toBe('awaitingTarget');
  });

  it('applies its pending refits at DRAIN and stops', () => {
    const { actor } = synthActor(2);
    actor.send({ type: 'PREDICT', batch: 0, h });
    actor.send({ type: 'REFIT', batch: 0, target });
    const s = actor.getSnapshot().context.synthesizer;
    expect(s.pending).toBe(1);
    actor.send({ type: 'DRAIN' });
    expect(s.pending).toBe(0);
    expect(s.M.data.some((v) => v !== 0)).toBe(true);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
