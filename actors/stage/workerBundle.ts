/**
 * In the repository, a worker thread starts on one esbuild bundle of its entry module instead of loading
 * ~300 modules through tsx's loader hooks (a fresh pool thread's start: about a third of the CPU). The bundle
 * is cached under `node_modules/.cache/dni-actors/` (else the system's temporary directory), named by a hash of
 * esbuild's version, the entry and the contents of every module it holds; the list of those modules lies beside
 * it, so a process checks the cache by hashing them again. A process builds (in a helper thread: bundleBuilder.mjs)
 * at its first Worker of an entry when the cache holds nothing current. Whatever goes wrong (no esbuild, a
 * failed build, no writable directory) gives `null`: the thread then starts through tsx, as before.
 *
 * In a bundled repository module, `import.meta.url`, `.dirname` and `.filename` still name that module's
 * own file (wasm paths, nested Worker URLs); packages other than rxjs and xstate stay external.
 */
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';

/** What {@link bundledEntry} may be told, for tests. */
export interface BundleOptions {
  /** where bundles are kept (default: {@link cacheDirectory}) */
  cacheDir?: string;
  /** esbuild's version and the path of its module (default: the installed `esbuild`); throwing means "no esbuild" */
  esbuild?: () => { version: string; path: string };
  /** the longest a build may take before the thread starts through tsx instead (ms; default 60 s) */
  timeout?: number;
}

/** What a finished build left for the next process: the modules its bundle holds. */
interface Manifest {
  inputs: string[];
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUILDER = new URL('./bundleBuilder.mjs', import.meta.url);
/** the packages inlined into a bundle; any other stays external, loaded by Node where it is imported */
const BUNDLED = ['rxjs', 'xstate'];
/** bundles kept per entry: the newest, and a few older ones (switching branches back and forth) */
const KEEP = 4;

function installedEsbuild(): { version: string; path: string } {
  const require = createRequire(import.meta.url);
  return { version: (require('esbuild/package.json') as { version: string }).version, path: require.resolve('esbuild') };
}

/** `node_modules/.cache/dni-actors/` of the repository when it is writable, else `dni-actors/` in the system's temporary directory. */
export function cacheDirectory(): string {
  for (const dir of [join(ROOT, 'node_modules', '.cache', 'dni-actors'), join(tmpdir(), 'dni-actors')]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // not here
    }
  }
  throw new Error('workerBundle: no writable cache directory');
}

/**
 * A hash of the files `inputs`, by path and contents (`sources` gives some contents as read already); `null`
 * when one of them is gone.
 */
export function inputsHash(inputs: readonly string[], sources: Record<string, string> = {}): string | null {
  const h = createHash('sha256');
  for (const path of inputs) {
    let contents: string | Buffer;
    try {
      contents = sources[path] ?? readFileSync(path);
    } catch {
      return null;
    }
    h.update(path).update('\0').update(contents).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

/** Writes `contents` to `path` so that no reader ever sees it half written (another process may build at once). */
function writeWhole(path: string, contents: string): void {
  const tmp = `${path}.${process.pid}-${Date.now()}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

function readManifest(path: string): Manifest | null {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    return Array.isArray(m.inputs) && m.inputs.every((p) => typeof p === 'string') ? m : null;
  } catch {
    return null;
  }
}

/** Removes all but the {@link KEEP} newest bundles of `stem`, and temporary files a killed build left an hour ago. */
function prune(stem: string): void {
  const dir = dirname(stem);
  const name = basename(stem);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${name}-`) || (f.startsWith(`${name}.`) && f.endsWith('.tmp')))
    .map((f) => ({ path: join(dir, f), mtime: statSync(join(dir, f), { throwIfNoEntry: false })?.mtimeMs ?? Infinity }));
  const bundles = files.filter((f) => f.path.endsWith('.mjs')).sort((a, b) => b.mtime - a.mtime);
  const stale = files.filter((f) => f.path.endsWith('.tmp') && f.mtime < Date.now() - 3_600_000);
  for (const f of [...bundles.slice(KEEP), ...stale]) rmSync(f.path, { force: true });
}

/** Runs bundleBuilder.mjs in a helper thread and waits for it: the temporary bundle and its modules, or null. */
function build(
  esbuildPath: string,
  entry: URL,
  stem: string,
  timeout: number,
): { tmp: string; inputs: string[]; sources: Record<string, string> } | null {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(BUILDER, {
    workerData: { esbuild: esbuildPath, entry: entry.href, stem, root: ROOT, bundled: BUNDLED, done, port: port2 },
    transferList: [port2],
    execArgv: [],
    name: `bundle ${basename(fileURLToPath(entry))}`,
  });
  worker.unref();
  try {
    if (Atomics.wait(done, 0, 0, timeout) === 'timed-out') return null;
    const r = receiveMessageOnPort(port1)?.message as
      { tmp: string; inputs: string[]; sources: Record<string, string> } | { error: string };
    return r && 'tmp' in r ? r : null;
  } finally {
    port1.close();
    void worker.terminate();
  }
}

/**
 * The `file:` URL of a current bundle of the `.ts` entry module `entry`, built now if the cache holds none;
 * `null` if there is none to be had (no esbuild, the build failed): the caller starts the thread through tsx.
 */
export function bundledEntry(entry: URL, options: BundleOptions = {}): URL | null {
  try {
    const esbuild = (options.esbuild ?? installedEsbuild)();
    const dir = options.cacheDir ?? cacheDirectory();
    mkdirSync(dir, { recursive: true });
    const key = createHash('sha256').update(`${esbuild.version}\0${entry.href}`).digest('hex').slice(0, 12);
    const stem = join(dir, `${basename(fileURLToPath(entry), '.ts')}-${key}`);
    const cached = readManifest(`${stem}.json`);
    const hash = cached && inputsHash(cached.inputs);
    if (hash && existsSync(`${stem}-${hash}.mjs`)) return pathToFileURL(`${stem}-${hash}.mjs`);

    const built = build(esbuild.path, entry, stem, options.timeout ?? 60_000);
    if (!built) return null;
    const fresh = inputsHash(built.inputs, built.sources);
    if (!fresh) {
      rmSync(built.tmp, { force: true });
      return null;
    }
    renameSync(built.tmp, `${stem}-${fresh}.mjs`);
    writeWhole(`${stem}.json`, JSON.stringify({ inputs: built.inputs } satisfies Manifest, null, 1));
    prune(stem);
    return pathToFileURL(`${stem}-${fresh}.mjs`);
  } catch {
    return null;
  }
}
