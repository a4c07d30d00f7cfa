/**
 * A head as an actor: FORWARD (its node's output) computes the loss against the batch's labels
 * (read from the data) and the weighted true gradient `weight · dl/dy_hat`, which goes back to the
 * node (GRADIENT), or to the edge's synthesizer as its refit target (REFIT) when the edge into the
 * head is decoupled (and to the node too, at the steps whose λ is above 0, where the edge mixes).
 */
import { setup } from 'xstate';
import type { Head } from '../../lib/head.ts';
import type { Matrix } from '../../lib/matrix.ts';
import type { Edge, ForwardEvent, LossMessage } from './events.ts';
import { type MixedPort, type Port, send, sendMixed } from './port.ts';

export type HeadEvent = ForwardEvent;

export interface HeadPorts {
  readonly gradient: Port;
  /** the edge mixes the true gradient in: it goes to the node as well */
  readonly mixed?: MixedPort | null;
  readonly loss: Edge<LossMessage>;
  readonly done: Edge<number>;
}

export interface HeadInput {
  head: Head;
  /** its index in the topology (how its losses are reported) */
  index: number;
  ports: HeadPorts;
  /** batch t's labels */
  labels: (batch: number) => Matrix;
}

export const headMachine = setup({
  types: {
    input: {} as HeadInput,
    context: {} as HeadInput,
    events: {} as HeadEvent,
  },
  actions: {
    evaluateLoss: ({ context: { head, index, ports, labels } }, e: HeadEvent) => {
      const { loss, accuracy, gradient } = head.evaluate(e.batch, e.x, labels(e.batch));
      ports.loss.next({ type: 'LOSS', kind: 'head', index, batch: e.batch, loss, accuracy });
      send(ports.gradient, e.batch, gradient);
      sendMixed(ports.mixed, e.batch, gradient);
      ports.done.next(e.batch);
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
