/**
 * Command-line output when the reader goes away: `npm run reference … | head -c 1` closes our
 * stdout, and every later write fails with EPIPE, which Node raises as an unhandled 'error' event
 * (a stack trace and exit code 1) although the work succeeded. A closed stdout is not a failure of
 * the work: its writes are dropped and the exit code says how the work went. Any other error on
 * the stream still throws. The demos can call this too.
 *
 * @example
 * tolerateClosedStdout();
 * console.log(summary); // into `| head -c 1`: no stack trace, exit 0
 */
const tolerant = new WeakSet<NodeJS.WritableStream>();

export function tolerateClosedStdout(stream: NodeJS.WritableStream = process.stdout): void {
  if (tolerant.has(stream)) return;
  tolerant.add(stream);
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}
