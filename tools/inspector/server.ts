/**
 * The offline inspector: a small HTTP server on 127.0.0.1 that serves one page (index.html,
 * viewer.js, viewer.css, all from this folder: no framework, nothing from the network) and the
 * trace file it draws, opened afresh on every load so a trace still being written can be reloaded.
 *
 * The trace is streamed (the server never holds it) up to its size when the request came, and
 * refused (413) beyond {@link MAX_TRACE_BYTES}: the page parses all of it in the browser. Only
 * requests for this server's own Host from its own pages are answered (lib/localhost.ts).
 */
import { closeSync, createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileError, openBounded } from '../../lib/files.ts';
import { MAX_TRACE_BYTES } from '../../lib/limits.ts';
import { foreignRequest } from '../../lib/localhost.ts';

const here = dirname(fileURLToPath(import.meta.url));

const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/viewer.js': { file: 'viewer.js', type: 'text/javascript; charset=utf-8' },
  '/graph.js': { file: 'graph.js', type: 'text/javascript; charset=utf-8' },
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
  /** the largest trace served, in bytes; default {@link MAX_TRACE_BYTES} (or `DNI_MAX_TRACE_BYTES`) */
  maxBytes?: number;
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
  // fail now, with the file's name (and its size against the limit), not on the first page load
  closeSync(openBounded(options.trace, MAX_TRACE_BYTES, options.maxBytes).fd);
  let port = 0;
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      const foreign = foreignRequest(req.headers, { port, host: options.host });
      if (foreign) {
        res.writeHead(403, { ...HEADERS, 'content-type': 'text/plain' }).end(`${foreign}\n`);
      } else if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...HEADERS, allow: 'GET, HEAD' }).end();
      } else if (path === '/trace.jsonl') {
        serveTrace(options, req.method === 'HEAD', res);
      } else if (path === '/favicon.ico') {
        res.writeHead(204, HEADERS).end();
      } else if (ASSETS[path]) {
        const body = await readFile(join(here, ASSETS[path].file));
        res.writeHead(200, { ...HEADERS, 'content-type': ASSETS[path].type }).end(body);
      } else {
        res.writeHead(404, { ...HEADERS, 'content-type': 'text/plain' }).end('not found\n');
      }
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { ...HEADERS, 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      else res.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8090, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address } = server.address() as AddressInfo;
  port = (server.address() as AddressInfo).port;
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

/** The trace as it is now (its size when opened: lines appended meanwhile wait for a reload), streamed. */
function serveTrace(options: InspectorServerOptions, head: boolean, res: import('node:http').ServerResponse): void {
  let file;
  try {
    file = openBounded(options.trace, MAX_TRACE_BYTES, options.maxBytes);
  } catch (err) {
    const tooLarge = err instanceof FileError && /larger than the limit/.test(err.message);
    res.writeHead(tooLarge ? 413 : 500, { ...HEADERS, 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
    return;
  }
  res.writeHead(200, {
    ...HEADERS,
    'content-type': 'application/x-ndjson; charset=utf-8',
    'content-length': String(file.size),
    'x-trace-file': encodeURIComponent(basename(options.trace)),
  });
  if (head || file.size === 0) {
    closeSync(file.fd);
    res.end();
    return;
  }
  const stream = createReadStream('', { fd: file.fd, start: 0, end: file.size - 1, autoClose: true });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}
