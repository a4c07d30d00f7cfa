/**
 * A recurrent layer (a *core*) as an actor: one training step is one window. FORWARD brings step
 * s's window input (the data's, or the outputs of the layer below); the core runs its window from
 * the state it carries and sends its outputs up (FORWARD, to the layer above or the readout, and
 * PREDICT to the synthesizer of a decoupled interface above), and its boundary state to its
 * boundary synthesizer (PREDICT) unless the window is a sequence's last. Then it waits for the
 * gradient from above (GRADIENT, or SYNTHETIC_GRADIENT slot 0 from the interface's synthesizer)
 * and, when there is a prediction, the boundary's synthetic gradient (SYNTHETIC_GRADIENT slot 1);
 * BPTT through the window, its boundary refit target (REFIT: δ_in, unless the window is a
 * sequence's first), the gradient for the layer below, and its parameter step.
 *
 *   ready ──FORWARD──▶ awaitingGradient ──(every gradient in)──▶ ready
 *   (with the next window's input waiting, the update is followed by that forward)
 */
import { setup } from 'xstate';
import { type Matrix, rowsView } from '../../lib/matrix.ts';
import type { RecurrentCore } from '../../lib/recurrent/core.ts';
import type { WindowSchedule } from '../../lib/recurrent/schedule.ts';
import type { MatrixRing } from '../../lib/ring.ts';
import type { Backlog, Edge, ForwardEvent, GradientEvent, LossMessage, SyntheticGradientEvent } from './events.ts';
import { type Port, send } from './port.ts';
import { joinColumns } from './recurrentSynthesizerMachine.ts';

export type CoreEvent = ForwardEvent | GradientEvent | SyntheticGradientEvent;

export interface CorePorts {
  /** its outputs: FORWARD to the layer above (or the readout), PREDICT to the interface's synthesizer */
  readonly up: readonly Port[];
  /** PREDICT of the boundary state, and REFIT of δ_in, to its boundary synthesizer (DNI), or null */
  readonly boundary: { readonly predict: Port; readonly refit: Port } | null;
  /** the gradient for the layer below (GRADIENT, or REFIT to the interface's synthesizer), or null for the first layer */
  readonly down: Port | null;
  /** its aux loss, when it has an aux head */
  readonly loss: Edge<LossMessage>;
  readonly done: Edge<number>;
}

/**
 * Copies of what leaves the core, valid while their step is in flight (its own buffers are
 * reused every window): outputs, boundary states, boundary refit pairs `[h_in | δ_in]`, and the
 * gradient for the layer below (or the interface's refit pair `[x | dx]`). The stage makes them
 * (and gives them back when the training ends).
 */
export interface CoreRings {
  readonly outputs: MatrixRing;
  readonly state: MatrixRing;
  readonly refit: MatrixRing;
  readonly below: MatrixRing;
}

export interface CoreInput {
  core: RecurrentCore;
  ports: CorePorts;
  schedule: WindowSchedule;
  rings: CoreRings;
  /** its aux head's index among the network's (how its losses are reported), or -1 */
  auxIndex: number;
  firstBatch: number;
  /** where it publishes its {@link Backlog} (its stage's queue gauge reads it) */
  publishBacklog?: (backlog: Backlog) => void;
}

export interface CoreContext extends CoreInput {
  /** window inputs that came early, by step */
  readonly inputs: Map<number, Matrix>;
  /** the next step to forward; for the step in flight: its input, its gradient from above and ĝ, and how many came */
  readonly cursor: { next: number; x: Matrix | null; arrived: number; expected: number; fromAbove: Matrix | null; gHat: Matrix | null };
  /** whether the interface below is decoupled: it is sent `[x | dx]`, its refit pair */
  readonly pairBelow: boolean;
}

/** `m` copied into `ring`'s slot of `step` (a view of m.rows rows). */
function kept(ring: MatrixRing, step: number, m: Matrix): Matrix {
  const slot = rowsView(ring.slot(step), 0, m.rows);
  slot.data.set(m.data);
  return slot;
}

function forward(c: CoreContext): void {
  const step = c.cursor.next++,
    info = c.schedule.info(step);
  const x = c.inputs.get(step)!;
  c.inputs.delete(step);
  c.cursor.x = x;
  const h = kept(c.rings.outputs, step, c.core.forwardWindow(step, x, info.first));
  for (const p of c.ports.up) send(p, step, h);
  const predicts = c.ports.boundary !== null && !info.last;
  c.cursor.expected = 1 + (predicts ? 1 : 0);
  c.cursor.arrived = 0;
  c.cursor.fromAbove = c.cursor.gHat = null;
  if (predicts) send(c.ports.boundary!.predict, step, kept(c.rings.state, step, c.core.boundaryState()));
}

function keep(c: CoreContext, e: GradientEvent | SyntheticGradientEvent): void {
  if (e.type === 'SYNTHETIC_GRADIENT' && e.slot === 1) c.cursor.gHat = e.g;
  else c.cursor.fromAbove = e.g;
  c.cursor.arrived++;
}

function update(c: CoreContext, e: GradientEvent | SyntheticGradientEvent): void {
  keep(c, e);
  const step = e.batch,
    info = c.schedule.info(step),
    core = c.core;
  const deltaIn = core.backwardWindow(step, c.cursor.gHat, c.cursor.fromAbove);
  if (c.ports.boundary && !info.first)
    send(c.ports.boundary.refit, step, joinColumns(core.inputState(), deltaIn, c.rings.refit.slot(step)));
  if (c.ports.down) {
    const dx = core.inputGradient();
    send(
      c.ports.down,
      step,
      c.pairBelow ? joinColumns(c.cursor.x!, dx, rowsView(c.rings.below.slot(step), 0, dx.rows)) : kept(c.rings.below, step, dx),
    );
  }
  if (c.auxIndex >= 0) c.ports.loss.next({ type: 'LOSS', kind: 'aux', index: c.auxIndex, batch: step, loss: core.auxLoss, accuracy: NaN });
  core.updateParameters(step);
  c.ports.done.next(step);
}

type GradientIn = GradientEvent | SyntheticGradientEvent;

export const coreMachine = setup({
  types: { input: {} as CoreInput, context: {} as CoreContext, events: {} as CoreEvent },
  actions: {
    forward: ({ context }, e: ForwardEvent) => {
      context.inputs.set(e.batch, e.x);
      forward(context);
    },
    forwardNext: ({ context }) => forward(context),
    keepInput: ({ context }, e: ForwardEvent) => void context.inputs.set(e.batch, e.x),
    keepGradient: ({ context }, e: GradientIn) => keep(context, e),
    applyGradient: ({ context }, e: GradientIn) => update(context, e),
  },
  guards: {
    isNext: ({ context }, e: ForwardEvent) => e.batch === context.cursor.next,
    completesNextReady: ({ context: c }) => c.cursor.arrived + 1 === c.cursor.expected && c.inputs.has(c.cursor.next),
    completes: ({ context: c }) => c.cursor.arrived + 1 === c.cursor.expected,
  },
}).createMachine({
  id: 'core',
  context: ({ input }) => {
    const inputs = new Map<number, Matrix>();
    input.publishBacklog?.((r) => (r.type === 'FORWARD' ? inputs.size : 0));
    return {
      ...input,
      inputs,
      cursor: { next: input.firstBatch, x: null, arrived: 0, expected: 1, fromAbove: null, gHat: null },
      pairBelow: input.ports.down?.route.type === 'REFIT',
    };
  },
  initial: 'ready',
  states: {
    ready: {
      on: {
        FORWARD: [
          {
            guard: { type: 'isNext', params: ({ event }) => event },
            target: 'awaitingGradient',
            actions: { type: 'forward', params: ({ event }) => event },
          },
          { actions: { type: 'keepInput', params: ({ event }) => event } },
        ],
      },
    },
    awaitingGradient: {
      on: {
        GRADIENT: [
          { guard: 'completesNextReady', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardNext'] },
          { guard: 'completes', target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
          { actions: { type: 'keepGradient', params: ({ event }) => event } },
        ],
        SYNTHETIC_GRADIENT: [
          { guard: 'completesNextReady', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardNext'] },
          { guard: 'completes', target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
          { actions: { type: 'keepGradient', params: ({ event }) => event } },
        ],
        FORWARD: { actions: { type: 'keepInput', params: ({ event }) => event } },
      },
    },
  },
});
