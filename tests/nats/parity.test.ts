/**
 * Stages on NATS stage hosts give the same bits as `queue`: a real nats-server on 127.0.0.1, two
 * stage hosts as processes of their own (`bin/stage.ts`), every reference case (dense chains,
 * graphs, recurrent networks) and random graphs; and with a server whose max_payload is smaller
 * than the tensors, which the link then splits.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsSchedulerOptions } from '../../actors/nats/natsStage.ts';
import { type TrainingResult, train } from '../../actors/trainer/training.ts';
import { defineGraph } from '../../lib/graph.ts';
import { initParameters } from '../../lib/params.ts';
import { type AnyLoadedCase, loadAnyCase } from '../../lib/reference.ts';
import { dataOf, graphOf, rawGraph } from '../graphs/_arbitraries.ts';
import { referenceCases } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts } from './_servers.ts';

function expectSameBits(want: TrainingResult, got: TrainingResult, what: string): void {
  expect(Array.from(got.losses), `${what}: losses`).toEqual(Array.from(want.losses));
  expect(Array.from(got.synthesizerLosses), `${what}: synthesizer losses`).toEqual(Array.from(want.synthesizerLosses));
  expect(Object.keys(got.params).sort(), `${what}: keys`).toEqual(Object.keys(want.params).sort());
  for (const k of Object.keys(want.params)) expect(got.params[k].data, `${what}: ${k}`).toEqual(want.params[k].data);
}

const cases = (['chain', 'graph', 'rnn'] as const).flatMap((kind) =>
  referenceCases(kind).map(({ name, json }) => {
    try {
      return { name, kind, loaded: loadAnyCase(json, name) as AnyLoadedCase | null, why: '' };
    } catch (e) {
      return { name, kind, loaded: null, why: (e as Error).message };
    }
  }),
);

describe.skipIf(!NATS_SERVER)(`stages on NATS hosts: the bits of queue${NATS_SERVER ? '' : NO_NATS}`, () => {
  let server: NatsServer, small: NatsServer;
  const hosts: HostProcess[] = [];
  let nats: NatsSchedulerOptions;

  beforeAll(async () => {
    [server, small] = await Promise.all([startNats(), startNats('max_payload: 2048')]);
    hosts.push(
      ...(await Promise.all([
        startHost(server.url, 'parity-a'),
        startHost(server.url, 'parity-b'),
        startHost(small.url, 'small-a', ['--prefix', 'small']),
        startHost(small.url, 'small-b', ['--prefix', 'small']),
      ])),
    );
    nats = { name: 'nats', servers: server.url, hosts: ['parity-a', 'parity-b'] };
  }, 120_000);

  afterAll(async () => {
    const codes = await Promise.all(hosts.map((h) => h.stop()));
    await stopAllHosts();
    await Promise.all([server?.stop(), small?.stop()]);
    // SIGTERM stops a host cleanly
    expect(codes).toEqual(hosts.map(() => 0));
  });

  for (const c of cases) {
    it.skipIf(!c.loaded)(
      `${c.kind} ${c.name}: parameters and losses bit-identical to queue` +
        `${c.loaded ? '' : ` (SKIPPED: this code cannot load the case: ${c.why})`}`,
      async () => {
        const { topology, data, initial, steps } = c.loaded!;
        const o = { topology, data, params: initial, steps } as Parameters<typeof train>[0];
        const queue = await train({ ...o, scheduler: 'queue' });
        const remote = await train({ ...o, scheduler: nats });
        expectSameBits(queue, remote, c.name);
        // the bound the worker link keeps: at most d + 2 messages waiting on a route
        for (const [route, n] of Object.entries(remote.queues)) expect(n, route).toBeLessThanOrEqual(4);
      },
    );
  }

  it('random graphs (fan-out, merges, dni and cdni edges, delays 0-2): same bits as queue, or the same failure', async () => {
    await fc.assert(
      fc.asyncProperty(rawGraph, async (raw) => {
        const drawn = graphOf(raw, { interfaces: true });
        const graph = defineGraph(drawn.spec),
          data = dataOf(drawn, raw.seed),
          params = initParameters(graph, raw.seed);
        const o = { topology: graph, data, params, steps: 12 };
        const queue = await train({ ...o, scheduler: 'queue' }).catch((e: Error) => e);
        const remote = await train({ ...o, scheduler: nats }).catch((e: Error) => e);
        if (queue instanceof Error) return expect(remote instanceof Error && remote.name, 'fails as queue does').toBe(queue.name);
        expect(remote).not.toBeInstanceOf(Error);
        expectSameBits(queue, remote as TrainingResult, `graph of seed ${raw.seed}`);
      }),
      { numRuns: 6, seed: 2126 },
    );
  }, 180_000);

  it('a server whose max_payload (2048 bytes) is below a tensor (10x128 floats: 5,120 bytes): the link splits it, same bits', async () => {
    const c = cases.find((k) => k.name === 'dni')!.loaded!;
    const o = { topology: c.topology, data: c.data, params: c.initial, steps: 60 } as Parameters<typeof train>[0];
    const queue = await train({ ...o, scheduler: 'queue' });
    const remote = await train({ ...o, scheduler: { name: 'nats', servers: small.url, prefix: 'small', hosts: ['small-a', 'small-b'] } });
    expectSameBits(queue, remote, 'split');
  });
});
