/**
 * dni-actors/nats: stage hosts over NATS. A host (`npx dni-actors stage --nats-servers URL`, or
 * {@link serveStages} in a program of your own) offers stage capacity to any training that reaches
 * the same servers; trainings use them through a pool, `createStagePool({ nats: { servers, hosts? } })` and
 * `scheduler: { name: 'worker', pool }`, or, for one training, `scheduler: { name: 'nats', servers, hosts? }`
 * (see docs/nats.md).
 *
 * @example
 * import { serveStages } from 'dni-actors/nats';
 * const host = await serveStages({ servers: 'nats://10.0.0.1:4222', name: 'box-1' });
 * process.on('SIGTERM', () => void host.close());
 */
export { serveStages, type NatsHost, type NatsHostOptions } from './actors/nats/natsHost.ts';
export {
  CODE_VERSION,
  WIRE_VERSION,
  BEAT_MS,
  BEAT_TIMEOUT_MS,
  DEFAULT_PREFIX,
  type NatsConnectOptions,
} from './actors/nats/natsProtocol.ts';
export type { NatsSchedulerOptions } from './actors/nats/natsStage.ts';
export type { NatsStagePool, NatsPoolOptions, NatsPoolStats, NatsPoolHost } from './actors/nats/natsPool.ts';
