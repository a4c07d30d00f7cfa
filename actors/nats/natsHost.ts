/**
 * A stage host: a long-running process's offer of stage capacity to any training that reaches the
 * same NATS servers under the same subject prefix. It answers discovery (`{prefix}.hosts`), takes
 * claims (one stage of one training each, run in a worker thread of its own: natsHostThread.ts, up to
 * `threads` at once), refuses a claim whose code version differs from its own (by name), says it
 * is alive to each training it serves every {@link BEAT_MS}, and ends a training's stages when
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
  readonly stages: Map<number, Worker>;
  lastTrainerBeat: number;
  readonly unsubscribe: () => void;
}

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
  const busy = () => [...runs.values()].reduce((n, r) => n + r.stages.size, 0);

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
      startStage(claim, (reply) => msg.respond(encodeValue(reply)));
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

  /** threads started ahead of the claims they will serve (their modules loaded), one per free slot */
  const spare: Worker[] = [];
  const topUp = () => {
    while (!closing && spare.length + busy() < threads) {
      const w = new Worker(...workerEntry(new URL('./natsHostThread.ts', import.meta.url), { name: `${name} stage thread` }));
      w.on('error', () => {});
      w.once('exit', () => spare.includes(w) && spare.splice(spare.indexOf(w), 1));
      spare.push(w);
    }
  };
  topUp();

  function startStage(claim: Claim, reply: (r: ClaimReply) => void): void {
    const init = { ...claim.init, host: name },
      k = init.stage.index,
      run = runOf(init.run);
    const worker =
      spare.shift() ?? new Worker(...workerEntry(new URL('./natsHostThread.ts', import.meta.url), { name: `${name} stage:${k}` }));
    worker.postMessage({ init, connection });
    run.stages.set(k, worker);
    let ready = false;
    worker.on('message', (m) => {
      if (m !== 'ready' || ready) return;
      ready = true;
      log(`stage ${k} of ${init.run} (${init.stage.actors.join(', ')}) ready`);
      reply({ ok: true });
    });
    const gone = (why: string) => {
      if (run.stages.get(k) !== worker) return;
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
    worker.on('error', (e) => gone(`threw ${e.name}: ${e.message}`));
    worker.on('exit', (code) => gone(`exited with code ${code}`));
  }

  /** End a run's stages here; `tell`: its trainer hears that they failed, and why (else it ended them, or is gone). */
  function endRun(run: string, why: string, tell = false): void {
    const r = runs.get(run);
    if (!r) return;
    runs.delete(run);
    r.unsubscribe();
    if (r.stages.size > 0) log(`run ${run}: ${why}; its ${r.stages.size} stage(s) end`);
    for (const [k, w] of r.stages) {
      w.removeAllListeners('exit');
      w.once('exit', topUp);
      if (tell)
        publishValue(
          nc,
          s.reports(run),
          { type: 'FAILED', stage: k, error: serializeError(new Error(`on host '${name}': ${why}`)) },
          1_000_000 + k,
          2,
        );
      endWorker(w);
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
      for (const w of spare.splice(0)) void w.terminate();
      await nc.flush().catch(() => {});
      await nc.drain().catch(() => {});
    },
  };
}

/** Ask a stage thread to leave its connection cleanly; terminate it if it has not within a second. */
function endWorker(w: Worker): void {
  w.postMessage('end');
  const t = setTimeout(() => void w.terminate(), 1000);
  w.once('exit', () => clearTimeout(t));
}
