/**
 * Runs commands' `--help` in this one process (tests/help.test.ts spawns it once): for each
 * `[file, ...args]` in the JSON of argv[2], `process.argv` is set, `process.exit` throws instead of
 * exiting, stdout and stderr are captured, and the file is imported afresh. Anything that would
 * start work beyond printing (a worker thread, a child process, a server listening) is refused and
 * recorded. Prints one JSON array: `{ command, code, stdout, stderr, work, error }` per command.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { refuseWork } from './_refuse.ts';

const commands = JSON.parse(process.argv[2]) as string[][];
const root = join(import.meta.dirname, '..');
let work: string[] = [];
refuseWork(
  (what) => {
    work.push(what);
    throw new Error(`--help started work: ${what}`);
  },
  { servers: true },
);

class Exit {
  constructor(readonly code: number) {}
}
process.exit = ((code?: number) => {
  throw new Exit(code ?? 0);
}) as never;
const out = { stdout: '', stderr: '' };
const capture = (stream: 'stdout' | 'stderr') =>
  ((chunk: string | Uint8Array) => {
    out[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stdout.write;
const real = { stdout: process.stdout.write.bind(process.stdout) };
process.stdout.write = capture('stdout');
process.stderr.write = capture('stderr');

const results = [];
for (const [i, [file, ...args]] of commands.entries()) {
  out.stdout = out.stderr = '';
  work = [];
  process.argv = [process.execPath, join(root, file), ...args];
  let code: number | null = null,
    error: string | null = null;
  try {
    await import(`${pathToFileURL(join(root, file)).href}?help=${i}`);
  } catch (err) {
    if (err instanceof Exit) code = err.code;
    else error = String((err as Error)?.stack ?? err);
  }
  results.push({ command: [file, ...args].join(' '), code, stdout: out.stdout, stderr: out.stderr, work, error });
}
real.stdout(`${JSON.stringify(results)}\n`);
process.exitCode = 0;
