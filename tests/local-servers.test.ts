/**
 * The local servers (the offline trace viewer, the live page and the Stately bridge) answer only requests for
 * their own Host from their own pages (DNS rebinding, cross-site WebSockets); the trace viewer
 * streams the trace within a size limit instead of holding it, and its CLI refuses what is not a
 * trace file at once.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type StatelyInspector, attachStatelyInspector } from '../actors/inspect/stately.ts';
import { FileError } from '../lib/io/files.ts';
import { foreignRequest } from '../lib/io/localhost.ts';
import { type LiveInspector, serveLiveInspector } from '../tools/inspector/live.ts';
import { type InspectorServer, serveInspector } from '../tools/inspector/server.ts';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'dni-servers-'));

/** A GET with exactly these headers (Host included); the body's length, not the body. */
function get(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; length: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, setHost: false }, (res) => {
      let length = 0,
        body = '';
      res.on('data', (d: Buffer) => {
        length += d.length;
        if (body.length < 1000) body += d.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode!, length, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function ws(port: number, headers: Record<string, string>): Promise<'open' | number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/`, { headers });
    socket.on('open', () => (socket.close(), resolve('open')));
    socket.on('unexpected-response', (_, res) => resolve(res.statusCode!));
    socket.on('error', () => {});
  });
}

describe('foreignRequest', () => {
  const s = { port: 8090 };
  it.each([
    [{ host: '127.0.0.1:8090' }, null],
    [{ host: 'localhost:8090' }, null],
    [{ host: 'LOCALHOST:8090' }, null],
    [{ host: '[::1]:8090' }, null],
    [{ host: '127.0.0.1:8090', origin: 'http://127.0.0.1:8090' }, null],
    [{ host: 'localhost:8090', origin: 'http://localhost:8090' }, null],
    [{ host: 'evil.example:8090' }, /^Host "evil\.example:8090" is not this server/],
    [{ host: '127.0.0.1:8091' }, /is not this server/],
    [{ host: '127.0.0.1' }, /is not this server/],
    [{ host: '10.0.0.5:8090' }, /is not this server/],
    [{}, /^Host "" is not this server/],
    [{ host: '127.0.0.1:8090', origin: 'http://evil.example' }, /^Origin "http:\/\/evil\.example" is not a page of this server$/],
    [{ host: '127.0.0.1:8090', origin: 'null' }, /Origin "null"/],
    [{ host: '127.0.0.1:8090', origin: 'https://127.0.0.1:8090' }, /Origin/],
    [{ host: '127.0.0.1:8090', origin: 'http://127.0.0.1:8091' }, /Origin/],
  ] as [Record<string, string>, RegExp | null][])('%j', (headers, verdict) => {
    const got = foreignRequest(headers, s);
    if (verdict === null) expect(got).toBeNull();
    else expect(got).toMatch(verdict);
  });

  it('an address asked for is accepted too; bound to every interface, IP literals are', () => {
    expect(foreignRequest({ host: '192.168.1.4:8090' }, { port: 8090, host: '192.168.1.4' })).toBeNull();
    expect(foreignRequest({ host: '192.168.1.5:8090' }, { port: 8090, host: '192.168.1.4' })).not.toBeNull();
    expect(foreignRequest({ host: '192.168.1.5:8090' }, { port: 8090, host: '0.0.0.0' })).toBeNull();
    expect(foreignRequest({ host: 'evil.example:8090' }, { port: 8090, host: '0.0.0.0' })).not.toBeNull();
  });
});

describe('the trace viewer', () => {
  let server: InspectorServer, port: number;
  const trace = join(dir, 'small.jsonl');
  beforeAll(async () => {
    writeFileSync(trace, '{"type":"@trace.meta"}\n');
    server = await serveInspector({ trace, port: 0 });
    port = Number(new URL(server.url).port);
  });
  afterAll(() => server.close());

  it('serves its own Host and Origin, and refuses others with 403 (page, trace, assets)', async () => {
    for (const path of ['/', '/trace.jsonl', '/viewer.js']) {
      expect((await get(port, path, { host: `127.0.0.1:${port}` })).status).toBe(200);
      expect((await get(port, path, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
      const rebound = await get(port, path, { host: `evil.example:${port}` });
      expect(rebound.status).toBe(403);
      expect(rebound.body).toMatch(/Host "evil\.example:\d+" is not this server/);
      expect((await get(port, path, { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status).toBe(403);
    }
    expect((await get(port, '/trace.jsonl', { host: `127.0.0.1:${port}` })).body).toBe('{"type":"@trace.meta"}\n');
  });

  it('refuses, when it starts, a trace over the limit, /dev/zero, a FIFO', async () => {
    await expect(serveInspector({ trace, port: 0, maxBytes: 10 })).rejects.toThrow(
      /small\.jsonl: is 23 bytes, larger than the limit of 10 bytes for a trace/,
    );
    await expect(serveInspector({ trace: '/dev/zero', port: 0 })).rejects.toThrow(FileError);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(serveInspector({ trace: fifo, port: 0 })).rejects.toThrow(/is a FIFO/);
  });

  it('a trace that grew past the limit since is refused with 413 and the reason', async () => {
    const growing = join(dir, 'growing.jsonl');
    writeFileSync(growing, '{"type":"@trace.meta"}\n');
    const s = await serveInspector({ trace: growing, port: 0, maxBytes: 100 });
    try {
      const p = Number(new URL(s.url).port);
      expect((await get(p, '/trace.jsonl', { host: `127.0.0.1:${p}` })).status).toBe(200);
      writeFileSync(growing, 'x'.repeat(200));
      const r = await get(p, '/trace.jsonl', { host: `127.0.0.1:${p}` });
      expect(r.status).toBe(413);
      expect(r.body).toMatch(/growing\.jsonl: is 200 bytes, larger than the limit of 100 bytes for a trace/);
    } finally {
      await s.close();
    }
  });

  it('streams: 8 parallel GETs of a 200 MB trace keep the server process under 400 MB (it held 1.7 GB)', async () => {
    const big = join(dir, 'big.jsonl');
    writeFileSync(big, '{"type":"@trace.meta"}\n');
    truncateSync(big, 200 * 2 ** 20); // sparse after its first line: reads as zeros, takes no disk
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'tools', 'inspector', 'cli.ts'), big, '--port', '0'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(d.toString());
          if (m) resolve(m[0]);
        });
        child.on('exit', (code) => reject(new Error(`inspect exited with ${code}`)));
      });
      const p = Number(new URL(url).port);
      const got = await Promise.all(Array.from({ length: 8 }, () => get(p, '/trace.jsonl', { host: `127.0.0.1:${p}` })));
      for (const r of got) expect([r.status, r.length]).toEqual([200, 200 * 2 ** 20]);
      const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) * 1024;
      expect(peak).toBeLessThan(400 * 2 ** 20);
    } finally {
      child.kill();
      rmSync(big);
    }
  });
});

describe('npm run inspect refuses what is not a trace file, in one line, at once', () => {
  it.each([
    [['/dev/zero'], /^inspect: \/dev\/zero: is a character device, not a regular file: a trace must be a file$/],
    [[join(dir, 'missing.jsonl')], /^inspect: no such file: .*missing\.jsonl$/],
    [[dir], /^inspect: .*: is a folder, not a regular file/],
    [['a.jsonl', '--port', '70000'], /^inspect: --port must be an integer in 0\.\.65535, got 70000$/],
    [['--frobnicate'], /^inspect: Unknown option '--frobnicate'/],
    [
      [join(root, 'package.json')],
      new RegExp(
        /^inspect: .*package\.json: is not a trace: /.source +
          /its first line should be a JSON object of type '@trace\.meta', got "\{" \(record one with a demo's --trace FILE\)$/.source,
      ),
    ],
    [
      [join(root, 'LICENSE')],
      /^inspect: .*LICENSE: is not a trace: its first line should be a JSON object of type '@trace\.meta', got "MIT License"/,
    ],
  ] as [string[], RegExp][])('%j', (args, message) => {
    const t0 = performance.now();
    const r = spawnCli(args);
    expect(r.status).toBe(2);
    expect(r.stderr.split('\n')[0]).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});

function spawnCli(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, ['--import', 'tsx', join(root, 'tools', 'inspector', 'cli.ts'), ...args], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30_000,
    });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number | null; stderr: string };
    return { status: err.status, stderr: err.stderr };
  }
}

describe('the Stately bridge', () => {
  let stately: StatelyInspector, port: number;
  beforeAll(async () => {
    stately = await attachStatelyInspector({ port: 0 });
    port = Number(new URL(stately.url).port);
  });
  afterAll(() => stately.close());

  it('serves its page to its own Host and refuses a rebound one with 403', async () => {
    expect((await get(port, '/', { host: `127.0.0.1:${port}` })).status).toBe(200);
    expect((await get(port, '/', { host: `evil.example:${port}` })).status).toBe(403);
    expect((await get(port, '/', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status).toBe(403);
  });

  it('accepts WebSockets from its own page only', async () => {
    expect(await ws(port, { origin: `http://127.0.0.1:${port}` })).toBe('open');
    expect(await ws(port, { origin: 'http://evil.example' })).toBe(403);
    expect(await ws(port, { origin: 'null' })).toBe(403);
    expect(await ws(port, { host: `evil.example:${port}`, origin: `http://evil.example:${port}` })).toBe(403);
    expect(stately.viewers).toBe(0);
  });
});

describe('the live page', () => {
  let live: LiveInspector, port: number;
  beforeAll(async () => {
    live = await serveLiveInspector({ port: 0 });
    port = Number(new URL(live.url).port);
  });
  afterAll(() => live.close());

  it('serves its own Host and Origin (page, assets, state) and refuses others with 403', async () => {
    for (const path of ['/', '/live.js', '/state.json']) {
      expect((await get(port, path, { host: `127.0.0.1:${port}` })).status).toBe(200);
      expect((await get(port, path, { host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(200);
      expect((await get(port, path, { host: `evil.example:${port}` })).status).toBe(403);
      expect((await get(port, path, { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status).toBe(403);
      expect((await get(port, path, { host: `127.0.0.1:${port}`, origin: 'null' })).status).toBe(403);
    }
    // the event stream too (it stays open when accepted: only refusals are asked for here)
    expect((await get(port, '/events', { host: `evil.example:${port}` })).status).toBe(403);
    expect((await get(port, '/events', { host: `127.0.0.1:${port}`, origin: 'http://evil.example' })).status).toBe(403);
    expect(live.viewers).toBe(0);
  });
});
