/**
 * Stages on stage hosts over NATS, seen from the trainer (the `nats` scheduler). One {@link NatsRun}
 * per training connects, finds the hosts (`{prefix}.hosts`), places stage k on a free thread of
 * a host (the hosts named in `hosts`, in that order, or every host that answered, by name), claims
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
import { stageStart } from '../stage/remoteStage.ts';
import { type SerializedError, type StageCommand, type StageReport, type ProgressReport, type WorkerReport, deserializeError } from '../stage/stageProtocol.ts';
import { BEAT_MS, BEAT_TIMEOUT_MS, CODE_VERSION, type Claim, type ClaimReply, DEFAULT_PREFIX, type HostInfo, type NatsConnectOptions, checkToken, connectNats, publishValue, subjects } from './natsProtocol.ts';

/** The `nats` scheduler: stages on stage hosts (`npx dni-actors stage …`) reached through NATS. */
export interface NatsSchedulerOptions extends NatsConnectOptions {
  name: 'nats';
  /** the hosts to use, by name, in stage order (default: every host that answers, by name) */
  hosts?: string[];
  /**
   * how many stages (planned to balance the work), or an explicit plan as for `worker`.
   * Default: one per host named in `hosts`, else 2.
   */
  stages?: number | string[][];
  /** how long to wait for hosts to answer (ms, default 500; until every named host answered) */
  discoverMs?: number;
  /** how often the trainer says it is alive to its hosts (ms) */
  beatMs?: number;
  /** a host silent this long fails the training (ms, default 3000) */
  timeoutMs?: number;
  /** the code version claimed (default this code's; tests give another) */
  version?: string;
}

type Report = (r: StageReport | ProgressReport) => void;

/** How long a host may take to answer a claim: it receives the start-up data and starts the stage's thread (ms). */
const CLAIM_MS = 60_000;

/** One training's stages on NATS hosts: its connection, placement, claims, heartbeats and reports. */
export class NatsRun {
  readonly id = `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  /** this trainer's number in the frames it sends: two trainers claiming threads of one host at once never mix their frames */
  private readonly sender = 1 + Math.floor(Math.random() * 0xfffffff0);
  private readonly prefix: string;
  private readonly s: ReturnType<typeof subjects>;
  private nc: NatsConnection | null = null;
  private readonly reporters = new Map<number, Report>();
  private readonly pending = new Map<number, StageCommand[]>();
  /** stage → its host, once placed */
  private readonly hostOf = new Map<number, string>();
  private readonly lastBeat = new Map<string, number>();
  private ready = false;
  private failed = false;
  private closed = false;
  private sent = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly options: NatsSchedulerOptions,
    private readonly stages: readonly Stage[],
    private readonly inits: (stage: Stage, maxPayload: number, prefix: string, run: string) => Claim['init'],
  ) {
    this.prefix = checkToken('prefix', options.prefix ?? DEFAULT_PREFIX);
    for (const h of options.hosts ?? []) checkToken('host name', h);
    this.s = subjects(this.prefix);
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

  /** A stage's actor stopped (the training ended): once all have, end the run on the hosts and leave. */
  detach(stage: number): void {
    this.reporters.delete(stage);
    if (this.reporters.size > 0 || this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    const nc = this.nc;
    if (!nc) return;
    if (nc.isClosed()) return;
    // the hosts end the run's stages now (reconnecting, the client sends it once back: it waits up to 2 s for that)
    nc.publish(this.s.end(this.id));
    const gone = setTimeout(() => void nc.close(), 2000);
    void nc.flush().then(() => nc.drain()).catch(() => nc.close()).finally(() => clearTimeout(gone));
  }

  /** Fail the training: stage `stage`'s error (the first failure wins). */
  private fail(stage: number, reason: string | Error): void {
    if (this.failed || this.closed) return;
    this.failed = true;
    const st = this.stages[stage] ?? this.stages[0];
    const error = reason instanceof Error ? reason : new StageError(st.index, st.actors, reason);
    this.reporters.get(st.index)?.({ type: 'FAILED', stage: st.index, error });
  }

  private async start(): Promise<void> {
    const o = this.options;
    try {
      const nc = (this.nc = await connectNats({ ...o, connectionName: `dni-actors trainer ${this.id}` }, { maxReconnectAttempts: -1, reconnectTimeWait: 250 }));
      if (this.closed) return void nc.close();
      void this.watch(nc);
      const placed = await this.placeWhenFree(nc);
      this.listen(nc);
      const maxPayload = nc.info?.max_payload ?? 1024 * 1024;
      await Promise.all(this.stages.map((st, k) => this.claim(nc, placed[k], this.inits(st, maxPayload, this.prefix, this.id))));
      if (this.failed || this.closed) return;
      this.ready = true;
      for (const [k, commands] of this.pending) for (const c of commands) this.command(k, c);
      this.pending.clear();
    } catch (e) {
      this.fail(0, e instanceof StageError ? e : `${(e as Error).message ?? e}`);
    }
  }

  /** The trainer's connection dropped: the server may have lost messages in flight, so the training fails by name. */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const st of nc.status()) {
      if (st.type === 'disconnect') this.fail(0, `the NATS connection to ${String(st.data)} dropped mid-run (a server restart loses messages in flight); resume from a checkpoint`);
    }
  }

  private async discover(nc: NatsConnection): Promise<HostInfo[]> {
    const { createInbox } = await import('nats');
    const named = this.options.hosts, wait = this.options.discoverMs ?? 500;
    const inbox = createInbox(), found = new Map<string, HostInfo>();
    const sub = nc.subscribe(inbox);
    nc.publish(this.s.hosts, new Uint8Array(0), { reply: inbox });
    const until = Date.now() + (named ? Math.max(wait, 5000) : wait);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => (sub.unsubscribe(), resolve()), Math.max(0, until - Date.now()));
      void (async () => {
        for await (const m of sub) {
          // an empty message is the server's "no responders": no host listens (yet)
          if (m.data.length === 0) continue;
          const h = decodeValue<HostInfo>(m.data);
          found.set(h.name, h);
          if (named && named.every((n) => found.has(n))) {
            clearTimeout(timer);
            sub.unsubscribe();
            return resolve();
          }
        }
      })().catch(() => {});
    });
    return named ? named.map((n) => found.get(n) ?? ({ name: n, version: '', threads: 0, busy: -1 } satisfies HostInfo)) : [...found.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Place the stages; hosts still busy (with a training that just failed, say: a host frees its
   * threads when that trainer ends it or goes silent) are asked again for up to `timeoutMs` + 2 s.
   */
  private async placeWhenFree(nc: NatsConnection): Promise<string[]> {
    const until = Date.now() + (this.options.timeoutMs ?? BEAT_TIMEOUT_MS) + 2000;
    for (;;) {
      const hosts = await this.discover(nc);
      try {
        return this.place(hosts);
      } catch (e) {
        const busy = hosts.some((h) => h.busy > 0);
        if (!busy || Date.now() > until || this.closed) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Stage k on a free thread of a host, round the hosts in order. */
  private place(hosts: HostInfo[]): string[] {
    const where = this.options.servers, n = this.stages.length;
    const missing = hosts.filter((h) => h.busy < 0).map((h) => `'${h.name}'`);
    if (missing.length) throw new StageError(0, this.stages[0].actors, `stage host ${missing.join(', ')} did not answer on ${this.s.hosts} at ${where}`);
    if (hosts.length === 0) throw new StageError(0, this.stages[0].actors, `no stage host answered on ${this.s.hosts} at ${where} (start one: npx dni-actors stage --nats-servers ${[where].flat()[0]})`);
    const free = hosts.map((h) => Math.max(0, h.threads - h.busy));
    const placed: string[] = [];
    for (let round = 0; placed.length < n && free.some((f) => f > 0); round++) {
      hosts.forEach((h, i) => {
        if (placed.length < n && free[i] > 0) (free[i]--, placed.push(h.name));
      });
    }
    if (placed.length < n) throw new StageError(placed.length, this.stages[placed.length].actors, `${n} stages need ${n} free stage threads; the hosts (${hosts.map((h) => `'${h.name}' ${h.threads - h.busy} free`).join(', ')}) have ${placed.length}`);
    return placed;
  }

  private listen(nc: NatsConnection): void {
    const frames = new Reassembler();
    nc.subscribe(this.s.reports(this.id), {
      callback: (_e, msg) => {
        if (this.closed) return;
        try {
          const whole = frames.take(msg.data);
          if (!whole) return;
          const r = decodeValue<WorkerReport>(whole.message);
          const report = this.reporters.get('stage' in r ? r.stage : -1);
          if (r.type === 'FAILED') {
            const e = deserializeError(r.error as SerializedError, this.stages[r.stage]);
            if (e instanceof StageError && !e.message.includes('host')) e.message = e.message.replace('; training stopped', ` (on host '${this.hostOf.get(r.stage)}'); training stopped`);
            return this.fail(r.stage, e);
          }
          report?.(r);
        } catch (error) {
          this.fail(0, `a report from the stages could not be read: ${(error as Error).message}`);
        }
      },
    });
    nc.subscribe(this.s.beat(this.id), { callback: (_e, msg) => this.lastBeat.set(decodeValue<{ host: string }>(msg.data).host, Date.now()) });
    const beatMs = this.options.beatMs ?? BEAT_MS, timeoutMs = this.options.timeoutMs ?? BEAT_TIMEOUT_MS;
    this.timer = setInterval(() => {
      if (this.closed || nc.isClosed()) return;
      nc.publish(this.s.trainerBeat(this.id));
      const now = Date.now();
      for (const [k, host] of this.hostOf) {
        const last = this.lastBeat.get(host) ?? now;
        if (now - last > timeoutMs) return this.fail(k, `host '${host}' sent no heartbeat for ${now - last} ms (over ${timeoutMs} ms): it died or was cut off`);
      }
    }, Math.min(beatMs, timeoutMs / 3));
    this.timer.unref?.();
  }

  private async claim(nc: NatsConnection, host: string, init: Claim['init']): Promise<void> {
    const { createInbox } = await import('nats');
    const k = init.stage.index, inbox = createInbox();
    const sub = nc.subscribe(inbox, { max: 1, timeout: CLAIM_MS });
    publishValue(nc, this.s.claim(host), { version: this.options.version ?? CODE_VERSION, init: { ...init, host } } satisfies Claim, this.sender, k + 1, inbox);
    try {
      for await (const m of sub) {
        const reply = decodeValue<ClaimReply>(m.data);
        if (!reply.ok) throw new StageError(k, init.stage.actors, reply.error);
        this.hostOf.set(k, host);
        this.lastBeat.set(host, Date.now());
        return;
      }
    } catch (e) {
      if (e instanceof StageError) throw e;
      throw new StageError(k, init.stage.actors, `host '${host}' did not answer its claim within ${CLAIM_MS / 1000} s (${(e as Error).message})`);
    }
    throw new StageError(k, init.stage.actors, `host '${host}' did not answer its claim`);
  }
}

/** Start-up data for a stage of `network` on a NATS host: a worker stage's, and the link's routes and subjects. */
export function natsRunFor(options: NatsSchedulerOptions, network: Model, data: ModelData, steps: number, stages: readonly Stage[], o: { interpreter: Interpreter; firstBatch: number }): NatsRun {
  const start = stageStart(network, data, steps, { inspect: false, interpreter: o.interpreter, firstBatch: o.firstBatch });
  const stageOf = new Map<string, number>();
  for (const st of stages) for (const id of st.actors) stageOf.set(id, st.index);
  const routes = routesFor(network.topology);
  return new NatsRun(options, stages, (stage, maxPayload, prefix, run) => {
    const s = subjects(prefix);
    const targets = routes.map((r) => (stageOf.get(r.source) === stageOf.get(r.target) || !stageOf.has(r.source) ? -1 : stageOf.get(r.target)!));
    return { ...start, stage, run, prefix, host: '', link: { stage: stage.index, subjects: stages.map((st) => s.tensors(run, st.index)), targets, depth: ringDepthOf(network.topology), maxPayload } };
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
