/** What a worker thread loads: the built .js in dist, the tsx bootstrap in the repository. */
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

  it('starts the tsx bootstrap in the repository, naming the .ts entry last on argv', () => {
    expect(resolveWorkerEntry(entry, 'file:///pkg/actors/workerEntry.ts')).toEqual({
      url: new URL('file:///pkg/actors/tsxWorker.mjs'),
      argv: [entry.href],
    });
    const [url, options] = workerEntry(new URL('./stageThread.ts', import.meta.url), { name: 'stage:0', argv: ['x'] });
    expect(url.pathname.endsWith('/actors/stage/tsxWorker.mjs')).toBe(true);
    expect(options).toMatchObject({ name: 'stage:0', argv: ['x', new URL('./stageThread.ts', import.meta.url).href] });
  });

  it('refuses an entry that is not a .ts module', () => {
    expect(() => resolveWorkerEntry(new URL('file:///pkg/actors/stageThread.js'), 'file:///x.ts')).toThrow(/is not a .ts entry module/);
  });
});
