/**
 * The local servers (the offline trace viewer, the Stately bridge) serve this machine only, and
 * only to their own pages. Binding to 127.0.0.1 keeps other machines out, but not a web page in
 * the user's own browser: through DNS rebinding (`evil.example` resolving to 127.0.0.1) a page can
 * read from any local port, and any page can open a WebSocket to one. So a request is served only
 * when its `Host` is one of the server's own names (`127.0.0.1:PORT`, `localhost:PORT`,
 * `[::1]:PORT`, or the address it was asked to listen on) and its `Origin`, when a browser sends
 * one, is a page of that same server.
 */
import { type Server, isIP } from 'node:net';
import { PortError } from '../errors.ts';

export interface LocalServer {
  /** the port it listens on */
  port: number;
  /** the address it listens on (default 127.0.0.1) */
  host?: string;
}

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD = ['0.0.0.0', '::', '[::]'];

/**
 * `host:port` names the server answers to. An address it was bound to is added; bound to every interface, any IP address (a DNS name cannot
 * be rebound onto an IP literal).
 */
function accepts(hostHeader: string, server: LocalServer): boolean {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(hostHeader.trim());
  if (!m) return false;
  const name = m[1].toLowerCase(),
    port = m[2] === undefined ? 80 : Number(m[2]);
  if (port !== server.port) return false;
  if (LOOPBACK.includes(name)) return true;
  const bound = (server.host ?? '127.0.0.1').toLowerCase();
  const bare = name.replace(/^\[|\]$/g, '');
  if (WILDCARD.includes(bound)) return isIP(bare) !== 0;
  return bare === bound.replace(/^\[|\]$/g, '');
}

/**
 * Why a request must be refused (403), or null when it may be served: a `Host` that is not the
 * server's own, or an `Origin` that is not one of its pages (`null` included). A request without
 * `Origin` (not sent by a browser for a page's own navigations, nor by command-line clients) is
 * judged by its `Host`.
 */
export function foreignRequest(headers: { host?: string; origin?: string | string[] }, server: LocalServer): string | null {
  const host = headers.host;
  if (!host || !accepts(host, server))
    return `Host ${JSON.stringify(host ?? '')} is not this server (${LOOPBACK.map((h) => `${h}:${server.port}`).join(', ')})`;
  const origin = headers.origin;
  if (origin === undefined) return null;
  const o = Array.isArray(origin) ? origin[0] : origin;
  const m = /^http:\/\/([^/]+)$/i.exec(o ?? '');
  if (!m || !accepts(m[1], server)) return `Origin ${JSON.stringify(o)} is not a page of this server`;
  return null;
}

/**
 * Listen on `host:port` (default 127.0.0.1) and resolve once listening; a port in use (or any
 * address that cannot be listened on) rejects with a {@link PortError} naming `what`, catchable,
 * and leaves the server closed.
 */
export function listenLocally(server: Server, what: string, port: number, host = '127.0.0.1'): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(new PortError(what, host, port, err.code, { cause: err }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
