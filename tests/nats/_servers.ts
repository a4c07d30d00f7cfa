/**
 * A real nats-server (bound to 127.0.0.1 on a free port, started and stopped by the test) and
 * stage hosts as separate Node processes (`bin/stage.ts`, or a script of a test's own).
 * Where nats-server is missing, {@link NATS_SERVER} is null and {@link NO_NATS} says why.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

function which(cmd: string): string | null {
  for (const p of [`/usr/sbin/${cmd}`, `/usr/bin/${cmd}`, `/usr/local/bin/${cmd}`]) if (spawnSync(p, ['--version']).status === 0) return p;
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export const NATS_SERVER = which('nats-server');
export const NO_NATS = ' (SKIPPED: nats-server is not installed: apt-get install nats-server)';
if (!NATS_SERVER) console.warn(`tests/nats: nats-server not found on this machine;${NO_NATS}`);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** Resolve when `child`'s output has a line matching `re` (rejecting if it exits first, or after `ms`). */
export function waitForLine(child: ChildProcess, re: RegExp, ms = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} within ${ms} ms; output:\n${out}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with code ${code} before a line matching ${re}; output:\n${out}`));
    });
  });
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** stop it (SIGTERM) and wait for its exit */
  stop(): Promise<void>;
  /** start it again on the same port and configuration */
  restart(): Promise<void>;
}

/** nats-server on 127.0.0.1, a free port, with `config` lines (e.g. `max_payload: 4096`, an authorization block). */
export async function startNats(config = '', host = '127.0.0.1', port?: number): Promise<NatsServer> {
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'dni-nats-'));
  const file = join(dir, 'nats.conf');
  writeFileSync(file, `listen: "${host}:${port}"\n${config}\n`);
  let child: ChildProcess;
  const start = async () => {
    child = spawn(NATS_SERVER!, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForLine(child, /Server is ready/, 15_000);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  await start();
  return {
    url: `nats://${host}:${port}`,
    port,
    stop: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stop();
      await start();
    },
  };
}

/** Every host process started and not yet exited: a test whose setup failed half-way still ends them ({@link stopAllHosts}). */
const running = new Set<ChildProcess>();
process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));

/** SIGTERM every host still running (an afterAll's safety net), and wait for them. */
export async function stopAllHosts(): Promise<void> {
  await Promise.all([...running].map((c) => new Promise<void>((resolve) => (c.once('exit', () => resolve()), c.kill('SIGTERM')))));
}

export interface HostProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** SIGTERM, and wait for its exit code */
  stop(): Promise<number | null>;
}

/** `npm run stage -- --nats-servers URL --name NAME …` as a process of its own, once it says it is ready. */
export async function startHost(
  url: string,
  name: string,
  extra: string[] = [],
  script = join(ROOT, 'bin', 'stage.ts'),
  wrap: string[] = [],
): Promise<HostProcess> {
  const child = spawn(
    wrap[0] ?? process.execPath,
    [
      ...wrap.slice(1),
      ...(wrap.length ? [process.execPath] : []),
      '--import',
      'tsx',
      script,
      '--nats-servers',
      url,
      '--name',
      name,
      ...extra,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  child.once('exit', () => running.delete(child));
  await waitForLine(child, /ready/, 90_000);
  return {
    name,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
