/**
 * Command-line output when the reader goes away: `npm run reference … | head -c 1` closes our
 * stdout, and every later write fails with EPIPE, which Node raises as an unhandled 'error' event
 * (a stack trace and exit code 1) although the work succeeded. A closed pipe is not a failure of
 * the work. Any other error on the stream still throws. Safe to call more than once.
 *
 * - {@link tolerateClosedStdout} (the reference CLI): later writes are dropped, the work goes on,
 *   and the exit code says how it went (its `--out` file is still written).
 * - {@link quietOnClosedPipe} (the demos, whose output is all they make): end at once, exit 0, as
 *   command-line tools do.
 *
 * @example
 * tolerateClosedStdout();
 * console.log(summary); // into `| head -c 1`: no stack trace, exit 0
 */
const watched = new WeakSet<NodeJS.WritableStream>();

function onClosedPipe(streams: readonly NodeJS.WritableStream[], closed: () => void): void {
  for (const stream of streams) {
    if (watched.has(stream)) continue;
    watched.add(stream);
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      closed();
    });
  }
}

/** Drop what is written to a closed stdout; the work goes on (see the module's doc). */
export function tolerateClosedStdout(stream: NodeJS.WritableStream = process.stdout): void {
  onClosedPipe([stream], () => {});
}

/** `npm run demo | head`: once the reader has gone, end quietly (exit 0) at the next write. */
export function quietOnClosedPipe(): void {
  onClosedPipe([process.stdout, process.stderr], () => process.exit(0));
}
