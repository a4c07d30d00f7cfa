/**
 * A command-line script's runs from one test file in one child process (tests/_cli-server.ts), not
 * one start of tsx each (a second or more of a core apiece): each answer is what the script's own
 * process would have given, its exit code, stdout and stderr. Runs asked for at once take turns.
 * What only a process of its own shows (its exit after the work, a closed pipe, a ulimit, a signal)
 * keeps a child of its own in each test file: at least one per CLI.
 *
 * @example
 * const reference = cliServer('bin/reference.ts');
 * afterAll(() => reference.close());
 * const r = await reference.run(['case.json', '--out', 'out.json'], dir); // { status: 2, stderr: 'reference: …' }
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = join(import.meta.dirname, '..');

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** how long the run took (ms) */
  ms: number;
  /** the shared process's peak resident memory once the run ended (bytes): an upper bound of the run's own */
  maxRSS: number;
}

interface Waiting {
  resolve: (r: CliRun) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** `file` (relative to the repository) run in one child process for the whole test file; `timeoutMs` per run. */
export function cliServer(file: string, timeoutMs = 60_000): { run(args: string[], cwd: string): Promise<CliRun>; close(): Promise<void> } {
  let child: ChildProcessWithoutNullStreams | null = null;
  let ids = 0,
    errors = '';
  const waiting = new Map<number, Waiting>();
  const fail = (why: string) => {
    for (const w of waiting.values()) (clearTimeout(w.timer), w.reject(new Error(why)));
    waiting.clear();
  };
  const start = () => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'tests', '_cli-server.ts')], { cwd: ROOT });
    c.stderr.on('data', (d) => (errors += d));
    createInterface({ input: c.stdout }).on('line', (line) => {
      const { id, ...r } = JSON.parse(line) as CliRun & { id: number };
      const w = waiting.get(id);
      if (!w) return;
      waiting.delete(id);
      clearTimeout(w.timer);
      w.resolve(r);
    });
    c.once('exit', (code, signal) => {
      child = null;
      fail(`tests/_cli-server.ts running ${file} ended (${signal ?? `code ${code}`}) with runs waiting:\n${errors}`);
    });
    return c;
  };
  return {
    run(args, cwd) {
      child ??= start();
      const id = ids++;
      const c = child;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          // a run that hangs holds every run after it: the process goes, and they fail too
          c.kill('SIGKILL');
          reject(new Error(`${file} ${args.join(' ')}: no answer within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(id, { resolve, reject, timer });
        c.stdin.write(`${JSON.stringify({ id, file, args, cwd })}\n`);
      });
    },
    close() {
      const c = child;
      if (!c) return Promise.resolve();
      return new Promise((resolve) => (c.once('exit', () => resolve()), c.stdin.end()));
    },
  };
}
