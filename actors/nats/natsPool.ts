/**
 * A stage pool whose members are stage hosts on other machines, reached through NATS
 * (`createStagePool({ nats: { servers, hosts?, name? } })`). It connects once, finds the hosts once
 * (`{prefix}.hosts`, request/reply; again only when the hosts it knows cannot place a training:
 * one died, or all its threads are taken), and keeps both: trainings on it (`scheduler: { name:
 * 'worker', pool }`) one after another reuse the connection and the hosts. The `nats` scheduler
 * name is this pool made for one training and closed after it.
 *
 * A training takes threads of its hosts (stage k on a free thread, round the hosts in order: the
 * ones named in `hosts`, or every host that answered, by name) and gives them back when it ends.
 * A host that went silent or whose stage thread died is struck off (it is looked for again when
 * the pool rediscovers); a pool whose hosts are all gone fails its next training with a
 * {@link StageError} that names each and why.
 */
import type { NatsConnection } from 'nats';
import { StageError, TrainingOptionsError } from '../../lib/errors.ts';
import type { Stage } from '../../lib/placement.ts';
import { keysOf, refuseUnknownOptions } from '../../lib/validate.ts';
import { decodeValue } from '../../lib/wire.ts';
import {
  BEAT_TIMEOUT_MS,
  type HostInfo,
  type NatsConnectOptions,
  DEFAULT_PREFIX,
  checkToken,
  connectNats,
  isConnectTimeout,
  roundTrip,
  subjects,
} from './natsProtocol.ts';

/** How a NATS pool reaches its hosts, and how its trainings watch them. */
export interface NatsPoolOptions extends NatsConnectOptions {
  /** the hosts to use, by name, in stage order (default: every host that answers, by name) */
  hosts?: string[];
  /** the pool's name: its connection's at the server, and in its errors (default `dni-actors pool`) */
  name?: string;
  /** how long to wait for hosts to answer (ms, default 500; until every named host answered) */
  discoverMs?: number;
  /** how often a trainer says it is alive to its hosts (ms) */
  beatMs?: number;
  /** a host silent this long fails the training on it (ms, default 3000) */
  timeoutMs?: number;
  /** the code version claimed (default this code's; tests give another) */
  version?: string;
}

export const NATS_POOL_KEYS = keysOf<NatsPoolOptions>()([
  'servers',
  'hosts',
  'name',
  'discoverMs',
  'beatMs',
  'timeoutMs',
  'version',
  'prefix',
  'user',
  'pass',
  'token',
  'nkey',
  'creds',
  'tls',
  'connectionName',
  'connectTimeoutMs',
]);

/** A NATS pool's options (`what`: where they were given), checked before any connection is made. */
export function checkNatsPoolOptions(o: NatsPoolOptions, what: string, keys: readonly string[] = NATS_POOL_KEYS): NatsPoolOptions {
  refuseUnknownOptions(o, keys, what);
  const servers = [o.servers].flat().filter((v) => typeof v === 'string' && v !== '');
  if (servers.length === 0) throw new TrainingOptionsError(`${what} needs servers, e.g. servers: 'nats://10.0.0.1:4222'`);
  if (
    o.hosts !== undefined &&
    (!Array.isArray(o.hosts) || o.hosts.length === 0 || o.hosts.some((h) => typeof h !== 'string' || !/^[A-Za-z0-9_-]+$/.test(h)))
  ) {
    throw new TrainingOptionsError(
      `${what}: nats hosts must be a non-empty list of host names (letters, digits, '-', '_'), got ${JSON.stringify(o.hosts)}`,
    );
  }
  if (o.connectTimeoutMs !== undefined && !isConnectTimeout(o.connectTimeoutMs))
    throw new TrainingOptionsError(
      `${what}: connectTimeoutMs must be an integer from 1 to 3600000 (ms), got ${JSON.stringify(o.connectTimeoutMs)}`,
    );
  if (o.prefix !== undefined && !/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(o.prefix))
    throw new TrainingOptionsError(`${what}: nats prefix '${o.prefix}' must be subject tokens (letters, digits, '-', '_', joined by '.')`);
  return o;
}

/** One host as the pool knows it. */
export interface NatsPoolHost {
  readonly name: string;
  readonly version: string;
  readonly threads: number;
  /** threads this pool's trainings hold there now */
  readonly leased: number;
  /** why the pool struck it off (it went silent, its thread died), or null while it serves */
  readonly lost: string | null;
}

/** What a NATS pool holds now. */
export interface NatsPoolStats {
  readonly name: string;
  /** the server it is connected to ('' before its first training, or once closed) */
  readonly server: string;
  /** connections made over the pool's life (1 once it has run a training) */
  readonly connections: number;
  /** times it asked for the hosts */
  readonly discoveries: number;
  /** trainings that ran on it, and that hold hosts now */
  readonly trainings: number;
  readonly leased: number;
  /** every host it knows, in name order */
  readonly hosts: readonly NatsPoolHost[];
}

/** A training on the pool: told when the connection drops or the pool closes under it. */
export interface NatsPoolRun {
  fail(reason: string): void;
}

interface Known {
  info: HostInfo;
  leased: number;
  lost: string | null;
  /** when it last said it was alive (Date.now()) */
  heard: number;
}

export class NatsStagePool {
  readonly options: NatsPoolOptions;
  readonly name: string;
  readonly prefix: string;
  private readonly s: ReturnType<typeof subjects>;
  private nc: Promise<NatsConnection> | null = null;
  private readonly known = new Map<string, Known>();
  private readonly runs = new Set<NatsPoolRun>();
  private connections = 0;
  private discoveries = 0;
  private trainings = 0;
  private closed = false;
  /** this pool was made for one training (the `nats` scheduler name): it closes once that ends */
  closeWhenIdle = false;

  constructor(options: NatsPoolOptions, what = 'stage pool: nats') {
    this.options = checkNatsPoolOptions(options, what);
    this.name = options.name ?? 'dni-actors pool';
    this.prefix = checkToken('prefix', options.prefix ?? DEFAULT_PREFIX);
    for (const h of options.hosts ?? []) checkToken('host name', h);
    this.s = subjects(this.prefix);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Stages a training plans by default: one per named host, else 2. */
  get defaultStages(): number {
    return this.options.hosts?.length ?? 2;
  }

  /** The pool's connection, made on first use and kept (it reconnects on its own). */
  connection(): Promise<NatsConnection> {
    if (this.closed) return Promise.reject(new Error(`the NATS pool '${this.name}' is closed`));
    return (this.nc ??= this.connect());
  }

  private async connect(): Promise<NatsConnection> {
    const nc = await connectNats({ ...this.options, connectionName: this.name }, { maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    this.connections++;
    if (this.closed) {
      await nc.close();
      throw new Error(`the NATS pool '${this.name}' is closed`);
    }
    nc.subscribe(this.s.hostBeat, {
      callback: (_e, msg) => {
        const k = this.known.get(decodeValue<{ host: string }>(msg.data).host);
        if (k) k.heard = Date.now();
      },
    });
    void (async () => {
      // the server may have lost messages in flight: each training on the pool fails by name, the next ones use the reconnected connection
      for await (const st of nc.status()) {
        if (st.type === 'disconnect')
          for (const r of [...this.runs])
            r.fail(
              `the NATS connection to ${String(st.data)} dropped mid-run (a server restart loses messages in flight); ` +
                `resume from a checkpoint`,
            );
      }
    })().catch(() => {});
    return nc;
  }

  /**
   * Threads for `stages`, stage k's host at index k, held until {@link release}; the hosts known
   * are asked again only when they cannot place it (hosts still busy, with a training that just
   * failed say, are asked again for up to `timeoutMs` + 2 s).
   */
  async lease(run: NatsPoolRun, stages: readonly Stage[]): Promise<string[]> {
    const nc = await this.connection();
    const until = Date.now() + (this.options.timeoutMs ?? BEAT_TIMEOUT_MS) + 2000;
    for (let fresh = this.known.size === 0; ; fresh = true) {
      if (fresh) await this.discover(nc);
      else {
        // a round trip to the server first: beats that wait in the socket (this process was busy) are heard before anyone is judged silent
        await roundTrip(nc, 1000);
        this.strikeSilent();
      }
      try {
        const placed = this.place(stages);
        for (const h of placed) this.known.get(h)!.leased++;
        this.runs.add(run);
        this.trainings++;
        return placed;
      } catch (e) {
        const busy = [...this.known.values()].some((h) => !h.lost && h.info.busy > 0);
        if ((fresh && !busy) || Date.now() > until || this.closed) throw e;
        if (fresh) await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** A training's threads are free again (it ended however it ended); `this.closeWhenIdle`: the pool closes with its only training. */
  release(run: NatsPoolRun, hosts: readonly string[]): void {
    if (this.runs.delete(run)) {
      for (const h of hosts) {
        const k = this.known.get(h);
        if (k) k.leased = Math.max(0, k.leased - 1);
      }
    }
    // a training that never got its hosts (none answered, say) ends its own pool too: no connection outlives it
    if (this.closeWhenIdle && this.runs.size === 0) void this.close();
  }

  /** Hosts silent for longer than `timeoutMs` died or were cut off since the pool last asked: struck off. */
  private strikeSilent(): void {
    const now = Date.now(),
      timeoutMs = this.options.timeoutMs ?? BEAT_TIMEOUT_MS;
    for (const k of this.known.values())
      if (!k.lost && now - k.heard > timeoutMs)
        k.lost = `it sent no heartbeat for ${now - k.heard} ms (over ${timeoutMs} ms): it died or was cut off`;
  }

  /** Whether `host` said it was alive within `timeoutMs` (a training waiting on its claim asks). */
  silentFor(host: string): number {
    const k = this.known.get(host);
    return k ? Date.now() - k.heard : 0;
  }

  /** Strike `host` off (it went silent or its stage thread died): trainings are not placed there until it answers again. */
  lost(host: string, why: string): void {
    const k = this.known.get(host);
    if (k) k.lost = why;
  }

  stats(): NatsPoolStats {
    return {
      name: this.name,
      server: this.nc && !this.closed ? this.server : '',
      connections: this.connections,
      discoveries: this.discoveries,
      trainings: this.trainings,
      leased: this.runs.size,
      // in name order, whatever order the hosts answered the discovery in
      hosts: [...this.known.values()]
        .map((k) => ({ name: k.info.name, version: k.info.version, threads: k.info.threads, leased: k.leased, lost: k.lost }))
        .sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
    };
  }

  private server = '';

  /** Leave the servers: a training still on the pool fails, naming the pool; later trainings are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of [...this.runs]) r.fail(`the NATS pool '${this.name}' was closed`);
    const nc = await this.nc?.catch(() => null);
    if (!nc || nc.isClosed()) return;
    // what the trainings said last (their end) reaches the hosts; a server that is gone does not hold us up
    const gone = setTimeout(() => void nc.close(), 2000);
    await nc
      .flush()
      .then(() => nc.drain())
      .catch(() => nc.close())
      .finally(() => clearTimeout(gone));
  }

  private async discover(nc: NatsConnection): Promise<void> {
    const { createInbox } = await import('nats');
    this.discoveries++;
    this.server = nc.getServer();
    const named = this.options.hosts,
      wait = this.options.discoverMs ?? 500;
    const inbox = createInbox(),
      found = new Map<string, HostInfo>();
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
    // a host that answered serves again (its busy threads: its own word, this pool's included)
    for (const h of found.values()) this.known.set(h.name, { info: h, leased: 0, lost: null, heard: Date.now() });
    for (const [n, k] of this.known) if (!found.has(n)) k.lost ??= `it did not answer on ${this.s.hosts}`;
    for (const n of named ?? [])
      if (!found.has(n))
        this.known.set(n, {
          info: { name: n, version: '', threads: 0, busy: 0 },
          leased: 0,
          lost: `it did not answer on ${this.s.hosts}`,
          heard: 0,
        });
  }

  /** Stage k on a free thread of a host, round the hosts in order. */
  private place(stages: readonly Stage[]): string[] {
    const where = [this.options.servers].flat().join(', '),
      n = stages.length,
      named = this.options.hosts;
    const hosts = named
      ? named.map((h) => this.known.get(h)!)
      : [...this.known.values()].sort((a, b) => (a.info.name < b.info.name ? -1 : 1));
    const gone = hosts.filter((h) => h.lost);
    if (named && gone.length)
      throw new StageError(
        0,
        stages[0].actors,
        `stage host ${gone.map((h) => `'${h.info.name}'`).join(', ')} of the NATS pool '${this.name}' at ${where}: ` +
          `${gone.map((h) => h.lost).join('; ')}`,
      );
    if (hosts.length === 0)
      throw new StageError(
        0,
        stages[0].actors,
        `no stage host answered on ${this.s.hosts} at ${where} (start one: npx dni-actors stage --nats-servers ` +
          `${[this.options.servers].flat()[0]})`,
      );
    if (gone.length === hosts.length) {
      throw new StageError(
        0,
        stages[0].actors,
        `every stage host of the NATS pool '${this.name}' at ${where} is gone: ` +
          `${gone.map((h) => `'${h.info.name}' (${h.lost})`).join(', ')}`,
      );
    }
    const live = hosts.filter((h) => !h.lost);
    // the threads a host offers: what it said was free when asked, less what this pool took since
    const free = live.map((h) => Math.max(0, h.info.threads - h.info.busy - h.leased));
    const placed: string[] = [];
    while (placed.length < n && free.some((f) => f > 0)) {
      live.forEach((h, i) => {
        if (placed.length < n && free[i] > 0) (free[i]--, placed.push(h.info.name));
      });
    }
    if (placed.length < n) {
      throw new StageError(
        placed.length,
        stages[placed.length].actors,
        `${n} stages need ${n} free stage threads; the hosts ` +
          `(${live.map((h) => `'${h.info.name}' ${Math.max(0, h.info.threads - h.info.busy - h.leased)} free`).join(', ')}) have ` +
          `${placed.length}`,
      );
    }
    return placed;
  }
}

/** A NATS pool (see {@link NatsStagePool}). */
export function createNatsPool(options: NatsPoolOptions): NatsStagePool {
  return new NatsStagePool(options);
}
