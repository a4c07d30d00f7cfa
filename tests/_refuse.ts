/**
 * Makes starting a worker thread or a child process (and, if asked, a server listening) throw, for the
 * rest of this process: `refuse(what)` is called with what was attempted and must throw.
 * Used by tests/_help-runner.ts (`--help` starts no work) and tests/_in-process.ts (the unit and actors projects).
 */
import childProcess from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import { Server } from 'node:net';
import workerThreads from 'node:worker_threads';

export function refuseWork(refuse: (what: string) => never, { servers = false } = {}): void {
  workerThreads.Worker = class {
    constructor() {
      refuse('a worker thread');
    }
  } as never;
  for (const fn of ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync'] as const) {
    (childProcess as unknown as Record<string, unknown>)[fn] = () => refuse(`child_process.${fn}`);
  }
  if (servers) {
    Server.prototype.listen = function () {
      return refuse('a server listening');
    } as never;
  }
  syncBuiltinESMExports();
}
