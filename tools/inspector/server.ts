/**
 * The offline inspector: a small HTTP server on 127.0.0.1 that serves one page (index.html,
 * viewer.js, viewer.css, all from this folder: no framework, nothing from the network) and the
 * trace file it draws, read afresh on every load so a trace still being written can be reloaded.
 */
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/viewer.js': { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  '/viewer.css': { file: 'viewer.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // the page may load only what this server serves
  'content-security-policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
};

export interface InspectorServerOptions {
  /** the JSONL trace to show */
  trace: string;
  /** Default 8090; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
}

export interface InspectorServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * Serve the inspector page for one trace.
 *
 * @example
 * const inspector = await serveInspector({ trace: 'out.jsonl', port: 0 });
 * console.log(inspector.url);
 */
export async function serveInspector(options: InspectorServerOptions): Promise<InspectorServer> {
  await readFile(options.trace); // fail now, with the file's name, not on the first page load
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...HEADERS, allow: 'GET, HEAD' }).end();
      } else if (path === '/trace.jsonl') {
        const body = await readFile(options.trace);
        res.writeHead(200, { ...HEADERS, 'content-type': 'application/x-ndjson; charset=utf-8', 'x-trace-file': basename(options.trace) }).end(body);
      } else if (path === '/favicon.ico') {
        res.writeHead(204, HEADERS).end();
      } else if (ASSETS[path]) {
        const body = await readFile(join(here, ASSETS[path].file));
        res.writeHead(200, { ...HEADERS, 'content-type': ASSETS[path].type }).end(body);
      } else {
        res.writeHead(404, { ...HEADERS, 'content-type': 'text/plain' }).end('not found\n');
      }
    } catch (err) {
      res.writeHead(500, { ...HEADERS, 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8090, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
