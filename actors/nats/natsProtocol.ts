/**
 * What trainers and stage hosts say to each other over NATS, in one place: the subjects, the
 * messages on them, the code version both must share, and how either side connects (every
 * security option NATS offers, passed through). Hosts dial out to the servers; nothing of ours
 * listens on a port.
 *
 *   trainer ──request {prefix}.hosts──▶ every host ──reply { name, version, threads, busy }
 *   trainer ──{prefix}.host.{name}.claim: { run, version, init } (framed)──▶ host ──reply { ok } once the stage listens,
 *     or { ok: false, error }
 *   trainer ──{prefix}.run.{run}.stage.{k}.commands: StageCommand──▶ stage k          (stageProtocol.ts's commands)
 *   trainer ◀──{prefix}.run.{run}.reports: StageReport | ProgressReport (framed)── stages
 *   stage a ──{prefix}.run.{run}.stage.{b}.tensors: header + float32 bytes──▶ stage b (natsLink.ts)
 *   host ──{prefix}.run.{run}.beat { host } every beatMs──▶ trainer;  trainer ──{prefix}.run.{run}.trainer──▶ hosts
 *   trainer ──{prefix}.run.{run}.end──▶ hosts (the run's stages end)
 *   host ──{prefix}.hosts.beat { host } every beatMs──▶ pools (which hosts are alive, between trainings too)
 *
 * Large messages (a stage's start-up data, a drained stage's parameters) go as frames under the
 * server's `max_payload` (lib/wire.ts).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, NatsConnection } from 'nats';
import type { NatsLinkInit } from './natsLink.ts';
import type { StageThreadInit } from '../stage/stageProtocol.ts';
import { encodeValue, framesOf } from '../../lib/wire.ts';

/** The protocol's own version: part of the code version a host and a trainer must share. */
export const WIRE_VERSION = 1;

/** This code's version: the package's and the wire's (`0.1.0+wire1`). */
export const CODE_VERSION = `${packageVersion()}+wire${WIRE_VERSION}`;

function packageVersion(): string {
  // the package.json above this module, in the repository or in an installed package
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    try {
      const p = JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'dni-actors' && p.version) return p.version;
    } catch {
      // not here
    }
    if (dir.pathname === '/') return '0.0.0';
  }
}

/** How to reach the NATS servers, and as whom. */
export interface NatsConnectOptions {
  /** `nats://HOST:4222`, or several */
  servers: string | string[];
  /** subject prefix of every subject used (default `dni`): a host serves only trainings under its own */
  prefix?: string;
  user?: string;
  pass?: string;
  token?: string;
  /** an NKey seed (the `SU…` text) or the path of a file holding it */
  nkey?: string;
  /** the path of a `.creds` file (a JWT and its NKey seed) */
  creds?: string;
  /** TLS: files of the CA, and of this side's certificate and key (mutual TLS) */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** the connection's name as the server shows it */
  connectionName?: string;
  /** how long the first connection may take before it fails, naming the servers (ms, default {@link CONNECT_TIMEOUT_MS}) */
  connectTimeoutMs?: number;
}

export const DEFAULT_PREFIX = 'dni';
/** How long the first connection may take (ms). */
export const CONNECT_TIMEOUT_MS = 60_000;
/** How often hosts and trainers say they are alive (ms). */
export const BEAT_MS = 1000;
/** Silent this long, a host (or a trainer, to its hosts) counts as gone (ms). */
export const BEAT_TIMEOUT_MS = 3000;

/** Whether `ms` is a connect timeout we take: whole milliseconds, from 1 to an hour. */
export const isConnectTimeout = (ms: unknown): ms is number => Number.isInteger(ms) && (ms as number) >= 1 && (ms as number) <= 3_600_000;

const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const NAME = /^[A-Za-z0-9_-]+$/;

/** Refuse a prefix or host name that is no plain subject token (`*`, `>`, spaces would reach other subjects). */
export function checkToken(what: 'prefix' | 'host name', value: string): string {
  if (!(what === 'prefix' ? PREFIX : NAME).test(value))
    throw new RangeError(
      `nats: the ${what} '${value}' must be letters, digits, '-' or '_'${what === 'prefix' ? " (tokens joined by '.')" : ''}`,
    );
  return value;
}

export const subjects = (prefix: string) => ({
  hosts: `${prefix}.hosts`,
  /** every host says it is alive here every beatMs, whether it serves a training or not (pools watch it) */
  hostBeat: `${prefix}.hosts.beat`,
  claim: (host: string) => `${prefix}.host.${host}.claim`,
  commands: (run: string, stage: number) => `${prefix}.run.${run}.stage.${stage}.commands`,
  tensors: (run: string, stage: number) => `${prefix}.run.${run}.stage.${stage}.tensors`,
  reports: (run: string) => `${prefix}.run.${run}.reports`,
  beat: (run: string) => `${prefix}.run.${run}.beat`,
  trainerBeat: (run: string) => `${prefix}.run.${run}.trainer`,
  end: (run: string) => `${prefix}.run.${run}.end`,
});

/** A host's answer to `{prefix}.hosts`. */
export interface HostInfo {
  name: string;
  version: string;
  /** stages it runs at once */
  threads: number;
  /** stages it runs now */
  busy: number;
}

/** What a host needs to run one stage of a training (a worker stage's start-up data, the link's over NATS). */
export interface HostedStageInit extends Omit<StageThreadInit, 'link' | 'adaptive'> {
  run: string;
  prefix: string;
  link: NatsLinkInit;
  /** the host's name (in its errors) */
  host: string;
}

export interface Claim {
  version: string;
  init: HostedStageInit;
}

export type ClaimReply = { ok: true } | { ok: false; error: string };

/** Connection options for the `nats` client from ours (the nkey and creds files read here). */
export async function natsOptions(o: NatsConnectOptions, extra: Partial<ConnectionOptions> = {}): Promise<ConnectionOptions> {
  const nats = await import('nats');
  const servers = Array.isArray(o.servers)
    ? o.servers
    : String(o.servers ?? '')
        .split(',')
        .filter(Boolean);
  if (servers.length === 0) throw new RangeError('nats: no servers given (e.g. nats://127.0.0.1:4222)');
  const text = (v: string) => (/^S[A-Z0-9]{50,}$/.test(v.trim()) ? v.trim() : readFileSync(v, 'utf8').trim());
  const authenticator = o.nkey
    ? nats.nkeyAuthenticator(new TextEncoder().encode(text(o.nkey)))
    : o.creds
      ? nats.credsAuthenticator(readFileSync(o.creds))
      : undefined;
  return {
    servers,
    name: o.connectionName,
    user: o.user,
    pass: o.pass,
    token: o.token,
    authenticator,
    tls: o.tls && (o.tls.caFile || o.tls.certFile) ? { ...o.tls } : undefined,
    // the client's default (20 s) for the first handshake is short on a loaded machine; a refusal (credentials) comes at once anyway,
    // but a server that drops the handshake without a word (TLS without a client certificate) is noticed only when it runs out
    timeout: o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    ...extra,
  };
}

/** Connect, or fail with an error that names the servers. */
export async function connectNats(o: NatsConnectOptions, extra: Partial<ConnectionOptions> = {}): Promise<NatsConnection> {
  const nats = await import('nats');
  const options = await natsOptions(o, extra);
  try {
    return await nats.connect(options);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new Error(`nats: cannot connect to ${[options.servers].flat().join(', ')}: ${reason}`);
  }
}

/**
 * A round trip to the server, for at most `ms`: whatever the server sent before it (beats waiting
 * in the socket while this process was busy) has been handled once it resolves; a server cut off
 * does not hold the caller past `ms`.
 */
export function roundTrip(nc: NatsConnection, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([nc.flush().catch(() => {}), late]).finally(() => clearTimeout(timer));
}

/** Publish `value` on `subject` as frames under the server's limit (sender `sender`, message number `id`). */
export function publishValue(nc: NatsConnection, subject: string, value: unknown, sender: number, id: number, reply?: string): void {
  for (const f of framesOf(encodeValue(value), sender, id, nc.info?.max_payload ?? 1024 * 1024))
    nc.publish(subject, f, reply ? { reply } : undefined);
}
