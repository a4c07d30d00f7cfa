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
 * Without the assemblyscript dev dependency (`npm ci --omit=dev`) it warns and exits 0: the library
 * then runs on the TypeScript backend (`wasmBackend()` returns null and says why); with `--out` that
 * fails instead (a package must not ship without its kernels). A compile error fails the install.
 */
import { existsSync, mkdirSync } from 'node:fs';
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

mkdirSync(outDir, { recursive: true });
for (const { name, features } of variants) {
  const output = join(outDir, `${name}.wasm`);
  const argv = [source, '--outFile', output, ...common, ...features];
  if (process.argv.includes('--wat')) argv.push('--textFile', join(outDir, `${name}.wat`));

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
}
