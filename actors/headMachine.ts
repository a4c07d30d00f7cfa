/**
 * A head as an actor: FORWARD (its node's output) computes the loss against the batch's labels
 * (read from the data) and the weighted true gradient `weight · dl/dy_hat`, which goes back to the
 * node (GRADIENT), or to the edge's synthesizer as its refit target (REFIT) when the edge into the
 * head is decoupled.
 */
import { setup } from 'xstate';
import type { Head } from '../lib/head.ts';
import type { Matrix } from '../lib/matrix.ts';
import type { Edge, ForwardEvent, LossMessage } from './events.ts';
import { type Port, send } from './layerMachine.ts';

export type HeadEvent = ForwardEvent;

export interface HeadPorts {
  readonly gradient: Port;
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
