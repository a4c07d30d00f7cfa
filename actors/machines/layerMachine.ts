/**
 * A graph node (a dense layer) as an actor. FORWARD brings batch t's input from one source; once
 * every source's is in (and the layer has applied its update for batch t-1), the layer computes h
 * and sends it down every outgoing edge (and to the edge's synthesizer where it is decoupled).
 * GRADIENT (a consumer's share, on a backprop edge) and SYNTHETIC_GRADIENT (a synthesizer's
 * prediction, on a decoupled edge) bring the gradient of each outgoing edge; once every edge's is
 * in, the layer applies its update and sends each source its share of `d Wᵀ`. A layer applies
 * its update for batch t before its forward of batch t+1: inputs of later batches wait in its
 * inbox. For a layer with a backprop edge that wait is the update lock DNI removes; a layer whose
 * every edge is decoupled never waits for anything above it. A consumer fed by a forward
 * synthesizer need not wait for this layer's output, so its gradient for a batch may come before
 * this layer's forward of that batch: it is kept until then (`early`). Where an edge mixes the
 * true gradient in, the layer also sends its share to its source at the steps whose λ is above 0.
 *
 *   ready ──FORWARD (inputs complete)──▶ awaitingSyntheticGradient ──SYNTHETIC_GRADIENT (all in)──▶ ready   (decoupled)
 *   ready ──FORWARD (inputs complete)──▶ awaitingGradient ──GRADIENT | SYNTHETIC_GRADIENT (all in)──▶ ready
 *   (with the next batch's inputs complete, the update is followed by that forward, and the layer keeps waiting)
 */
import { setup } from 'xstate';
import type { DenseLayer } from '../../lib/dense.ts';
import type { Matrix } from '../../lib/matrix.ts';
import type { Backlog, Edge, ForwardEvent, GradientEvent, LayerEvent, SyntheticGradientEvent } from './events.ts';
import { type MixedPort, type Port, send, sendMixed } from './port.ts';

export type { ForwardEvent, GradientEvent, LayerEvent, SyntheticGradientEvent } from './events.ts';

export interface LayerPorts {
  /** h to each consumer (FORWARD) and each decoupled edge's synthesizer (PREDICT), edge by edge */
  readonly outputs: readonly Port[];
  /** per source: its share of `d Wᵀ` (GRADIENT, or REFIT to the edge's synthesizer); null for the data's x */
  readonly upstream: readonly (Port | null)[];
  /** per source whose edge mixes the true gradient in: the same share to the source (GRADIENT), sent while λ is above 0 */
  readonly mixed?: readonly (MixedPort | null)[];
  /** the batch whose update was just applied */
  readonly done: Edge<number>;
}

export interface LayerInput {
  layer: DenseLayer;
  ports: LayerPorts;
  /** how many batches its inputs can run ahead (the network's ring depth) */
  depth: number;
  /** the first batch it will see (a resumed training's step) */
  firstBatch: number;
  /** where it publishes its {@link Backlog} (its stage's queue gauge reads it) */
  publishBacklog?: (backlog: Backlog) => void;
}

/**
 * Inputs of batches the layer has not forwarded yet, by source: a ring of `depth` batches (a
 * source runs at most delay + 2 batches ahead, see ring.ts).
 */
export class Inbox {
  private readonly batches: Int32Array;
  private readonly counts: Int32Array;
  private readonly tensors: (Matrix | null)[][];
  /** inputs waiting per source (for the queue gauge) */
  private readonly waitingBySource: Int32Array;

  constructor(
    readonly sources: number,
    readonly depth: number,
  ) {
    this.batches = new Int32Array(depth).fill(-1);
    this.counts = new Int32Array(depth);
    this.tensors = Array.from({ length: depth }, () => new Array<Matrix | null>(sources).fill(null));
    this.waitingBySource = new Int32Array(sources);
  }

  put(e: ForwardEvent): void {
    const i = e.batch % this.depth;
    if (this.batches[i] !== e.batch) {
      if (this.counts[i] !== 0)
        throw new Error(
          `inbox: batch ${e.batch} arrived while batch ${this.batches[i]}'s inputs still wait (more than ${this.depth} batches ahead)`,
        );
      this.batches[i] = e.batch;
    }
    if (this.tensors[i][e.slot]) throw new Error(`inbox: a second input ${e.slot} for batch ${e.batch}`);
    this.tensors[i][e.slot] = e.x;
    this.counts[i]++;
    this.waitingBySource[e.slot]++;
  }

  /** Whether every source's input for `batch` is in (counting `arriving`, about to be put, as in). */
  complete(batch: number, arriving: ForwardEvent | null = null): boolean {
    const i = batch % this.depth;
    const have = this.batches[i] === batch ? this.counts[i] : 0;
    return have + (arriving && arriving.batch === batch ? 1 : 0) === this.sources;
  }

  /** Take batch `batch`'s inputs out (the array is reused: use it at once). */
  take(batch: number): readonly Matrix[] {
    const i = batch % this.depth,
      out = this.tensors[i];
    this.taken.length = 0;
    for (let s = 0; s < this.sources; s++) {
      this.taken.push(out[s]!);
      out[s] = null;
      this.waitingBySource[s]--;
    }
    this.counts[i] = 0;
    this.batches[i] = -1;
    return this.taken;
  }

  /** Inputs from source `slot` that wait. */
  waiting(slot: number): number {
    return this.waitingBySource[slot];
  }

  private readonly taken: Matrix[] = [];
}

export interface LayerContext {
  readonly layer: DenseLayer;
  readonly ports: LayerPorts;
  readonly decoupled: boolean;
  readonly inbox: Inbox;
  /** the next batch to forward, and the gradients of the batch in flight (by output edge, then mixed edge) */
  readonly cursor: { next: number; arrived: number };
  readonly gradients: Matrix[];
  /** gradients of batches not forwarded yet (from a consumer that reads a forward synthesizer) */
  readonly early: GradientIn[];
}

/** Forward batch `cursor.next`, whose inputs are all in the inbox; count the gradients that came before it. */
function forward(c: LayerContext): void {
  const batch = c.cursor.next++;
  const h = c.layer.forward(batch, c.inbox.take(batch));
  for (const p of c.ports.outputs) send(p, batch, h);
  for (let i = 0; i < c.early.length;) {
    const e = c.early[i];
    if (e.batch !== batch) i++;
    else keep(c, c.early.splice(i, 1)[0]);
  }
}

function keep(c: LayerContext, e: GradientIn): void {
  c.gradients[e.slot] = e.g;
  c.cursor.arrived++;
}

/** How many gradients the batch in flight takes. */
const expected = (c: LayerContext) => c.layer.gradientsFor(c.cursor.next - 1);

/** Every gradient of the batch in flight is in: apply the update, send each source its share. */
function update(c: LayerContext): void {
  const batch = c.cursor.next - 1;
  c.cursor.arrived = 0;
  const shares = c.layer.update(batch, c.gradients);
  const { upstream: up, mixed } = c.ports;
  for (let s = 0; s < up.length; s++) {
    const p = up[s];
    if (p) send(p, batch, shares[s]!);
    sendMixed(mixed?.[s], batch, shares[s]!);
  }
  c.ports.done.next(batch);
}

type GradientIn = GradientEvent | SyntheticGradientEvent;

/** After a forward, the gradients that came before it may already complete its batch. */
const KEPT_COMPLETE = [
  { guard: 'keptCompleteNextReady', actions: ['applyKept', 'forwardNext'] },
  { guard: 'keptComplete', target: 'ready', actions: 'applyKept' },
] as const;

const layerSetup = setup({
  types: {
    input: {} as LayerInput,
    context: {} as LayerContext,
    events: {} as LayerEvent,
  },
  actions: {
    forward: ({ context }, e: ForwardEvent) => {
      context.inbox.put(e);
      forward(context);
    },
    forwardNext: ({ context }) => forward(context),
    keepInput: ({ context }, e: ForwardEvent) => context.inbox.put(e),
    keepGradient: ({ context }, e: GradientIn) => keep(context, e),
    keepEarlyGradient: ({ context }, e: GradientIn) => void context.early.push(e),
    applyGradient: ({ context }, e: GradientIn) => {
      keep(context, e);
      update(context);
    },
    applyKept: ({ context }) => update(context),
  },
  guards: {
    /** this input completes the next batch's, and every edge out of the layer is decoupled */
    completesInputsDecoupled: ({ context: c }, e: ForwardEvent) => c.decoupled && e.batch === c.cursor.next && c.inbox.complete(e.batch, e),
    completesInputs: ({ context: c }, e: ForwardEvent) => e.batch === c.cursor.next && c.inbox.complete(e.batch, e),
    /** this gradient is the last one of the batch in flight, and the next batch's inputs are all in */
    completesGradientNextReady: ({ context: c }) => c.cursor.arrived + 1 === expected(c) && c.inbox.complete(c.cursor.next),
    completesGradient: ({ context: c }) => c.cursor.arrived + 1 === expected(c),
    /** a gradient of a batch the layer has not forwarded yet */
    early: ({ context: c }, e: GradientIn) => e.batch !== c.cursor.next - 1,
    /** the gradients kept before the forward complete the batch in flight (and the next batch's inputs are all in) */
    keptCompleteNextReady: ({ context: c }) => c.cursor.arrived === expected(c) && c.inbox.complete(c.cursor.next),
    keptComplete: ({ context: c }) => c.cursor.arrived === expected(c),
  },
});

/**
 * The layer's machine. `unlocked`: a consumer of this layer may read a forward synthesizer, so
 * gradients can come before the forward of their batch; after a forward, the ones kept may
 * complete it (eventless transitions, which transitionTable.ts takes as xstate does). Without forward
 * synthesizers none comes early, those transitions never fire, and the machine is left without
 * them: a layer then has no guards to evaluate after each event.
 */
function layerMachineOf(unlocked: boolean) {
  const always = unlocked ? KEPT_COMPLETE : [];
  return layerSetup.createMachine({
    id: 'layer',
    context: ({ input }) => {
      const spec = input.layer.spec;
      const inbox = new Inbox(spec.sources.length, input.depth);
      input.publishBacklog?.((r) => (r.type === 'FORWARD' ? inbox.waiting(r.slot) : 0));
      return {
        ...input,
        decoupled: spec.decoupled,
        inbox,
        cursor: { next: input.firstBatch, arrived: 0 },
        gradients: new Array<Matrix>(spec.outputs.length + spec.mixed.length),
        early: [],
      };
    },
    initial: 'ready',
    states: {
      ready: {
        on: {
          FORWARD: [
            {
              guard: { type: 'completesInputsDecoupled', params: ({ event }) => event },
              target: 'awaitingSyntheticGradient',
              actions: { type: 'forward', params: ({ event }) => event },
            },
            {
              guard: { type: 'completesInputs', params: ({ event }) => event },
              target: 'awaitingGradient',
              actions: { type: 'forward', params: ({ event }) => event },
            },
            { actions: { type: 'keepInput', params: ({ event }) => event } },
          ],
          GRADIENT: { actions: { type: 'keepEarlyGradient', params: ({ event }) => event } },
          SYNTHETIC_GRADIENT: { actions: { type: 'keepEarlyGradient', params: ({ event }) => event } },
        },
      },
      awaitingSyntheticGradient: {
        always,
        on: {
          // with the next batch's inputs waiting, apply the update and go straight on to that batch
          SYNTHETIC_GRADIENT: [
            { guard: 'completesGradientNextReady', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardNext'] },
            { guard: 'completesGradient', target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
            { actions: { type: 'keepGradient', params: ({ event }) => event } },
          ],
          FORWARD: { actions: { type: 'keepInput', params: ({ event }) => event } },
        },
      },
      awaitingGradient: {
        always,
        on: {
          GRADIENT: [
            {
              guard: { type: 'early', params: ({ event }) => event },
              actions: { type: 'keepEarlyGradient', params: ({ event }) => event },
            },
            { guard: 'completesGradientNextReady', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardNext'] },
            { guard: 'completesGradient', target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
            { actions: { type: 'keepGradient', params: ({ event }) => event } },
          ],
          SYNTHETIC_GRADIENT: [
            {
              guard: { type: 'early', params: ({ event }) => event },
              actions: { type: 'keepEarlyGradient', params: ({ event }) => event },
            },
            { guard: 'completesGradientNextReady', actions: [{ type: 'applyGradient', params: ({ event }) => event }, 'forwardNext'] },
            { guard: 'completesGradient', target: 'ready', actions: { type: 'applyGradient', params: ({ event }) => event } },
            { actions: { type: 'keepGradient', params: ({ event }) => event } },
          ],
          FORWARD: { actions: { type: 'keepInput', params: ({ event }) => event } },
        },
      },
    },
  });
}

/** A dense layer (see the module's doc). */
export const layerMachine = layerMachineOf(false);
/** A dense layer whose gradients may come before its forward (a forward synthesizer above it). */
export const unlockedLayerMachine = layerMachineOf(true);
