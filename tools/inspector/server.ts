/**
 * The offline inspector: a small HTTP server on 127.0.0.1 that serves one page (index.html,
 * viewer.js, viewer.css, all from this folder: no framework, nothing from the network) and the
 * trace file it draws, opened afresh on every load so a trace still being written can be reloaded.
 *
 * The trace is streamed (the server never holds it) up to its size when the request came, and
 * refused (413) beyond {@link MAX_TRACE_BYTES}: the page parses all of it in the browser. Only
 * requests for this server's own Host from its own pages are answered (lib/io/localhost.ts).
 */
import { closeSync, createReadStream, readSync } from 'node:fs';
import type { Server, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { FileError, openBounded } from '../../lib/io/files.ts';
import { MAX_TRACE_BYTES } from '../../lib/io/limits.ts';
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
  const { fd } = openBounded(options.trace, MAX_TRACE_BYTES, options.maxBytes);
  try {
    checkTraceStart(options.trace, fd);
  } finally {
    closeSync(fd);
  }
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

/**
 * A trace begins with a JSON line whose `type` is `@trace.meta` (or, from an older recorder, an
 * `@xstate.…` event): anything else (`package.json`, a checkpoint, a CSV) is refused by name. An
 * empty file is a trace not yet flushed, served as it is.
 */
function checkTraceStart(path: string, fd: number): void {
  const head = Buffer.alloc(64 * 1024);
  const n = readSync(fd, head, 0, head.length, 0);
  if (n === 0) return;
  const line = head.subarray(0, n).toString('utf8').split('\n', 1)[0].trim();
  let type: unknown;
  try {
    type = (JSON.parse(line) as { type?: unknown } | null)?.type;
  } catch {
    // a first line longer than what was read: its type as the recorder writes it, near its start
    type = n === head.length ? /^\{[^{}]*"type":"([^"]+)"/.exec(line)?.[1] : undefined;
  }
  if (typeof type !== 'string' || !/^@(trace\.meta|xstate\.(actor|event|snapshot))$/.test(type)) {
    const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
    throw new FileError(
      path,
      `is not a trace: its first line should be a JSON object of type '@trace.meta', got ${JSON.stringify(shown)} ` +
        `(record one with a demo's --trace FILE)`,
    );
  }
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
