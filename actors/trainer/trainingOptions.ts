/**
 * What training options may hold, checked before anything is built: the keys of the options and
 * of the objects in them (a misspelt key is refused by name, never a silent default), the stage
 * pool a worker training runs on, and the nats scheduler's options.
 */
import { TrainingOptionsError } from '../../lib/errors.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { NATS_POOL_KEYS, NatsStagePool, checkNatsPoolOptions } from '../nats/natsPool.ts';
import type { NatsSchedulerOptions } from '../nats/natsStage.ts';
import type { WorkerSchedulerOptions } from '../schedulers/schedulers.ts';
import { StagePool, defaultStagePool } from '../stage/stagePool.ts';
import type { CheckpointOptions, TrainingOptions } from './training.ts';

const TRAINING_KEYS = keysOf<TrainingOptions>()([
  'topology',
  'data',
  'steps',
  'params',
  'seed',
  'optimizerState',
  'scheduler',
  'relay',
  'inspect',
  'resume',
  'checkpoint',
  'interpreter',
  'signal',
]);
const CHECKPOINT_KEYS = keysOf<CheckpointOptions>()(['path', 'at', 'every', 'onSaved', 'onStop']);
const WORKER_KEYS = keysOf<WorkerSchedulerOptions>()(['name', 'stages', 'pool']);
const NATS_KEYS = keysOf<NatsSchedulerOptions>()(['stages', ...NATS_POOL_KEYS]);

/** The keys of training options and of the objects in them (checkpoint, worker scheduler), before anything is built. */
export function checkTrainingKeys(options: TrainingOptions, what: string): void {
  refuseUnknownOptions(options, TRAINING_KEYS, what);
  checkNestedKeys(options, what);
}

/** The objects inside training options (the worker scheduler's, the checkpoint's) that fit() and trainCurriculum pass on too. */
export function checkNestedKeys(o: { scheduler?: unknown; checkpoint?: unknown }, what: string): void {
  if (typeof o.scheduler === 'object' && o.scheduler !== null) {
    const nats = (o.scheduler as { name?: unknown }).name === 'nats';
    refuseUnknownOptions(o.scheduler, nats ? NATS_KEYS : WORKER_KEYS, `${what}: scheduler`);
  }
  if (typeof o.checkpoint === 'object' && o.checkpoint !== null) refuseUnknownOptions(o.checkpoint, CHECKPOINT_KEYS, `${what}: checkpoint`);
}

/** The pool a worker training runs on: its own, or the process's default one. */
export function poolOf(pool: StagePool | NatsStagePool | undefined): StagePool | NatsStagePool {
  if (pool === undefined) return defaultStagePool();
  if (!(pool instanceof StagePool) && !(pool instanceof NatsStagePool))
    throw new TrainingOptionsError('training: scheduler.pool must be a pool from createStagePool()');
  if (pool.isClosed) throw new TrainingOptionsError('training: scheduler.pool is closed');
  return pool;
}

/** The nats scheduler's options, checked before any work (a connection is made only when the training runs). */
export function checkNats(o: NatsSchedulerOptions): NatsSchedulerOptions {
  const { name: _, stages: __, ...pool } = o;
  checkNatsPoolOptions(pool, 'training: the nats scheduler');
  return o;
}
