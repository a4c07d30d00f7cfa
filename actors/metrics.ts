/**
 * A training's metrics as a typed rxjs stream: per finished step the head loss, the
 * synthesizer loss, the cosine between synthetic and true gradient where the true one is known,
 * and the steps per second.
 *
 * Nothing here runs until someone subscribes: the cosine taps on the edges are made by the
 * subscription and removed with it, so an unobserved training computes no cosine at all.
 */
import { Observable, Subscription, defer, share } from 'rxjs';
import type { Actor } from 'xstate';
import type { GraphSynthesizer } from '../lib/graph.ts';
import type { StepMetrics } from '../lib/history.ts';
import type { Matrix } from '../lib/matrix.ts';
import { cosine, trueGradientInterfaces } from '../lib/metrics.ts';
import { type AnyTopology, isRecurrent } from '../lib/model.ts';
import type { Topology } from '../lib/topology.ts';
import { type Edge, type NetworkEvent, routesOf, tensorOf } from './events.ts';
import type { trainerMachine } from './trainerMachine.ts';

export interface TrainingMetrics extends StepMetrics {
  /**
   * `cos(g_hat, g)` over the whole batch, keyed by synthesizer name (a chain's: the layer index,
   * so `cosine[1]`; a graph's: `'trunk>a'`), for each interface whose synthesizer is refitted
   * toward the true gradient (see {@link trueGradientInterfaces}; bootstrapped interfaces never
   * see a true gradient). Empty without such an interface, and under the worker scheduler. 0 when
   * either gradient is all zeros.
   */
  readonly cosine: Readonly<Record<string, number>>;
  /** steps finished per second over the last (up to) 16 steps; for the first, since batch 0 entered */
  readonly stepsPerSecond: number;
}

const RATE_WINDOW = 16;

/**
 * One step's metrics. A class rather than an object literal: measured with `--trace-gc`, the
 * literal `{ ...m, cosine, stepsPerSecond }` made the old generation fill up and be collected
 * every ~10k steps (resident memory +40% over a 100k-step soak); instances of a class do not.
 */
class StepReport implements TrainingMetrics {
  readonly batch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly synthesizerLoss: number;
  constructor(
    m: StepMetrics,
    readonly cosine: Readonly<Record<string, number>>,
    readonly stepsPerSecond: number,
  ) {
    this.batch = m.batch;
    this.loss = m.loss;
    this.accuracy = m.accuracy;
    this.synthesizerLoss = m.synthesizerLoss;
  }
}
/** cosines wait here from the target's arrival to the step's metrics (a few batches at most) */
const COSINE_RING = 64;

/**
 * The metrics stream of a training's root actor, ending when it completes. Shared: every
 * subscriber sees the same values, and the cosine taps live while at least one subscription does.
 *
 * @example
 * const training = createTraining({ topology, data, steps: 300 });
 * training.metrics$.subscribe((m) => console.log(m.batch, m.loss, m.cosine[1], m.stepsPerSecond));
 * await training.run();
 */
export function trainingMetrics(topology: AnyTopology, trainer: Actor<typeof trainerMachine>): Observable<TrainingMetrics> {
  return defer(() => {
    const taps = new Subscription();
    const context = trainer.getSnapshot().context;
    // the edges of a stage in this thread (none with worker stages)
    const local = (context.stages[0]?.getSnapshot() as { context?: { edges?: ReadonlyMap<string, Edge<NetworkEvent>> } } | undefined)?.context?.edges;
    // (a recurrent network's synthesizers are all bootstrapped or fed by a layer above: none sees a true gradient)
    const cosines = local && !isRecurrent(topology) ? trueGradientInterfaces(topology).map((s) => ({ name: s.name, ...tapCosine(taps, local, topology, s) })) : [];
    const started = performance.now();
    const finished = new Float64Array(RATE_WINDOW);
    let count = 0;

    return new Observable<TrainingMetrics>((subscriber) => {
      subscriber.add(taps);
      subscriber.add(
        context.metrics.subscribe({
          next: (m) => {
            const now = performance.now();
            const full = count >= RATE_WINDOW;
            const since = full ? finished[count % RATE_WINDOW] : Math.max(started, context.clock.started);
            const stepsPerSecond = ((full ? RATE_WINDOW : count + 1) * 1000) / Math.max(now - since, 1e-6);
            finished[count++ % RATE_WINDOW] = now;
            const cosine: Record<string, number> = {};
            for (const c of cosines) {
              const v = c.take(m.batch);
              if (v !== undefined) cosine[c.name] = v;
            }
            subscriber.next(new StepReport(m, cosine, stepsPerSecond));
          },
          complete: () => subscriber.complete(),
        }),
      );
      // the stream ends with the training, however it ends (run() says how)
      subscriber.add(trainer.subscribe({ complete: () => subscriber.complete(), error: () => subscriber.complete() }));
    });
  }).pipe(share());
}

/**
 * Watch an interface's predictions and targets as they are sent, and take the cosine as soon as
 * batch t has both, from the live buffers, without copying. Either may come first (a decoupled
 * edge into a head gets its target before its synthesizer has predicted). Both are still intact
 * then: the synthesizer cannot predict t + delay + 1 before it has received target t, and a
 * sender's ring slot outlives the batches in flight.
 */
function tapCosine(taps: Subscription, edges: ReadonlyMap<string, Edge<NetworkEvent>>, topology: Topology, s: GraphSynthesizer) {
  const depth = s.delay + 3;
  const predictions: (Matrix | null)[] = new Array(depth).fill(null);
  const targets: (Matrix | null)[] = new Array(depth).fill(null);
  const batches = new Int32Array(depth).fill(-1);
  const values = new Float64Array(COSINE_RING);
  const known = new Int32Array(COSINE_RING).fill(-1);
  const routes = routesOf(topology);
  const predictionEdge = edges.get(routes.find((r) => r.type === 'SYNTHETIC_GRADIENT' && r.source === s.actor)!.key);
  const targetEdge = edges.get(routes.find((r) => r.type === 'REFIT' && r.target === s.actor)!.key);

  const arrive = (batch: number, g: Matrix, mine: (Matrix | null)[], other: (Matrix | null)[]) => {
    const k = batch % depth;
    if (batches[k] !== batch) {
      batches[k] = batch;
      predictions[k] = targets[k] = null;
    }
    mine[k] = g;
    const o = other[k];
    if (!o) return;
    values[batch % COSINE_RING] = cosine(predictions[k]!, targets[k]!);
    known[batch % COSINE_RING] = batch;
    predictions[k] = targets[k] = null;
  };
  if (predictionEdge && targetEdge) {
    taps.add(predictionEdge.subscribe((e) => arrive(e.batch, tensorOf(e), predictions, targets)));
    taps.add(targetEdge.subscribe((e) => arrive(e.batch, tensorOf(e), targets, predictions)));
  }
  return {
    take(batch: number): number | undefined {
      return known[batch % COSINE_RING] === batch ? values[batch % COSINE_RING] : undefined;
    },
  };
}
