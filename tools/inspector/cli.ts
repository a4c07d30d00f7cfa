/**
 * `npm run inspect -- TRACE.jsonl [--port N] [--host ADDRESS]`: serve the offline inspector for
 * a trace recorded with `--trace`, until Ctrl+C.
 */
import { parseArgs } from 'node:util';
import { serveInspector } from './server.ts';
import { tracesFor } from './traces.ts';

const USAGE = `usage: npm run inspect -- TRACE.jsonl [--port N] [--host ADDRESS]

Serves a page that draws the actors of a recorded training (demos: --trace FILE),
their states and a timeline per actor, with controls to step through the batches.
When a demo ran several trainings (--trace out.jsonl wrote out.backprop.jsonl,
out.dni.jsonl, …), TRACE.jsonl lists them and serves the first.
  --port N        port to listen on (default 8090; 0 picks a free one)
  --host ADDRESS  address to listen on (default 127.0.0.1: this machine only)`;

function fail(message: string): never {
  console.error(`inspect: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
} catch (err) {
  fail((err as Error).message);
}
if (parsed.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const [trace, ...extra] = parsed.positionals;
if (!trace) fail('which trace? give the file written by --trace');
if (extra.length) fail(`one trace at a time (got ${parsed.positionals.join(', ')})`);
const traces = tracesFor(trace);
if (!traces.length) fail(`no such file: ${trace}`);
const file = traces[0]!;
if (file !== trace) {
  // a demo that ran several trainings wrote one trace each (out.backprop.jsonl, out.dni.jsonl, …)
  console.log(`inspect: ${trace} is ${traces.length} traces, one per training:\n${traces.map((f) => `  npm run inspect -- ${f}`).join('\n')}\nserving the first.`);
}
const port = parsed.values.port === undefined ? 8090 : Number(parsed.values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be an integer in 0..65535, got ${parsed.values.port}`);

try {
  const inspector = await serveInspector({ trace: file, port, host: parsed.values.host });
  console.log(`inspector: ${inspector.url}  (${file}; Ctrl+C to stop)`);
  process.once('SIGINT', () => void inspector.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void inspector.close().then(() => process.exit(0)));
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') fail(`port ${port} is in use: pick another with --port N (0: any free port)`);
  throw err;
}
