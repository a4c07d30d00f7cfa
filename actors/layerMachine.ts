/**
 * A dense layer as an actor. FORWARD computes h and sends it down (and to its synthesizer);
 * SYNTHETIC_GRADIENT (decoupled) or GRADIENT (backprop) applies the update and sends `g_x`
 * upstream. A layer applies its update for batch t before its forward of batch t+1: a FORWARD
 * that arrives while the layer awaits a gradient is deferred. For a backprop layer that wait is
 * the update lock DNI removes.
 *
 *   ready ──FORWARD──▶ awaitingSyntheticGradient ──SYNTHETIC_GRADIENT──▶ ready   (decoupled)
 *   ready ──FORWARD──▶ awaitingGradient ──GRADIENT──▶ ready                      (backprop)
 *   (with a FORWARD deferred, the update is followed by that forward, and the layer keeps waiting)
 */
import { setup } from 'xstate';
import type { DenseLayer } from '../lib/dense.ts';
import type { Matrix } from '../lib/matrix.ts';
import type { ActivationMessage, Edge, GradientMessage } from './edge.ts';

export type ForwardEvent = { type: 'FORWARD'; batch: number; x: Matrix };
export type LayerEvent =
  | ForwardEvent
  | { type: 'SYNTHETIC_GRADIENT'; batch: number; g: Matrix }
  | { type: 'GRADIENT'; batch: number; g: Matrix };

export interface LayerPorts {
  /** h to the next layer (or the head) and to this layer's synthesizer */
  readonly output: Edge<ActivationMessage>;
  /** g_x to the layer below, or to its synthesizer as a refit target; null for the first layer */
  readonly upstream: Edge<GradientMessage> | null;
  /** the batch whose update was just applied */
  readonly updated: Edge<number>;
}

export interface LayerInput {
  layer: DenseLayer;
  ports: LayerPorts;
}

export interface LayerContext extends LayerInput {
  readonly decoupled: boolean;
  /** FORWARD events that arrived while awaiting a gradient, oldest first */
  readonly deferred: ForwardEvent[];
}

function forward({ layer, ports }: LayerContext, e: ForwardEvent): void {
  ports.output.next({ batch: e.batch, h: layer.forward(e.batch, e.x) });
}

function update({ layer, ports }: LayerContext, e: { batch: number; g: Matrix }): void {
  const gx = layer.update(e.batch, e.g, ports.upstream !== null);
  if (gx && ports.upstream) ports.upstream.next({ batch: e.batch, g: gx });
  ports.updated.next(e.batch);
}

export const layerMachine = setup({
  types: {
    input: {} as LayerInput,
    context: {} as LayerContext,
    events: {} as LayerEvent,
  },
  actions: {
    forward: ({ context }, e: ForwardEvent) => forward(context, e),
    forwardDeferred: ({ context }) => forward(context, context.deferred.shift()!),
    deferForward: ({ context }, e: ForwardEvent) => void context.deferred.push(e),
    applySyntheticGradient: ({ context }, e: { batch: number; g: Matrix }) => update(context, e),
    applyGradient: ({ context }, e: { batch: number; g: Matrix }) => update(context, e),
  },
  guards: {
    isDecoupled: ({ context }) => context.decoupled,
    hasDeferredForward: ({ context }) => context.deferred.length > 0,
  },
}).createMachine({
  id: 'layer',
  context: ({ input }) => ({ ...input, decoupled: input.layer.spec.synthesizer !== null, deferred: [] }),
  initial: 'ready',
  states: {
    ready: {
      on: {
        FORWARD: [
          { guard: 'isDecoupled', target: 'awaitingSyntheticGradient', actions: { type: 'forward', params: ({ event }) => event } },
          { target: 'awaitingGradient', actions: { type: 'forward', params: ({ event }) => event } },
        ],
      },
    },
    awaitingSyntheticGradient: {
      on: {
        // with a deferred FORWARD waiting, apply the update and go straight on to that batch
        SYNTHETIC_GRADIENT: [
          { guard: 'hasDeferredForward', actions: [{ type: 'applySyntheticGradient', params: ({ event }) => event }, 'forwardDeferred'] },
          { target: 'ready', actions: { type: 'applySyntheticGradient', params: ({ event }) => event } },
        ],
        FORWARD: { actions: { type: 'deferForward', params: ({ event }) => event } },
      },
    },
    awaitingGradient: {
      on: {
        GRADIENT: [
          { guard: 'hasDeferredForward', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardDeferred'] },
          { target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
        ],
        FORWARD: { actions: { type: 'deferForward', params: ({ event }) => event } },
      },
    },
  },
});
