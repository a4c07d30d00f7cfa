/** Each machine alone: its states, what it defers, what it sends on its ports. */
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { Edge, type ActivationMessage, type GradientMessage, type LossMessage } from '../../actors/edge.ts';
import { layerMachine } from '../../actors/layerMachine.ts';
import { synthesizerMachine } from '../../actors/synthesizerMachine.ts';
import { DenseLayer } from '../../lib/dense.ts';
import { zeros } from '../../lib/matrix.ts';
import { Rng } from '../../lib/rng.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { defineTopology } from '../../lib/topology.ts';
import { randomMatrix } from '../helpers.ts';

const rng = new Rng(5);

function layerActor(decoupled: boolean) {
  const spec = defineTopology({ inputs: 3, batch: 2, layers: [{ units: 4, decoupled }, { units: 1 }] }).layers[0];
  const layer = new DenseLayer('layer:0', spec, randomMatrix(rng, 3, 4), zeros(1, 4), 2, 4);
  const ports = { output: new Edge<ActivationMessage>('out'), upstream: new Edge<GradientMessage>('up'), updated: new Edge<number>('updated') };
  const sent: string[] = [];
  ports.output.subscribe((m) => sent.push(`h#${m.batch}`));
  ports.upstream.subscribe((m) => sent.push(`g_x#${m.batch}`));
  ports.updated.subscribe((b) => sent.push(`updated#${b}`));
  return { actor: createActor(layerMachine, { input: { layer, ports } }).start(), sent };
}

describe('layerMachine', () => {
  const x = randomMatrix(rng, 2, 3), g = randomMatrix(rng, 2, 4);

  it('a backprop layer defers the next FORWARD until its gradient has been applied', () => {
    const { actor, sent } = layerActor(false);
    actor.send({ type: 'FORWARD', batch: 0, x });
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
    actor.send({ type: 'FORWARD', batch: 1, x });
    expect(sent).toEqual(['h#0']);
    actor.send({ type: 'GRADIENT', batch: 0, g });
    expect(sent).toEqual(['h#0', 'g_x#0', 'updated#0', 'h#1']);
    expect(actor.getSnapshot().value).toBe('awaitingGradient');
  });

  it('a decoupled layer waits for its synthetic gradient, not the true one', () => {
    const { actor, sent } = layerActor(true);
    actor.send({ type: 'FORWARD', batch: 0, x });
    expect(actor.getSnapshot().value).toBe('awaitingSyntheticGradient');
    actor.send({ type: 'GRADIENT', batch: 0, g }); // not an event it takes in this state
    expect(sent).toEqual(['h#0']);
    actor.send({ type: 'SYNTHETIC_GRADIENT', batch: 0, g });
    expect(actor.getSnapshot().value).toBe('ready');
    expect(sent).toEqual(['h#0', 'g_x#0', 'updated#0']);
  });
});

describe('synthesizerMachine', () => {
  function synthActor(delay: number) {
    const spec = { layer: 0, units: 3, conditioned: false, delay, lr: 0.1, labels: 1 };
    const s = new Synthesizer('synthesizer:0', spec, zeros(3, 3), zeros(1, 3), null, 2);
    const ports = { prediction: new Edge<GradientMessage>('pred'), loss: new Edge<LossMessage>('loss') };
    const sent: string[] = [];
    ports.prediction.subscribe((m) => sent.push(`g_hat#${m.batch}`));
    ports.loss.subscribe((m) => sent.push(`loss#${m.batch}`));
    return { actor: createActor(synthesizerMachine, { input: { synthesizer: s, ports } }).start(), sent };
  }
  const h = randomMatrix(rng, 2, 3), y = zeros(2, 1), target = randomMatrix(rng, 2, 3);

  it('holds a prediction until the target it must have seen arrives (delay 0)', () => {
    const { actor, sent } = synthActor(0);
    actor.send({ type: 'PREDICT', batch: 0, h, y });
    actor.send({ type: 'PREDICT', batch: 1, h, y });
    expect(actor.getSnapshot().value).toBe('awaitingTarget');
    expect(sent).toEqual(['g_hat#0']);
    actor.send({ type: 'REFIT', batch: 0, target });
    expect(sent).toEqual(['g_hat#0', 'loss#0', 'g_hat#1']);
    expect(actor.getSnapshot().value).toBe('ready');
  });

  it('with delay 1 predicts the next batch before the last target arrives', () => {
    const { actor, sent } = synthActor(1);
    actor.send({ type: 'PREDICT', batch: 0, h, y });
    actor.send({ type: 'PREDICT', batch: 1, h, y });
    expect(sent).toEqual(['g_hat#0', 'g_hat#1']);
    actor.send({ type: 'PREDICT', batch: 2, h, y });
    expect(actor.getSnapshot().value).toBe('awaitingTarget');
  });

  it('applies its pending refits at DRAIN and stops', () => {
    const { actor } = synthActor(2);
    actor.send({ type: 'PREDICT', batch: 0, h, y });
    actor.send({ type: 'REFIT', batch: 0, target });
    const s = actor.getSnapshot().context.synthesizer;
    expect(s.pending).toBe(1);
    actor.send({ type: 'DRAIN' });
    expect(s.pending).toBe(0);
    expect(s.M.data.some((v) => v !== 0)).toBe(true);
    expect(actor.getSnapshot().status).toBe('done');
  });
});
