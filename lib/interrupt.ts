/**
 * Ctrl+C for long trainings: the first SIGINT aborts a signal (the training stops at its next
 * consistent cut, saving a checkpoint there when it saves them, and `run()` rejects with an
 * AbortError); a second one exits at once (code 130), as a terminal user expects.
 *
 * @example
 * const interrupt = interruptSignal(() => console.error('stopping at the next consistent cut (Ctrl+C again to quit now)'));
 * try { await train({ ...options, signal: interrupt.signal }); } finally { interrupt.dispose(); }
 */
export function interruptSignal(onFirst?: () => void): { readonly signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handler = () => {
    if (controller.signal.aborted) process.exit(130);
    onFirst?.();
    controller.abort(new Error('interrupted (SIGINT)'));
  };
  process.on('SIGINT', handler);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', handler) };
}
