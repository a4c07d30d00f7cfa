/**
 * A recurrent network's readout as an actor (a head): FORWARD brings the top layer's outputs
 * for step s's window; the readout scores them against the window's targets and mask (read from
 * the data), reports the loss and the share of masked output bits it got right, sends `dL/dh_t`
 * for every step of the window back to the top layer (GRADIENT), and steps its parameters.
 */
import { setup } from 'xstate';
import { rowsView } from '../../lib/matrix.ts';
import type { MatrixRing } from '../../lib/ring.ts';
import type { Readout } from '../../lib/recurrent/readout.ts';
import { type WindowSchedule, windowAccuracy } from '../../lib/recurrent/schedule.ts';
import type { Edge, ForwardEvent, LossMessage } from './events.ts';
import { type Port, send } from './port.ts';

export type ReadoutEvent = ForwardEvent;

export interface ReadoutInput {
  readout: Readout;
  ports: { readonly gradient: Port; readonly loss: Edge<LossMessage>; readonly done: Edge<number> };
  schedule: WindowSchedule;
  /** copies of dL/dh sent back, valid while their step is in flight (the readout reuses its own buffer); the stage makes it */
  gradients: MatrixRing;
}

type ReadoutContext = ReadoutInput;

function score(c: ReadoutContext, e: ForwardEvent): void {
  const { readout, schedule } = c, step = e.batch;
  const { y, mask } = schedule.window(step);
  const loss = readout.forward(step, e.x, y, mask);
  const accuracy = windowAccuracy(readout.outputs(), y, mask, readout.topology.loss);
  c.ports.loss.next({ type: 'LOSS', kind: 'head', index: 0, batch: step, loss, accuracy });
  const dh = readout.backward(step);
  const kept = rowsView(c.gradients.slot(step), 0, dh.rows);
  kept.data.set(dh.data);
  send(c.ports.gradient, step, kept);
  readout.updateParameters(step);
  c.ports.done.next(step);
}

export const readoutMachine = setup({
  types: { input: {} as ReadoutInput, context: {} as ReadoutContext, events: {} as ReadoutEvent },
  actions: {
    score: ({ context }, e: ForwardEvent) => score(context, e),
  },
}).createMachine({
  id: 'readout',
  context: ({ input }) => input,
  initial: 'ready',
  states: {
    ready: { on: { FORWARD: { actions: { type: 'score', params: ({ event }) => event } } } },
  },
});
