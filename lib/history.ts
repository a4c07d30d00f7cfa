/**
 * Per-step losses as they arrive from the head and the synthesizers, in any order, and the
 * step metrics once a batch has all of them.
 */
export interface StepMetrics {
  readonly batch: number;
  /** head loss of the batch's forward pass */
  readonly loss: number;
  /** the head's accuracy on the batch's forward pass (see the head) */
  readonly accuracy: number;
  /** sum over synthesizers (layer order) of 0.5 mean_rows |g_hat - target|² (0 without synthesizers) */
  readonly synthesizerLoss: number;
}

export interface HistorySnapshot {
  losses: number[];
  accuracies: number[];
  /** per synthesizer, in layer order */
  synthesizerLosses: number[][];
}

export class History {
  readonly losses: Float64Array;
  readonly accuracies: Float64Array;
  private readonly perSynthesizer: Float64Array[];
  private readonly arrived: Uint16Array;
  private readonly expected: number;

  /** `synthesizerLayers`: the layer index of each synthesizer, in layer order */
  constructor(readonly steps: number, readonly synthesizerLayers: readonly number[]) {
    this.losses = new Float64Array(steps);
    this.accuracies = new Float64Array(steps);
    this.perSynthesizer = synthesizerLayers.map(() => new Float64Array(steps));
    this.arrived = new Uint16Array(steps);
    this.expected = 1 + synthesizerLayers.length;
  }

  /** Record the head loss; returns the step's metrics when it was the last piece. */
  recordLoss(batch: number, loss: number, accuracy: number): StepMetrics | null {
    this.losses[batch] = loss;
    this.accuracies[batch] = accuracy;
    return this.arrive(batch);
  }

  /** Record synthesizer k's loss (k-th in layer order). */
  recordSynthesizerLoss(k: number, batch: number, loss: number): StepMetrics | null {
    this.perSynthesizer[k][batch] = loss;
    return this.arrive(batch);
  }

  /** Per-step sum over synthesizers, added in layer order so every scheduler gets the same bits. */
  synthesizerLosses(): Float64Array {
    const out = new Float64Array(this.steps);
    for (const l of this.perSynthesizer) for (let t = 0; t < this.steps; t++) out[t] += l[t];
    return out;
  }

  /** Losses of the steps before `step`, for a checkpoint (per synthesizer, so sums stay bit-identical). */
  snapshot(step: number): HistorySnapshot {
    return {
      losses: Array.from(this.losses.subarray(0, step)),
      accuracies: Array.from(this.accuracies.subarray(0, step)),
      synthesizerLosses: this.perSynthesizer.map((l) => Array.from(l.subarray(0, step))),
    };
  }

  /** Take the steps before a checkpoint's step as already recorded. */
  restore(s: HistorySnapshot): void {
    const n = s.losses.length;
    if (n > this.steps || s.accuracies.length !== n || s.synthesizerLosses.length !== this.perSynthesizer.length || s.synthesizerLosses.some((l) => l.length !== n)) {
      throw new RangeError(`history: a snapshot of ${n} steps and ${s.synthesizerLosses.length} synthesizers does not fit ${this.steps} steps and ${this.perSynthesizer.length}`);
    }
    this.losses.set(s.losses);
    this.accuracies.set(s.accuracies);
    s.synthesizerLosses.forEach((l, k) => this.perSynthesizer[k].set(l));
    this.arrived.fill(this.expected, 0, n);
  }

  private arrive(batch: number): StepMetrics | null {
    if (++this.arrived[batch] !== this.expected) return null;
    let s = 0;
    for (const l of this.perSynthesizer) s += l[batch];
    return { batch, loss: this.losses[batch], accuracy: this.accuracies[batch], synthesizerLoss: s };
  }
}
