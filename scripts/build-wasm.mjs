#!/usr/bin/env node
/**
 * Compile lib/wasm/kernels.as.ts (AssemblyScript: the entry, which re-exports gemm.as.ts (with dot.as.ts), elementwise.as.ts and
 * common.as.ts) twice: to lib/wasm/kernels.wasm (SIMD) and to
 * lib/wasm/kernels-fma.wasm (SIMD + relaxed SIMD: the GEMMs use f32x4.relaxed_madd, see the
 * `madd` switch in the source). Runs on `npm install` and `npm ci` through the root package's
 * `prepare` script, and by hand as `npm run build:wasm` (`-- --wat` also writes the .wat files to
 * read the generated code). The .wasm files are build outputs: gitignored, never committed.
 *
 * `--out DIR` writes them to DIR instead (`npm run build` puts them in dist/lib/wasm, inside the
 * npm package). `--prepare` (the `prepare` script) does nothing under `npm pack` / `npm publish`,
 * where `prepack` has just built everything.
 *
 * Each compiled file is kept in node_modules/.cache/dni-actors/wasm/, under a hash of the compiler's
 * version, its flags and every lib/wasm/*.as.ts: the same inputs again (the build after `npm ci`'s
 * prepare, the package test) copy it instead of compiling (12-56 s here). `--wat` always compiles.
 *
 * Without the assemblyscript dev dependency (`npm ci --omit=dev`) it warns and exits 0: the library
 * then runs on the TypeScript backend (`wasmBackend()` returns null and says why); with `--out` that
 * fails instead (a package must not ship without its kernels). A compile error fails the install.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'lib/wasm/kernels.as.ts');
const outIndex = process.argv.indexOf('--out');
const outDir = outIndex > 0 ? resolve(process.argv[outIndex + 1] ?? '') : join(root, 'lib/wasm');
if (outIndex > 0 && !process.argv[outIndex + 1]) {
  console.error('build-wasm: --out needs a directory');
  process.exit(2);
}

if (process.argv.includes('--prepare') && ['pack', 'publish'].includes(process.env.npm_command ?? '')) {
  console.log(`build-wasm: npm ${process.env.npm_command}: prepack has built the kernels into dist/; nothing to do`);
  process.exit(0);
}

let asc;
try {
  asc = (await import('assemblyscript/asc')).default;
} catch (err) {
  if (outIndex > 0) {
    console.error(`build-wasm: assemblyscript is not installed (${err.code ?? err.message}); cannot build ${outDir}`);
    process.exit(1);
  }
  console.warn(`build-wasm: assemblyscript is not installed (${err.code ?? err.message}); skipping lib/wasm/*.wasm`);
  process.exit(0);
}

const common = [
  '--optimizeLevel',
  '3',
  '--shrinkLevel',
  '0',
  '--converge',
  '--noAssert',
  '--runtime',
  'stub', // no allocation happens in the kernels; the host owns the memory
  '--importMemory', // env.memory, created by lib/kernels/kernels-wasm.ts
  '--noExportMemory',
  '--enable',
  'simd',
];
const variants = [
  { name: 'kernels', features: [] },
  { name: 'kernels-fma', features: ['--enable', 'relaxed-simd'] },
];

/** Where a compile of these exact inputs is kept: the compiler's version, the flags, every kernel source. */
function cached(argvKey) {
  const hash = createHash('sha256');
  hash.update(readFileSync(join(root, 'node_modules/assemblyscript/package.json')));
  hash.update(JSON.stringify(argvKey));
  const dir = join(root, 'lib/wasm');
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.as.ts'))
    .sort())
    hash.update(f).update(readFileSync(join(dir, f)));
  return join(root, 'node_modules/.cache/dni-actors/wasm', `${hash.digest('hex').slice(0, 24)}.wasm`);
}

mkdirSync(outDir, { recursive: true });
const wat = process.argv.includes('--wat');
for (const { name, features } of variants) {
  const output = join(outDir, `${name}.wasm`);
  const argv = [source, '--outFile', output, ...common, ...features];
  if (wat) argv.push('--textFile', join(outDir, `${name}.wat`));
  let keep = null;
  try {
    keep = cached([...common, ...features]);
  } catch {
    // no compiler manifest where expected: compile, keep nothing
  }
  if (keep && !wat && existsSync(keep)) {
    copyFileSync(keep, output);
    console.log(`build-wasm: ${output} (the same sources and compiler as a build before: ${keep})`);
    continue;
  }

  const started = performance.now();
  const { error, stderr } = await asc.main(argv, { stdout: process.stdout, stderr: process.stderr });
  if (error) {
    console.error(`build-wasm: asc failed on ${name}: ${error.message}`);
    if (stderr) console.error(stderr.toString());
    process.exit(1);
  }
  if (!existsSync(output)) {
    console.error(`build-wasm: asc reported success but ${output} is missing`);
    process.exit(1);
  }
  console.log(`build-wasm: ${output} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  if (keep) {
    // written aside and renamed: a build that stops half-way leaves no half file under the key
    mkdirSync(dirname(keep), { recursive: true });
    copyFileSync(output, `${keep}.${process.pid}`);
    renameSync(`${keep}.${process.pid}`, keep);
  }
}
