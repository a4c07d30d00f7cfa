/**
 * The command lines of NATS stage hosts: `npm run stage` (its --help, bad arguments refused with
 * exit code 2 before connecting, the ready line, SIGTERM), and `--scheduler nats --nats-servers
 * URL` on the demos and the reference CLI (the reference CLI writes queue's bits through it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as stage from '../../bin/stage.ts';
import { UsageError, natsFlags, schedulerOption, tryParseDemoArgs } from '../../demos/cli.ts';
import { REFERENCE_DIR } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts, waitForLine } from './_servers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tsx = (script: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

class Exit {
  constructor(readonly code: number) {}
}

/** bin/stage.ts's main() in this process: its exit code (process.exit throws instead of exiting) and what it wrote. */
async function stageMain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const signals = (['SIGTERM', 'SIGINT'] as const).map((s) => [s, process.listeners(s)] as const);
  const capture = (stream: 'stdout' | 'stderr') => (chunk: unknown) => ((out[stream] += String(chunk)), true);
  const spies = [
    vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Exit(code ?? 0);
    }) as never),
    vi.spyOn(process.stdout, 'write').mockImplementation(capture('stdout')),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture('stderr')),
  ];
  let code: number | null = null;
  try {
    await stage.main(args);
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    code = e.code;
  } finally {
    spies.forEach((s) => s.mockRestore());
    // the Ctrl+C and SIGTERM handlers main() installs
    for (const [s, before] of signals) for (const l of process.listeners(s)) if (!before.includes(l)) process.off(s, l);
  }
  return { code, ...out };
}

describe('npm run stage: arguments', () => {
  it('--help prints the usage (exit 0); a missing or bad argument is one line and exit 2, before any connection', async () => {
    const help = await stageMain(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: npx dni-actors stage --nats-servers nats:\/\/HOST:4222/);
    expect(help.stdout).toMatch(/--nats-connect-timeout MS +how long connecting may take/);
    for (const [args, message] of [
      [[], /--nats-servers is required/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--threads', '0'], /--threads must be an integer from 1 to 256, got '0'/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--name', 'a.b'], /the host name 'a\.b' must be letters, digits/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--nats-user', 'u'], /--nats-user needs --nats-pass/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--bogus'], /Unknown option '--bogus'/],
      ...['0', '-5', '1.5', 'abc', '', '3600001'].map(
        (ms) =>
          [
            ['--nats-servers', 'nats://127.0.0.1:1', `--nats-connect-timeout=${ms}`],
            new RegExp(`--nats-connect-timeout must be an integer from 1 to 3600000 \\(ms\\), got '${ms}'`),
          ] as const,
      ),
    ] as const) {
      const r = await stageMain([...args]);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(new RegExp(`^stage: .*${message.source}`));
      expect(r.stdout).toBe('');
    }
    expect(stage.parseStageArgs(['--nats-servers', 'nats://127.0.0.1:1', '--nats-connect-timeout', '2500']).connectTimeoutMs).toBe(2500);
    expect(stage.parseStageArgs(['--nats-servers', 'nats://127.0.0.1:1']).connectTimeoutMs).toBeUndefined();
    // serveStages() itself, as a library call: refused before it connects (nothing listens on port 1)
    const { serveStages } = await import('../../actors/nats/natsHost.ts');
    await expect(serveStages({ servers: 'nats://127.0.0.1:1', connectTimeoutMs: 0 })).rejects.toThrow(
      /^stage host: connectTimeoutMs must be an integer from 1 to 3600000 \(ms\), got 0$/,
    );
    // and once as a process of its own: the exit code and the line are the process's
    const r = tsx('bin/stage.ts', ['--nats-servers', 'nats://127.0.0.1:1', '--name', 'a.b']);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^stage: .*the host name 'a\.b' must be letters, digits/);
    expect(r.stdout).toBe('');
  });

  it('the demos take --scheduler nats with --nats-servers (and refuse either without the other)', () => {
    const spec = { name: 'test' };
    const a = tryParseDemoArgs(
      ['--scheduler', 'nats', '--nats-servers', 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', '--nats-hosts', 'a,b'],
      spec,
    )!;
    expect(schedulerOption(a)).toEqual({
      name: 'nats',
      servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'],
      hosts: ['a', 'b'],
      prefix: undefined,
      creds: undefined,
    });
    expect(natsFlags(a)).toEqual(['--nats-servers', 'nats://10.0.0.1:4222,nats://10.0.0.2:4222', '--nats-hosts', 'a,b']);
    expect(schedulerOption(tryParseDemoArgs(['--scheduler', 'worker'], spec)!)).toBe('worker');
    expect(() => tryParseDemoArgs(['--scheduler', 'nats'], spec)).toThrow(UsageError);
    expect(() => tryParseDemoArgs(['--scheduler', 'nats'], spec)).toThrow(/--scheduler nats needs --nats-servers URL/);
    expect(() => tryParseDemoArgs(['--nats-servers', 'nats://x:4222'], spec)).toThrow(/--nats-servers applies to --scheduler nats/);
    expect(() => tryParseDemoArgs(['--scheduler', 'nats', '--nats-servers', 'nats://x:4222', '--nats-hosts', 'a b'], spec)).toThrow(
      /--nats-hosts needs host names/,
    );
  });
});

describe.skipIf(!NATS_SERVER)(`--scheduler nats on real stage hosts${NATS_SERVER ? '' : NO_NATS}`, () => {
  let server: NatsServer;
  const hosts: HostProcess[] = [];
  beforeAll(async () => {
    server = await startNats();
    hosts.push(...(await Promise.all([startHost(server.url, 'cli-a'), startHost(server.url, 'cli-b')])));
  }, 120_000);
  afterAll(async () => {
    await stopAllHosts().catch(() => {});
    await Promise.all(hosts.map((h) => h.stop()));
    await server?.stop();
  });

  it('the ready line names the host, its version, threads, prefix, server and max_payload; SIGTERM exits 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bin', 'stage.ts'), '--nats-servers', server.url, '--name', 'cli-ready', '--threads', '2'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const line = await waitForLine(child, /ready/);
    expect(line).toBe(
      `stage host cli-ready ready: dni-actors 0.1.0+wire1, 2 thread(s), ` +
        `prefix 'dni', server 127.0.0.1:${server.port} (max_payload 1048576 bytes)`,
    );
    child.kill('SIGTERM');
    expect(await new Promise((r) => child.once('exit', r))).toBe(0);
  });

  it('the reference CLI under --scheduler nats writes the bits it writes under queue', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-nats-cli-'));
    const casePath = join(REFERENCE_DIR, 'dni-delay2.json');
    const queue = tsx('bin/reference.ts', [casePath, '--out', join(dir, 'queue.json')]);
    expect(queue.status, queue.stderr).toBe(0);
    const nats = tsx('bin/reference.ts', [
      casePath,
      '--out',
      join(dir, 'nats.json'),
      '--scheduler',
      'nats',
      '--nats-servers',
      server.url,
      '--nats-hosts',
      'cli-a,cli-b',
    ]);
    expect(nats.status, nats.stderr).toBe(0);
    expect(nats.stdout).toMatch(/under the nats scheduler/);
    expect(readFileSync(join(dir, 'nats.json'), 'utf8')).toBe(readFileSync(join(dir, 'queue.json'), 'utf8'));
  });

  it('a demo trains with --scheduler nats (binary addition, --json)', () => {
    const r = tsx('demos/binary-addition.ts', [
      '--steps',
      '40',
      '--scheduler',
      'nats',
      '--nats-servers',
      server.url,
      '--nats-hosts',
      'cli-a,cli-b',
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(last.scheduler).toBe('nats');
    expect(last.steps).toBe(40);
  });
});

describe('the nats scheduler option: bad input refused before any work, by name', () => {
  it('no servers, bad host names, a bad prefix, a bad connect timeout, relay: TrainingOptionsError at createTraining', async () => {
    const { createTraining } = await import('../../actors/trainer/training.ts');
    const { TrainingOptionsError } = await import('../../lib/errors.ts');
    const topology = { inputs: 2, batch: 2, lr: 0.1, layers: [{ units: 2 }] };
    const data = { x: { rows: 2, cols: 2, data: new Float32Array(4) }, y: { rows: 2, cols: 2, data: new Float32Array(4) } };
    const make =
      (scheduler: object, extra: object = {}) =>
      () =>
        createTraining({ topology, data, steps: 1, scheduler: scheduler as never, ...extra });
    expect(make({ name: 'nats' })).toThrow(TrainingOptionsError);
    expect(make({ name: 'nats', servers: [] })).toThrow(/the nats scheduler needs servers/);
    expect(make({ name: 'nats', servers: 'nats://x:4222', hosts: ['a.b'] })).toThrow(
      /nats hosts must be a non-empty list of host names .*\["a\.b"\]/,
    );
    expect(make({ name: 'nats', servers: 'nats://x:4222', prefix: 'a.>' })).toThrow(/nats prefix 'a\.>' must be subject tokens/);
    for (const ms of [0, 1.5, '5000', 3_600_001])
      expect(make({ name: 'nats', servers: 'nats://x:4222', connectTimeoutMs: ms })).toThrow(
        new RegExp(`the nats scheduler: connectTimeoutMs must be an integer from 1 to 3600000 \\(ms\\), got ${JSON.stringify(ms)}$`),
      );
    expect(make({ name: 'nats', servers: 'nats://x:4222' }, { relay: () => {} })).toThrow(
      /relay .* is not supported by the nats scheduler/,
    );
  });
});
