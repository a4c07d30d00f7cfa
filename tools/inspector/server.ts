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
import type { Server, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { FileError, openBounded } from '../../lib/files.ts';
import { MAX_TRACE_BYTES } from '../../lib/limits.ts';
import { HEADERS, servePage } from './pageServer.ts';

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
  const { url, server, close } = await servePage({
    name: 'trace viewer',
    page: 'index.html',
    files: ['viewer.js', 'graph.js', 'viewer.css'],
    port: options.port ?? 8090,
    host: options.host,
    route: (path, req, res) => {
      if (path !== '/trace.jsonl') return false;
      serveTrace(options, req.method === 'HEAD', res);
      return true;
    },
  });
  return { url, server, close };
}

/** The trace as it is now (its size when opened: lines appended meanwhile wait for a reload), streamed. */
function serveTrace(options: InspectorServerOptions, head: boolean, res: ServerResponse): void {
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
