/** What a worker thread loads: the built .js in dist; in the repository the entry's bundle, else the tsx bootstrap. */
import { describe, expect, it } from 'vitest';
import { resolveWorkerEntry, workerEntry } from '../../actors/stage/workerEntry.ts';

describe('workerEntry', () => {
  const entry = new URL('file:///pkg/actors/stageThread.ts');

  it('loads the compiled .js beside a built package, with nothing on argv', () => {
    expect(resolveWorkerEntry(entry, 'file:///pkg/dist/actors/workerEntry.js')).toEqual({
      url: new URL('file:///pkg/actors/stageThread.js'),
      argv: [],
    });
  });

  it('starts the bundle of the entry in the repository, with nothing on argv', () => {
    const bundle = new URL('file:///pkg/node_modules/.cache/dni-actors/stageThread-1-2.mjs');
    expect(resolveWorkerEntry(entry, 'file:///pkg/actors/workerEntry.ts', () => bundle)).toEqual({
      url: bundle,
      argv: [],
      execArgv: ['--enable-source-maps'],
    });
    // the built package never bundles
    expect(resolveWorkerEntry(entry, 'file:///pkg/dist/actors/workerEntry.js', () => bundle).url.href).toBe(
      'file:///pkg/actors/stageThread.js',
    );
    const [url, options] = workerEntry(new URL('../../actors/stage/stageThread.ts', import.meta.url), { name: 'stage:0', argv: ['x'] });
    expect(url.pathname.endsWith('.mjs')).toBe(true);
    expect(options).toEqual({ name: 'stage:0', argv: ['x'], execArgv: [...process.execArgv, '--enable-source-maps'] });
  });

  it('starts the tsx bootstrap in the repository when there is no bundle, naming the .ts entry last on argv', () => {
    expect(resolveWorkerEntry(entry, 'file:///pkg/actors/workerEntry.ts', () => null)).toEqual({
      url: new URL('file:///pkg/actors/tsxWorker.mjs'),
      argv: [entry.href],
    });
    // or when told so: DNI_WORKER_BUNDLE=off
    const stageThread = new URL('../../actors/stage/stageThread.ts', import.meta.url);
    process.env.DNI_WORKER_BUNDLE = 'off';
    try {
      const [url, options] = workerEntry(stageThread, { name: 'stage:0' });
      expect(url.pathname.endsWith('/actors/stage/tsxWorker.mjs')).toBe(true);
      expect(options).toEqual({ name: 'stage:0', argv: [stageThread.href] });
    } finally {
      delete process.env.DNI_WORKER_BUNDLE;
    }
  });

  it('refuses an entry that is not a .ts module', () => {
    expect(() => resolveWorkerEntry(new URL('file:///pkg/actors/stageThread.js'), 'file:///x.ts')).toThrow(/is not a .ts entry module/);
  });
});
