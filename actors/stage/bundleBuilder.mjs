// Helper thread of workerBundle.ts, in the repository only: bundles one worker entry module with esbuild, in
// this thread, while the thread that asked waits on `done` (esbuild's plugins run only in its asynchronous API,
// and a Worker is created synchronously). Writes the bundle to a temporary file beside its final name and posts
// back { tmp, inputs, sources } (or { error }): the asking thread hashes the inputs and renames the file.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { threadId, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * @type {{ esbuild: string, entry: string, stem: string, root: string, bundled: string[], done: Int32Array,
 *   port: import('node:worker_threads').MessagePort }}
 */
const { esbuild: esbuildPath, entry, stem, root, bundled, done, port } = workerData;
const inPackage = (/** @type {string} */ path) => path.split(sep).includes('node_modules');
const packageName = (/** @type {string} */ spec) => spec.split('/', spec.startsWith('@') ? 2 : 1).join('/');
// what a repository module reads from import.meta, and what it means there: the module's own location
const OWN_LOCATION = /\bimport\.meta\.(url|dirname|filename)\b/g;

/** `text` of the repository module `path` with its import.meta.url/dirname/filename spelled out as literals. */
function ownLocation(/** @type {string} */ text, /** @type {string} */ path) {
  const meaning = { url: pathToFileURL(path).href, dirname: dirname(path), filename: path };
  const out = text.replace(OWN_LOCATION, (_, key) => JSON.stringify(meaning[/** @type {'url' | 'dirname' | 'filename'} */ (key)]));
  // import.meta.resolve and the like would answer for the bundle's location: such a module is not bundled
  if (/\bimport\.meta\b/.test(out)) throw new Error(`${path}: import.meta other than .url, .dirname, .filename cannot be bundled`);
  return out;
}

/** @type {Record<string, string>} the repository's modules as read, before substitution */
const sources = {};
/** @type {import('esbuild').Plugin} */
const plugin = {
  name: 'dni-actors-worker-entry',
  setup(build) {
    // a package imported by a repository module stays external (loaded by Node, lazily where it is imported
    // so), named by its absolute URL so that it resolves from wherever the bundle lies; only `bundled` are inlined
    build.onResolve({ filter: /^[^./]/ }, async (args) => {
      if (args.pluginData === plugin || inPackage(args.importer) || bundled.includes(packageName(args.path))) return undefined;
      const r = await build.resolve(args.path, {
        kind: args.kind,
        resolveDir: args.resolveDir,
        importer: args.importer,
        pluginData: plugin,
      });
      if (r.errors.length) return { errors: r.errors };
      if (r.external) return { path: args.path, external: true };
      return inPackage(r.path) ? { path: pathToFileURL(r.path).href, external: true } : { path: r.path };
    });
    build.onLoad({ filter: /\.[cm]?[jt]s$/ }, (args) => {
      if (inPackage(args.path)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      sources[args.path] = text;
      return { contents: ownLocation(text, args.path), loader: /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js' };
    });
  },
};

/** @type {{ tmp: string, inputs: string[], sources: Record<string, string> } | { error: string }} */
let result;
try {
  const loaded = await import(pathToFileURL(esbuildPath).href);
  /** @type {typeof import('esbuild')} */
  const esbuild = loaded.default ?? loaded;
  try {
    const r = await esbuild.build({
      entryPoints: [fileURLToPath(entry)],
      absWorkingDir: root,
      bundle: true,
      format: 'esm',
      platform: 'node',
      write: false,
      metafile: true,
      outfile: `${stem}.mjs`,
      logLevel: 'silent',
      // for stacks that name our files (the thread runs with --enable-source-maps); ~+15% load CPU
      sourcemap: 'inline',
      sourcesContent: false,
      plugins: [plugin],
    });
    const tmp = `${stem}.${process.pid}-${threadId}-${Date.now()}.tmp`;
    writeFileSync(tmp, r.outputFiles[0].contents);
    const inputs = Object.keys(r.metafile.inputs).map((p) => resolve(root, p));
    // this file decides what a bundle holds: a change to it is a change of every bundle
    inputs.push(fileURLToPath(import.meta.url));
    result = { tmp, inputs: [...new Set(inputs)].sort(), sources };
  } finally {
    await esbuild.stop();
  }
} catch (error) {
  result = { error: String(/** @type {Error} */ (error)?.message ?? error) };
}
port.postMessage(result);
port.close();
Atomics.store(done, 0, 1);
Atomics.notify(done, 0);
