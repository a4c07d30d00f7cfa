/**
 * A recurrent network's synthesizer as an actor, at a layer's truncation boundary or on the
 * interface between two stacked layers. PREDICT brings what it predicts from (a boundary state,
 * or a window of the layer below's outputs) and is answered with ĝ (SYNTHETIC_GRADIENT); REFIT
 * brings a refit pair tagged with its step, side by side in one tensor `[input | target]`: at a
 * boundary the window's input state and δ_in, on an interface the window's input sequence and the
 * gradient the layer above sent back to it. Each refit's loss is reported when it is applied (at
 * once with delay 0); DRAIN applies the rest.
 *
 * It takes each step's prediction, then that step's refit, in step order, whatever order they
 * arrive in (from two threads, say): the bare loop's order, so the same bits; with delay d the
 * prediction of step s waits only for the refits of steps up to s-1-d. A sequence's last window
 * has no boundary prediction, its first no boundary refit.
 *
 *   ready ──DRAIN──▶ drained (final)     (PREDICT and REFIT kept, and taken in order, in ready)
 */
import { setup } from 'xstate';
import { type Matrix, rowsView } from '../../lib/matrix.ts';
import type { BufferPool } from '../../lib/ring.ts';
import type { WindowSchedule } from '../../lib/recurrent/schedule.ts';
import type { RecurrentSynthesizer } from '../../lib/recurrent/synthesizer.ts';
import type { Backlog, Edge, LossMessage, PredictEvent, RefitEvent } from './events.ts';
import { type Port, send } from './port.ts';

export type RecurrentSynthesizerEvent = PredictEvent | RefitEvent | { type: 'DRAIN' };

export interface RecurrentSynthesizerInput {
  synthesizer: RecurrentSynthesizer;
  /** at a layer's boundary (no prediction after a sequence's last window, no refit for its first), or on an interface */
  kind: 'boundary' | 'interface';
  /** its index among the network's synthesizers (how its losses are reported) */
  index: number;
  ports: { readonly prediction: Port; readonly loss: Edge<LossMessage>; readonly done: Edge<number> };
  schedule: WindowSchedule;
  /** rows of its largest input (B, or T·B on an interface) */
  rows: number;
  /** where its buffers come from (the stage gives them back when the training ends) */
  pool: BufferPool;
  firstBatch: number;
  /** where it publishes its {@link Backlog} (its stage's queue gauge reads it) */
  publishBacklog?: (backlog: Backlog) => void;
}

export interface RecurrentSynthesizerContext extends RecurrentSynthesizerInput {
  /** a refit pair's input and target, apart (the synthesizer copies what it keeps) */
  readonly pair: { readonly input: Matrix; readonly target: Matrix };
  /** events that came before their turn, by step */
  readonly waiting: { predict: Map<number, Matrix>; refit: Map<number, Matrix> };
  /** the next step to predict, the next step to refit, the next step to report done */
  readonly cursor: { predict: number; refit: number; done: number };
}

/** Does step s give this synthesizer a prediction to make? a refit? */
export function synthesizerSteps(
  kind: 'boundary' | 'interface',
  schedule: WindowSchedule,
  s: number,
): { predicts: boolean; refits: boolean } {
  if (kind === 'interface') return { predicts: true, refits: true };
  const info = schedule.info(s);
  return { predicts: !info.last, refits: !info.first };
}

/**
 * Take every event whose turn has come, in the bare loop's per-object order: predictions in step
 * order, refits in step order, a step's prediction before its refit, and the prediction of step s
 * only once every refit it must see (those of steps <= s-1-delay) is taken. A step is done here
 * once both are taken (steps with neither take no part: nothing to report).
 */
function pump(c: RecurrentSynthesizerContext): void {
  const { cursor, waiting, schedule } = c,
    delay = c.synthesizer.spec.delay;
  if (c.kind === 'boundary' && schedule.windows === 1) return; // one window per sequence: nothing to predict or refit, ever
  for (let moved = true; moved;) {
    moved = false;
    const p = cursor.predict;
    if (!synthesizerSteps(c.kind, schedule, p).predicts) ((cursor.predict = p + 1), (moved = true));
    else if (cursor.refit >= p - delay && waiting.predict.has(p)) {
      const h = waiting.predict.get(p)!;
      waiting.predict.delete(p);
      send(c.ports.prediction, p, c.synthesizer.predict(p, h));
      cursor.predict = p + 1;
      moved = true;
    }
    const r = cursor.refit;
    if (!synthesizerSteps(c.kind, schedule, r).refits) ((cursor.refit = r + 1), (moved = true));
    else if (cursor.predict > r && waiting.refit.has(r)) {
      const both = waiting.refit.get(r)!;
      waiting.refit.delete(r);
      const input = rowsView(c.pair.input, 0, both.rows),
        target = rowsView(c.pair.target, 0, both.rows);
      splitColumns(both, input, target);
      c.synthesizer.refit(r, input, target);
      cursor.refit = r + 1;
      moved = true;
    }
  }
  for (const through = Math.min(cursor.predict, cursor.refit); cursor.done < through; cursor.done++) {
    const { predicts, refits } = synthesizerSteps(c.kind, schedule, cursor.done);
    if (predicts || refits) c.ports.done.next(cursor.done);
  }
}

/** `both` = [a | b] (columns side by side) into a and b. */
function splitColumns(both: Matrix, a: Matrix, b: Matrix): void {
  const n = a.cols,
    B = both.data,
    A = a.data,
    C = b.data;
  for (let r = 0; r < both.rows; r++) {
    A.set(B.subarray(r * 2 * n, r * 2 * n + n), r * n);
    C.set(B.subarray(r * 2 * n + n, (r + 1) * 2 * n), r * n);
  }
}

/** [a | b] (columns side by side) into `both`. */
export function joinColumns(a: Matrix, b: Matrix, both: Matrix): Matrix {
  const n = a.cols,
    A = a.data,
    C = b.data,
    D = both.data;
  for (let r = 0; r < a.rows; r++) {
    D.set(A.subarray(r * n, (r + 1) * n), r * 2 * n);
    D.set(C.subarray(r * n, (r + 1) * n), r * 2 * n + n);
  }
  return both;
}

export const recurrentSynthesizerMachine = setup({
  types: { input: {} as RecurrentSynthesizerInput, context: {} as RecurrentSynthesizerContext, events: {} as RecurrentSynthesizerEvent },
  actions: {
    keepPrediction: ({ context }, e: PredictEvent) => {
      context.waiting.predict.set(e.batch, e.h);
      pump(context);
    },
    keepTarget: ({ context }, e: RefitEvent) => {
      context.waiting.refit.set(e.batch, e.target);
      pump(context);
    },
    drain: ({ context }) => context.synthesizer.drain(),
  },
}).createMachine({
  id: 'recurrentSynthesizer',
  context: ({ input }) => {
    const s = input.synthesizer;
    const c: RecurrentSynthesizerContext = {
      ...input,
      pair: { input: input.pool.matrix(input.rows, s.spec.units), target: input.pool.matrix(input.rows, s.spec.units) },
      waiting: { predict: new Map(), refit: new Map() },
      cursor: { predict: input.firstBatch, refit: input.firstBatch, done: input.firstBatch },
    };
    const waiting = c.waiting;
    input.publishBacklog?.((r) => (r.type === 'FORWARD' ? 0 : (r.type === 'PREDICT' ? waiting.predict : waiting.refit).size));
    s.onLoss = (step, loss) => c.ports.loss.next({ type: 'LOSS', kind: 'synthesizer', index: c.index, batch: step, loss, accuracy: NaN });
    return c;
  },
  initial: 'ready',
  states: {
    ready: {
      on: {
        PREDICT: { actions: { type: 'keepPrediction', params: ({ event }) => event } },
        REFIT: { actions: { type: 'keepTarget', params: ({ event }) => event } },
        DRAIN: { target: 'drained', actions: 'drain' },
      },
    },
    drained: { type: 'final' },
  },
});
