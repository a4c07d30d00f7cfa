/**
 * What training options may hold, checked before anything is built: the keys of the options and
 * of the objects in them (a misspelt key is refused by name, never a silent default), the stage
 * pool a worker training runs on, and the nats scheduler's options.
 */
import { TrainingOptionsError } from '../../lib/errors.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import type { NatsSchedulerOptions } from '../nats/natsStage.ts';
import type { WorkerSchedulerOptions } from '../schedulers/schedulers.ts';
import { StagePool, defaultStagePool } from '../stage/stagePool.ts';
import type { CheckpointOptions, TrainingOptions } from './training.ts';

const TRAINING_KEYS = keysOf<TrainingOptions>()([
  'topology', 'data', 'steps', 'params', 'seed', 'optimizerState', 'scheduler', 'relay', 'inspect', 'resume', 'checkpoint', 'interpreter', 'signal',
]);
const CHECKPOINT_KEYS = keysOf<CheckpointOptions>()(['path', 'at', 'every', 'onSaved', 'onStop']);
const WORKER_KEYS = keysOf<WorkerSchedulerOptions>()(['name', 'stages', 'pool']);
const NATS_KEYS = keysOf<NatsSchedulerOptions>()([
  'name', 'servers', 'hosts', 'stages', 'discoverMs', 'beatMs', 'timeoutMs', 'version', 'prefix', 'user', 'pass', 'token', 'nkey', 'creds', 'tls', 'connectionName',
]);

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
export function poolOf(pool: StagePool | undefined): StagePool {
  if (pool === undefined) return defaultStagePool();
  if (!(pool instanceof StagePool)) throw new TrainingOptionsError('training: scheduler.pool must be a pool from createStagePool()');
  if (pool.isClosed) throw new TrainingOptionsError('training: scheduler.pool is closed');
  return pool;
}

/** The nats scheduler's options, checked before any work (a connection is made only when the training runs). */
export function checkNats(o: NatsSchedulerOptions): NatsSchedulerOptions {
  const servers = [o.servers].flat().filter((v) => typeof v === 'string' && v !== '');
  if (servers.length === 0) throw new TrainingOptionsError("training: the nats scheduler needs servers, e.g. { name: 'nats', servers: 'nats://10.0.0.1:4222' }");
  if (o.hosts !== undefined && (!Array.isArray(o.hosts) || o.hosts.length === 0 || o.hosts.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9_-]+$/.test(h)))) {
    throw new TrainingOptionsError(`training: nats hosts must be a non-empty list of host names (letters, digits, '-', '_'), got ${JSON.stringify(o.hosts)}`);
  }
  if (o.prefix !== undefined && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(o.prefix)) throw new TrainingOptionsError(`training: nats prefix '${o.prefix}' must be subject tokens (letters, digits, '-', '_', joined by '.')`);
  return o;
}
