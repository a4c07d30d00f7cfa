/**
 * What a worker thread loads for one of this package's entry modules, wherever the package runs from.
 *
 * - Built (`dist/`, what npm installs): the entry's compiled `.js` beside this module, loaded by plain
 *   Node; consumers need no TypeScript loader.
 * - In the repository (TypeScript): one esbuild bundle of the entry, cached (workerBundle.ts), loaded by
 *   plain Node: a fresh thread starts on about a third of the CPU that tsx's ~300 modules take. Without esbuild, or with
 *   `DNI_WORKER_BUNDLE=off`: Node 20 does not pass the parent's loader hooks to worker threads
 *   (`execArgv: ['--import', 'tsx']` is ignored there), so the thread starts in `tsxWorker.mjs`, which
 *   registers tsx and then imports the `.ts` entry named last on its argv.
 */
import { existsSync } from 'node:fs';
import type { WorkerOptions } from 'node:worker_threads';
import { workerBundleFromEnv } from '../../lib/io/environment.ts';
import { bundledEntry } from './workerBundle.ts';

/** each entry's bundle, once per process: null when the thread starts through tsx */
const bundles = new Map<string, URL | null>();

/** The cached bundle of `entry` (see workerBundle.ts), looked up or built once per process; null: use tsx. */
function bundleOnce(entry: URL): URL | null {
  if (!workerBundleFromEnv()) return null;
  const known = bundles.get(entry.href);
  // a bundle pruned by another process's build (see workerBundle.ts) is looked up again
  if (known === null || (known && existsSync(known))) return known;
  const bundle = bundledEntry(entry);
  bundles.set(entry.href, bundle);
  return bundle;
}

/**
 * Which of the ways applies to a package whose modules have the URL `self`, `bundle` giving the
 * repository's bundle of an entry (or null: tsx), so every branch is testable from either place.
 */
export function resolveWorkerEntry(
  entry: URL,
  self: string,
  bundle: (entry: URL) => URL | null = bundleOnce,
): { url: URL; argv: string[]; execArgv?: string[] } {
  if (!entry.pathname.endsWith('.ts')) throw new RangeError(`workerEntry: ${entry.href} is not a .ts entry module`);
  if (new URL(self).pathname.endsWith('.js')) return { url: new URL(entry.href.replace(/\.ts$/, '.js')), argv: [] };
  const bundled = bundle(entry);
  // its inline source map: a thread's stack names our .ts files, as under tsx
  if (bundled) return { url: bundled, argv: [], execArgv: ['--enable-source-maps'] };
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
  const { url, argv, execArgv } = resolveWorkerEntry(entry, import.meta.url);
  let o = options;
  if (argv.length) o = { ...o, argv: [...(o.argv ?? []), ...argv] };
  // a thread inherits process.execArgv unless told otherwise
  if (execArgv) o = { ...o, execArgv: [...(o.execArgv ?? process.execArgv), ...execArgv] };
  return [url, o];
}
