/**
 * A stage pool over NATS (`createStagePool({ nats })`): a real nats-server on 127.0.0.1 and two
 * stage hosts as processes of their own. Trainings one after another on one pool (a dense chain,
 * a graph, a recurrent network) reuse its connection and the hosts it found, each bit-identical to
 * `queue`; its stats name the hosts; `close()` leaves the server; a host's thread serves one
 * training after another (warm), a stage that diverged included; a pool whose hosts all died fails
 * its next training with a StageError naming each.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsStagePool } from '../../actors/nats/natsPool.ts';
import { createStagePool } from '../../actors/stage/stagePool.ts';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import { DivergenceError, StageError, TrainingOptionsError } from '../../lib/errors.ts';
import { defineTopology } from '../../lib/topology.ts';
import { type AnyLoadedCase, loadAnyCase } from '../../lib/reference.ts';
import { REFERENCE_DIR, smallPoolNetwork } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts } from './_servers.ts';

const load = (name: string) => loadAnyCase(JSON.parse(readFileSync(join(REFERENCE_DIR, `${name}.json`), 'utf8')), name) as AnyLoadedCase;

function expectSameBits(want: TrainingResult, got: TrainingResult, what: string): void {
  expect(Array.from(got.losses), `${what}: losses`).toEqual(Array.from(want.losses));
  expect(Object.keys(got.params).sort(), `${what}: keys`).toEqual(Object.keys(want.params).sort());
  for (const k of Object.keys(want.params)) expect(got.params[k].data, `${what}: ${k}`).toEqual(want.params[k].data);
}

describe.skipIf(!NATS_SERVER)(`a stage pool over NATS${NATS_SERVER ? '' : NO_NATS}`, () => {
  let server: NatsServer;
  const hosts: HostProcess[] = [];
  beforeAll(async () => {
    server = await startNats();
    hosts.push(...(await Promise.all([startHost(server.url, 'pool-a'), startHost(server.url, 'pool-b')])));
  }, 120_000);
  afterAll(async () => {
    await stopAllHosts().catch(() => {});
    await server?.stop();
  });

  it(
    'three trainings one after another (dense, graph, recurrent) on one pool: ' +
      'one connection, the hosts found once, each with the bits of queue',
    async () => {
      const pool = createStagePool({ nats: { servers: server.url, hosts: ['pool-a', 'pool-b'], name: 'test-pool' } });
      expect(pool).toBeInstanceOf(NatsStagePool);
      try {
        for (const name of ['dni', 'graph-branch', 'rnn-dni']) {
          const c = load(name);
          const o = { topology: c.topology, data: c.data, params: c.initial, steps: c.steps } as Parameters<typeof train>[0];
          const queue = await train({ ...o, scheduler: 'queue' });
          const remote = await train({ ...o, scheduler: { name: 'worker', pool } });
          expectSameBits(queue, remote, name);
        }
        const stats = pool.stats();
        expect(stats).toMatchObject({
          name: 'test-pool',
          server: expect.stringContaining('127.0.0.1'),
          connections: 1,
          discoveries: 1,
          trainings: 3,
          leased: 0,
        });
        expect(stats.hosts.map((h) => [h.name, h.threads, h.leased, h.lost])).toEqual([
          ['pool-a', 1, 0, null],
          ['pool-b', 1, 0, null],
        ]);
      } finally {
        await pool.close();
      }
      expect(pool.stats().server).toBe('');
      await expect(
        train({ topology: load('dni').topology, data: load('dni').data, steps: 2, scheduler: { name: 'worker', pool } }),
      ).rejects.toThrow(/scheduler.pool is closed/);
    },
    240_000,
  );

  it(
    "a host's thread serves one training after another: the next starts on the thread the last one warmed, " +
      'a stage that diverged leaves it fit for the next, each with the bits of queue',
    async () => {
      const [a, b] = await Promise.all([
        startHost(server.url, 'warm-a', ['--prefix', 'warm']),
        startHost(server.url, 'warm-b', ['--prefix', 'warm']),
      ]);
      hosts.push(a, b);
      const logs = [a, b].map((h) => {
        const lines: string[] = [];
        h.child.stderr!.on('data', (d: Buffer) => lines.push(...String(d).split('\n').filter(Boolean)));
        return lines;
      });
      const pool = createStagePool({ nats: { servers: server.url, prefix: 'warm', hosts: ['warm-a', 'warm-b'] } });
      const { topology, data } = smallPoolNetwork();
      const o = { topology, data, steps: 60, seed: 3 };
      // linear layers at a learning rate of 1e6: non-finite within a few batches
      const wild = {
        ...o,
        topology: defineTopology({
          inputs: 24,
          batch: 10,
          lr: 1e6,
          synthesizer: { lr: 1e6, delay: 1 },
          layers: [
            { units: 32, decoupled: true, activation: 'linear' },
            { units: 16, decoupled: true, activation: 'linear' },
            { units: 12 },
          ],
        }),
      };
      try {
        const queue = await train({ ...o, scheduler: 'queue' });
        expectSameBits(queue, await train({ ...o, scheduler: { name: 'worker', pool } }), 'the first training');
        await expect(train({ ...wild, scheduler: 'queue' })).rejects.toThrow(DivergenceError);
        await expect(train({ ...wild, scheduler: { name: 'worker', pool } })).rejects.toThrow(DivergenceError);
        expectSameBits(queue, await train({ ...o, scheduler: { name: 'worker', pool } }), 'the training after a divergence');
      } finally {
        await pool.close();
      }
      for (const [i, lines] of logs.entries()) {
        const ready = lines.filter((l) => / ready/.test(l) && /^stage: stage /.test(l));
        expect(ready, lines.join('\n')).toHaveLength(3);
        expect(ready[0], `host ${i}`).not.toMatch(/warm thread/);
        expect(ready[1], `host ${i}`).toMatch(/ ready on a warm thread \(its stage 2\)$/);
        expect(ready[2], `host ${i}`).toMatch(/ ready on a warm thread \(its stage 3\)$/);
        expect(lines.join('\n'), `host ${i}`).not.toMatch(/kept|could not start|no thread became free/);
      }
    },
    120_000,
  );

  it('options are checked when the pool is made, by name', async () => {
    expect(() => createStagePool({ nats: { servers: [] } })).toThrow(TrainingOptionsError);
    expect(() => createStagePool({ nats: { servers: server.url, hosts: ['a.b'] } })).toThrow(/nats hosts must be .*\["a\.b"\]/);
    expect(() => createStagePool({ nats: { servers: server.url, host: ['a'] } as never })).toThrow(
      /unknown option 'host'.*did you mean 'hosts'/,
    );
    expect(() => createStagePool({ nats: { servers: server.url }, threads: 2 } as never)).toThrow(/unknown option 'threads'/);
    expect(() => createStagePool({ nats: { servers: server.url, connectTimeoutMs: -1 } })).toThrow(
      /connectTimeoutMs must be an integer from 1 to 3600000 \(ms\), got -1$/,
    );
    const fine = createStagePool({ nats: { servers: server.url, connectTimeoutMs: 2000 } });
    expect(fine).toBeInstanceOf(NatsStagePool);
    await fine.close();
  });

  it('a pool whose hosts all died: its next training fails with a StageError naming each host, within the heartbeat bound', async () => {
    const [a, b] = await Promise.all([
      startHost(server.url, 'doomed-a', ['--prefix', 'doomed']),
      startHost(server.url, 'doomed-b', ['--prefix', 'doomed']),
    ]);
    const pool = createStagePool({ nats: { servers: server.url, prefix: 'doomed' } });
    try {
      const c = load('dni');
      const o = { topology: c.topology, data: c.data, params: c.initial, steps: 20 } as Parameters<typeof train>[0];
      await train({ ...o, scheduler: { name: 'worker', pool } });
      a.child.kill('SIGKILL');
      b.child.kill('SIGKILL');
      // the next training is placed on them (they beat a moment ago): the heartbeat bound notices
      const started = performance.now();
      const first = await train({ ...o, scheduler: { name: 'worker', pool } }).then(
        () => null,
        (e: Error) => e,
      );
      expect(first).toBeInstanceOf(StageError);
      // two right answers, whichever comes first: the server already dropped the dead hosts' subscriptions (the claim
      // gets NATS's "no responders" at once), or not yet (the claim goes unanswered and the heartbeat bound notices)
      expect(first!.message).toMatch(/host 'doomed-[ab]' (sent no heartbeat|no longer listens for claims \(NATS: no responders\))/);
      expect(performance.now() - started).toBeLessThan(3000 + 3000);
      // and the one after that is refused at once, naming each host and why
      const second = await train({ ...o, scheduler: { name: 'worker', pool } }).then(
        () => null,
        (e: Error) => e,
      );
      expect(second).toBeInstanceOf(StageError);
      expect(second!.message).toMatch(
        new RegExp(
          /every stage host of the NATS pool 'dni-actors pool' at nats:\/\/127\.0\.0\.1:\d+ /.source +
            /is gone: 'doomed-a' \(it .*\), 'doomed-b' \(it .*\)/.source,
        ),
      );
      expect(pool.stats().hosts.every((h) => h.lost !== null)).toBe(true);
    } finally {
      await pool.close();
    }
  }, 120_000);
});
