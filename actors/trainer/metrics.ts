/**
 * A training's metrics as a typed rxjs stream: per finished step the head loss, the
 * synthesizer loss, the cosine between synthetic and true gradient where the true one is known,
 * and the steps per second.
 *
 * The cosine is measured where both gradients are, by the synthesizer's actor (in whatever thread
 * it runs), and comes with its loss into the trainer's history; so every scheduler gives the same
 * metrics, and this stream reads nothing of the stages. It is measured when this stream has a
 * subscriber as the training starts (an unobserved training computes none).
 */
import { Observable, defer, share } from 'rxjs';
import type { Actor } from 'xstate';
import { trueGradientInterfaces } from '../../lib/gradient-quality.ts';
import { type AnyTopology, isRecurrent } from '../../lib/model.ts';
import type { StepMetrics } from '../../lib/history.ts';
import type { trainerMachine } from './trainerMachine.ts';

export interface TrainingMetrics extends StepMetrics {
  /**
   * `cos(g_hat, g)` over the whole batch, keyed by synthesizer name (a chain's: the layer index,
   * so `cosine[1]`; a graph's: `'trunk>a'`), for each interface whose synthesizer is refitted
   * toward the true gradient (see {@link trueGradientInterfaces}; bootstrapped interfaces never
   * see a true gradient). Empty without such an interface, and when nobody subscribed before the
   * training started. 0 when either gradient is all zeros.
   */
  readonly cosine: Readonly<Record<string, number>>;
  /** steps finished per second over the last (up to) 16 steps; for the first, since batch 0 entered */
  readonly stepsPerSecond: number;
}

/**
 * What a trainer publishes for its metrics stream (through its input's `publishMetrics`, when it
 * is built): its finished steps, the cosine each synthesizer measured for a batch, and when it
 * started training. The stream reads these, never the trainer's context.
 */
export interface MetricsSource {
  readonly steps: Observable<StepMetrics>;
  /** the cosine synthesizer `index` measured at `batch`, NaN when none was */
  cosineOf(index: number, batch: number): number;
  /** when the training started (performance.now()) */
  startedAt(): number;
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

/**
 * The metrics stream of a training's root actor, ending when it completes. Shared: every
 * subscriber sees the same values.
 *
 * @example
 * const training = createTraining({ topology, data, steps: 300 });
 * training.metrics$.subscribe((m) => console.log(m.batch, m.loss, m.cosine[1], m.stepsPerSecond));
 * await training.run();
 */
export function trainingMetrics(
  topology: AnyTopology,
  trainer: Actor<typeof trainerMachine>,
  source: MetricsSource,
): Observable<TrainingMetrics> {
  return defer(() => {
    // (a recurrent network's synthesizers are all bootstrapped or fed by a layer above: none sees a true gradient)
    const cosines = isRecurrent(topology) ? [] : trueGradientInterfaces(topology);
    const started = performance.now();
    const finished = new Float64Array(RATE_WINDOW);
    let count = 0;

    return new Observable<TrainingMetrics>((subscriber) => {
      subscriber.add(
        source.steps.subscribe({
          next: (m) => {
            const now = performance.now();
            const full = count >= RATE_WINDOW;
            const since = full ? finished[count % RATE_WINDOW] : Math.max(started, source.startedAt());
            const stepsPerSecond = ((full ? RATE_WINDOW : count + 1) * 1000) / Math.max(now - since, 1e-6);
            finished[count++ % RATE_WINDOW] = now;
            const cosine: Record<string, number> = {};
            for (const c of cosines) {
              const v = source.cosineOf(c.index, m.batch);
              if (!Number.isNaN(v)) cosine[c.name] = v;
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
