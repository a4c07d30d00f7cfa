/**
 * A synthesizer as an actor. PREDICT (its layer's h) answers with a synthetic gradient once every
 * refit that prediction must see has its target; REFIT brings the target for some batch (a head's
 * true gradient, or the share its consumer sent back) and queues its refit, applied when a later
 * prediction is due for it (`delay`) or at DRAIN, when training ends (or at FLUSH, when an epoch
 * ends and training goes on). A cDNI synthesizer reads its context labels for the batch from the
 * data itself.
 *
 *   ready ──PREDICT (a due target missing)──▶ awaitingTarget ──REFIT…──▶ ready
 *   ready ──FLUSH──▶ ready                    ready ──DRAIN──▶ drained (final)
 */
import { setup } from 'xstate';
import type { Matrix } from '../../lib/matrix.ts';
import type { Synthesizer } from '../../lib/synthesizer.ts';
import type { Backlog, Edge, LossMessage, PredictEvent, RefitEvent } from './events.ts';
import { type Port, send } from './port.ts';

export type { PredictEvent, RefitEvent } from './events.ts';
export type SynthesizerEvent = PredictEvent | RefitEvent | { type: 'DRAIN' } | { type: 'FLUSH' };

export interface SynthesizerPorts {
  /** g_hat to the layer (SYNTHETIC_GRADIENT) */
  readonly prediction: Port;
  /** per batch: 0.5 mean_rows |g_hat - target|², once both are in */
  readonly loss: Edge<LossMessage>;
  /** the batch whose prediction and target are both in */
  readonly done: Edge<number>;
}

export interface SynthesizerInput {
  synthesizer: Synthesizer;
  /** its index in the topology (how its losses are reported) */
  index: number;
  ports: SynthesizerPorts;
  /** batch t's context labels (cDNI), or null */
  labels: ((batch: number) => Matrix) | null;
  /**
   * its target is the true gradient: while `on`, report `cos(g_hat, target)` with each loss (computed
   * here, where both are; the stage turns it on at START when metrics$ is watched)
   */
  cosine?: { readonly on: boolean };
  /** where it publishes its {@link Backlog} (its stage's queue gauge reads it) */
  publishBacklog?: (backlog: Backlog) => void;
}

export interface SynthesizerContext extends SynthesizerInput {
  /** a PREDICT waiting for a due target (in a box its published backlog reads) */
  readonly held: { event: PredictEvent | null };
}

function reportLoss({ synthesizer, index, ports, cosine }: SynthesizerContext, batch: number): void {
  const loss = synthesizer.lossOf(batch);
  if (loss === null) return;
  ports.loss.next({
    type: 'LOSS',
    kind: 'synthesizer',
    index,
    batch,
    loss,
    accuracy: NaN,
    cosine: cosine?.on ? synthesizer.cosineOf(batch)! : NaN,
  });
  ports.done.next(batch);
}

function predict(c: SynthesizerContext, e: PredictEvent): void {
  send(c.ports.prediction, e.batch, c.synthesizer.predict(e.batch, e.h, c.labels ? c.labels(e.batch) : null));
  // a target that came first (from another stage) completes the batch's loss now
  reportLoss(c, e.batch);
}

export const synthesizerMachine = setup({
  types: {
    input: {} as SynthesizerInput,
    context: {} as SynthesizerContext,
    events: {} as SynthesizerEvent,
  },
  actions: {
    predict: ({ context }, e: PredictEvent) => predict(context, e),
    holdPrediction: ({ context }, e: PredictEvent) => void (context.held.event = e),
    predictHeld: ({ context }) => {
      const e = context.held.event!;
      context.held.event = null;
      predict(context, e);
    },
    recordTarget: ({ context }, e: RefitEvent) => {
      context.synthesizer.target(e.batch, e.target);
      reportLoss(context, e.batch);
    },
    drain: ({ context }) => context.synthesizer.drain(),
  },
  guards: {
    refitsDue: ({ context }, e: PredictEvent) => context.synthesizer.canPredict(e.batch),
    completesHeld: ({ context }, e: RefitEvent) => context.synthesizer.canPredict(context.held.event!.batch, e.batch),
  },
}).createMachine({
  id: 'synthesizer',
  context: ({ input }) => {
    const held: SynthesizerContext['held'] = { event: null };
    input.publishBacklog?.((r) => (r.type === 'PREDICT' && held.event ? 1 : 0));
    return { ...input, held };
  },
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
        FLUSH: { actions: 'drain' },
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
