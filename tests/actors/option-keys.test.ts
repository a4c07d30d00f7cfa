/**
 * Misspelt options of a training are refused by name, before any work, with the option meant
 * when one is close: plain JavaScript has no type checker, and `schedular: 'worker'` would
 * otherwise train on the default scheduler without a word. The same for the objects inside them
 * (the worker scheduler's, the checkpoint's) and for what watches a training.
 */
import { mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCurriculum } from '../../actors/trainer/curriculum.ts';
import { fit } from '../../actors/trainer/fit.ts';
import { createTraceRecorder, traceObserver } from '../../actors/inspect/inspection.ts';
import { attachStatelyInspector } from '../../actors/inspect/stately.ts';
import { createTraining, train, trainWithRestarts } from '../../actors/trainer/training.ts';
import { binaryAddition } from '../../lib/datasets/binaryAddition.ts';
import { TopologyError, TrainingOptionsError } from '../../lib/errors.ts';
import { copyExperimentTopology, runCurriculum } from '../../lib/recurrent/curriculum.ts';
import { defineTopology } from '../../lib/topology.ts';
import { closest } from '../../lib/validate.ts';
import { serveLiveInspector } from '../../tools/inspector/live.ts';

const topology = defineTopology({
  inputs: 24,
  batch: 10,
  lr: 0.5,
  layers: [
    { units: 8, activation: 'sigmoid', decoupled: true },
    { units: 12, activation: 'sigmoid' },
  ],
});
const data = binaryAddition(40, 12, 1);
const base = { topology, data, steps: 4 };
const dir = mkdtempSync(join(tmpdir(), 'dni-option-keys-'));

/** The error `f` throws (or its promise rejects with). */
async function errorOf(f: () => unknown): Promise<Error> {
  try {
    await f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('it did not throw');
}

describe('unknown training options', () => {
  it.each([
    [
      'createTraining',
      () => createTraining({ ...base, schedular: 'worker' } as never),
      "training: unknown option 'schedular' (it takes topology, data, steps, params, seed, optimizerState, scheduler, relay, inspect, " +
        "resume, checkpoint, interpreter, signal); did you mean 'scheduler'?",
    ],
    ['train', () => train({ ...base, stpes: 4 } as never), "training: unknown option 'stpes'"],
    [
      'the worker scheduler',
      () => createTraining({ ...base, scheduler: { name: 'worker', stage: 2 } } as never),
      "training: scheduler: unknown option 'stage' (it takes name, stages, pool); did you mean 'stages'?",
    ],
    [
      'the checkpoint',
      () => createTraining({ ...base, checkpoint: { path: join(dir, 'a.ckpt'), evry: 2 } } as never),
      "training: checkpoint: unknown option 'evry' (it takes path, at, every, onSaved, onStop); did you mean 'every'?",
    ],
    [
      'stop()',
      () => createTraining(base).stop({ checkpiont: false } as never),
      "training.stop: unknown option 'checkpiont' (it takes checkpoint, reason); did you mean 'checkpoint'?",
    ],
    ['fit', () => fit({ topology, train: data, epochs: 1, validaton: data } as never), "fit: unknown option 'validaton'"],
    [
      'fit: the checkpoint it does not take',
      () => fit({ topology, train: data, epochs: 1, checkpoint: { path: 'x' } } as never),
      "fit: unknown option 'checkpoint'",
    ],
    [
      'fit: the worker scheduler',
      () => fit({ topology, train: data, epochs: 1, scheduler: { name: 'worker', stagse: 2 } } as never),
      "fit: scheduler: unknown option 'stagse' (it takes name, stages, pool); did you mean 'stages'?",
    ],
    [
      'trainWithRestarts',
      () => trainWithRestarts({ ...base, checkpoint: { path: join(dir, 'b.ckpt') }, schedulr: 'async' } as never),
      "trainWithRestarts: unknown option 'schedulr'",
    ],
    [
      'trainWithRestarts: restart',
      () => trainWithRestarts({ ...base, checkpoint: { path: join(dir, 'c.ckpt') } }, { attempt: 2 } as never),
      "trainWithRestarts: restart: unknown option 'attempt' (it takes attempts, onAttempt); did you mean 'attempts'?",
    ],
    [
      'trainCurriculum',
      () => trainCurriculum(copyExperimentTopology('copy', 'dni', 3), { budget: 10, seed: 1, treshold: 0.1 } as never),
      "trainCurriculum: unknown option 'treshold'",
    ],
    [
      'runCurriculum',
      () => runCurriculum(copyExperimentTopology('copy', 'dni', 3), { budget: 10, seed: 1, maxlength: 3 } as never),
      "runCurriculum: unknown option 'maxlength'",
    ],
    [
      'createTraceRecorder',
      () => createTraceRecorder({ write: () => {}, samples: 10 } as never),
      "createTraceRecorder: unknown option 'samples' (it takes file, write, meta, sample, thread); did you mean 'sample'?",
    ],
    ['traceObserver', () => traceObserver(() => {}, { thred: 'worker:1' } as never), "traceObserver: unknown option 'thred'"],
    ['serveLiveInspector', () => serveLiveInspector({ prot: 0 } as never), "serveLiveInspector: unknown option 'prot'"],
    ['attachStatelyInspector', () => attachStatelyInspector({ prot: 0 } as never), "attachStatelyInspector: unknown option 'prot'"],
  ])('%s: a TrainingOptionsError naming the option, before any work', async (_, f, message) => {
    const e = await errorOf(f);
    expect(e).toBeInstanceOf(TrainingOptionsError);
    expect(e.message).toContain(message);
    expect(readdirSync(dir)).toEqual([]); // no checkpoint, no trace file
  });

  it('several unknown options are all named; one far from every known one gets no guess', async () => {
    const e = await errorOf(() => createTraining({ ...base, schedular: 'async', colour: 'red' } as never));
    expect(e.message).toMatch(/^training: unknown option 'schedular', 'colour' \(it takes .*\); did you mean 'scheduler'\?$/);
    expect((await errorOf(() => createTraining({ ...base, colour: 'red' } as never))).message).not.toContain('did you mean');
  });

  it('options that are not an object are refused by name', async () => {
    expect((await errorOf(() => createTraining(null as never))).message).toBe('training: the options must be an object, got null');
    expect((await errorOf(() => createTraining({ ...base, checkpoint: 'run.ckpt' } as never))).message).toContain('checkpoint');
  });

  it('a key set to undefined is an option left out, as the types allow', async () => {
    await expect(train({ ...base, scheduler: undefined, checkpoint: undefined })).resolves.toMatchObject({ steps: 4 });
  });

  it('topology specs say which option was meant too', () => {
    expect(() => defineTopology({ inputs: 2, batch: 1, layers: [{ units: 2, activaton: 'tanh' }] } as never)).toThrow(TopologyError);
    expect(() => defineTopology({ inputs: 2, batch: 1, layers: [{ units: 2, activaton: 'tanh' }] } as never)).toThrow(
      /layer 0: unknown option 'activaton' \(it takes .*\); did you mean 'activation'\?$/,
    );
  });

  it('closest: a few letters apart, transpositions and case count one; far words none', () => {
    expect(closest('schedular', ['steps', 'scheduler'])).toBe('scheduler');
    expect(closest('stpes', ['steps', 'seed'])).toBe('steps');
    expect(closest('Seed', ['steps', 'seed'])).toBe('seed');
    expect(closest('lr', ['steps', 'seed'])).toBeNull();
    expect(closest('colour', ['topology', 'data', 'steps', 'scheduler'])).toBeNull();
  });
});

describe('resume and checkpoint naming the same file', () => {
  it('createTraining refuses it (as written, relative, or through a symlink) before anything is read or saved', async () => {
    const ckpt = join(dir, 'run.ckpt');
    // the checkpoint exists: resuming from it is fine, saving over it is what is refused
    await train({ ...base, checkpoint: { path: ckpt, at: [2] }, steps: 3 });
    symlinkSync(ckpt, join(dir, 'link.ckpt'));
    const before = readdirSync(dir).sort();
    for (const other of [ckpt, join(dir, '.', 'run.ckpt'), join(dir, 'link.ckpt')]) {
      const e = await errorOf(() => createTraining({ ...base, resume: ckpt, checkpoint: { path: other, every: 1 } }));
      expect(e).toBeInstanceOf(TrainingOptionsError);
      expect(e.message).toBe(
        `training: resume ${ckpt} and checkpoint.path ${other} are the same file: ` +
          `the first checkpoint would overwrite the one resumed from (save to another file, or use trainWithRestarts)`,
      );
    }
    expect(readdirSync(dir).sort()).toEqual(before);
    // another file is fine
    await expect(train({ ...base, resume: ckpt, checkpoint: { path: join(dir, 'next.ckpt'), at: [3] } })).resolves.toMatchObject({
      steps: 4,
    });
  });
});
