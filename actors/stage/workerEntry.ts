/**
 * What a worker thread loads for one of this package's entry modules, wherever the package runs from.
 *
 * - Built (`dist/`, what npm installs): the entry's compiled `.js` beside this module, loaded by plain
 *   Node; consumers need no TypeScript loader.
 * - In the repository (TypeScript run by tsx): Node 20 does not pass the parent's loader hooks to worker
 *   threads (`execArgv: ['--import', 'tsx']` is ignored there), so the thread starts in
 *   `tsxWorker.mjs`, which registers tsx and then imports the `.ts` entry named last on its argv.
 */
import type { WorkerOptions } from 'node:worker_threads';

/**
 * Which of the two ways applies to a package whose modules have the URL `self`: pure, so both
 * branches are testable from either place.
 */
export function resolveWorkerEntry(entry: URL, self: string): { url: URL; argv: string[] } {
  if (!entry.pathname.endsWith('.ts')) throw new RangeError(`workerEntry: ${entry.href} is not a .ts entry module`);
  if (new URL(self).pathname.endsWith('.js')) return { url: new URL(entry.href.replace(/\.ts$/, '.js')), argv: [] };
  return { url: new URL('./tsxWorker.mjs', self), argv: [entry.href] };
}

/**
 * The arguments for `new Worker(...)` that run the TypeScript entry module `entry` (a `.ts` URL
 * beside the caller, as written in the source) in a worker thread, with `options` (workerData,
 * transferList, name, …) passed through.
 *
 * @example
 * const worker = new Worker(...workerEntry(new URL('./stageThread.ts', import.meta.url), { workerData, name: 'stage:0' }));
 */
export function workerEntry(entry: URL, options: WorkerOptions = {}): [URL, WorkerOptions] {
  const { url, argv } = resolveWorkerEntry(entry, import.meta.url);
  return [url, argv.length ? { ...options, argv: [...(options.argv ?? []), ...argv] } : options];
}
