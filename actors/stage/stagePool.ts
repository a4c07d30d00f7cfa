/**
 * Stage pools: worker threads that outlive a training. A pool starts its threads once; each
 * thread loads the library once and hosts one stage of one training after another (stageThread.ts),
 * so a curriculum's batches, a `fit()`'s epochs, a sweep or a test file start threads once, and
 * what V8 optimised for one training serves the next.
 *
 * How trainings share one: see {@link StagePool}.
 *
 * A pool member is a {@link StageHost}: somewhere one stage runs at a time, spoken to in the pool
 * protocol (stageProtocol.ts). The threads here are one kind; a host on another machine (its
 * stages linked by a message broker instead of shared memory) is another.
 *
 * No pool keeps the process alive: a thread is referenced only while a training holds it (or the
 * capacity probe runs on it), and threads end with the process. `close()` ends them at once.
 *
 * The capacity probe: see {@link StagePoolOptions.capacity}.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { StageError, TrainingOptionsError } from '../../lib/errors.ts';
import { wasmModules } from '../../lib/kernels/backend-choice.ts';
import { refuseUnknownOptions } from '../../lib/validate.ts';
import { type NatsPoolOptions, NatsStagePool } from '../nats/natsPool.ts';
import { ONE_CORE, REPROBE_MS } from './capacityProbe.ts';
import { createStartBarrier } from './startBarrier.ts';
import type { PoolCommand, PoolReport, Residue, StageCommand, StageThreadInit, WorkerReport } from './stageProtocol.ts';
import { workerEntry } from './workerEntry.ts';

export interface StagePoolOptions {
  /**
   * How many threads the pool runs while no training needs more (a training whose plan has more
   * stages grows it to that many). Default: this machine's cores (`os.availableParallelism()`), at least 2.
   */
  threads?: number;
  /**
   * How much parallel compute two of the pool's threads get: `'probe'` (default) measures it when a
   * training with the default plan first leases two threads (a few tens of ms), once; a reading
   * below 1.5 (a default plan then runs as one thread) may be one bad moment on a shared machine, so
   * it is taken again at a later default-plan lease, at most once every 30 s and only while no
   * training runs on the pool (a probe competes for the cores). A number takes it as measured, for
   * good (2: two cores' worth; below 1.5, a default plan runs as one thread).
   */
  capacity?: 'probe' | number;
}

/** Where a training's stage is told what to do, and how its end is reported. */
export interface StageHosting {
  /** the stage's reports, as it posts them */
  report(r: WorkerReport): void;
  /** the host died (a thread that threw or exited): why, in words naming it */
  lost(reason: string): void;
}

/** A pool member: somewhere one stage of one training runs at a time. */
export interface StageHost {
  /** a name for errors and traces (`pool thread 2`) */
  readonly name: string;
  /** the thread behind it, when it is one (tests reach in to kill it) */
  readonly worker?: Worker;
  /** host the stage `init` for the lease `lease` */
  host(lease: number, init: StageThreadInit, capacity: number | null, hosting: StageHosting): void;
  /** a trainer's command for that stage */
  command(lease: number, command: StageCommand): void;
}

/** Threads a training holds: one host per stage, in stage order. */
export interface StageLease {
  readonly id: number;
  readonly hosts: readonly StageHost[];
  /** the pool's measured (or given) capacity, or null when not measured */
  readonly capacity: number | null;
  /** the stage on host `i` is over (or was never hosted): end it there and give the host back */
  release(i: number): void;
}

/** What a pool holds now (for tests, benches and the curious). */
export interface StagePoolStats {
  /** threads alive */
  readonly threads: number;
  /** threads started over the pool's life (replacements included) */
  readonly started: number;
  /** threads that died and were replaced */
  readonly replaced: number;
  /** trainings holding threads, and waiting for them */
  readonly leased: number;
  readonly waiting: number;
  /** the capacity now: the latest reading (null until the first), or the option's number */
  readonly capacity: number | null;
  /** capacity probes run over the pool's life */
  readonly probes: number;
  /** per live thread, what it held after its last stage ended (kernel memory in use, stages hosted) */
  readonly residues: readonly (Residue | null)[];
}

type HostState = 'idle' | 'leased' | 'ending' | 'dead';

/** A pool member that is a worker thread of this process. */
class ThreadHost implements StageHost {
  readonly worker: Worker;
  state: HostState = 'idle';
  residue: Residue | null = null;
  /** the thread has loaded the library */
  loaded = false;
  private current: { lease: number; hosting: StageHosting } | null = null;
  private probed: ((capacity: number) => void) | null = null;

  constructor(
    readonly name: string,
    private readonly pool: { idle(h: ThreadHost): void; died(h: ThreadHost): void },
  ) {
    this.worker = new Worker(
      ...workerEntry(new URL('./stageThread.ts', import.meta.url), { workerData: { modules: wasmModules() }, name }),
    );
    this.worker.on('message', (m: PoolReport) => this.message(m));
    this.worker.on('error', (e) => this.die(`threw ${e.name}: ${e.message}`));
    this.worker.on('exit', (code) => this.die(`exited with code ${code}`));
    // after the listeners: a 'message' listener refs the thread's port again
    this.worker.unref();
  }

  lease(): void {
    this.state = 'leased';
    this.worker.ref();
  }

  host(lease: number, init: StageThreadInit, capacity: number | null, hosting: StageHosting): void {
    if (this.state === 'dead') return hosting.lost(`its worker (${this.name}) had died`);
    this.current = { lease, hosting };
    this.post({ type: 'HOST', lease, init, capacity });
  }

  command(lease: number, command: StageCommand): void {
    if (this.current?.lease === lease) this.post({ type: 'COMMAND', lease, command });
  }

  /** The training's stage here is over: the thread frees it, then the host is idle. */
  end(lease: number): void {
    if (this.state !== 'leased') return;
    this.state = 'ending';
    if (this.current?.lease === lease) this.current = null;
    this.post({ type: 'END', lease });
  }

  /** Run the capacity probe as thread `me` of two on `barrier`; thread 0 resolves with the reading. */
  probe(barrier: SharedArrayBuffer, me: 0 | 1): Promise<number> {
    return new Promise((resolve) => {
      this.probed = resolve;
      this.post({ type: 'PROBE', barrier, me });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }

  private post(m: PoolCommand): void {
    if (this.state !== 'dead') this.worker.postMessage(m);
  }

  private message(m: PoolReport): void {
    switch (m.type) {
      case 'READY':
        this.loaded = true;
        return this.pool.idle(this);
      case 'REPORT':
        if (this.current?.lease === m.lease) this.current.hosting.report(m.report);
        return;
      case 'ENDED':
        this.residue = m.residue;
        if (this.state !== 'ending') return;
        this.state = 'idle';
        this.worker.unref();
        return this.pool.idle(this);
      case 'PROBED': {
        const p = this.probed;
        this.probed = null;
        return p?.(m.capacity);
      }
    }
  }

  private die(reason: string): void {
    if (this.state === 'dead') return;
    this.state = 'dead';
    const c = this.current;
    this.current = null;
    c?.hosting.lost(`its worker (${this.name}) ${reason}`);
    // a probe that never finishes reads as one core's worth (the safe choice)
    this.probed?.(1);
    this.probed = null;
    this.pool.died(this);
  }
}

/** For tests: a probe in place of the threads' (on the two threads it would run on), a clock (ms) in place of `performance.now`. */
export interface CapacityProbing {
  readonly probe?: (a: StageHost, b: StageHost) => Promise<number>;
  readonly now?: () => number;
}

interface Request {
  readonly count: number;
  readonly probe: boolean;
  resolve(lease: StageLease): void;
  reject(error: Error): void;
}

/**
 * Worker threads that serve many trainings: train on it with `scheduler: { name: 'worker', pool }`
 * (without a pool, worker trainings use {@link defaultStagePool}); `await pool.close()` ends them.
 *
 * How trainings share it: a thread hosts one stage of one training at a time. A training takes
 * (leases) as many idle threads as its plan has stages, all at once, first come first served, when
 * it starts, and gives each back when it ends (finished, failed or stopped), once the thread has
 * freed everything the stage held. A training that finds too few idle threads waits for them; the
 * pool starts threads as needed, up to `threads`, or up to the stages of a training that needs more
 * (it keeps them). So two 2-stage trainings at once on a 2-thread pool run one after the other,
 * each at full speed (the cores are what limits them anyway); on a `threads: 4` pool they run side
 * by side. A thread that dies fails the training on it (a StageError naming the stage and the
 * thread) and is replaced at once.
 */
export class StagePool {
  private readonly hosts: ThreadHost[] = [];
  private readonly queue: Request[] = [];
  private readonly size: number;
  private capacity: number | null;
  /** when the latest reading was taken (null: never; with a given capacity, never will be) */
  private probedAt: number | null = null;
  private probes = 0;
  private measuring: Promise<void> | null = null;
  private leases = 0;
  private active = 0;
  private started = 0;
  private replaced = 0;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private readonly hooks = { idle: () => this.grant(), died: (h: ThreadHost) => this.died(h) };

  constructor(
    options: StagePoolOptions = {},
    private readonly probing: CapacityProbing = {},
  ) {
    const { threads, capacity } = options;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1))
      throw new TrainingOptionsError(`stage pool: threads must be an integer >= 1, got ${threads}`);
    if (capacity !== undefined && capacity !== 'probe' && !(typeof capacity === 'number' && capacity > 0 && Number.isFinite(capacity))) {
      throw new TrainingOptionsError(`stage pool: capacity must be 'probe' or a positive number, got ${JSON.stringify(capacity)}`);
    }
    this.size = threads ?? Math.max(2, availableParallelism());
    this.capacity = typeof capacity === 'number' ? capacity : null;
  }

  /** Whether {@link close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Threads for a training of `count` stages, all at once, when that many are idle (first come,
   * first served); `probe`: the training runs the default plan, which needs the pool's capacity
   * (measured now, on two of these threads, if it never was).
   */
  lease(count: number, options: { probe?: boolean } = {}): Promise<StageLease> {
    if (this.closed) return Promise.reject(new Error('the stage pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ count, probe: options.probe ?? false, resolve, reject });
      this.grant();
    });
  }

  /** Resolves once no training holds or waits for a thread, and every thread has loaded and freed its last stage. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.grant();
    });
  }

  stats(): StagePoolStats {
    return {
      threads: this.hosts.length,
      started: this.started,
      replaced: this.replaced,
      leased: this.active,
      waiting: this.queue.length,
      capacity: this.capacity,
      probes: this.probes,
      residues: this.hosts.map((h) => h.residue),
    };
  }

  /** End every thread now (a training still on them fails with a StageError); later trainings on this pool are refused. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.queue.splice(0)) r.reject(new Error('the stage pool was closed'));
    const hosts = this.hosts.splice(0);
    // a thread's end is not something Node waits for: a process awaiting close() at the top of a
    // module would find nothing left to run and exit (code 13) before its threads ended
    const waiting = setInterval(() => {}, 60_000);
    try {
      await Promise.all(hosts.map((h) => h.terminate()));
    } finally {
      clearInterval(waiting);
    }
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private start(): ThreadHost {
    const h = new ThreadHost(`pool thread ${this.started++}`, this.hooks);
    this.hosts.push(h);
    return h;
  }

  private died(h: ThreadHost): void {
    const i = this.hosts.indexOf(h);
    if (i < 0) return;
    this.hosts.splice(i, 1);
    if (this.closed) return;
    // replaced at once (unreferenced while idle), so the next training finds it warm
    this.replaced++;
    this.start();
    this.grant();
  }

  private grant(): void {
    while (!this.closed && this.queue.length > 0) {
      const request = this.queue[0];
      while (this.hosts.length < Math.max(this.size, request.count)) this.start();
      const idle = this.hosts.filter((h) => h.state === 'idle');
      if (idle.length < request.count) break;
      this.queue.shift();
      const hosts = idle.slice(0, request.count);
      for (const h of hosts) h.lease();
      const alone = this.active++ === 0;
      const lease = this.leaseOf(++this.leases, hosts);
      // a lease granted while a reading is taken waits for it too
      if (request.probe && hosts.length >= 2 && (this.measuring !== null || this.probeDue(alone))) {
        this.measuring ??= this.measure(hosts[0], hosts[1]);
        void this.measuring.then(() => request.resolve(lease()));
      } else request.resolve(lease());
    }
    if (this.queue.length === 0 && this.active === 0 && this.hosts.every((h) => h.state === 'idle' && h.loaded))
      for (const w of this.idleWaiters.splice(0)) w();
  }

  /** The lease `id` of `hosts`, made once the pool's capacity is what it will be. */
  private leaseOf(id: number, hosts: ThreadHost[]): () => StageLease {
    const released = new Set<number>();
    return () => ({
      id,
      hosts,
      capacity: this.capacity,
      release: (i: number) => {
        if (released.has(i) || !hosts[i]) return;
        released.add(i);
        hosts[i].end(id);
        if (released.size === hosts.length) this.active--;
        this.grant();
      },
    });
  }

  /**
   * Whether a default-plan lease takes a reading: the first, or again when the latest was low (a
   * moment's neighbour may have read as one core) and {@link REPROBE_MS} old, and the lease is the
   * only training on the pool. A given capacity is never read.
   */
  private probeDue(alone: boolean): boolean {
    if (this.capacity === null) return true;
    return this.probedAt !== null && this.capacity < ONE_CORE && alone && this.now() - this.probedAt >= REPROBE_MS;
  }

  private async measure(a: ThreadHost, b: ThreadHost): Promise<void> {
    const reading = await (this.probing.probe?.(a, b) ?? probeThreads(a, b));
    this.capacity = reading;
    this.probedAt = this.now();
    this.probes++;
    this.measuring = null;
  }

  private now(): number {
    return this.probing.now?.() ?? performance.now();
  }
}

/** The capacity probe, on two of a pool's threads (capacityProbe.ts). */
async function probeThreads(a: ThreadHost, b: ThreadHost): Promise<number> {
  const barrier = createStartBarrier();
  const [capacity] = await Promise.all([a.probe(barrier, 0), b.probe(barrier, 1)]);
  return capacity;
}

/**
 * A stage pool: worker threads of this process (see {@link StagePool}), or, with `nats`, stage
 * hosts on other machines reached through NATS (see {@link NatsStagePool}: it connects and finds
 * the hosts once, for every training on it).
 *
 * @example
 * const pool = createStagePool({ threads: 2 });
 * for (const lr of [0.1, 0.3, 1]) await train({ topology: { ...spec, lr }, data, steps: 3000, scheduler: { name: 'worker', pool } });
 * await pool.close();
 *
 * @example
 * const pool = createStagePool({ nats: { servers: 'nats://10.0.0.1:4222', hosts: ['box-1', 'box-2'] } });
 */
export function createStagePool(options: { nats: NatsPoolOptions }): NatsStagePool;
export function createStagePool(options?: StagePoolOptions): StagePool;
export function createStagePool(options: StagePoolOptions | { nats: NatsPoolOptions } = {}): StagePool | NatsStagePool {
  if (options !== null && typeof options === 'object' && 'nats' in options) {
    refuseUnknownOptions(options, ['nats'], 'stage pool (a NATS pool takes only nats: { servers, hosts?, name?, … })');
    return new NatsStagePool(options.nats);
  }
  return new StagePool(options);
}

let shared: StagePool | null = null;

/**
 * The pool every `worker` training without a `pool` of its own uses: created on first use (and
 * again after it was closed). It never keeps the process alive; close it to end its threads sooner.
 */
export function defaultStagePool(): StagePool {
  if (!shared || shared.isClosed) shared = new StagePool();
  return shared;
}

/** A lease's failure as the stage's error. */
export function leaseError(stage: { index: number; actors: readonly string[] }, e: unknown): StageError {
  return new StageError(stage.index, stage.actors, `no thread to run on: ${e instanceof Error ? e.message : String(e)}`);
}
