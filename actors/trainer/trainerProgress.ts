/**
 * What the trainer does with its stages' reports (the stage protocol, stageProtocol.ts): it
 * records losses, turns every stage's STEP_FINISHED into finished steps (a step is finished when
 * the slowest stage has reported it), and from the finished steps decides everything else: each
 * step's metrics, a checkpoint cut when one is due (CAPTURE, then save the stages' shares, then
 * ALLOW them on), an epoch's end when the training has epochs (END_EPOCH: the stages apply their
 * pending refits and send their parameters; the trainer's network takes them, the epoch plan's
 * `end` runs — fit() evaluates, reorders the data — and its learning-rate factor goes with the
 * ALLOW that lets the stages on), the end (BATCHES_DONE), and a stop at a consistent cut (HALT,
 * then the cut after the last batch any stage fed). Lifecycle outcomes go to the trainer as
 * events; the rest is plain calls, since it happens every step.
 */
import type { TrainingState } from '../../lib/checkpoint/checkpoint.ts';
import type { History, StepMetrics } from '../../lib/history.ts';
import { type Model, type ModelState, mergeModelStates, takeBackState } from '../../lib/model.ts';
import type { ParameterSet } from '../../lib/params.ts';
import type { Edge, LossMessage } from '../machines/events.ts';
import type { TraceEvent } from '../inspect/inspection.ts';
import type { QueueGauge } from '../stage/queueGauge.ts';
import { LOSS_FIELDS, LOSS_KINDS, type ProgressReport, type StageCommand, type StageReport } from '../stage/stageProtocol.ts';

/**
 * A training in epochs (fit.ts): the stages pause at every epoch's end, apply their synthesizers'
 * pending refits there as a training's end does, and go on once `end` has said at what learning
 * rates. The threads of worker stages stay up from the first epoch to the last.
 */
export interface EpochPlan {
  /** batches per epoch (the last epoch may be cut short by the training's steps) */
  readonly length: number;
  /** the first epoch's factor on every learning rate of the topology */
  readonly lrFactor: number;
  /**
   * Epoch `epoch` (from 1) ended before batch `step`: every batch before it is finished, every
   * refit applied, and the trainer's network holds the parameters. Returns the next epoch's
   * learning-rate factor; the stages wait until it settles (a rejection fails the training).
   */
  end(epoch: number, step: number, trained: EpochTrained): number | Promise<number>;
}

/** What an epoch's end hands its plan (to read, not to keep): the history so far and the parameters the trainer's network holds. */
export interface EpochTrained {
  readonly history: History;
  readonly params: ParameterSet;
}

/** What progress tells its trainer. */
export type ProgressEvent =
  | { type: 'BATCHES_DONE' }
  | { type: 'STOPPED' }
  | { type: 'FAIL'; error: unknown }
  | { type: 'STAGE_DRAINED'; stage: number }
  | { type: 'STAGE_FAILED'; stage: number; error: unknown };

export interface ProgressOptions {
  network: Model;
  history: History;
  metrics: Edge<StepMetrics>;
  steps: number;
  firstBatch: number;
  /** how many stages report */
  stages: number;
  /** steps to cut at, and what to do with the state there (null: no checkpoints) */
  checkpoints: { steps: readonly number[]; save: (state: TrainingState) => void } | null;
  /** epochs, or null (a training with epochs saves no checkpoints) */
  epochs?: EpochPlan | null;
  gauge: QueueGauge;
  utilization: number[];
  relay?: (line: TraceEvent) => void;
  /** a command to every stage */
  broadcast: (c: StageCommand) => void;
  /** an event to the trainer */
  send: (e: ProgressEvent) => void;
}

/** A stop under way: the stages halted so far, the last batch any of them fed, where it ends. */
interface Stop {
  readonly checkpoint: boolean;
  halted: number;
  fed: number;
  /** the first batch not trained, once every stage has halted */
  cut: number | null;
  /** whether the state at the cut was saved */
  saved: boolean;
  /** the cut is reached (and its state being saved, when asked) */
  ending: boolean;
}

export class TrainerProgress {
  /** the last batch each stage has reported finished */
  private readonly reported: number[];
  /** every batch up to this one is finished everywhere */
  private finished: number;
  /** each stage's share of a cut, until every stage has sent its own */
  private readonly parts = new Map<number, ModelState[]>();
  private stopping: Stop | null = null;
  /** the trainer has ended: late reports (a stage still unwinding) change nothing */
  private ended = false;
  /** the cut whose state the stages are sending, or -1 */
  private capturing = -1;
  /** whether that cut ends an epoch (else it is a checkpoint's) */
  private epochEnd = false;

  constructor(private readonly o: ProgressOptions) {
    if (o.epochs && o.checkpoints) throw new Error('training: a training in epochs saves no checkpoints');
    this.reported = new Array<number>(o.stages).fill(o.firstBatch - 1);
    this.finished = o.firstBatch - 1;
  }

  /** The last batch the stages may feed before a cut is due (or the last batch). */
  allowanceAfter(step: number): number {
    const epochs = this.o.epochs;
    const next = epochs
      ? Math.max(epochs.length, (Math.floor(step / epochs.length) + 1) * epochs.length)
      : this.o.checkpoints?.steps.find((c) => c > step);
    return Math.min(next ?? this.o.steps, this.o.steps) - 1;
  }

  /** The first ALLOW: as far as the first cut, at the first epoch's learning rates. */
  firstAllow(): StageCommand {
    const through = this.allowanceAfter(this.o.firstBatch - 1);
    return this.o.epochs ? { type: 'ALLOW', through, lrFactor: this.o.epochs.lrFactor } : { type: 'ALLOW', through };
  }

  /** Every batch before `step` is finished everywhere. */
  get finishedThrough(): number {
    return this.finished;
  }

  /** Where the stop ended (after STOPPED): its cut, and whether the state there was saved. */
  get stopped(): { step: number; saved: boolean } | null {
    const s = this.stopping;
    return s && s.cut !== null ? { step: s.cut, saved: s.saved } : null;
  }

  report = (r: StageReport | ProgressReport): void => {
    if (this.ended) return;
    const o = this.o;
    switch (r.type) {
      case 'LOSS':
        return this.recordLoss(r.kind, r.index, r.batch, r.loss, r.accuracy, r.cosine ?? NaN);
      case 'PROGRESS': {
        // a worker stage's losses and finished steps since its last report (unpacked here: no object per loss)
        const l = r.losses;
        for (let at = 0; at + LOSS_FIELDS <= l.length; at += LOSS_FIELDS)
          this.recordLoss(LOSS_KINDS[l[at]], l[at + 1], l[at + 2], l[at + 3], l[at + 4], l[at + 5]);
        return this.stageFinished(r.stage, r.finished);
      }
      case 'STEP_FINISHED':
        return this.stageFinished(r.stage, r.batch);
      case 'CUT':
        return this.cut(r.step, r.state);
      case 'HALTED':
        return this.halted(r.fed);
      case 'DRAINED': {
        // a worker trained copies: take its actors' parameters and optimiser states back
        takeBackState(o.network, r.state);
        o.gauge.merge(r.queues);
        if (r.utilization !== null) o.utilization[r.stage] = r.utilization;
        return o.send({ type: 'STAGE_DRAINED', stage: r.stage });
      }
      case 'FAILED':
        return o.send({ type: 'STAGE_FAILED', stage: r.stage, error: r.error });
      case 'TRACE':
        return o.relay && r.events.forEach(o.relay);
    }
  };

  private recordLoss(kind: LossMessage['kind'], index: number, batch: number, loss: number, accuracy: number, cosine: number): void {
    const h = this.o.history;
    if (kind === 'head') h.recordHeadLoss(index, batch, loss, accuracy);
    else if (kind === 'aux') h.recordAuxLoss(index, batch, loss);
    else h.recordSynthesizerLoss(index, batch, loss, cosine);
  }

  /** The trainer has ended (done, stopped or failed): ignore whatever still comes. */
  end(): void {
    this.ended = true;
  }

  /**
   * Stop at a consistent cut: the stages feed nothing new, every batch any of them fed finishes
   * everywhere, and (with `checkpoint`, when the training saves checkpoints) the state there is
   * saved; then STOPPED.
   */
  stop(checkpoint: boolean): void {
    if (this.stopping) return;
    this.stopping = {
      checkpoint: checkpoint && this.o.checkpoints !== null,
      halted: 0,
      fed: this.o.firstBatch - 1,
      cut: null,
      saved: false,
      ending: false,
    };
    this.o.broadcast({ type: 'HALT' });
  }

  private stageFinished(stage: number, batch: number): void {
    const o = this.o;
    this.reported[stage] = batch;
    let upTo = this.reported[0];
    for (let k = 1; k < this.reported.length; k++) if (this.reported[k] < upTo) upTo = this.reported[k];
    while (this.finished < upTo) {
      const t = ++this.finished;
      o.metrics.next(o.history.finish(t));
      if (this.stopping) {
        if (this.stopping.cut === t + 1) this.endStop();
      } else if (t + 1 >= o.steps) o.send({ type: 'BATCHES_DONE' });
      else if (o.checkpoints?.steps.includes(t + 1)) this.capture(t + 1);
      else if (o.epochs && (t + 1) % o.epochs.length === 0) this.endEpoch(t + 1);
    }
  }

  private capture(step: number): void {
    this.capturing = step;
    this.epochEnd = false;
    this.o.broadcast({ type: 'CAPTURE', step });
  }

  /**
   * An epoch ends before `step`. The command waits for a microtask: the report that finished the
   * step comes from inside an actor's transition (an in-thread stage), and the synthesizers must
   * be between transitions to flush.
   */
  private endEpoch(step: number): void {
    this.capturing = step;
    this.epochEnd = true;
    queueMicrotask(() => this.ended || this.stopping || this.o.broadcast({ type: 'END_EPOCH', step }));
  }

  private cut(step: number, part: ModelState): void {
    const o = this.o;
    const all = [...(this.parts.get(step) ?? []), part];
    if (all.length < o.stages) return void this.parts.set(step, all);
    this.parts.delete(step);
    this.capturing = -1;
    const merged = mergeModelStates(all);
    if (this.epochEnd) return this.epochEnded(step, merged);
    try {
      o.checkpoints!.save({ topology: o.network.topology, step, ...merged, history: o.history.snapshot(step), rng: null } as TrainingState);
    } catch (error) {
      return o.send({ type: 'FAIL', error });
    }
    const stop = this.stopping;
    if (stop && stop.cut === step) {
      stop.saved = true;
      return o.send({ type: 'STOPPED' });
    }
    o.broadcast({ type: 'ALLOW', through: this.allowanceAfter(step) });
  }

  /** Every stage has applied its refits and sent its parameters: hand the epoch to its plan, then let the stages on. */
  private epochEnded(step: number, state: ModelState): void {
    const o = this.o,
      epochs = o.epochs!;
    if (this.stopping) return;
    // worker stages trained copies: the trainer's network takes their parameters (an in-thread stage's are these already)
    for (const [k, m] of Object.entries(state.params)) if (o.network.params[k].data !== m.data) o.network.params[k].data.set(m.data);
    const go = (lrFactor: number) => {
      if (this.ended || this.stopping) return;
      o.broadcast({ type: 'ALLOW', through: this.allowanceAfter(step), lrFactor });
    };
    const fail = (error: unknown) => this.ended || o.send({ type: 'FAIL', error });
    try {
      const next = epochs.end(step / epochs.length, step, { history: o.history, params: o.network.params as ParameterSet });
      if (typeof next === 'number') go(next);
      else Promise.resolve(next).then(go, fail);
    } catch (error) {
      fail(error);
    }
  }

  private halted(fed: number): void {
    const stop = this.stopping!;
    stop.fed = Math.max(stop.fed, fed);
    if (++stop.halted < this.o.stages) return;
    stop.cut = stop.fed + 1;
    // stages that fed less catch up to the cut (their layers that read the data lag), no further
    this.o.broadcast({ type: 'ALLOW', through: stop.fed });
    if (this.finished === stop.fed) this.endStop();
  }

  private endStop(): void {
    const stop = this.stopping!;
    if (stop.ending) return;
    stop.ending = true;
    if (!stop.checkpoint) return this.o.send({ type: 'STOPPED' });
    // a scheduled cut at the same step may be under way already: its state is the stop's
    if (this.capturing !== stop.cut) this.capture(stop.cut!);
  }
}
