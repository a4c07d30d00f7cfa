/**
 * The trace viewer's command: `npx dni-actors inspect TRACE.jsonl [--port N] [--host ADDRESS]`
 * (in this repository `npm run inspect -- TRACE.jsonl`): serve the offline viewer for a trace
 * recorded with `--trace` or `createTraceRecorder`, until Ctrl+C.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FileError } from '../../lib/io/files.ts';
import { checkEnvironment } from '../../lib/io/environment.ts';
import { type CommandHelp, exitOnHelp } from '../../lib/io/help.ts';
import { MAX_TRACE_BYTES } from '../../lib/io/limits.ts';
import { serveInspector } from './server.ts';
import { tracesFor } from './traces.ts';

/** The help of the command, as `command` (e.g. `npx dni-actors inspect`, `npm run inspect --`) runs it. */
export function inspectHelp(command: string): CommandHelp {
  return {
    usage: `${command} TRACE.jsonl [--port N] [--host ADDRESS]`,
    about:
      "Serves a page that draws the actors of a recorded training (a demo's --trace FILE, or createTraceRecorder),\n" +
      'their states and a timeline per actor, with controls to step through the batches. When a demo ran several\n' +
      'trainings (--trace out.jsonl wrote out.backprop.jsonl, out.dni.jsonl, …), TRACE.jsonl lists them and serves the first.',
    options: [
      ['--port N', 'port to listen on (default 8090; 0 picks a free one)'],
      ['--host ADDRESS', 'address to listen on (default 127.0.0.1: this machine only)'],
    ],
    takes: 'a moment to start; it then serves the page until Ctrl+C',
    notes: [
      `A trace may be up to ${MAX_TRACE_BYTES.bytes / 2 ** 20} MiB (${MAX_TRACE_BYTES.env}=BYTES to raise it; the page parses`,
      'all of it in the browser, so record with --sample N instead where you can).',
    ],
  };
}

/** One line on stderr and exit 2: nothing was served. */
function fail(message: string): never {
  process.stderr.write(`inspect: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(2);
}

/**
 * Run the command on `argv` (the arguments after it); `command` is how the user ran it, for the
 * help and the hints it prints. Resolves once the page is served (Ctrl+C stops it and exits 0).
 */
export async function inspectCommand(argv: readonly string[], command: string): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    fail(`${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')} (see --help)`);
  }
  try {
    checkEnvironment();
  } catch (err) {
    fail((err as Error).message);
  }
  if (parsed.values.help) exitOnHelp(['--help'], inspectHelp(command));
  const [trace, ...extra] = parsed.positionals;
  const port = parsed.values.port === undefined ? 8090 : /^\d+$/.test(parsed.values.port) ? Number(parsed.values.port) : NaN;
  if (!(port >= 0 && port <= 65535)) fail(`--port must be an integer in 0..65535, got ${parsed.values.port}`);
  if (parsed.values.host === '') fail('--host needs an address');
  if (!trace) fail('which trace? give the file written by --trace (see --help)');
  if (extra.length) fail(`one trace at a time (got ${parsed.positionals.join(', ')})`);
  // a demo that ran several trainings wrote one trace each; anything else is served (or refused) as given
  const traces = tracesFor(trace);
  if (!traces.length && !existsSync(trace)) fail(`no such file: ${trace}`);
  const file = traces[0] ?? trace;
  if (file !== trace) {
    // a demo that ran several trainings wrote one trace each (out.backprop.jsonl, out.dni.jsonl, …)
    console.log(
      `inspect: ${trace} is ${traces.length} traces, one per training:\n` +
        `${traces.map((f) => `  ${command} ${f}`).join('\n')}\nserving the first.`,
    );
  }

  try {
    const inspector = await serveInspector({ trace: file, port, host: parsed.values.host });
    console.log(`inspector: ${inspector.url}  (${file}; Ctrl+C to stop)`);
    process.once('SIGINT', () => void inspector.close().then(() => process.exit(0)));
    process.once('SIGTERM', () => void inspector.close().then(() => process.exit(0)));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof FileError) fail(err.message);
    if (e.code === 'EADDRINUSE') fail(`port ${port} is in use: pick another with --port N (0: any free port)`);
    if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EACCES')
      fail(`cannot listen on ${parsed.values.host ?? '127.0.0.1'}:${port} (${e.code})`);
    fail(e.message);
  }
}
