/**
 * The public API: the root (index.ts) exports exactly the values below, so it cannot grow again
 * without this list (and the CHANGELOG) saying so; each subpath of package.json "exports" exports
 * its own list; docs/api.md names every one of them under its subpath; and what the root used to
 * export besides moved to a subpath or is gone from the public API.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './examples.ts';

const ROOT_VALUES = [
  // train
  'createTraining',
  'train',
  'trainWithRestarts',
  'fit',
  'trainCurriculum',
  'createStagePool',
  'defaultStagePool',
  'constantLr',
  'cosineLr',
  'exponentialLr',
  'stepLr',
  'parseLrSchedule',
  // define
  'defineTopology',
  'defineGraph',
  'defineRecurrent',
  'describeSizes',
  // data
  'binaryAddition',
  'copyTask',
  'loadMnist',
  'fromArray',
  'fromNested',
  'toNested',
  'oneHot',
  'evaluate',
  // checkpoints
  'readCheckpoint',
  'writeCheckpoint',
  // errors
  'DniError',
  'TopologyError',
  'DataError',
  'TrainingOptionsError',
  'DivergenceError',
  'StageError',
  'CheckpointError',
  'TrainingAbortedError',
  'PortError',
  'EnvironmentError',
  'FileError',
  'checkEnvironment',
  // traces
  'createTraceRecorder',
  'parseTrace',
];

/** Each subpath: its entry file (as package.json "exports" maps it, in TypeScript) and its values. */
const SUBPATHS: Record<string, { entry: string; values: string[] }> = {
  'dni-actors/recurrent': {
    entry: 'recurrent.ts',
    values: [
      'sequencesFromNested',
      'validateSequences',
      'windowAccuracy',
      'repeatCopyTask',
      'copyExperimentTopology',
      'COPY_EXPERIMENT',
      'COPY_METHODS',
      'keyOf',
    ],
  },
  'dni-actors/inspect': {
    entry: 'tools/inspector/index.ts',
    values: ['serveLiveInspector', 'serveInspector', 'attachStatelyInspector', 'combineInspections', 'createTraceRelay', 'toTraceEvent'],
  },
  'dni-actors/kernels': {
    entry: 'kernels.ts',
    values: [
      'backend',
      'useBackend',
      'autoBackend',
      'backendByName',
      'typescriptBackend',
      'wasmBackend',
      'wasmFmaBackend',
      'wasmUnavailableReason',
      'wasmFmaUnavailableReason',
      'release',
    ],
  },
  'dni-actors/machines': {
    entry: 'machines.ts',
    values: [
      'trainerMachine',
      'stageMachine',
      'layerMachine',
      'synthesizerMachine',
      'headMachine',
      'networkMachines',
      'INTERPRETERS',
      'SCHEDULERS',
      'EventLoopScheduler',
      'Trampoline',
      'deliverOn',
      'planStages',
      'validatePlan',
      'defaultStageCount',
    ],
  },
  'dni-actors/nats': {
    entry: 'nats.ts',
    values: ['serveStages', 'CODE_VERSION', 'WIRE_VERSION', 'BEAT_MS', 'BEAT_TIMEOUT_MS', 'DEFAULT_PREFIX'],
  },
  'dni-actors/testing': {
    entry: 'testing.ts',
    values: [
      'loadCase',
      'loadAnyCase',
      'graphCase',
      'loadRecurrentCase',
      'caseParametersToJSON',
      'caseParametersFromJSON',
      'initParameters',
      'parametersToJSON',
      'parametersFromJSON',
      'parameterShapes',
      'initRecurrentParameters',
      'recurrentParameterShapes',
      'recurrentParametersToJSON',
      'recurrentParametersFromJSON',
      'buildRecurrentNetwork',
      'snapshotRecurrentNetwork',
      'restoreRecurrentNetwork',
      'disposeRecurrentNetwork',
      'trainRecurrentSequential',
      'runCurriculum',
      'Rng',
    ],
  },
};

const sorted = (names: string[]) => [...names].sort();
const load = (entry: string): Promise<Record<string, unknown>> => import(/* @vite-ignore */ join(ROOT, entry));

/** The names docs/api.md shows (in backticks) in the section headed `## \`subpath\``. */
function documented(subpath: string): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
  const start = doc.indexOf(`\n## \`${subpath}\`\n`);
  if (start < 0) return [];
  const end = doc.indexOf('\n## ', start + 1);
  return [...doc.slice(start, end < 0 ? undefined : end).matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]!);
}

describe('the public API', () => {
  it(`the root exports exactly ${ROOT_VALUES.length} values`, async () => {
    expect(ROOT_VALUES.length).toBeLessThanOrEqual(60);
    expect(sorted(Object.keys(await load('index.ts')))).toEqual(sorted(ROOT_VALUES));
  });

  it('package.json "exports" maps the root and exactly these subpaths, each into dist/ (types, import, default)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, string | Record<string, string>>;
    };
    const paths = Object.keys(pkg.exports).filter((p) => p !== './package.json');
    expect(sorted(paths)).toEqual(sorted(['.', ...Object.keys(SUBPATHS).map((s) => s.replace('dni-actors', '.'))]));
    for (const [subpath, { entry }] of [['dni-actors', { entry: 'index.ts' }] as const, ...Object.entries(SUBPATHS)]) {
      const js = `./dist/${entry.replace(/\.ts$/, '.js')}`;
      expect(pkg.exports[subpath.replace('dni-actors', '.')], subpath).toEqual({
        types: js.replace(/\.js$/, '.d.ts'),
        import: js,
        default: js,
      });
    }
    // tsconfig.json maps each one to its entry, so the examples type-check against the source
    const tsconfig = readFileSync(join(ROOT, 'tsconfig.json'), 'utf8');
    for (const [subpath, { entry }] of Object.entries(SUBPATHS)) expect(tsconfig).toContain(`"${subpath}": ["./${entry}"]`);
  });

  for (const [subpath, { entry, values }] of Object.entries(SUBPATHS)) {
    it(`${subpath} exports exactly its ${values.length} values`, async () => {
      expect(sorted(Object.keys(await load(entry)))).toEqual(sorted(values));
    });
  }

  it('docs/api.md names every value of the root and of each subpath under its heading', () => {
    for (const [subpath, values] of [
      ['dni-actors', ROOT_VALUES] as const,
      ...Object.entries(SUBPATHS).map(([s, { values: v }]) => [s, v] as const),
    ]) {
      const shown = new Set(documented(subpath));
      expect(
        values.filter((v) => !shown.has(v)),
        `docs/api.md, ## \`${subpath}\``,
      ).toEqual([]);
    }
  });

  it('what the root exported before this API moved to a subpath, or is no longer public', async () => {
    const root = await load('index.ts');
    const everywhere = new Set([...ROOT_VALUES, ...Object.values(SUBPATHS).flatMap((s) => s.values)]);
    // the unused and the internal ones: nowhere in the public API
    for (const gone of [
      'batchAt',
      'pipelineActors',
      'MERGES',
      'INTERFACE_KINDS',
      'CELLS',
      'RECURRENT_LOSSES',
      'windowsPerSequence',
      'writeFileAtomic',
      'sameFile',
      'MAX_CHECKPOINT_BYTES',
      'zeros',
    ]) {
      expect(gone in root, gone).toBe(false);
      expect(everywhere.has(gone), gone).toBe(false);
    }
    // moved: behind a subpath, not in the root
    for (const moved of [
      'backend',
      'useBackend',
      'Trampoline',
      'deliverOn',
      'EventLoopScheduler',
      'INTERPRETERS',
      'networkMachines',
      'trainRecurrentSequential',
      'runCurriculum',
      'loadCase',
      'attachStatelyInspector',
    ]) {
      expect(moved in root, moved).toBe(false);
      expect(everywhere.has(moved), moved).toBe(true);
    }
  });
});
