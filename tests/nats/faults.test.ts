/**
 * Faults of stages on NATS hosts, each a named error and never a hang: a host killed mid-run (its
 * heartbeat stops: a StageError naming the host and the stage within the bound), a host of
 * another code version (refused by name), a host with the wrong credentials (it says so and
 * exits), and a NATS server restarted mid-run (the training fails by name; under
 * trainWithRestarts it resumes from its last checkpoint and ends with queue's bits).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraining, train, trainWithRestarts } from '../../actors/trainer/training.ts';
import { StageError } from '../../lib/errors.ts';
import { type AnyLoadedCase, loadAnyCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts, waitForLine } from './_servers.ts';

const OPENSSL = spawnSync('openssl', ['version']).status === 0;
const dni = loadAnyCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')), 'dni') as AnyLoadedCase & { kind: 'dense' };
const base = { topology: dni.topology, data: dni.data, params: dni.initial };

describe.skipIf(!NATS_SERVER)(`faults of stages on NATS hosts${NATS_SERVER ? '' : NO_NATS}`, () => {
  let server: NatsServer;
  const hosts: HostProcess[] = [];
  beforeAll(async () => {
    server = await startNats();
  });
  afterAll(async () => {
    await stopAllHosts().catch(() => {});
    await Promise.all(hosts.map((h) => h.stop()));
    await server?.stop();
  });

  it('a host killed mid-run (SIGKILL): StageError naming the host and its stage, within the 3 s heartbeat bound', async () => {
    const [a, b] = await Promise.all([startHost(server.url, 'kill-a'), startHost(server.url, 'kill-b')]);
    hosts.push(a, b);
    const training = createTraining({
      ...base,
      steps: 1_000_000,
      scheduler: { name: 'nats', servers: server.url, hosts: ['kill-a', 'kill-b'] },
    });
    let killedAt = 0;
    const sub = training.metrics$.subscribe((m) => {
      if (m.batch === 50 && !killedAt) {
        killedAt = performance.now();
        b.child.kill('SIGKILL');
      }
    });
    const error = await training.run().then(
      () => null,
      (e: Error) => e,
    );
    const noticed = performance.now() - killedAt;
    sub.unsubscribe();
    expect(error).toBeInstanceOf(StageError);
    expect(error!.message).toMatch(/stage:1 \(/);
    expect(error!.message).toContain("host 'kill-b'");
    expect(killedAt).toBeGreaterThan(0);
    expect(noticed).toBeLessThan(3000 + 1500);
  });

  it(
    'under trainWithRestarts, a host killed mid-run: ' +
      "the training resumes from its last checkpoint on the host that remains, with queue's bits",
    async () => {
      const [a, b] = await Promise.all([
        startHost(server.url, 'survive-a', ['--prefix', 'survive']),
        startHost(server.url, 'survive-b', ['--prefix', 'survive', '--threads', '2']),
      ]);
      hosts.push(a, b);
      const steps = 300,
        path = join(mkdtempSync(join(tmpdir(), 'dni-nats-')), 'run.ckpt');
      const queue = await train({ ...base, steps, scheduler: 'queue' });
      const failures: string[] = [];
      // no host named: each attempt takes the hosts that answer (survive-a and survive-b, then survive-b's two threads)
      const result = await trainWithRestarts(
        { ...base, steps, scheduler: { name: 'nats', servers: server.url, prefix: 'survive', stages: 2 }, checkpoint: { path, every: 40 } },
        {
          attempts: 3,
          onAttempt: (t, n) => {
            if (n === 0) t.metrics$.subscribe((m) => void (m.batch === 100 && a.child.kill('SIGKILL')));
            t.run().catch((e: Error) => failures.push(e.message));
          },
        },
      );
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/host 'survive-a'/);
      expect(Array.from(result.losses)).toEqual(Array.from(queue.losses));
      for (const k of Object.keys(queue.params)) expect(result.params[k].data, k).toEqual(queue.params[k].data);
    },
    120_000,
  );

  it('a host of another code version refuses its stage, by name and version', async () => {
    const old = await startHost(server.url, 'old', ['--claim-version', '0.0.1+wire0'], join(import.meta.dirname, '_otherVersion.ts'));
    const now = await startHost(server.url, 'now');
    hosts.push(old, now);
    const error = await train({ ...base, steps: 20, scheduler: { name: 'nats', servers: server.url, hosts: ['now', 'old'] } }).then(
      () => null,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(StageError);
    expect(error!.message).toMatch(/^stage:1 .*host 'old' runs dni-actors 0\.0\.1\+wire0, the training 0\.1\.0\+wire1: it refuses stage 1/);
  });

  it(
    'the NATS server restarted mid-run: the training fails by name (no hang); ' +
      "under trainWithRestarts it resumes from its checkpoint with queue's bits",
    async () => {
      const [a, b] = await Promise.all([startHost(server.url, 'rs-a'), startHost(server.url, 'rs-b')]);
      hosts.push(a, b);
      const nats = { name: 'nats' as const, servers: server.url, hosts: ['rs-a', 'rs-b'] };
      // a plain training: fails, naming the connection
      const training = createTraining({ ...base, steps: 1_000_000, scheduler: nats });
      let restarted: Promise<void> | null = null;
      training.metrics$.subscribe((m) => void (m.batch === 30 && (restarted ??= server.restart())));
      const t0 = performance.now();
      const error = await training.run().then(
        () => null,
        (e: Error) => e,
      );
      await restarted;
      expect(error).toBeInstanceOf(StageError);
      expect(error!.message).toMatch(/NATS connection .* dropped mid-run|sent no heartbeat|messages were (lost|repeated)/);
      expect(performance.now() - t0).toBeLessThan(60_000);
      // with restarts: the same run as queue's, bit for bit
      const steps = 300,
        path = join(mkdtempSync(join(tmpdir(), 'dni-nats-')), 'run.ckpt');
      const queue = await train({ ...base, steps, scheduler: 'queue' });
      let attempts = 0,
        restart: Promise<void> | null = null;
      const result = await trainWithRestarts(
        { ...base, steps, scheduler: nats, checkpoint: { path, every: 50 } },
        {
          attempts: 5,
          onAttempt: (t, n) => (
            (attempts = n + 1),
            n === 0 && t.metrics$.subscribe((m) => void (m.batch === 120 && (restart ??= server.restart())))
          ),
        },
      );
      await restart;
      expect(attempts).toBeGreaterThan(1);
      expect(Array.from(result.losses)).toEqual(Array.from(queue.losses));
      for (const k of Object.keys(queue.params)) expect(result.params[k].data, k).toEqual(queue.params[k].data);
    },
    120_000,
  );

  it('security: a host with the wrong password exits 1 naming the server; with the right one, trainings run', async () => {
    const secured = await startNats('authorization { user: trainer, password: s3cret }');
    try {
      const bad = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, '..', '..', 'bin', 'stage.ts'),
          '--nats-servers',
          secured.url,
          '--nats-user',
          'trainer',
          '--nats-pass',
          'wrong',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const line = await waitForLine(bad, /cannot connect/, 60_000);
      expect(line).toContain(secured.url);
      expect(line).toMatch(/Authorization/i);
      expect(await new Promise((r) => bad.once('exit', r))).toBe(1);
      const good = await Promise.all(
        ['sec-a', 'sec-b'].map((n) => startHost(secured.url, n, ['--nats-user', 'trainer', '--nats-pass', 's3cret'])),
      );
      hosts.push(...good);
      const nats = { name: 'nats' as const, servers: secured.url, user: 'trainer', pass: 's3cret', hosts: ['sec-a', 'sec-b'] };
      const r = await train({ ...base, steps: 20, scheduler: nats });
      expect(r.losses.length).toBe(20);
      const refused = await train({ ...base, steps: 20, scheduler: { ...nats, pass: 'nope' } }).then(
        () => null,
        (e: Error) => e,
      );
      expect(refused?.message).toMatch(/cannot connect .*Authorization/i);
    } finally {
      await Promise.all(hosts.splice(-2).map((h) => h.stop()));
      await secured.stop();
    }
  }, 120_000);
  it(
    'security: a token, and an NKey seed (given as text or as a file), ' +
      'reach a server that asks for them; a host serves only its prefix',
    async () => {
      const { nkeys } = await import('nats');
      const user = nkeys.createUser(),
        seed = new TextDecoder().decode(user.getSeed());
      const seedFile = join(mkdtempSync(join(tmpdir(), 'dni-nats-')), 'host.nk');
      writeFileSync(seedFile, `${seed}\n`);
      const secured = await startNats(`authorization { users = [ { nkey: ${user.getPublicKey()} } ] }`);
      const tokened = await startNats('authorization { token: "t0ken-of-the-run" }');
      const started: HostProcess[] = [];
      try {
        started.push(
          ...(await Promise.all([
            startHost(secured.url, 'nk-a', ['--nats-nkey', seedFile, '--prefix', 'team1']),
            startHost(secured.url, 'nk-b', ['--nats-nkey', seed, '--prefix', 'team1']),
            startHost(tokened.url, 'tok-a', ['--nats-token', 't0ken-of-the-run']),
            startHost(tokened.url, 'tok-b', ['--nats-token', 't0ken-of-the-run']),
          ])),
        );
        const r = await train({
          ...base,
          steps: 20,
          scheduler: { name: 'nats', servers: secured.url, nkey: seed, prefix: 'team1', hosts: ['nk-a', 'nk-b'] },
        });
        expect(r.losses.length).toBe(20);
        const t = await train({
          ...base,
          steps: 20,
          scheduler: { name: 'nats', servers: tokened.url, token: 't0ken-of-the-run', hosts: ['tok-a', 'tok-b'] },
        });
        expect(Array.from(t.losses)).toEqual(Array.from(r.losses));
        // under another prefix the same hosts are not there
        const other = await train({
          ...base,
          steps: 20,
          scheduler: { name: 'nats', servers: secured.url, nkey: seed, prefix: 'team2', discoverMs: 300 },
        }).then(
          () => null,
          (e: Error) => e,
        );
        expect(other?.message).toMatch(/no stage host answered on team2\.hosts/);
      } finally {
        await Promise.all(started.map((h) => h.stop()));
        await Promise.all([secured.stop(), tokened.stop()]);
      }
    },
    120_000,
  );
  it.skipIf(!OPENSSL)(
    `security: mutual TLS (CA, certificate and key files) on host and trainer; ` +
      `a host without a client certificate is refused${OPENSSL ? '' : ' (SKIPPED: openssl is not installed)'}`,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dni-nats-tls-'));
      const ssl = (...args: string[]) => {
        const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
        if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
      };
      ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=dni-test-ca');
      writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
      writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
      for (const who of ['server', 'client']) {
        ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`);
        ssl(
          'x509',
          '-req',
          '-in',
          `${who}.csr`,
          '-CA',
          'ca.pem',
          '-CAkey',
          'ca.key',
          '-CAcreateserial',
          '-out',
          `${who}.pem`,
          '-days',
          '1',
          '-extfile',
          `${who}.ext`,
        );
      }
      const f = (name: string) => join(dir, name);
      const tlsServer = await startNats(
        `tls { cert_file: "${f('server.pem')}", key_file: "${f('server.key')}", ca_file: "${f('ca.pem')}", verify: true }`,
      );
      const started: HostProcess[] = [];
      try {
        const flags = ['--nats-tls-ca', f('ca.pem'), '--nats-tls-cert', f('client.pem'), '--nats-tls-key', f('client.key')];
        started.push(...(await Promise.all(['tls-a', 'tls-b'].map((n) => startHost(tlsServer.url, n, flags)))));
        const tls = { caFile: f('ca.pem'), certFile: f('client.pem'), keyFile: f('client.key') };
        const r = await train({ ...base, steps: 20, scheduler: { name: 'nats', servers: tlsServer.url, tls, hosts: ['tls-a', 'tls-b'] } });
        const q = await train({ ...base, steps: 20, scheduler: 'queue' });
        expect(Array.from(r.losses)).toEqual(Array.from(q.losses));
        const bare = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(import.meta.dirname, '..', '..', 'bin', 'stage.ts'),
            '--nats-servers',
            tlsServer.url,
            '--nats-tls-ca',
            f('ca.pem'),
            '--nats-connect-timeout',
            '1500',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        // the server drops the handshake without a word: the client says so when its connect timeout runs out
        // (1.5 s here; the default 60 s would outlast the 30 s this waits)
        expect(await waitForLine(bare, /cannot connect/, 30_000)).toContain(tlsServer.url);
        expect(await new Promise((r) => bare.once('exit', r))).toBe(1);
        // a trainer without a client certificate: the same, within its connectTimeoutMs
        const t0 = performance.now();
        const refused = await train({
          ...base,
          steps: 20,
          scheduler: {
            name: 'nats',
            servers: tlsServer.url,
            tls: { caFile: f('ca.pem') },
            connectTimeoutMs: 1500,
            hosts: ['tls-a', 'tls-b'],
          },
        }).then(
          () => null,
          (e: Error) => e,
        );
        expect(refused?.message).toMatch(/nats: cannot connect to nats:\/\/127\.0\.0\.1:\d+: /);
        expect(performance.now() - t0).toBeLessThan(30_000);
      } finally {
        await Promise.all(started.map((h) => h.stop()));
        await tlsServer.stop();
      }
    },
    120_000,
  );
});
