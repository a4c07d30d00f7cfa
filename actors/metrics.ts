/**
 * A training's metrics as a typed rxjs stream: per finished step the head loss, the
 * synthesizer loss, the cosine between synthetic and true gradient where the true one is known,
 * and the steps per second.
 *
 * Nothing here runs until someone subscribes: the cosine taps on the edges are made by the
 * subscription and removed with it, so an unobserved training computes no cosine at all.
 */
import { Observable, type Subscribable, Subscription, defer, share } from 'rxjs';
import type { StepMetrics } from '../lib/history.ts';
import type { Matrix } from '../lib/matrix.ts';
import { cosine, trueGradientInterfaces } from '../lib/metrics.ts';
import type { Topology } from '../lib/topology.ts';
import type { NetworkPorts } from './wiring.ts';

export interface TrainingMetrics extends StepMetrics {
  /**
   * `cos(g_hat, g)` over the whole batch, keyed by layer index, for each interface whose
   * synthesizer is refitted toward the true gradient (see {@link trueGradientInterfaces}: the
   * topmost interface only; bootstrapped interfaces below it never see a true gradient).
   * Empty without such an interface. 0 when either gradient is all zeros.
   */
  readonly cosine: Readonly<Record<number, number>>;
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
    readonly cosine: Readonly<Record<number, number>>,
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
 * The metrics stream of a network's ports, ending when `end` (the root actor) completes. Shared:
 * every subscriber sees the same values, and the taps live while at least one subscription does.
 *
 * @example
 * const training = createTraining({ topology, data, steps: 300 });
 * training.metrics$.subscribe((m) => console.log(m.batch, m.loss, m.cosine[1], m.stepsPerSecond));
 * await training.run();
 */
export function trainingMetrics(topology: Topology, ports: NetworkPorts, end?: Subscribable<unknown>): Observable<TrainingMetrics> {
  return defer(() => {
    const taps = new Subscription();
    const cosines = trueGradientInterfaces(topology).map((i) => ({
      layer: i,
      ...tapCosine(taps, ports, topology, i),
    }));

    let started = performance.now();
    const finished = new Float64Array(RATE_WINDOW);
    let count = 0;
    taps.add(ports.source.subscribe((t) => t === 0 && count === 0 && (started = performance.now())));

    return new Observable<TrainingMetrics>((subscriber) => {
      subscriber.add(taps);
      // the stream ends with the training (the root actor's completion)
      if (end) subscriber.add(end.subscribe({ complete: () => subscriber.complete(), error: (e) => subscriber.error(e) }));
      subscriber.add(
        ports.metrics.subscribe((m) => {
          const now = performance.now();
          const full = count >= RATE_WINDOW;
          const since = full ? finished[count % RATE_WINDOW] : started;
          const stepsPerSecond = ((full ? RATE_WINDOW : count + 1) * 1000) / Math.max(now - since, 1e-6);
          finished[count++ % RATE_WINDOW] = now;
          const cosine: Record<number, number> = {};
          for (const c of cosines) {
            const v = c.take(m.batch);
            if (v !== undefined) cosine[c.layer] = v;
          }
          subscriber.next(new StepReport(m, cosine, stepsPerSecond));
        }),
      );
    });
  }).pipe(share());
}

/**
 * Watch interface i's predictions and targets as they are sent, and take the cosine as soon as
 * batch t has both, from the live buffers, without copying. Either may come first (a decoupled
 * last layer's target leaves the head before its synthesizer has predicted). Both are still
 * intact then: the synthesizer cannot predict t + delay + 1 before it has received target t,
 * and a sender's ring slot outlives the batches in flight.
 */
function tapCosine(taps: Subscription, ports: NetworkPorts, topology: Topology, i: number) {
  const depth = topology.layers[i].synthesizer!.delay + 3;
  const predictions: (Matrix | null)[] = new Array(depth).fill(null);
  const targets: (Matrix | null)[] = new Array(depth).fill(null);
  const batches = new Int32Array(depth).fill(-1);
  const values = new Float64Array(COSINE_RING);
  const known = new Int32Array(COSINE_RING).fill(-1);
  const last = topology.layers.length - 1;
  const targetEdge = i === last ? ports.head.gradient : ports.layers[i + 1].upstream!;

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
  taps.add(ports.synthesizers[i]!.prediction.subscribe((m) => arrive(m.batch, m.g, predictions, targets)));
  taps.add(targetEdge.subscribe((m) => arrive(m.batch, m.g, targets, predictions)));
  return {
    take(batch: number): number | undefined {
      return known[batch % COSINE_RING] === batch ? values[batch % COSINE_RING] : undefined;
    },
  };
}
