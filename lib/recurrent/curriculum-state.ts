/**
 * The copy-task curriculum's decisions, apart from how batches are trained (the bare loop in
 * curriculum.ts, or the actors in actors/trainer/curriculum.ts): start at a length, lengthen by one when
 * the mean error over the last `window` batches at this length falls below `threshold` bits per
 * sequence, stop when the budget of sequences is spent (or a target length is reached).
 */
export interface CurriculumRule {
  /** training sequences to spend */
  readonly budget: number;
  /** bits per sequence (0.15 in the paper) */
  readonly threshold: number;
  /** batches averaged for the decision; the count restarts at each new length */
  readonly window: number;
  /** the first length */
  readonly start: number;
  /** stop once this length is solved (optional) */
  readonly maxLength?: number;
}

export class CurriculumState {
  /** the length the next batch has */
  length: number;
  /** the longest length whose criterion was met (0: none) */
  solved = 0;
  sequences = 0;
  /** [sequences, length] each time the length grew */
  readonly curve: [number, number][] = [];
  private readonly recent: number[] = [];

  constructor(readonly rule: CurriculumRule) {
    this.length = rule.start;
  }

  /** A batch of `count` sequences at the current length had `error` wrong bits per sequence: returns true when the curriculum is over. */
  record(count: number, error: number): boolean {
    const { window, threshold } = this.rule;
    this.sequences += count;
    this.recent.push(error);
    if (this.recent.length > window) this.recent.shift();
    if (this.recent.length === window && this.recent.reduce((a, b) => a + b, 0) / window < threshold) {
      this.solved = this.length;
      this.curve.push([this.sequences, this.length]);
      this.length++;
      this.recent.length = 0;
    }
    return this.done;
  }

  get done(): boolean {
    return this.sequences >= this.rule.budget || (this.rule.maxLength !== undefined && this.solved >= this.rule.maxLength);
  }
}
