/**
 * Per-step losses as they arrive from the heads and the synthesizers, in any order, and the
 * step's totals once the step is finished everywhere: the loss is the weighted sum of the heads'
 * losses, the synthesizer loss the sum over synthesizers, each added in a fixed order so every
 * scheduler gets the same bits.
 */
export interface StepMetrics {
  readonly batch: number;
  /** the weighted sum of the heads' losses on the batch's forward pass */
  readonly loss: number;
  /** the first head's accuracy on the batch's forward pass (see the head) */
  readonly accuracy: number;
  /** sum over synthesizers of 0.5 mean_rows |g_hat - target|² (0 without synthesizers) */
  readonly synthesizerLoss: number;
}

export interface HistorySnapshot {
  losses: number[];
  accuracies: number[];
  /** per synthesizer, in the topology's order */
  synthesizerLosses: number[][];
  /** per head, its own (unweighted) losses and accuracies; absent in version-1 checkpoints of one head */
  heads?: { losses: number[]; accuracies: number[] }[];
  /** per aux head (recurrent layers with one, in layer order): its loss per step */
  aux?: number[][];
}

export class History {
  /** weighted sum over heads, per finished step */
  readonly losses: Float64Array;
  /** the first head's accuracy, per finished step */
  readonly accuracies: Float64Array;
  /** per head: its own loss and accuracy per step */
  readonly headLosses: Float64Array[];
  readonly headAccuracies: Float64Array[];
  private readonly perSynthesizer: Float64Array[];
  /** per synthesizer, `cos(g_hat, target)` per step where measured (NaN elsewhere) */
  private readonly perCosine: Float64Array[];
  private readonly perAux: Float64Array[];

  /** `weights`: each head's weight, in the topology's head order; `auxiliaries`: how many aux losses (recurrent layers) */
  constructor(
    readonly steps: number,
    readonly weights: readonly number[],
    readonly synthesizers: number,
    readonly auxiliaries = 0,
  ) {
    this.losses = new Float64Array(steps);
    this.accuracies = new Float64Array(steps);
    this.headLosses = weights.map(() => new Float64Array(steps));
    this.headAccuracies = weights.map(() => new Float64Array(steps));
    this.perSynthesizer = Array.from({ length: synthesizers }, () => new Float64Array(steps));
    this.perCosine = Array.from({ length: synthesizers }, () => new Float64Array(steps).fill(NaN));
    this.perAux = Array.from({ length: auxiliaries }, () => new Float64Array(steps));
  }

  /** Record aux head k's loss on a batch. */
  recordAuxLoss(k: number, batch: number, loss: number): void {
    this.perAux[k][batch] = loss;
  }

  /** Record head k's loss and accuracy on a batch. */
  recordHeadLoss(k: number, batch: number, loss: number, accuracy: number): void {
    this.headLosses[k][batch] = loss;
    this.headAccuracies[k][batch] = accuracy;
  }

  /** Record synthesizer k's loss on a batch, and the cosine between its prediction and target where measured. */
  recordSynthesizerLoss(k: number, batch: number, loss: number, cosine = NaN): void {
    this.perSynthesizer[k][batch] = loss;
    this.perCosine[k][batch] = cosine;
  }

  /** Synthesizer k's `cos(g_hat, target)` on a batch, NaN where it was not measured. */
  cosineOf(k: number, batch: number): number {
    return this.perCosine[k][batch];
  }

  /** The step is finished everywhere (every loss of it recorded): its totals, as metrics. */
  finish(batch: number): StepMetrics {
    let loss = 0;
    for (let k = 0; k < this.weights.length; k++)
      loss += this.weights[k] === 1 ? this.headLosses[k][batch] : this.weights[k] * this.headLosses[k][batch];
    this.losses[batch] = loss;
    this.accuracies[batch] = this.headAccuracies[0][batch];
    let s = 0;
    for (const l of this.perSynthesizer) s += l[batch];
    return { batch, loss, accuracy: this.accuracies[batch], synthesizerLoss: s };
  }

  /** Per-step sum over synthesizers, added in the topology's order so every scheduler gets the same bits. */
  synthesizerLosses(): Float64Array {
    const out = new Float64Array(this.steps);
    for (const l of this.perSynthesizer) for (let t = 0; t < this.steps; t++) out[t] += l[t];
    return out;
  }

  /** Per-step sum over aux heads, in layer order. */
  auxLosses(): Float64Array {
    const out = new Float64Array(this.steps);
    for (const l of this.perAux) for (let t = 0; t < this.steps; t++) out[t] += l[t];
    return out;
  }

  /** Losses of the steps before `step`, for a checkpoint (per head and per synthesizer, so sums stay bit-identical). */
  snapshot(step: number): HistorySnapshot {
    const upTo = (a: Float64Array) => Array.from(a.subarray(0, step));
    return {
      losses: upTo(this.losses),
      accuracies: upTo(this.accuracies),
      synthesizerLosses: this.perSynthesizer.map(upTo),
      heads: this.headLosses.map((l, k) => ({ losses: upTo(l), accuracies: upTo(this.headAccuracies[k]) })),
      ...(this.auxiliaries > 0 ? { aux: this.perAux.map(upTo) } : {}),
    };
  }

  /** Take the steps before a checkpoint's step as already recorded. */
  restore(s: HistorySnapshot): void {
    const n = s.losses.length;
    const heads = s.heads ?? (this.weights.length === 1 ? [{ losses: s.losses, accuracies: s.accuracies }] : null);
    const fits =
      n <= this.steps &&
      s.accuracies.length === n &&
      s.synthesizerLosses.length === this.perSynthesizer.length &&
      s.synthesizerLosses.every((l) => l.length === n) &&
      heads !== null &&
      heads.length === this.weights.length &&
      heads.every((h) => h.losses.length === n && h.accuracies.length === n) &&
      (s.aux ?? []).length === this.auxiliaries &&
      (s.aux ?? []).every((l) => l.length === n);
    if (!fits) {
      throw new RangeError(
        `history: a snapshot of ${n} steps, ${s.heads?.length ?? 1} heads and ${s.synthesizerLosses.length} synthesizers does not fit ` +
          `${this.steps} steps, ${this.weights.length} heads and ${this.perSynthesizer.length} synthesizers`,
      );
    }
    this.losses.set(s.losses);
    this.accuracies.set(s.accuracies);
    s.synthesizerLosses.forEach((l, k) => this.perSynthesizer[k].set(l));
    s.aux?.forEach((l, k) => this.perAux[k].set(l));
    heads.forEach((h, k) => {
      this.headLosses[k].set(h.losses);
      this.headAccuracies[k].set(h.accuracies);
    });
  }
}
