/**
 * What the inspector's two local servers (the trace viewer, server.ts; the live page, live.ts)
 * share: an HTTP server on this machine that answers only its own Host from its own pages
 * (lib/io/localhost.ts), only GET and HEAD, serves its page's files from this folder under a CSP that
 * lets the page load only what this server serves and talk only to it, and nothing else.
 */
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { foreignRequest, listenLocally } from '../../lib/io/localhost.ts';

// the pages' files: beside this module in the repository; in the built package in pages/ beside it
// (scripts/build.mjs puts them there, where the page's live.js cannot overwrite the compiled live.ts)
const here = join(dirname(fileURLToPath(import.meta.url)), import.meta.url.endsWith('.ts') ? '' : 'pages');

export const HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // the page may load only what this server serves, and talk only to it
  'content-security-policy': "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface PageServerOptions {
  /** what it serves, for errors: `live inspector`, `trace viewer` */
  name: string;
  /** the page: its HTML file, served at `/` and `/index.html` */
  page: string;
  /** the files it loads, each served at `/FILE` */
  files: readonly string[];
  port: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
  /**
   * The server's own paths (an event stream, a trace), asked first for every allowed GET or HEAD:
   * true when it answered. A throw is a 500 (or, once answering, a dropped connection).
   */
  route?: (path: string, req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
}

export interface PageServer {
  readonly url: string;
  readonly server: Server;
  readonly port: number;
  /** stop listening and drop every connection */
  close(): Promise<void>;
}

/** Start the server and wait until it listens (a port in use rejects with a PortError). */
export async function servePage(options: PageServerOptions): Promise<PageServer> {
  const assets = new Map<string, string>([
    ['/', options.page],
    ['/index.html', options.page],
    ...options.files.map((f): [string, string] => [`/${f}`, f]),
  ]);
  let port = 0;
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      const foreign = foreignRequest(req.headers, { port, host: options.host });
      if (foreign) {
        res.writeHead(403, { ...HEADERS, 'content-type': 'text/plain' }).end(`${foreign}\n`);
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...HEADERS, allow: 'GET, HEAD' }).end();
      } else if (options.route && (await options.route(path, req, res))) {
        // answered
      } else if (path === '/favicon.ico') {
        res.writeHead(204, HEADERS).end();
      } else if (assets.has(path)) {
        const file = assets.get(path)!;
        const body = await readFile(join(here, file));
        res
          .writeHead(200, { ...HEADERS, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' })
          .end(req.method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(404, { ...HEADERS, 'content-type': 'text/plain' }).end('not found\n');
      }
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { ...HEADERS, 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      else res.destroy();
    }
  });
  await listenLocally(server, options.name, options.port, options.host);
  const { address, port: bound } = server.address() as AddressInfo;
  port = bound;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}/`,
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
