/**
 * Which window each training step is, and its data: step s is window `s mod W` of batch
 * `floor(s / W)` (W = ceil(L / T)); batch j is sequences `[(j mod N/B) B, +B)` (docs/maths.md). The
 * actors of a recurrent network each read what they need for a step from here: the first core its
 * window's inputs, the readout its targets and mask, every core and synthesizer whether the window
 * is a sequence's first (no refit) or last (no prediction). Windows are gathered once per step
 * into a ring of `depth` slots (a step's window stays valid while the step is in flight).
 */
import { type Matrix, release, zeros } from '../matrix.ts';
import { type Sequences, gatherWindow, sequenceBatches } from './sequences.ts';
import type { RecurrentLoss, RecurrentTopology } from './topology.ts';

export interface WindowInfo {
  readonly step: number;
  readonly batch: number;
  /** the window's index in its sequence, and how many windows a sequence has */
  readonly window: number;
  readonly windows: number;
  /** steps in the window (T, or fewer for a sequence's last window) */
  readonly n: number;
  /** a sequence's first window: it starts from a zero state, and its boundary refits nothing */
  readonly first: boolean;
  /** a sequence's last window: its boundary predicts nothing (no future within the sequence) */
  readonly last: boolean;
}

interface Slot {
  step: number;
  readonly x: Matrix;
  readonly y: Matrix;
  readonly mask: Float32Array;
}

export class WindowSchedule {
  readonly windows: number;
  private readonly batches: number;
  private readonly slots: Slot[];

  constructor(
    readonly data: Sequences,
    readonly topology: RecurrentTopology,
    depth: number,
  ) {
    const T = topology.truncation,
      B = topology.batch;
    this.windows = Math.ceil(data.length / T);
    this.batches = sequenceBatches(data, B);
    this.slots = Array.from({ length: depth }, () => ({
      step: -1,
      x: zeros(T * B, data.inputs),
      y: zeros(T * B, data.outputs),
      mask: new Float32Array(T * B),
    }));
  }

  info(step: number): WindowInfo {
    const T = this.topology.truncation,
      W = this.windows;
    const batch = Math.floor(step / W),
      window = step % W;
    return { step, batch, window, windows: W, n: Math.min(T, this.data.length - window * T), first: window === 0, last: window === W - 1 };
  }

  /** Step `step`'s window: inputs (n·B × in), targets (n·B × out) and mask, step-major. */
  window(step: number): { x: Matrix; y: Matrix; mask: Float32Array } {
    const slot = this.slots[step % this.slots.length],
      B = this.topology.batch,
      T = this.topology.truncation;
    const { window, n } = this.info(step);
    if (slot.step !== step) {
      const first = (Math.floor(step / this.windows) % this.batches) * B;
      gatherWindow(this.data, first, B, window * T, n, slot.x.data, slot.y.data, slot.mask);
      slot.step = step;
    }
    const view = (m: Matrix): Matrix => ({ rows: n * B, cols: m.cols, data: m.data.subarray(0, n * B * m.cols) });
    return { x: view(slot.x), y: view(slot.y), mask: slot.mask.subarray(0, n * B) };
  }

  dispose(): void {
    for (const s of this.slots.splice(0)) (release(s.x), release(s.y));
  }
}

/**
 * The share of a window's scored outputs the readout got right, on the steps whose mask is not 0:
 * for the sigmoid and mse losses each output bit (right when the output and the target are on the
 * same side of 0.5), for softmax each step (right when the largest output is the target's). 1 for
 * a window with no scored step.
 */
export function windowAccuracy(outputs: Matrix, y: Matrix, mask: Float32Array, loss: RecurrentLoss): number {
  const O = outputs.data,
    Y = y.data,
    w = outputs.cols;
  let right = 0,
    total = 0;
  for (let r = 0; r < mask.length; r++) {
    if (mask[r] === 0) continue;
    if (loss === 'softmax-cross-entropy') {
      let best = r * w,
        target = r * w;
      for (let j = r * w + 1; j < (r + 1) * w; j++) {
        if (O[j] > O[best]) best = j;
        if (Y[j] > Y[target]) target = j;
      }
      right += best === target ? 1 : 0;
      total++;
      continue;
    }
    for (let j = r * w; j < (r + 1) * w; j++) right += O[j] > 0.5 === Y[j] > 0.5 ? 1 : 0;
    total += w;
  }
  return total === 0 ? 1 : right / total;
}
