/**
 * A recurrent network's head as an actor (`head:readout`; its weights are the readout): FORWARD brings the top layer's outputs
 * for step s's window; the readout scores them against the window's targets and mask (read from
 * the data), reports the loss and the share of masked output bits it got right, sends `dL/dh_t`
 * for every step of the window back to the top layer (GRADIENT), and steps its parameters.
 */
import { setup } from 'xstate';
import { rowsView } from '../../lib/matrix.ts';
import type { MatrixRing } from '../../lib/ring.ts';
import type { RecurrentHead } from '../../lib/recurrent/head.ts';
import { type WindowSchedule, windowAccuracy } from '../../lib/recurrent/schedule.ts';
import type { Edge, ForwardEvent, LossMessage } from './events.ts';
import { type Port, send } from './port.ts';

export type RecurrentHeadEvent = ForwardEvent;

export interface RecurrentHeadInput {
  head: RecurrentHead;
  ports: { readonly gradient: Port; readonly loss: Edge<LossMessage>; readonly done: Edge<number> };
  schedule: WindowSchedule;
  /** copies of dL/dh sent back, valid while their step is in flight (the readout reuses its own buffer); the stage makes it */
  gradients: MatrixRing;
}

type RecurrentHeadContext = RecurrentHeadInput;

function score(c: RecurrentHeadContext, e: ForwardEvent): void {
  const { head, schedule } = c,
    step = e.batch;
  const { y, mask } = schedule.window(step);
  const loss = head.forward(step, e.x, y, mask);
  const accuracy = windowAccuracy(head.outputs(), y, mask, head.topology.loss);
  c.ports.loss.next({ type: 'LOSS', kind: 'head', index: 0, batch: step, loss, accuracy });
  const dh = head.backward(step);
  const kept = rowsView(c.gradients.slot(step), 0, dh.rows);
  kept.data.set(dh.data);
  send(c.ports.gradient, step, kept);
  head.updateParameters(step);
  c.ports.done.next(step);
}

export const recurrentHeadMachine = setup({
  types: { input: {} as RecurrentHeadInput, context: {} as RecurrentHeadContext, events: {} as RecurrentHeadEvent },
  actions: {
    score: ({ context }, e: ForwardEvent) => score(context, e),
  },
}).createMachine({
  id: 'recurrentHead',
  context: ({ input }) => input,
  initial: 'ready',
  states: {
    ready: { on: { FORWARD: { actions: { type: 'score', params: ({ event }) => event } } } },
  },
});
