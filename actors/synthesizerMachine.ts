/**
 * A synthesizer as an actor. PREDICT (the layer's h) answers with a synthetic gradient once
 * every refit that prediction must see has its target; REFIT brings the target for some batch
 * (the true gradient, or the one the next layer sent upstream) and queues its refit, applied
 * when a later prediction is due for it (`delay`) or at DRAIN, when training ends.
 *
 *   ready ──PREDICT (a due target missing)──▶ awaitingTarget ──REFIT…──▶ ready
 *   ready ──DRAIN──▶ drained (final)
 */
import { setup } from 'xstate';
import type { Matrix } from '../lib/matrix.ts';
import type { Synthesizer } from '../lib/synthesizer.ts';
import type { Edge, GradientMessage, LossMessage } from './edge.ts';

export type PredictEvent = { type: 'PREDICT'; batch: number; h: Matrix; y: Matrix };
export type RefitEvent = { type: 'REFIT'; batch: number; target: Matrix };
export type SynthesizerEvent = PredictEvent | RefitEvent | { type: 'DRAIN' };

export interface SynthesizerPorts {
  /** g_hat to the layer */
  readonly prediction: Edge<GradientMessage>;
  /** per batch: 0.5 mean_rows |g_hat - target|², sent when the target arrives */
  readonly loss: Edge<LossMessage>;
}

export interface SynthesizerInput {
  synthesizer: Synthesizer;
  ports: SynthesizerPorts;
}

export interface SynthesizerContext extends SynthesizerInput {
  /** a PREDICT waiting for a due target */
  held: PredictEvent | null;
}

function predict({ synthesizer, ports }: SynthesizerContext, e: PredictEvent): void {
  ports.prediction.next({ batch: e.batch, g: synthesizer.predict(e.batch, e.h, e.y) });
  // a target that came first (from another stage) completes the batch's loss now
  const loss = synthesizer.lossOf(e.batch);
  if (loss !== null) ports.loss.next({ batch: e.batch, loss });
}

export const synthesizerMachine = setup({
  types: {
    input: {} as SynthesizerInput,
    context: {} as SynthesizerContext,
    events: {} as SynthesizerEvent,
  },
  actions: {
    predict: ({ context }, e: PredictEvent) => predict(context, e),
    holdPrediction: ({ context }, e: PredictEvent) => void (context.held = e),
    predictHeld: ({ context }) => {
      const e = context.held!;
      context.held = null;
      predict(context, e);
    },
    recordTarget: ({ context: { synthesizer, ports } }, e: RefitEvent) => {
      const loss = synthesizer.target(e.batch, e.target);
      if (loss !== null) ports.loss.next({ batch: e.batch, loss });
    },
    drain: ({ context }) => context.synthesizer.drain(),
  },
  guards: {
    refitsDue: ({ context }, e: PredictEvent) => context.synthesizer.canPredict(e.batch),
    completesHeld: ({ context }, e: RefitEvent) => context.synthesizer.canPredict(context.held!.batch, e.batch),
  },
}).createMachine({
  id: 'synthesizer',
  context: ({ input }) => ({ ...input, held: null }),
  initial: 'ready',
  states: {
    ready: {
      on: {
        PREDICT: [
          { guard: { type: 'refitsDue', params: ({ event }) => event }, actions: { type: 'predict', params: ({ event }) => event } },
          { target: 'awaitingTarget', actions: { type: 'holdPrediction', params: ({ event }) => event } },
        ],
        REFIT: { actions: { type: 'recordTarget', params: ({ event }) => event } },
        DRAIN: { target: 'drained', actions: 'drain' },
      },
    },
    awaitingTarget: {
      on: {
        REFIT: [
          // the last target the held prediction needed: record it, predict, and be ready again
          {
            guard: { type: 'completesHeld', params: ({ event }) => event },
            target: 'ready',
            actions: [{ type: 'recordTarget', params: ({ event }) => event }, 'predictHeld'],
          },
          { actions: { type: 'recordTarget', params: ({ event }) => event } },
        ],
      },
    },
    drained: { type: 'final' },
  },
});
