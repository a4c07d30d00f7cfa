/**
 * Stages on stage hosts over NATS, seen from the trainer (a NATS pool's training, natsPool.ts). One
 * {@link NatsRun} per training takes threads of the pool's hosts (on the pool's connection), claims
 * each (the host answers once the stage listens), and only then lets the commands through: no
 * tensor is sent before every stage is listening. The `stage:k` actors ({@link natsStage}) post
 * the trainer's commands and hand it what their stage reports, as a worker stage's actor does.
 *
 * Faults, each a {@link StageError} naming the stage and the host (or the server): a refused claim
 * (another code version, no room), a host silent for `timeoutMs` (default {@link BEAT_TIMEOUT_MS}:
 * it died or was cut off), a stage thread that died, the trainer's connection dropped (a server
 * restart: NATS may have lost messages, so the training fails by name rather than go on with a
 * hole; under `trainWithRestarts` it resumes from its last checkpoint).
 */
import type { NatsConnection } from 'nats';
import { fromCallback } from 'xstate';
import { StageError } from '../../lib/errors.ts';
import type { Model, ModelData } from '../../lib/model.ts';
import { ringDepthOf } from '../../lib/model.ts';
import type { Stage } from '../../lib/placement.ts';
import { Reassembler, decodeValue } from '../../lib/wire.ts';
import { routesFor } from '../machines/events.ts';
import type { Interpreter } from '../machines/machines.ts';
import { stageData, stageStart } from '../stage/remoteStage.ts';
import {
  type SerializedError,
  type StageCommand,
  type StageReport,
  type ProgressReport,
  type WorkerReport,
  deserializeError,
} from '../stage/stageProtocol.ts';
import { BEAT_MS, BEAT_TIMEOUT_MS, CODE_VERSION, type Claim, type ClaimReply, publishValue, roundTrip, subjects } from './natsProtocol.ts';
import { type NatsPoolOptions, NatsStagePool } from './natsPool.ts';

/**
 * The `nats` scheduler: stages on stage hosts (`npx dni-actors stage …`) reached through NATS, a
 * shorthand for a NATS pool made for this one training ({@link NatsStagePool}; closed after it).
 */
export interface NatsSchedulerOptions extends NatsPoolOptions {
  name: 'nats';
  /**
   * how many stages (planned to balance the work), or an explicit plan as for `worker`.
   * Default: one per host named in `hosts`, else 2.
   */
  stages?: number | string[][];
}

/** The pool a `nats` scheduler option stands for: its own, closed once its training ends. */
export function natsPoolFor(o: NatsSchedulerOptions): NatsStagePool {
  const { name: _, stages: __, ...options } = o;
  const pool = new NatsStagePool(options, 'training: the nats scheduler');
  pool.closeWhenIdle = true;
  return pool;
}

type Report = (r: StageReport | ProgressReport) => void;

/** How long a host may take to answer a claim: it receives the start-up data and starts the stage's thread (ms). */
const CLAIM_MS = 60_000;

/** One training's stages on the hosts of a NATS pool: its placement, claims, heartbeats and reports. */
export class NatsRun {
  readonly id = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  /** this trainer's number in the frames it sends: two trainers claiming threads of one host at once never mix their frames */
  private readonly sender = 1 + Math.floor(Math.random() * 0xfffffff0);
  private readonly s: ReturnType<typeof subjects>;
  private nc: NatsConnection | null = null;
  private readonly reporters = new Map<number, Report>();
  private readonly pending = new Map<number, StageCommand[]>();
  /** stage → its host, once placed */
  private readonly hostOf = new Map<number, string>();
  private readonly lastBeat = new Map<string, number>();
  /** the hosts leased from the pool, stage k's at k (given back when the run ends) */
  private placed: string[] = [];
  /** the run's subscriptions on the pool's connection */
  private readonly subscriptions: { unsubscribe(): void }[] = [];
  private ready = false;
  private failed = false;
  private closed = false;
  private sent = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly pool: NatsStagePool,
    private readonly stages: readonly Stage[],
    private readonly inits: (stage: Stage, maxPayload: number, prefix: string, run: string) => Claim['init'],
  ) {
    this.s = subjects(pool.prefix);
  }

  attach(stage: number, report: Report): void {
    this.reporters.set(stage, report);
    if (this.reporters.size === this.stages.length) void this.start();
  }

  command(stage: number, c: StageCommand): void {
    if (this.failed || this.closed) return;
    if (!this.ready) return void (this.pending.get(stage) ?? this.pending.set(stage, []).get(stage)!).push(c);
    publishValue(this.nc!, this.s.commands(this.id, stage), c, this.sender, ++this.sent);
  }

  /** A stage's actor stopped (the training ended): once all have, end the run on the hosts and give them back to the pool. */
  detach(stage: number): void {
    this.reporters.delete(stage);
    if (this.reporters.size > 0 || this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const sub of this.subscriptions.splice(0)) sub.unsubscribe();
    // the hosts end the run's stages now (reconnecting, the client sends it once back)
    if (this.nc && !this.nc.isClosed()) this.nc.publish(this.s.end(this.id));
    this.pool.release(this, this.placed);
  }

  /** Fail the training: stage `stage`'s error (the first failure wins). */
  fail(reason: string | Error, stage = 0): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    const st = this.stages[stage] ?? this.stages[0];
    const error = reason instanceof Error ? reason : new StageError(st.index, st.actors, reason);
    this.reporters.get(st.index)?.({ type: 'FAILED', stage: st.index, error });
  }

  private async start(): Promise<void> {
    try {
      const nc = (this.nc = await this.pool.connection());
      if (this.closed) return;
      const placed = await this.pool.lease(this, this.stages);
      if (this.closed) return this.pool.release(this, placed);
      this.placed = placed;
      this.listen(nc);
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      await Promise.all(this.stages.map((st, k) => this.claim(nc, placed[k], this.inits(st, maxPayload, this.pool.prefix, this.id))));
      if (this.failed || this.closed) return;
      this.ready = true;
      for (const [k, commands] of this.pending) for (const c of commands) this.command(k, c);
      this.pending.clear();
    } catch (e) {
      this.fail(e instanceof StageError ? e : `${(e as Error).message ?? e}`);
    }
  }

  private listen(nc: NatsConnection): void {
    const frames = new Reassembler();
    const reports = nc.subscribe(this.s.reports(this.id), {
      callback: (_e, msg) => {
        if (this.closed) return;
        try {
          const whole = frames.take(msg.data);
          if (!whole) return;
          const r = decodeValue<WorkerReport>(whole.message);
          const report = this.reporters.get('stage' in r ? r.stage : -1);
          if (r.type === 'FAILED') {
            const e = deserializeError(r.error as SerializedError, this.stages[r.stage]);
            if (e instanceof StageError && !e.message.includes('host'))
              e.message = e.message.replace('; training stopped', ` (on host '${this.hostOf.get(r.stage)}'); training stopped`);
            return this.fail(e, r.stage);
          }
          report?.(r);
        } catch (error) {
          this.fail(`a report from the stages could not be read: ${(error as Error).message}`);
        }
      },
    });
    const beats = nc.subscribe(this.s.beat(this.id), {
      callback: (_e, msg) => this.lastBeat.set(decodeValue<{ host: string }>(msg.data).host, Date.now()),
    });
    this.subscriptions.push(reports, beats);
    const beatMs = this.pool.options.beatMs ?? BEAT_MS,
      timeoutMs = this.pool.options.timeoutMs ?? BEAT_TIMEOUT_MS;
    /** the longest a stage's host has been silent, and which stage that is */
    const silence = (): [number, number] => {
      const now = Date.now();
      let worst: [number, number] = [0, -1];
      for (const [k, host] of this.placed.entries()) {
        // before its claim is answered a host's beats to the pool count (it may be taking the start-up data)
        const silent = this.hostOf.has(k) ? now - (this.lastBeat.get(host) ?? now) : this.pool.silentFor(host);
        if (silent > worst[0]) worst = [silent, k];
      }
      return worst;
    };
    let checking = false;
    this.timer = setInterval(
      () => {
        if (this.closed || nc.isClosed() || checking) return;
        nc.publish(this.s.trainerBeat(this.id));
        if (silence()[0] <= timeoutMs) return;
        // a round trip to the server first: beats that wait in the socket (this process was busy) are heard before a host is judged gone
        checking = true;
        void roundTrip(nc, Math.min(1000, timeoutMs / 2))
          .then(() => {
            const [silent, k] = silence();
            if (silent <= timeoutMs || this.closed) return;
            const host = this.placed[k],
              why = `sent no heartbeat for ${silent} ms (over ${timeoutMs} ms): it died or was cut off`;
            this.pool.lost(host, `it ${why}`);
            this.fail(`host '${host}' ${why}`, k);
          })
          .finally(() => (checking = false));
      },
      Math.min(beatMs, timeoutMs / 3),
    );
    this.timer.unref?.();
  }

  private async claim(nc: NatsConnection, host: string, init: Claim['init']): Promise<void> {
    const { createInbox } = await import('nats');
    const k = init.stage.index,
      inbox = createInbox();
    const sub = nc.subscribe(inbox, { max: 1, timeout: CLAIM_MS });
    publishValue(
      nc,
      this.s.claim(host),
      { version: this.pool.options.version ?? CODE_VERSION, init: { ...init, host } } satisfies Claim,
      this.sender,
      k + 1,
      inbox,
    );
    try {
      for await (const m of sub) {
        // the server's "no responders" (503): nothing listens on the host's claim subject any more
        if (m.headers?.code === 503) {
          const why = 'no longer listens for claims (NATS: no responders): it died or was cut off';
          this.pool.lost(host, `it ${why}`);
          throw new StageError(k, init.stage.actors, `host '${host}' ${why}`);
        }
        const reply = decodeValue<ClaimReply>(m.data);
        if (!reply.ok) throw new StageError(k, init.stage.actors, reply.error);
        this.hostOf.set(k, host);
        this.lastBeat.set(host, Date.now());
        return;
      }
    } catch (e) {
      if (e instanceof StageError) throw e;
      throw new StageError(
        k,
        init.stage.actors,
        `host '${host}' did not answer its claim within ${CLAIM_MS / 1000} s (${(e as Error).message})`,
      );
    }
    throw new StageError(k, init.stage.actors, `host '${host}' did not answer its claim`);
  }
}

/** Start-up data for a stage of `network` on a NATS host: a worker stage's, and the link's routes and subjects. */
export function natsRunFor(
  pool: NatsStagePool,
  network: Model,
  data: ModelData,
  steps: number,
  stages: readonly Stage[],
  o: { interpreter: Interpreter; firstBatch: number },
): NatsRun {
  const start = stageStart(network, data, steps, { inspect: false, interpreter: o.interpreter, firstBatch: o.firstBatch });
  const stageOf = new Map<string, number>();
  for (const st of stages) for (const id of st.actors) stageOf.set(id, st.index);
  const routes = routesFor(network.topology);
  return new NatsRun(pool, stages, (stage, maxPayload, prefix, run) => {
    const s = subjects(prefix);
    const targets = routes.map((r) =>
      stageOf.get(r.source) === stageOf.get(r.target) || !stageOf.has(r.source) ? -1 : stageOf.get(r.target)!,
    );
    // a stage is sent only what it reads of the data (a host's copy crosses the network)
    return {
      ...start,
      data: stageData(network.topology, data, stage),
      stage,
      run,
      prefix,
      host: '',
      link: {
        stage: stage.index,
        subjects: stages.map((st) => s.tensors(run, st.index)),
        targets,
        depth: ringDepthOf(network.topology),
        maxPayload,
      },
    };
  });
}

export interface NatsStageInput {
  run: NatsRun;
  stage: number;
  report: Report;
}

/** The `stage:k` actor of a stage on a NATS host: the trainer's commands out, the stage's reports in. */
export const natsStage = fromCallback<StageCommand, NatsStageInput>(({ input, receive }) => {
  input.run.attach(input.stage, input.report);
  receive((command) => input.run.command(input.stage, command));
  return () => input.run.detach(input.stage);
});
