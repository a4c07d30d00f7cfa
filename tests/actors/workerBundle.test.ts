/**
 * The repository's worker threads start on a cached esbuild bundle of their entry (workerBundle.ts): built
 * once, reused while nothing it holds changed, built again when a module changed; every module's
 * import.meta still names its own file; without esbuild the thread starts through tsx as before.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { bundledEntry, inputsHash } from '../../actors/stage/workerBundle.ts';
import { resolveWorkerEntry, workerEntry } from '../../actors/stage/workerEntry.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
// inside the repository (so that its modules find node_modules), in a directory git ignores
mkdirSync(join(ROOT, '.vitest'), { recursive: true });
const dir = mkdtempSync(join(ROOT, '.vitest', 'bundle-'));
const cacheDir = join(dir, 'cache');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENTRY = `import { parentPort } from 'node:worker_threads';
import { from } from 'rxjs';
import { here, version } from './lib/dep.ts';
from([1]).subscribe(() => parentPort!.postMessage({ entry: import.meta.url, ...here, version }));
// a package other than rxjs and xstate stays external, loaded where it is imported
export const later = () => import('ws');
`;
const dep = (
  version: number,
) => `export const here = { url: import.meta.url, dirname: import.meta.dirname, filename: import.meta.filename };
export const version = ${version};
`;
mkdirSync(join(dir, 'lib'));
writeFileSync(join(dir, 'entry.ts'), ENTRY);
writeFileSync(join(dir, 'lib', 'dep.ts'), dep(1));
const entry = pathToFileURL(join(dir, 'entry.ts'));

/** What a thread started on `url` (with `argv`) posts first. */
function run(url: URL, argv: string[] = []): Promise<Record<string, unknown>> {
  const w = new Worker(url, { argv });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => void w.terminate().then(() => resolve(m as Record<string, unknown>)));
    w.once('error', reject);
  });
}

describe('worker bundles', () => {
  it('bundles an entry into the cache; each module’s import.meta names its own file; other packages stay external', async () => {
    const url = bundledEntry(entry, { cacheDir })!;
    expect(url).not.toBeNull();
    expect(fileURLToPath(url).startsWith(cacheDir)).toBe(true);
    expect(await run(url)).toEqual({
      entry: entry.href,
      url: pathToFileURL(join(dir, 'lib', 'dep.ts')).href,
      dirname: join(dir, 'lib'),
      filename: join(dir, 'lib', 'dep.ts'),
      version: 1,
    });
    const text = readFileSync(url, 'utf8');
    expect(text).toMatch(/import\("file:\/\/\/[^"]*\/node_modules\/ws\/[^"]*"\)/);
    expect(text).not.toMatch(/\bimport\.meta\b/);
    // the modules it holds are listed beside it: the entry, its own module, rxjs's
    const manifest = JSON.parse(readFileSync(fileURLToPath(url).replace(/-[0-9a-f]+\.mjs$/, '.json'), 'utf8')) as { inputs: string[] };
    expect(manifest.inputs).toEqual(expect.arrayContaining([join(dir, 'entry.ts'), join(dir, 'lib', 'dep.ts')]));
    expect(manifest.inputs.some((p) => p.includes('/node_modules/rxjs/'))).toBe(true);
    expect(inputsHash(manifest.inputs)).toBe(fileURLToPath(url).match(/-([0-9a-f]+)\.mjs$/)![1]);
  });

  it('reuses the bundle while nothing changed, and builds it again when a module it holds changed', async () => {
    const first = bundledEntry(entry, { cacheDir })!;
    const before = statSync(first);
    const again = bundledEntry(entry, { cacheDir })!;
    expect(again.href).toBe(first.href);
    // the same file, not rebuilt under the same name
    expect(statSync(again)).toMatchObject({ ino: before.ino, mtimeMs: before.mtimeMs });

    // older bundles of the entry, of which a build keeps the newest (4 in all), and a killed build's leftover
    const stem = fileURLToPath(first).replace(/-[0-9a-f]+\.mjs$/, '');
    const old = [1, 2, 3, 4].map((k) => `${stem}-old${k}.mjs`);
    for (const [k, f] of old.entries()) {
      writeFileSync(f, '');
      utimesSync(f, new Date(Date.now() - 60_000 * (k + 1)), new Date(Date.now() - 60_000 * (k + 1)));
    }
    writeFileSync(`${stem}.1-2-3.tmp`, '');
    utimesSync(`${stem}.1-2-3.tmp`, new Date(Date.now() - 7_200_000), new Date(Date.now() - 7_200_000));

    writeFileSync(join(dir, 'lib', 'dep.ts'), dep(2));
    const changed = bundledEntry(entry, { cacheDir })!;
    expect(changed.href).not.toBe(first.href);
    expect(old.map((f) => existsSync(f))).toEqual([true, true, false, false]);
    expect(existsSync(`${stem}.1-2-3.tmp`)).toBe(false);
    expect(await run(changed)).toMatchObject({ version: 2 });
    writeFileSync(join(dir, 'lib', 'dep.ts'), dep(1));
    // back as it was: the first bundle again, as it is still there
    expect(bundledEntry(entry, { cacheDir })!.href).toBe(first.href);
  });

  it('names the .ts source in the stack of an error thrown in a bundled thread', async () => {
    writeFileSync(join(dir, 'throws.ts'), `import { version } from './lib/dep.ts';\n\nthrow new Error('at version ' + version);\n`);
    const throws = pathToFileURL(join(dir, 'throws.ts'));
    const { url, execArgv } = resolveWorkerEntry(throws, new URL('../../actors/stage/workerEntry.ts', import.meta.url).href, (e) =>
      bundledEntry(e, { cacheDir }),
    );
    expect(url.pathname.endsWith('.mjs')).toBe(true);
    const error = await new Promise<Error>((resolve) => new Worker(url, { execArgv }).once('error', resolve));
    expect(error.message).toBe('at version 1');
    expect(error.stack).toContain(`${join(dir, 'throws.ts')}:3:`);
  });

  it('gives null when esbuild cannot be loaded or the build fails: the thread starts through tsx, as before', async () => {
    const fresh = join(dir, 'none');
    expect(
      bundledEntry(entry, {
        cacheDir: fresh,
        esbuild: () => {
          throw new Error("Cannot find module 'esbuild'");
        },
      }),
    ).toBeNull();
    // an esbuild that is not one: the helper thread fails to load it
    expect(bundledEntry(entry, { cacheDir: fresh, esbuild: () => ({ version: '0.0.0', path: join(dir, 'entry.ts') }) })).toBeNull();
    // a module whose import.meta would mean the bundle's location is not bundled
    writeFileSync(join(dir, 'resolve.ts'), `export const r = import.meta.resolve('rxjs');\n`);
    expect(bundledEntry(pathToFileURL(join(dir, 'resolve.ts')), { cacheDir: fresh })).toBeNull();

    const { url, argv } = resolveWorkerEntry(entry, new URL('../../actors/stage/workerEntry.ts', import.meta.url).href, () => null);
    expect(url.pathname.endsWith('/actors/stage/tsxWorker.mjs')).toBe(true);
    expect(await run(url, argv)).toMatchObject({ entry: entry.href, version: 1 });
  });

  it('starts the stage pools’ threads on the bundle of stageThread.ts, whose wasm kernels are found beside their source', () => {
    const [url, options] = workerEntry(new URL('../../actors/stage/stageThread.ts', import.meta.url), { name: 'stage:0' });
    expect(url.pathname).toMatch(/\/stageThread-[0-9a-f]+-[0-9a-f]+\.mjs$/);
    expect(options).toEqual({ name: 'stage:0', execArgv: [...process.execArgv, '--enable-source-maps'] });
    expect(readFileSync(url, 'utf8')).toContain(JSON.stringify(new URL('../../lib/kernels/wasm-module.ts', import.meta.url).href));
  });
});
