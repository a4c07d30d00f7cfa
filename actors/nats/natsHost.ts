/**
 * A stage host: a long-running process's offer of stage capacity to any training that reaches the
 * same NATS servers under the same subject prefix. It answers discovery (`{prefix}.hosts`), takes
 * claims (one stage of one training each, run in a worker thread: natsHostThread.ts, up to `threads`
 * at once; a thread serves one stage after another, so a host's trainings after the first start
 * warm), refuses a claim whose code version differs from its own (by name), says it is alive to
 * each training it serves every {@link BEAT_MS}, and ends a training's stages when
 * the trainer ends it or goes silent for {@link BEAT_TIMEOUT_MS}. A stage thread that dies is
 * reported to its trainer as the stage's failure, naming this host.
 *
 * @example
 * const host = await serveStages({ servers: 'nats://10.0.0.1:4222', name: 'gpu-box-1', threads: 2 });
 * process.on('SIGTERM', () => void host.close());
 */
import { hostname } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { NatsConnection } from 'nats';
import { Reassembler, decodeValue, encodeValue } from '../../lib/wire.ts';
import { serializeError } from '../stage/stageProtocol.ts';
import { workerEntry } from '../stage/workerEntry.ts';
import type { HostThreadCommand, HostThreadReport } from './natsHostThread.ts';
import {
  BEAT_MS,
  BEAT_TIMEOUT_MS,
  CODE_VERSION,
  type Claim,
  type ClaimReply,
  DEFAULT_PREFIX,
  type HostInfo,
  type NatsConnectOptions,
  checkToken,
  connectNats,
  isConnectTimeout,
  publishValue,
  subjects,
} from './natsProtocol.ts';

export interface NatsHostOptions extends NatsConnectOptions {
  /** how trainings name this host (default: the machine's hostname and this process's id) */
  name?: string;
  /** stages it runs at once, one worker thread each (default 1) */
  threads?: number;
  /** the code version it claims (default this code's; a test gives another) */
  version?: string;
  /** how often it tells its trainings it is alive (ms) */
  beatMs?: number;
  /** a trainer silent this long has its stages ended here (ms) */
  timeoutMs?: number;
  /** one line per event worth a log (claims, refusals, ends) */
  log?: (line: string) => void;
}

export interface NatsHost {
  readonly name: string;
  readonly version: string;
  /** the server it connected to, and that server's largest message */
  readonly server: string;
  readonly maxPayload: number;
  /** end every stage it runs (their trainings fail, naming this host), then leave the servers */
  close(): Promise<void>;
}

interface Run {
  /** its stages here, each on a thread, with what undoes the stage's listeners on that thread */
  readonly stages: Map<number, { readonly worker: Worker; readonly detach: () => void }>;
  lastTrainerBeat: number;
  readonly unsubscribe: () => void;
}

/** How long a claim waits for a thread that is freeing its last stage (ms). */
const SPARE_WAIT_MS = 5000;

export async function serveStages(o: NatsHostOptions): Promise<NatsHost> {
  const name = checkToken('host name', o.name ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}-${process.pid}`);
  const prefix = checkToken('prefix', o.prefix ?? DEFAULT_PREFIX);
  const threads = o.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`stage host: threads must be an integer >= 1, got ${threads}`);
  if (o.connectTimeoutMs !== undefined && !isConnectTimeout(o.connectTimeoutMs))
    throw new RangeError(`stage host: connectTimeoutMs must be an integer from 1 to 3600000 (ms), got ${o.connectTimeoutMs}`);
  const version = o.version ?? CODE_VERSION,
    beatMs = o.beatMs ?? BEAT_MS,
    timeoutMs = o.timeoutMs ?? BEAT_TIMEOUT_MS;
  const log = o.log ?? (() => {});
  const s = subjects(prefix);
  const connection: NatsConnectOptions = {
    servers: o.servers,
    prefix,
    user: o.user,
    pass: o.pass,
    token: o.token,
    nkey: o.nkey,
    creds: o.creds,
    tls: o.tls,
    connectTimeoutMs: o.connectTimeoutMs,
  };
  const nc: NatsConnection = await connectNats(
    { ...connection, connectionName: `dni-actors stage host ${name}` },
    { maxReconnectAttempts: -1, reconnectTimeWait: 250 },
  );
  const runs = new Map<string, Run>();
  let closing = false;
  /** stages running here */
  const running = () => [...runs.values()].reduce((n, r) => n + r.stages.size, 0);
  /** claims accepted and waiting for a thread (one that is freeing its last stage) */
  let claiming = 0;
  const busy = () => running() + claiming;

  nc.subscribe(s.hosts, { callback: (_e, msg) => msg.respond(encodeValue({ name, version, threads, busy: busy() } satisfies HostInfo)) });

  const claims = new Reassembler();
  nc.subscribe(s.claim(name), {
    callback: (_e, msg) => {
      let claim: Claim;
      try {
        const whole = claims.take(msg.data);
        if (!whole) return;
        claim = decodeValue<Claim>(whole.message);
      } catch (error) {
        return msg.respond(encodeValue({ ok: false, error: `host '${name}': ${(error as Error).message}` } satisfies ClaimReply));
      }
      const refuse = (error: string) => {
        log(`refused: ${error}`);
        msg.respond(encodeValue({ ok: false, error } satisfies ClaimReply));
      };
      const k = claim.init.stage.index;
      if (closing) return refuse(`host '${name}' is shutting down`);
      if (claim.version !== version)
        return refuse(`host '${name}' runs dni-actors ${version}, the training ${claim.version}: it refuses stage ${k}`);
      if (claim.init.prefix !== prefix) return refuse(`host '${name}' serves prefix '${prefix}', not '${claim.init.prefix}'`);
      if (busy() >= threads)
        return refuse(`host '${name}' runs ${threads} stage(s) already (--threads ${threads}): no room for stage ${k}`);
      const reply = (r: ClaimReply) => msg.respond(encodeValue(r));
      claiming++;
      void spareThread().then((worker) => {
        claiming--;
        if (closing) {
          if (worker) retire(worker);
          return refuse(`host '${name}' is shutting down`);
        }
        if (!worker) return refuse(`host '${name}': no thread became free for stage ${k} within ${SPARE_WAIT_MS} ms`);
        startStage(claim, worker, reply);
      });
    },
  });

  function runOf(run: string): Run {
    let r = runs.get(run);
    if (r) return r;
    const end = nc.subscribe(s.end(run), { callback: () => endRun(run, 'its trainer ended it') });
    const beat = nc.subscribe(s.trainerBeat(run), { callback: () => (r!.lastTrainerBeat = Date.now()) });
    r = { stages: new Map(), lastTrainerBeat: Date.now(), unsubscribe: () => (end.unsubscribe(), beat.unsubscribe()) };
    runs.set(run, r);
    return r;
  }

  /**
   * idle threads, started ahead of the claims they will serve (their modules loaded), or back from
   * a stage that ended and left nothing behind (warm: what V8 optimised for it serves the next)
   */
  const spare: Worker[] = [];
  /** threads freeing a stage that ended, not yet back among the spares */
  const freeing = new Set<Worker>();
  /** stages each thread has hosted (for the log) */
  const served = new WeakMap<Worker, number>();
  const exited = new WeakSet<Worker>();
  const spareWaiters: (() => void)[] = [];
  const toSpare = (w: Worker) => {
    spare.push(w);
    for (const wake of spareWaiters.splice(0)) wake();
  };
  /** A spare thread; one freeing its last stage is waited for (a training that follows another claims as the first ends). */
  async function spareThread(): Promise<Worker | undefined> {
    const until = performance.now() + SPARE_WAIT_MS;
    while (spare.length === 0 && !closing && performance.now() < until)
      await new Promise<void>((wake) => (spareWaiters.push(wake), setTimeout(wake, 100)));
    return spare.shift();
  }
  const topUp = () => {
    while (!closing && spare.length + freeing.size + running() < threads) {
      const w = new Worker(...workerEntry(new URL('./natsHostThread.ts', import.meta.url), { name: `${name} stage thread` }));
      w.on('error', () => {});
      w.once('exit', () => {
        exited.add(w);
        if (spare.includes(w)) spare.splice(spare.indexOf(w), 1);
        freeing.delete(w);
        topUp();
      });
      toSpare(w);
    }
  };
  topUp();

  function startStage(claim: Claim, worker: Worker, reply: (r: ClaimReply) => void): void {
    const init = { ...claim.init, host: name },
      k = init.stage.index,
      run = runOf(init.run);
    const warm = served.get(worker) ?? 0;
    served.set(worker, warm + 1);
    worker.postMessage({ type: 'HOST', init, connection } satisfies HostThreadCommand);
    let ready = false;
    const onMessage = (m: HostThreadReport) => {
      if (ready) return;
      if (m === 'ready') {
        ready = true;
        log(
          `stage ${k} of ${init.run} (${init.stage.actors.join(', ')}) ready` +
            (warm > 0 ? ` on a warm thread (its stage ${warm + 1})` : ''),
        );
        return reply({ ok: true });
      }
      if (typeof m === 'object' && m.type === 'FAILED') {
        detach();
        run.stages.delete(k);
        retire(worker);
        reply({ ok: false, error: `host '${name}': stage ${k} could not start: ${m.error}` });
      }
    };
    const gone = (why: string) => {
      if (run.stages.get(k)?.worker !== worker) return;
      run.stages.delete(k);
      topUp();
      if (!ready) return reply({ ok: false, error: `host '${name}': stage ${k} ${why} before it was ready` });
      // the trainer hears it from the host: the thread that would have said so is gone
      publishValue(
        nc,
        s.reports(init.run),
        { type: 'FAILED', stage: k, error: serializeError(new Error(`on host '${name}' its thread ${why}`)) },
        1_000_000 + k,
        1,
      );
    };
    const onError = (e: Error) => gone(`threw ${e.name}: ${e.message}`),
      onExit = (code: number) => gone(`exited with code ${code}`);
    const detach = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    run.stages.set(k, { worker, detach });
  }

  /**
   * A stage's thread is done with it: it frees the stage and says what it still holds; back among
   * the spares when that is nothing and a slot is free, else it leaves (and a fresh one takes the slot).
   */
  function release(w: Worker): void {
    freeing.add(w);
    const timer = setTimeout(() => retire(w), 1000);
    w.once('exit', () => clearTimeout(timer));
    const onEnded = (m: HostThreadReport) => {
      if (typeof m !== 'object' || m.type !== 'ENDED') return;
      w.off('message', onEnded);
      clearTimeout(timer);
      if (!freeing.has(w)) return;
      const { usedBytes, stages } = m.residue;
      const left = usedBytes !== 0 || stages !== 0;
      if (left) log(`a stage thread kept ${usedBytes} bytes and ${stages} stage(s) after its stage ended: it leaves`);
      freeing.delete(w);
      if (closing || left || spare.length + freeing.size + running() >= threads) return retire(w);
      toSpare(w);
    };
    w.on('message', onEnded);
    w.postMessage('end' satisfies HostThreadCommand);
  }

  /**
   * End a thread: it leaves the servers and exits; terminated if it has not within a second (its
   * slot is taken again once it has exited).
   */
  function retire(w: Worker): void {
    if (exited.has(w)) return;
    freeing.add(w);
    w.postMessage('close' satisfies HostThreadCommand);
    const t = setTimeout(() => void w.terminate(), 1000);
    w.once('exit', () => clearTimeout(t));
  }

  /** End a run's stages here; `tell`: its trainer hears that they failed, and why (else it ended them, or is gone). */
  function endRun(run: string, why: string, tell = false): void {
    const r = runs.get(run);
    if (!r) return;
    runs.delete(run);
    r.unsubscribe();
    if (r.stages.size > 0) log(`run ${run}: ${why}; its ${r.stages.size} stage(s) end`);
    for (const [k, { worker, detach }] of r.stages) {
      detach();
      if (tell)
        publishValue(
          nc,
          s.reports(run),
          { type: 'FAILED', stage: k, error: serializeError(new Error(`on host '${name}': ${why}`)) },
          1_000_000 + k,
          2,
        );
      release(worker);
    }
    r.stages.clear();
  }

  const beats = setInterval(() => {
    const now = Date.now();
    nc.publish(s.hostBeat, encodeValue({ host: name }));
    for (const [run, r] of runs) {
      if (now - r.lastTrainerBeat > timeoutMs) endRun(run, `its trainer was silent for ${now - r.lastTrainerBeat} ms`);
      else nc.publish(s.beat(run), encodeValue({ host: name }));
    }
  }, beatMs);

  const server = nc.getServer();
  return {
    name,
    version,
    server,
    maxPayload: nc.info?.max_payload ?? 0,
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(beats);
      for (const run of [...runs.keys()]) endRun(run, 'the host is shutting down', true);
      for (const w of spare.splice(0)) retire(w);
      await nc.flush().catch(() => {});
      await nc.drain().catch(() => {});
    },
  };
}
