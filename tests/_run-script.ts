/**
 * Runs a command-line script inside this process, as its own process would run it: `process.argv` is
 * set, `process.exit` throws instead of exiting, stdout and stderr are captured, and the file is
 * imported afresh (`?key` makes each import a new module). Used by tests/_help-runner.ts (every
 * `--help`) and tests/_cli-server.ts (a CLI's runs of a test file), each one child process.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const root = join(import.meta.dirname, '..');

class Exit {
  constructor(readonly code: number) {}
}

export interface ScriptRun {
  /** the code it gave process.exit(), or null if it returned (process.exitCode then holds it) or threw */
  code: number | null;
  stdout: string;
  stderr: string;
  /** what it threw (its stack), other than an exit */
  error: string | null;
}

const out = { stdout: '', stderr: '' };
let installed = false;
/** The streams this process really writes to (its own output), once captured. */
export const real = {
  stdout: process.stdout.write.bind(process.stdout),
  stderr: process.stderr.write.bind(process.stderr),
  exit: process.exit.bind(process),
};

function install(): void {
  if (installed) return;
  installed = true;
  process.exit = ((code?: number) => {
    throw new Exit(code ?? 0);
  }) as never;
  const capture = (stream: 'stdout' | 'stderr') =>
    ((chunk: string | Uint8Array) => {
      out[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = capture('stdout');
  process.stderr.write = capture('stderr');
}

/** Run `file` (relative to the repository) with `args`; `key` tells this import from the others. */
export async function runScript(file: string, args: readonly string[], key: string): Promise<ScriptRun> {
  install();
  out.stdout = out.stderr = '';
  process.argv = [process.execPath, join(root, file), ...args];
  let code: number | null = null,
    error: string | null = null;
  try {
    await import(`${pathToFileURL(join(root, file)).href}?${key}`);
  } catch (err) {
    if (err instanceof Exit) code = err.code;
    else error = String((err as Error)?.stack ?? err);
  }
  return { code, stdout: out.stdout, stderr: out.stderr, error };
}
