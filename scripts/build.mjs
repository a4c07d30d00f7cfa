#!/usr/bin/env node
/**
 * `npm run build` (and `prepack`, so `npm pack` / `npm publish` always ship a fresh build): dist/ as
 * npm installs it. ES modules compiled by tsc from `index.ts` and the worker entry
 * (tsconfig.build.json: `.ts` import paths rewritten to `.js`, `.d.ts` beside each module, source
 * maps with the TypeScript source inlined), and the WebAssembly kernels compiled into
 * dist/lib/wasm, where dist/lib/kernels-wasm.js looks for them. An installed package needs neither
 * TypeScript nor tsx nor AssemblyScript. The repository itself keeps running the `.ts` sources.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

const run = (what, args) => {
  const started = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`build: ${what} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
  console.log(`build: ${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
};

rmSync(dist, { recursive: true, force: true });
run('tsc -p tsconfig.build.json', [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')]);
run('wasm kernels', [join(root, 'scripts/build-wasm.mjs'), '--out', join(dist, 'lib/wasm')]);

// what the package cannot work without: say so here rather than in a user's project
const expected = ['index.js', 'index.d.ts', 'actors/stageThread.js', 'nats.js', 'actors/nats/natsHostThread.js', 'bin/stage.js', 'lib/wasm/kernels.wasm', 'lib/wasm/kernels-fma.wasm'];
const missing = expected.filter((f) => !existsSync(join(dist, f)));
if (missing.length) {
  console.error(`build: dist/ lacks ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`build: ${dist}`);
