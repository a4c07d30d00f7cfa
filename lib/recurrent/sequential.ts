/**
 * Truncated BPTT with synthetic gradients at the boundaries (docs/maths.md "Recurrent interfaces") in
 * a bare loop: one step = one window. With a fixed data set, step s is window `s mod W` of batch
 * `floor(s / W)` (W = ceil(L / T)) and batch j is sequences `[(j mod N/B) B, +B)`; a data source
 * function instead gives batch j's B sequences when its first window comes (a curriculum).
 *
 * A step, in docs/maths.md's order, for each layer ℓ from the bottom:
 * (1) `forwardWindow` from the carried state; on a decoupled interface above ℓ, the interface
 *     synthesizer predicts dL/dh_t for the window and ℓ goes on to (2)–(5) at once;
 * then the readout's loss and `dh_t`, and from the top down for every layer not yet updated:
 * (2) ĝ = its boundary synthesizer's prediction from h_last (none after a sequence's last window);
 * (3) `backwardWindow` (BPTT, ĝ added at h_last) → δ_in; its input gradient goes to the layer below,
 *     or, when that interface is decoupled, is the interface synthesizer's refit target;
 * (4) for window k > 0 the boundary synthesizer's refit on (h_in, δ_in);
 * (5) the layer's parameter step; last, the readout's.
 * When training ends every pending refit is applied. The actors drive the same objects in the same
 * per-object order, so they must match this loop bit for bit.
 */
import { type Matrix, release, zeros } from '../matrix.ts';
import type { RecurrentNetwork } from './network.ts';
import { type Sequences, gatherWindow, sequenceBatches, validateSequences } from './sequences.ts';

/** Batch j's B sequences (all of one length), for data generated as training goes. */
export type SequenceSource = (batch: number) => Sequences;

export interface RecurrentHistory {
  /** the readout loss of each step's window */
  readonly losses: Float64Array;
  /** sum over synthesizers of the loss of each step's refits (0 where there is none) */
  readonly synthesizerLosses: Float64Array;
  /** sum over layers of each step's aux loss (0 without aux) */
  readonly auxLosses: Float64Array;
}

/** Where the loop is between steps: what a checkpoint keeps besides the network's snapshot. */
export interface RecurrentLoopState {
  readonly step: number;
  /** the batch and window the next step runs */
  readonly batch: number;
  readonly window: number;
}

export interface RecurrentStepInfo {
  readonly step: number;
  readonly batch: number;
  readonly window: number;
  /** windows in this batch's sequences */
  readonly windows: number;
  readonly loss: number;
  /** the readout's outputs for the window (n·B × out, step-major) and its targets and mask */
  readonly outputs: Matrix;
  readonly y: Matrix;
  readonly mask: Float32Array;
}

export interface RecurrentLoopOptions {
  /** continue from a loop state (with the network restored from the matching snapshot) */
  from?: RecurrentLoopState;
  /** after each step; return true to stop there (the pending refits are still drained) */
  onStep?: (info: RecurrentStepInfo) => boolean | void;
  /** drain pending refits at the end (default true; false to checkpoint mid-training) */
  drain?: boolean;
  /** keep per-step losses (default true; false for open-ended runs that stop from `onStep`: the arrays are empty) */
  history?: boolean;
}

export interface RecurrentRun extends RecurrentHistory {
  /** steps run, and where a continuation would start */
  readonly steps: number;
  readonly next: RecurrentLoopState;
}

/**
 * Train `net` in place for `steps` windows. Returns per-step losses, synthesizer and aux losses.
 *
 * @example
 * const topology = defineRecurrent({ inputs: 9, hidden: 32, outputs: 8, truncation: 3, batch: 8, dni: true });
 * const net = buildRecurrentNetwork(topology, initRecurrentParameters(topology, 1));
 * const run = trainRecurrentSequential(net, copyTask({ sequences: 40, length: 5, width: 8, seed: 1 }), 200);
 */
export function trainRecurrentSequential(
  net: RecurrentNetwork,
  data: Sequences | SequenceSource,
  steps: number,
  options: RecurrentLoopOptions = {},
): RecurrentRun {
  const t = net.topology,
    B = t.batch,
    T = t.truncation;
  if (!Number.isInteger(steps) || steps < 0) throw new RangeError(`recurrent training: steps must be an integer >= 0, got ${steps}`);
  const source: SequenceSource = typeof data === 'function' ? data : fixedSource(data, B);
  if (typeof data !== 'function') validateSequences(data, t);
  const xBuf = zeros(T * B, t.inputs),
    yBuf = zeros(T * B, t.outputs),
    mBuf = new Float32Array(T * B);
  const views = Array.from({ length: T + 1 }, (_, n) => ({
    x: { rows: n * B, cols: t.inputs, data: xBuf.data.subarray(0, n * B * t.inputs) },
    y: { rows: n * B, cols: t.outputs, data: yBuf.data.subarray(0, n * B * t.outputs) },
  }));
  const kept = (options.history ?? true) ? steps : 0;
  const losses = new Float64Array(kept),
    synthesizerLosses = new Float64Array(kept),
    auxLosses = new Float64Array(kept);
  const from = options.from ?? { step: 0, batch: 0, window: 0 };
  const record = (s: number, loss: number) => {
    const i = s - from.step;
    if (i >= 0 && i < kept) synthesizerLosses[i] += loss;
  };
  for (const s of [...net.synthesizers, ...net.interfaces]) if (s) s.onLoss = record;

  const { layers, synthesizers, interfaces, head } = net;
  const top = layers.length - 1;
  let j = from.batch,
    k = from.window,
    seqs: Sequences | null = null,
    run = 0;
  for (; run < steps; run++) {
    const s = from.step + run;
    if (seqs === null || k === 0) {
      seqs = source(j);
      if (typeof data === 'function') {
        validateSequences(seqs, t);
        if (seqs.x.rows !== B)
          throw new RangeError(`recurrent training: the source gave ${seqs.x.rows} sequences for batch ${j}, expected ${B}`);
      }
    }
    const W = Math.ceil(seqs.length / T),
      n = Math.min(T, seqs.length - k * T);
    const first = typeof data === 'function' ? 0 : (j % sequenceBatches(data, B)) * B;
    gatherWindow(seqs, typeof data === 'function' ? 0 : first, B, k * T, n, xBuf.data, yBuf.data, mBuf);
    const hasPrediction = k < W - 1,
      hasRefit = k > 0;
    const outputs: Matrix[] = [];
    let aux = 0;

    // (2)–(5) for layer ℓ given dL/dh_t from above; its input gradient goes down
    const backward = (l: number, fromAbove: Matrix): void => {
      const layer = layers[l],
        synth = synthesizers[l];
      const gHat = synth && hasPrediction ? synth.predict(s, layer.boundaryState()) : null;
      const deltaIn = layer.backwardWindow(s, gHat, fromAbove);
      aux += layer.auxLoss;
      if (synth && hasRefit) synth.refit(s, layer.inputState(), deltaIn);
      if (l > 0) {
        const dx = layer.inputGradient();
        if (interfaces[l - 1]) interfaces[l - 1]!.refit(s, outputs[l - 1], dx);
        else backward(l - 1, dx);
      }
      layer.updateParameters(s);
    };

    let input: Matrix = views[n].x;
    for (let l = 0; l <= top; l++) {
      const h = layers[l].forwardWindow(s, input, k === 0);
      outputs.push(h);
      const above = interfaces[l];
      if (above) backward(l, above.predict(s, h));
      input = h;
    }
    const loss = head.forward(s, outputs[top], views[n].y, mBuf);
    backward(top, head.backward(s));
    head.updateParameters(s);
    // every layer's backward has run (and added its aux loss) by now
    if (run < kept) ((losses[run] = loss), (auxLosses[run] = aux));

    const stop = options.onStep?.({
      step: s,
      batch: j,
      window: k,
      windows: W,
      loss,
      outputs: head.outputs(),
      y: views[n].y,
      mask: mBuf.subarray(0, n * B),
    });
    if (++k === W) ((k = 0), j++);
    if (stop) {
      run++;
      break;
    }
  }
  if (options.drain ?? true) for (const s of [...synthesizers, ...interfaces]) s?.drain();
  for (const s of [...synthesizers, ...interfaces]) if (s) s.onLoss = null;
  release(xBuf);
  release(yBuf);
  const cut = (a: Float64Array) => (run >= kept ? a : a.slice(0, run));
  return {
    losses: cut(losses),
    synthesizerLosses: cut(synthesizerLosses),
    auxLosses: cut(auxLosses),
    steps: run,
    next: { step: from.step + run, batch: j, window: k },
  };
}

/** docs/maths.md's batch order over a fixed data set: batch j is sequences [(j mod N/B) B, +B). */
function fixedSource(data: Sequences, _B: number): SequenceSource {
  return () => data;
}
