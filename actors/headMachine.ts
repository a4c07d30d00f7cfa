/**
 * The head as an actor: FORWARD (the last layer's output and the batch's labels) computes the
 * loss and the true gradient `dl/dy_hat`, which goes up to the last layer, or to its
 * synthesizer as the refit target when the last layer is decoupled.
 */
import { setup } from 'xstate';
import type { Head } from '../lib/head.ts';
import type { Matrix } from '../lib/matrix.ts';
import type { Edge, GradientMessage, LossMessage } from './edge.ts';

export type HeadEvent = { type: 'FORWARD'; batch: number; x: Matrix; y: Matrix };

export interface HeadPorts {
  readonly gradient: Edge<GradientMessage>;
  readonly loss: Edge<LossMessage>;
}

export interface HeadInput {
  head: Head;
  ports: HeadPorts;
}

export const headMachine = setup({
  types: {
    input: {} as HeadInput,
    context: {} as HeadInput,
    events: {} as HeadEvent,
  },
  actions: {
    evaluateLoss: ({ context: { head, ports } }, e: HeadEvent) => {
      const { loss, accuracy, gradient } = head.evaluate(e.batch, e.x, e.y);
      ports.loss.next({ batch: e.batch, loss, accuracy });
      ports.gradient.next({ batch: e.batch, g: gradient });
    },
  },
}).createMachine({
  id: 'head',
  context: ({ input }) => input,
  initial: 'ready',
  states: {
    ready: {
      on: { FORWARD: { actions: { type: 'evaluateLoss', params: ({ event }) => event } } },
    },
  },
});
