/**
 * The command lines of NATS stage hosts: `npm run stage` (its --help, bad arguments refused with
 * exit code 2 before connecting, the ready line, SIGTERM), and `--scheduler nats --nats-servers
 * URL` on the demos and the reference CLI (the reference CLI writes queue's bits through it).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError, natsFlags, schedulerOption, tryParseDemoArgs } from '../../demos/cli.ts';
import { REFERENCE_DIR } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts, waitForLine } from './_servers.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const tsx = (script: string, args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });

describe('npm run stage: arguments', () => {
  it('--help prints the usage (exit 0); a missing or bad argument is one line and exit 2, before any connection', () => {
    const help = tsx('bin/stage.ts', ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npx dni-actors stage --nats-servers nats:\/\/HOST:4222/);
    for (const [args, message] of [
      [[], /--nats-servers is required/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--threads', '0'], /--threads must be an integer from 1 to 256, got '0'/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--name', 'a.b'], /the host name 'a\.b' must be letters, digits/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--nats-user', 'u'], /--nats-user needs --nats-pass/],
      [['--nats-servers', 'nats://127.0.0.1:1', '--bogus'], /Unknown option '--bogus'/],
    ] as const) {
      const r = tsx('bin/stage.ts', [...args]);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    }
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
  it('no servers, bad host names, a bad prefix, relay: TrainingOptionsError at createTraining', async () => {
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
    expect(make({ name: 'nats', servers: 'nats://x:4222' }, { relay: () => {} })).toThrow(
      /relay .* is not supported by the nats scheduler/,
    );
  });
});
