#!/usr/bin/env node
/**
 * Compile lib/wasm/kernels.as.ts (AssemblyScript) to lib/wasm/kernels.wasm. Runs on `npm install`
 * and `npm ci` through the root package's `prepare` script, and by hand as `npm run build:wasm`
 * (`-- --wat` also writes kernels.wat to read the generated code). The .wasm is a build output:
 * gitignored, never committed.
 *
 * Without the assemblyscript dev dependency (`npm ci --omit=dev`) it warns and exits 0: the library
 * then runs on the TypeScript backend (`wasmBackend()` returns null and says why).
 * A compile error fails the install.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'lib/wasm/kernels.as.ts');
const output = join(root, 'lib/wasm/kernels.wasm');

let asc;
try {
  asc = (await import('assemblyscript/asc')).default;
} catch (err) {
  console.warn(`build-wasm: assemblyscript is not installed (${err.code ?? err.message}); skipping ${output}`);
  process.exit(0);
}

const argv = [
  source,
  '--outFile', output,
  '--optimizeLevel', '3',
  '--shrinkLevel', '0',
  '--converge',
  '--noAssert',
  '--runtime', 'stub', // no allocation happens in the kernels; the host owns the memory
  '--importMemory', // env.memory, created by lib/kernels-wasm.ts
  '--noExportMemory',
  '--enable', 'simd',
];
if (process.argv.includes('--wat')) argv.push('--textFile', join(root, 'lib/wasm/kernels.wat'));

const started = performance.now();
const { error, stderr } = await asc.main(argv, { stdout: process.stdout, stderr: process.stderr });
if (error) {
  console.error(`build-wasm: asc failed: ${error.message}`);
  if (stderr) console.error(stderr.toString());
  process.exit(1);
}
if (!existsSync(output)) {
  console.error(`build-wasm: asc reported success but ${output} is missing`);
  process.exit(1);
}
console.log(`build-wasm: ${output} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
