/**
 * TrainerProgress on its own (no actors, no threads): what the trainer does with its stages'
 * reports. A step is finished when the slowest stage has reported it; then its metrics, and a cut
 * (checkpoint or epoch end), the end, or a stop's cut, as due. Commands and events are recorded.
 */
import { describe, expect, it } from 'vitest';
import type { TrainingState } from '../../lib/checkpoint/checkpoint.ts';
import { History, type StepMetrics } from '../../lib/history.ts';
import { fromArray } from '../../lib/matrix.ts';
import type { Model, ModelState } from '../../lib/model.ts';
import { Edge } from '../../actors/machines/events.ts';
import { QueueGauge } from '../../actors/stage/queueGauge.ts';
import type { StageCommand } from '../../actors/stage/stageProtocol.ts';
import { type EpochPlan, type ProgressEvent, type ProgressOptions, TrainerProgress } from '../../actors/trainer/trainerProgress.ts';

function progress(o: { steps: number; stages?: number; firstBatch?: number; checkpoints?: number[]; epochs?: EpochPlan }) {
  const commands: StageCommand[] = [],
    events: ProgressEvent[] = [],
    metrics: StepMetrics[] = [],
    saved: TrainingState[] = [];
  const network = { topology: { kind: 'test' }, params: { a: fromArray(1, 1, [0]), b: fromArray(1, 1, [0]) } } as unknown as Model;
  const history = new History(o.steps, [1], 1);
  const edge = new Edge<StepMetrics>('metrics');
  edge.subscribe((m) => metrics.push(m));
  const options: ProgressOptions = {
    network,
    history,
    metrics: edge,
    steps: o.steps,
    firstBatch: o.firstBatch ?? 0,
    stages: o.stages ?? 2,
    checkpoints: o.checkpoints ? { steps: o.checkpoints, save: (s) => void saved.push(s) } : null,
    epochs: o.epochs ?? null,
    gauge: new QueueGauge(),
    utilization: [],
    broadcast: (c) => void commands.push(c),
    send: (e) => void events.push(e),
  };
  return { p: new TrainerProgress(options), commands, events, metrics, saved, network, history };
}

const finished = (stage: number, batch: number) => ({ type: 'STEP_FINISHED' as const, stage, batch });
const loss = (batch: number, value: number) => ({
  type: 'LOSS' as const,
  kind: 'head' as const,
  index: 0,
  batch,
  loss: value,
  accuracy: 0.5,
});
const part = (key: string, v: number) => ({ params: { [key]: fromArray(1, 1, [v]) } }) as unknown as ModelState;

describe('TrainerProgress', () => {
  it('finishes a step when the slowest stage has reported it, in order, with its metrics; BATCHES_DONE after the last', () => {
    const { p, events, metrics } = progress({ steps: 3 });
    for (let t = 0; t < 3; t++) p.report(loss(t, t + 1));
    p.report(finished(0, 2)); // stage 0 ran ahead
    expect(metrics).toEqual([]);
    p.report(finished(1, 0));
    expect(metrics.map((m) => [m.batch, m.loss])).toEqual([[0, 1]]);
    expect(p.finishedThrough).toBe(0);
    p.report(finished(1, 2));
    expect(metrics.map((m) => [m.batch, m.loss])).toEqual([
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(events).toEqual([{ type: 'BATCHES_DONE' }]);
  });

  it("unpacks a worker stage's PROGRESS: its losses (cosine included) and its finished step", () => {
    const { p, metrics, history } = progress({ steps: 2, stages: 1 });
    const losses = Float64Array.from([0, 0, 0, 0.25, 0.75, NaN, 1, 0, 0, 0.5, NaN, 0.125]); // head 0; synthesizer 0 with its cosine
    p.report({ type: 'PROGRESS', stage: 0, finished: 0, losses });
    expect(metrics).toEqual([{ batch: 0, loss: 0.25, accuracy: 0.75, synthesizerLoss: 0.5 }]);
    expect(history.cosineOf(0, 0)).toBe(0.125);
  });

  it('allows the stages as far as the next cut: a checkpoint, an epoch end, or the end', () => {
    expect(progress({ steps: 10 }).p.firstAllow()).toEqual({ type: 'ALLOW', through: 9 });
    const cp = progress({ steps: 10, checkpoints: [4, 8] }).p;
    expect([cp.firstAllow(), cp.allowanceAfter(4), cp.allowanceAfter(8)]).toEqual([{ type: 'ALLOW', through: 3 }, 7, 9]);
    const ep = progress({ steps: 10, epochs: { length: 4, lrFactor: 0.5, end: () => 1 } }).p;
    expect([ep.firstAllow(), ep.allowanceAfter(4), ep.allowanceAfter(8)]).toEqual([{ type: 'ALLOW', through: 3, lrFactor: 0.5 }, 7, 9]);
    expect(progress({ steps: 10, firstBatch: 5, checkpoints: [4, 8] }).p.firstAllow()).toEqual({ type: 'ALLOW', through: 7 });
  });

  it("cuts at a checkpoint: CAPTURE once the step before is finished everywhere, saves the stages' shares merged, then ALLOW on", () => {
    const { p, commands, saved } = progress({ steps: 6, checkpoints: [2] });
    p.report(finished(0, 1));
    expect(commands).toEqual([]);
    p.report(finished(1, 1));
    expect(commands).toEqual([{ type: 'CAPTURE', step: 2 }]);
    p.report({ type: 'CUT', stage: 1, step: 2, state: part('b', 2) });
    expect(saved).toEqual([]); // one share of two
    p.report({ type: 'CUT', stage: 0, step: 2, state: part('a', 1) });
    expect(saved).toHaveLength(1);
    expect(saved[0]).toMatchObject({ step: 2, topology: { kind: 'test' }, rng: null, history: { losses: [0, 0] } });
    expect(Object.keys(saved[0].params).sort()).toEqual(['a', 'b']);
    expect(commands.at(-1)).toEqual({ type: 'ALLOW', through: 5 });
  });

  it('a failing save fails the training', () => {
    const { p, events } = progress({ steps: 4, stages: 1, checkpoints: [1] });
    (p as unknown as { o: ProgressOptions }).o.checkpoints!.save = () => {
      throw new Error('disk full');
    };
    p.report(finished(0, 0));
    p.report({ type: 'CUT', stage: 0, step: 1, state: part('a', 1) });
    expect(events).toEqual([{ type: 'FAIL', error: new Error('disk full') }]);
  });

  it('ends an epoch: END_EPOCH (after a microtask), the network takes the parameters, the plan says the next learning rates', async () => {
    const ended: [number, number][] = [];
    const { p, commands, network } = progress({
      steps: 6,
      epochs: { length: 2, lrFactor: 1, end: (epoch, step) => (ended.push([epoch, step]), 0.5) },
    });
    p.report(finished(0, 1));
    p.report(finished(1, 1));
    expect(commands).toEqual([]);
    await Promise.resolve();
    expect(commands).toEqual([{ type: 'END_EPOCH', step: 2 }]);
    p.report({ type: 'CUT', stage: 0, step: 2, state: part('a', 7) });
    p.report({ type: 'CUT', stage: 1, step: 2, state: part('b', 8) });
    expect(ended).toEqual([[1, 2]]);
    expect([network.params.a.data[0], network.params.b.data[0]]).toEqual([7, 8]);
    expect(commands.at(-1)).toEqual({ type: 'ALLOW', through: 3, lrFactor: 0.5 });
  });

  it('an epoch plan that rejects fails the training', async () => {
    const { p, events } = progress({ steps: 4, stages: 1, epochs: { length: 1, lrFactor: 1, end: () => Promise.reject(new Error('no')) } });
    p.report(finished(0, 0));
    await Promise.resolve();
    p.report({ type: 'CUT', stage: 0, step: 1, state: part('a', 1) });
    await new Promise((r) => setTimeout(r, 0));
    expect(events).toEqual([{ type: 'FAIL', error: new Error('no') }]);
  });

  it('stops at a consistent cut: HALT, then every stage catches up to the last batch any fed, then STOPPED', () => {
    const { p, commands, events } = progress({ steps: 100 });
    p.report(finished(0, 3));
    p.report(finished(1, 1));
    p.stop(false);
    p.stop(false); // once
    expect(commands).toEqual([{ type: 'HALT' }]);
    p.report({ type: 'HALTED', stage: 0, fed: 5 });
    p.report({ type: 'HALTED', stage: 1, fed: 4 });
    expect(commands.at(-1)).toEqual({ type: 'ALLOW', through: 5 });
    p.report(finished(0, 5));
    expect(events).toEqual([]);
    p.report(finished(1, 5));
    expect(events).toEqual([{ type: 'STOPPED' }]);
    expect(p.stopped).toEqual({ step: 6, saved: false });
  });

  it('a stop with a checkpoint saves the state at its cut, then STOPPED', () => {
    const { p, commands, events, saved } = progress({ steps: 100, stages: 1, checkpoints: [50] });
    p.report(finished(0, 2));
    p.stop(true);
    p.report({ type: 'HALTED', stage: 0, fed: 2 }); // already finished: the cut is reached at once
    expect(commands.at(-1)).toEqual({ type: 'CAPTURE', step: 3 });
    p.report({ type: 'CUT', stage: 0, step: 3, state: part('a', 1) });
    expect(saved.map((s) => s.step)).toEqual([3]);
    expect(events).toEqual([{ type: 'STOPPED' }]);
    expect(p.stopped).toEqual({ step: 3, saved: true });
  });

  it('a stop whose cut is a scheduled checkpoint already under way takes that capture: one CAPTURE, one save, STOPPED', () => {
    const { p, commands, events, saved } = progress({ steps: 100, stages: 1, checkpoints: [4] });
    p.report(finished(0, 3));
    expect(commands).toEqual([{ type: 'CAPTURE', step: 4 }]);
    p.stop(true);
    p.report({ type: 'HALTED', stage: 0, fed: 3 });
    expect(commands).toEqual([{ type: 'CAPTURE', step: 4 }, { type: 'HALT' }, { type: 'ALLOW', through: 3 }]);
    p.report({ type: 'CUT', stage: 0, step: 4, state: part('a', 1) });
    expect(saved.map((s) => s.step)).toEqual([4]);
    expect(events).toEqual([{ type: 'STOPPED' }]);
    expect(p.stopped).toEqual({ step: 4, saved: true });
    expect(commands.filter((c) => c.type === 'ALLOW')).toEqual([{ type: 'ALLOW', through: 3 }]); // nothing let on past the cut
  });

  it("a stop as an epoch ends: no END_EPOCH, the plan is not asked, STOPPED at the epoch's end", async () => {
    const asked: number[] = [];
    const { p, commands, events } = progress({
      steps: 10,
      stages: 1,
      epochs: { length: 2, lrFactor: 1, end: (epoch) => (asked.push(epoch), 1) },
    });
    p.report(finished(0, 1)); // the epoch ends before step 2: END_EPOCH waits for a microtask
    p.stop(false);
    await Promise.resolve();
    expect(commands).toEqual([{ type: 'HALT' }]);
    p.report({ type: 'HALTED', stage: 0, fed: 1 });
    expect(events).toEqual([{ type: 'STOPPED' }]);
    expect(p.stopped).toEqual({ step: 2, saved: false });
    expect(asked).toEqual([]);
  });

  it('the last step ends the training even where a checkpoint or an epoch end would cut', async () => {
    for (const o of [{ checkpoints: [2, 4] }, { epochs: { length: 2, lrFactor: 1, end: () => 1 } }]) {
      const { p, commands, events } = progress({ steps: 4, stages: 1, ...o });
      p.report(finished(0, 1));
      await Promise.resolve();
      const cut = commands.length;
      expect(cut).toBe(1); // CAPTURE or END_EPOCH before step 2
      p.report({ type: 'CUT', stage: 0, step: 2, state: part('a', 1) });
      p.report(finished(0, 3));
      await Promise.resolve();
      expect(commands.slice(cut).map((c) => c.type)).toEqual(['ALLOW']); // no cut before step 4: the end
      expect(events).toEqual([{ type: 'BATCHES_DONE' }]);
    }
  });

  it('refuses checkpoints in a training in epochs', () => {
    expect(() => progress({ steps: 4, checkpoints: [2], epochs: { length: 2, lrFactor: 1, end: () => 1 } })).toThrow(
      /a training in epochs saves no checkpoints/,
    );
  });

  it('ignores whatever comes after the end', () => {
    const { p, metrics, events } = progress({ steps: 3, stages: 1 });
    p.end();
    p.report(finished(0, 2));
    p.report({ type: 'FAILED', stage: 0, error: new Error('late') });
    expect([metrics, events]).toEqual([[], []]);
  });
});
