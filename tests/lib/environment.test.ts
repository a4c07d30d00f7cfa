/**
 * The environment variables the library reads are validated like options (issue 24, item 15): a
 * value it cannot use is an EnvironmentError naming the variable, its value and what it may be,
 * never a silent default (`DNI_WASM_MEMORY_MB=abc` once switched to the TypeScript kernels, which
 * round differently); the demos and the CLIs say so in one line, exit code 2, no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkEnvironment, envChoice, wasmMemoryFromEnv } from '../../lib/io/environment.ts';
import { EnvironmentError } from '../../lib/errors.ts';
import { MAX_CASE_BYTES, byteLimit } from '../../lib/io/limits.ts';

const root = join(import.meta.dirname, '..', '..');
const saved = { ...process.env };
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('reading a variable', () => {
  it('unset or empty is the default; a good value is taken', () => {
    delete process.env.DNI_TEST_CHOICE;
    expect(envChoice('DNI_TEST_CHOICE', ['a', 'b'])).toBeUndefined();
    process.env.DNI_TEST_CHOICE = '';
    expect(envChoice('DNI_TEST_CHOICE', ['a', 'b'])).toBeUndefined();
    process.env.DNI_TEST_CHOICE = 'b';
    expect(envChoice('DNI_TEST_CHOICE', ['a', 'b'])).toBe('b');
    delete process.env.DNI_WASM_MEMORY_MB;
    expect(wasmMemoryFromEnv()).toBe(1024);
    process.env.DNI_WASM_MEMORY_MB = '64';
    expect(wasmMemoryFromEnv()).toBe(64);
  });

  it.each([
    ['DNI_BACKEND', 'typscript', /^DNI_BACKEND must be one of typescript, wasm, wasm-fma, got "typscript"/],
    ['DNI_BACKEND', 'WASM', /^DNI_BACKEND must be one of typescript, wasm, wasm-fma, got "WASM"/],
    ['DNI_WASM_MEMORY_MB', 'abc', /^DNI_WASM_MEMORY_MB must be a whole number of MiB from 1 to 4095, got "abc"/],
    ['DNI_WASM_MEMORY_MB', '0', /got "0"/],
    ['DNI_WASM_MEMORY_MB', '4096', /got "4096"/],
    ['DNI_WASM_MEMORY_MB', '64.5', /got "64\.5"/],
    ['DNI_WASM_MEMORY_MB', '1e3', /got "1e3"/],
    ['DNI_MAX_CHECKPOINT_BYTES', '-1', /^DNI_MAX_CHECKPOINT_BYTES must be a number of bytes \(an integer >= 0\), got "-1"/],
    ['DNI_MAX_TRAINING_BYTES', '2GB', /^DNI_MAX_TRAINING_BYTES must be a number of bytes/],
    ['DNI_WORKER_BUNDLE', 'no', /^DNI_WORKER_BUNDLE must be one of on, off, got "no"/],
  ])('%s=%s is refused by checkEnvironment, by name', (name, value, message) => {
    process.env[name] = value;
    expect(() => checkEnvironment()).toThrow(EnvironmentError);
    expect(() => checkEnvironment()).toThrow(message);
  });

  it('a byte limit reads its variable through the same check', () => {
    process.env.DNI_MAX_CASE_BYTES = 'lots';
    expect(() => byteLimit(MAX_CASE_BYTES)).toThrow(EnvironmentError);
    process.env.DNI_MAX_CASE_BYTES = '1000';
    expect(byteLimit(MAX_CASE_BYTES)).toBe(1000);
  });
});

/** Run a script with one variable set; its exit code and output. */
function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('no silent switch of kernels, and one line from the command lines', () => {
  it('autoBackend refuses DNI_WASM_MEMORY_MB=abc instead of falling back to the TypeScript kernels', () => {
    const r = run(
      [
        '-e',
        "import('./lib/kernels/backend-choice.ts').then((m) => console.log('picked', m.autoBackend().name))" +
          '.catch((e) => console.log(e.name, e.message))',
      ],
      { DNI_WASM_MEMORY_MB: 'abc' },
    );
    expect(r.out).toMatch(/EnvironmentError DNI_WASM_MEMORY_MB must be a whole number of MiB from 1 to 4095, got "abc"/);
    expect(r.out).not.toMatch(/picked/);
  });

  it.each([
    [['demos/binary-addition.ts', '--steps', '2'], 'binary-addition: '],
    [['bin/reference.ts', join(root, '..', 'shared', 'reference', 'dni.json'), '--out', '/nonexistent/never-written.json'], 'reference: '],
  ])('%j with DNI_BACKEND=typscript: one line, exit 2, no stack trace', (args, prefix) => {
    const r = run(args, { DNI_BACKEND: 'typscript' });
    expect(r.status).toBe(2);
    expect(r.out).toContain(`${prefix}DNI_BACKEND must be one of typescript, wasm, wasm-fma, got "typscript"`);
    expect(r.out).not.toMatch(/\n\s+at /);
  });
});
