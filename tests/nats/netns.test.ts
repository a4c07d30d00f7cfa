/**
 * Stage hosts in network namespaces of their own (`ip netns`), each joined to this one by a veth
 * pair with addresses made here: the tensors really cross network interfaces (their byte counters
 * say so), and the parameters are still queue's, bit for bit. Skipped, saying why, where
 * namespaces are not permitted (no root, no CAP_NET_ADMIN, no iproute2).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { type AnyLoadedCase, loadAnyCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';
import { type HostProcess, NATS_SERVER, NO_NATS, type NatsServer, startHost, startNats, stopAllHosts } from './_servers.ts';

const tag = `d${process.pid % 100000}`;
const net = `10.${100 + (process.pid % 100)}`;
const sides = [1, 2].map((i) => ({
  ns: `${tag}n${i}`,
  outer: `${tag}o${i}`,
  inner: `${tag}i${i}`,
  outerIp: `${net}.${i}.1`,
  innerIp: `${net}.${i}.2`,
}));

const ip = (...args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
};

/** Whether this process may make a namespace (tried once, undone at once). */
function namespacesPermitted(): string | null {
  try {
    ip('netns', 'add', `${tag}probe`);
    ip('netns', 'del', `${tag}probe`);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const denied = NATS_SERVER ? namespacesPermitted() : 'nats-server is not installed';
if (denied) console.warn(`tests/nats/netns: SKIPPED: network namespaces are not available here: ${denied}`);

const rxBytes = (dev: string) => Number(readFileSync(`/sys/class/net/${dev}/statistics/rx_bytes`, 'utf8'));

describe.skipIf(Boolean(denied))(
  'stage hosts in network namespaces' +
    `${denied ? ` (SKIPPED: ${NATS_SERVER ? `network namespaces are not permitted here: ${denied}` : NO_NATS.trim()})` : ''}`,
  () => {
    let server: NatsServer;
    const hosts: HostProcess[] = [];

    beforeAll(async () => {
      for (const s of sides) {
        ip('netns', 'add', s.ns);
        ip('link', 'add', s.outer, 'type', 'veth', 'peer', 'name', s.inner);
        ip('link', 'set', s.inner, 'netns', s.ns);
        ip('addr', 'add', `${s.outerIp}/24`, 'dev', s.outer);
        ip('link', 'set', s.outer, 'up');
        ip('netns', 'exec', s.ns, 'ip', 'addr', 'add', `${s.innerIp}/24`, 'dev', s.inner);
        ip('netns', 'exec', s.ns, 'ip', 'link', 'set', s.inner, 'up');
        ip('netns', 'exec', s.ns, 'ip', 'link', 'set', 'lo', 'up');
        ip('netns', 'exec', s.ns, 'ip', 'route', 'add', 'default', 'via', s.outerIp);
      }
      // the server listens on the first pair's outer address only; the second namespace reaches it through its own pair
      server = await startNats('', sides[0].outerIp);
      hosts.push(
        ...(await Promise.all(
          sides.map((s, i) => startHost(server.url, `ns-host-${i + 1}`, [], undefined, ['ip', 'netns', 'exec', s.ns])),
        )),
      );
    }, 120_000);

    afterAll(async () => {
      await stopAllHosts().catch(() => {});
      await Promise.all(hosts.map((h) => h.stop()));
      await server?.stop();
      for (const s of sides) spawnSync('ip', ['netns', 'del', s.ns]);
    });

    it("a graph trained on two hosts in their own namespaces: its tensors cross both veth pairs, and its bits are queue's", async () => {
      const c = loadAnyCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-branch.json'), 'utf8')), 'graph-branch') as AnyLoadedCase;
      const o = { topology: c.topology, data: c.data, params: c.initial, steps: c.steps } as Parameters<typeof train>[0];
      const before = sides.map((s) => rxBytes(s.outer));
      const remote = await train({ ...o, scheduler: { name: 'nats', servers: server.url, hosts: ['ns-host-1', 'ns-host-2'] } });
      const crossed = sides.map((s, i) => rxBytes(s.outer) - before[i]);
      const queue = await train({ ...o, scheduler: 'queue' });
      expect(Array.from(remote.losses)).toEqual(Array.from(queue.losses));
      for (const k of Object.keys(queue.params)) expect(remote.params[k].data, k).toEqual(queue.params[k].data);
      // 300 steps of 10-row tensors of 64 to 128 floats, both ways: well over a megabyte from each namespace
      for (const [i, bytes] of crossed.entries()) expect(bytes, `bytes from ${sides[i].ns}`).toBeGreaterThan(1_000_000);
    });
  },
);
