/**
 * Ctrl+C for long trainings: the first SIGINT aborts a signal (the training stops at its next
 * consistent cut, saving a checkpoint there when it saves them, and `run()` rejects with an
 * AbortError); a second one exits at once (code 130), as a terminal user expects. The SIGINTs of
 * one key press count once: under `npm run` one Ctrl+C reaches the process two or three times
 * within a few tens of milliseconds (from the terminal, and relayed by npm and by tsx), so only a
 * SIGINT more than a second after the first is a second Ctrl+C.
 *
 * @example
 * const interrupt = interruptSignal(() => console.error('stopping at the next consistent cut (Ctrl+C again to quit now)'));
 * try { await train({ ...options, signal: interrupt.signal }); } finally { interrupt.dispose(); }
 */
export function interruptSignal(onFirst?: () => void): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let first = 0;
  const handler = () => {
    if (!controller.signal.aborted) {
      first = performance.now();
      onFirst?.();
      controller.abort(new Error('interrupted (SIGINT)'));
    } else if (performance.now() - first > ONE_PRESS_MS) process.exit(130);
  };
  process.on('SIGINT', handler);
  const dispose = () => {
    process.off('SIGINT', handler);
    // the rest of that key press may still be on its way: without a listener it would kill the process
    const left = ONE_PRESS_MS - (performance.now() - first);
    if (!controller.signal.aborted || left <= 0) return;
    const swallow = () => {};
    process.on('SIGINT', swallow);
    setTimeout(() => process.off('SIGINT', swallow), left).unref();
  };
  return { signal: controller.signal, dispose };
}

/** SIGINTs within this long of the first are the same key press. */
const ONE_PRESS_MS = 1000;
