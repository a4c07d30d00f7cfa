/**
 * The NATS stage link on a real server, in one process: tensors arrive bit for bit and in order,
 * split into parts under a small max_payload; what arrives before the stage listens waits for it;
 * a lost or repeated message (what a server restart can do) fails the stage by name; a ring
 * overrun is named as the worker link names it.
 */
import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsLink, type NatsLinkInit } from '../../actors/nats/natsLink.ts';
import { connectNats } from '../../actors/nats/natsProtocol.ts';
import type { Route } from '../../actors/machines/events.ts';
import type { Arrival } from '../../actors/stage/stageLink.ts';
import { NATS_SERVER, NO_NATS, type NatsServer, startNats } from './_servers.ts';

const route: Route = {
  key: 'FORWARD>layer:1',
  type: 'FORWARD',
  source: 'layer:0',
  target: 'layer:1',
  slot: 0,
  edge: 0,
  rows: 4,
  cols: 300,
};
const routes = [route];

function pair(a: NatsConnection, b: NatsConnection, maxPayload: number, subject: string, depth = 3): [NatsLink, NatsLink] {
  const init = (stage: number): NatsLinkInit => ({ stage, subjects: [`${subject}.0`, `${subject}.1`], targets: [1], depth, maxPayload });
  return [new NatsLink(a, routes, init(0)), new NatsLink(b, routes, init(1))];
}

const tensor = (batch: number) => ({
  rows: 4,
  cols: 300,
  data: new Float32Array(1200).map((_, i) => Math.fround(Math.sin(batch * 1000 + i)) / 3),
});

function collect(link: NatsLink, n: number): Promise<Arrival[] | Error> {
  return new Promise((resolve) => {
    const got: Arrival[] = [];
    link.incoming.subscribe({
      next: (a) => {
        got.push({
          ...a,
          event: {
            ...a.event,
            x: { ...(a.event as { x: { data: Float32Array } }).x, data: (a.event as { x: { data: Float32Array } }).x.data.slice() },
          } as Arrival['event'],
        });
        if (got.length === n) resolve(got);
      },
      error: resolve,
    });
  });
}

describe.skipIf(!NATS_SERVER)(`the NATS stage link${NATS_SERVER ? '' : NO_NATS}`, () => {
  let server: NatsServer, a: NatsConnection, b: NatsConnection;
  beforeAll(async () => {
    server = await startNats('max_payload: 1024');
    [a, b] = await Promise.all([connectNats({ servers: server.url }), connectNats({ servers: server.url })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await server?.stop();
  });

  it(
    'tensors of 4,800 bytes under a 1,024-byte max_payload: split into parts, ' +
      'delivered whole, bit for bit, in order; sent before the stage listened, they waited',
    async () => {
      const [from, to] = pair(a, b, a.info!.max_payload, 'split');
      await b.flush();
      for (let t = 0; t < 3; t++) from.send(route, { type: 'FORWARD', batch: t, slot: 0, x: tensor(t) });
      await a.flush();
      await new Promise((r) => setTimeout(r, 100));
      const got = await collect(to, 3);
      expect(got).not.toBeInstanceOf(Error);
      for (const [t, arrival] of (got as Arrival[]).entries()) {
        expect(arrival.event.batch).toBe(t);
        expect((arrival.event as { x: { data: Float32Array } }).x.data).toEqual(tensor(t).data);
      }
      from.close();
      to.close();
    },
  );

  it('a repeated message (at-most-once delivery, a server restart): the stage fails naming the route and the messages', async () => {
    const [from, to] = pair(a, b, a.info!.max_payload, 'repeat');
    const errors = collect(to, 99);
    await b.flush();
    from.send(route, { type: 'FORWARD', batch: 0, slot: 0, x: tensor(0) });
    // the same message again, as a sender that lost its count would send it
    (from as unknown as { sent: Int32Array }).sent[0] = 0;
    from.send(route, { type: 'FORWARD', batch: 0, slot: 0, x: tensor(0) });
    const e = await errors;
    expect(e).toBeInstanceOf(Error);
    expect((e as Error).message).toBe(
      'stage link: FORWARD>layer:1 sent message 0, stage 1 expected 1: messages were repeated, e.g. by a NATS server restart',
    );
  });

  it('a lost message: named with how many', async () => {
    const [from, to] = pair(a, b, a.info!.max_payload, 'lost');
    const errors = collect(to, 99);
    await b.flush();
    (from as unknown as { sent: Int32Array }).sent[0] = 2;
    from.send(route, { type: 'FORWARD', batch: 2, slot: 0, x: tensor(2) });
    expect(((await errors) as Error).message).toMatch(/sent message 2, stage 1 expected 0: messages were lost \(2 of them\)/);
  });

  it('more messages than ring slots waiting: the overrun the worker link names', async () => {
    const [from, to] = pair(a, b, a.info!.max_payload, 'overrun', 2);
    await b.flush();
    for (let t = 0; t < 3; t++) from.send(route, { type: 'FORWARD', batch: t, slot: 0, x: tensor(t) });
    await a.flush();
    await new Promise((r) => setTimeout(r, 100));
    const e = await collect(to, 99);
    expect((e as Error).message).toBe(
      'stage link: FORWARD>layer:1 holds 2 batches its target has not taken (ring of 2 overrun at batch 2)',
    );
  });
});
