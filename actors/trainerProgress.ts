/**
 * What the trainer does with its stages' reports (the stage protocol, stageProtocol.ts): it
 * records losses, turns every stage's STEP_FINISHED into finished steps (a step is finished when
 * the slowest stage has reported it), and from the finished steps decides everything else: each
 * step's metrics, a checkpoint cut when one is due (CAPTURE, then save the stages' shares, then
 * ALLOW them on), the end (BATCHES_DONE), and a stop at a consistent cut (HALT, then the cut after
 * the last batch any stage fed). Lifecycle outcomes go to the trainer as events; the rest is plain
 * calls, since it happens every step.
 */
import type { TrainingState } from '../lib/checkpoint.ts';
import type { History, StepMetrics } from '../lib/history.ts';
import { type Model, type ModelState, mergeModelStates, takeBackState } from '../lib/model.ts';
import type { Edge } from './events.ts';
import type { TraceEvent } from './inspection.ts';
import type { QueueGauge } from './queueGauge.ts';
import type { StageCommand, StageReport } from './stageProtocol.ts';

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

  constructor(private readonly o: ProgressOptions) {
    this.reported = new Array<number>(o.stages).fill(o.firstBatch - 1);
    this.finished = o.firstBatch - 1;
  }

  /** The last batch the stages may feed before a cut is due (or the last batch). */
  allowanceAfter(step: number): number {
    const next = this.o.checkpoints?.steps.find((c) => c > step);
    return (next ?? this.o.steps) - 1;
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

  report = (r: StageReport): void => {
    if (this.ended) return;
    const o = this.o;
    switch (r.type) {
      case 'LOSS':
        if (r.kind === 'head') o.history.recordHeadLoss(r.index, r.batch, r.loss, r.accuracy);
        else if (r.kind === 'aux') o.history.recordAuxLoss(r.index, r.batch, r.loss);
        else o.history.recordSynthesizerLoss(r.index, r.batch, r.loss);
        return;
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
    this.stopping = { checkpoint: checkpoint && this.o.checkpoints !== null, halted: 0, fed: this.o.firstBatch - 1, cut: null, saved: false, ending: false };
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
    }
  }

  private capture(step: number): void {
    this.capturing = step;
    this.o.broadcast({ type: 'CAPTURE', step });
  }

  private cut(step: number, part: ModelState): void {
    const o = this.o;
    const all = [...(this.parts.get(step) ?? []), part];
    if (all.length < o.stages) return void this.parts.set(step, all);
    this.parts.delete(step);
    this.capturing = -1;
    const merged = mergeModelStates(all);
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
