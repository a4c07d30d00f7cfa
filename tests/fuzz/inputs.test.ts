/**
 * Fuzz, in this process: thousands of malformed reference cases, checkpoints (bytes flipped,
 * truncated, padded, payloads edited and resealed), chain and graph specs, data sets, and the demos'
 * command lines. Each input is a valid one broken in a way that must be refused (see
 * bench/fuzz/_generators.ts), and each must end with one of the library's named errors: never accepted,
 * never a TypeError from inside. Each property has a fixed number of runs and a wall-clock cap;
 * FUZZ_SEED=N repeats a run.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { train } from '../../actors/trainer/training.ts';
import { defineTopology } from '../../lib/topology.ts';
import { defineGraph } from '../../lib/graph.ts';
import {
  NAMED_ERRORS,
  type Verdict,
  fullGraphSpec,
  fullSpec,
  goodData,
  goodGraphData,
  malformedCase,
  malformedCheckpoint,
  malformedData,
  malformedDemoArgs,
  malformedGraph,
  malformedGraphData,
  malformedTopology,
} from '../../bench/fuzz/_generators.ts';
import { tinyCase, tinyGraphCase, tinyRecurrentCase } from '../../bench/fuzz/_cases.ts';
import {
  fullRecurrentSpec,
  goodSequences,
  malformedGraphCase,
  malformedRecurrentCase,
  malformedRecurrentSpec,
  malformedSequences,
} from '../../bench/fuzz/_recurrent.ts';
import {
  baseCheckpoints,
  runAnyCase,
  runCase,
  runCheckpoint,
  runData,
  runDemoArgs,
  runGraph,
  runRecurrent,
  runSequences,
  runTopology,
} from '../../bench/fuzz/_run.ts';
import { defineRecurrent } from '../../lib/recurrent/topology.ts';

const seedArb = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const options = (numRuns: number) => ({
  numRuns,
  interruptAfterTimeLimit: 8_000,
  ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
});

/** Refused by one of the library's errors (or the demos' UsageError), in one line. */
function expectNamed(v: Verdict, label: string, also: string[] = []): void {
  if (v.kind === 'accepted') expect.fail(`accepted silently: ${label}`);
  expect([...NAMED_ERRORS, ...also], `${label}: ${v.name}: ${v.message}`).toContain(v.name);
  expect(v.message, label).not.toBe('');
  expect(v.message, label).not.toContain('\n');
}

/** Runs `body` and checks the process's resident memory grew by less than `mb`. */
async function boundedMemory(mb: number, body: () => Promise<void>): Promise<void> {
  const before = process.memoryUsage().rss;
  await body();
  expect((process.memoryUsage().rss - before) / 2 ** 20).toBeLessThan(mb);
}

describe('the inputs the generators break are good ones (else a refusal would prove nothing)', () => {
  it('the case, the checkpoints, the spec, the data and the flags are accepted as they are', async () => {
    expect(await runCase(JSON.stringify(tinyCase(3, { conditioned: true, delay: 2 })))).toEqual({ kind: 'accepted' });
    const { texts, bases } = await baseCheckpoints(mkdtempSync(join(tmpdir(), 'dni-fuzz-good-')));
    for (const [i, text] of texts.entries()) expect(await runCheckpoint(text, bases[i])).toEqual({ kind: 'accepted' });
    expect(await runTopology(fullSpec())).toEqual({ kind: 'accepted' });
    const topology = defineTopology({ inputs: 3, batch: 2, layers: [{ units: 4, decoupled: true }, { units: 2 }] });
    expect(await runData(topology, goodData(2))).toEqual({ kind: 'accepted' });
    expect(runDemoArgs(['--steps', '10', '--scheduler', 'async', '--seed', '7', '--lr', '0.5'])).toEqual({ kind: 'accepted' });
    expect(await runGraph(fullGraphSpec())).toEqual({ kind: 'accepted' });
    expect(await runData(defineGraph(fullGraphSpec()), goodGraphData(2))).toEqual({ kind: 'accepted' });
    for (const seed of [1, 2, 3]) {
      expect(await runAnyCase(JSON.stringify(tinyRecurrentCase(seed, { dni: seed !== 2 })))).toEqual({ kind: 'accepted' });
      expect(await runAnyCase(JSON.stringify(tinyGraphCase(seed)))).toEqual({ kind: 'accepted' });
    }
    expect(await runRecurrent(fullRecurrentSpec())).toEqual({ kind: 'accepted' });
    expect(await runSequences(fullRecurrentSpec(), goodSequences(2))).toEqual({ kind: 'accepted' });
  });
});

describe('malformed inputs end with a named error', () => {
  it('reference cases: loaded and trained', async () => {
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedCase(seed);
          expectNamed(await runCase(input.text), `seed ${seed}: ${input.label}`);
        }),
        options(2500),
      ),
    );
  });

  describe('checkpoints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dni-fuzz-ckpt-'));
    let texts: string[] = [];
    let bases: Awaited<ReturnType<typeof baseCheckpoints>>['bases'] = [];
    beforeAll(async () => {
      ({ texts, bases } = await baseCheckpoints(dir));
    });

    it('decoded and resumed', async () => {
      await boundedMemory(256, () =>
        fc.assert(
          fc.asyncProperty(seedArb, async (seed) => {
            const k = seed % texts.length,
              input = malformedCheckpoint(texts[k], seed);
            expectNamed(await runCheckpoint(input.text, bases[k]), `seed ${seed}: ${input.label}`);
          }),
          options(2500),
        ),
      );
    });

    it('resumed from a file while asked to checkpoint to it: refused, and the file untouched', async () => {
      await fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const k = seed % texts.length,
            input = malformedCheckpoint(texts[k], seed);
          const sub = mkdtempSync(join(dir, 'run-')),
            path = join(sub, 'run.ckpt');
          writeFileSync(path, input.text);
          const before = readFileSync(path);
          const verdict: Verdict = await train({ ...bases[k], resume: path, checkpoint: { path, at: [8] } }).then(
            () => ({ kind: 'accepted' as const }),
            (e: Error) => ({ kind: 'refused' as const, name: e.name, message: e.message }),
          );
          expectNamed(verdict, `seed ${seed}: ${input.label}`);
          expect(readFileSync(path).equals(before), input.label).toBe(true);
          expect(readdirSync(sub), input.label).toEqual(['run.ckpt']);
        }),
        options(200),
      );
    });
  });

  it('topology specs: defined and trained', async () => {
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedTopology(seed);
          expectNamed(await runTopology(input.spec), `seed ${seed}: ${input.label}`);
        }),
        options(1500),
      ),
    );
  });

  it('data sets: trained on', async () => {
    const topology = defineTopology({
      inputs: 3,
      batch: 2,
      layers: [{ units: 4, decoupled: true, synthesizer: { conditioned: true } }, { units: 2 }],
    });
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedData(seed);
          expectNamed(await runData(topology, input.data), `seed ${seed}: ${input.label}`);
        }),
        options(1500),
      ),
    );
  });

  it('graph specs: defined and trained', async () => {
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedGraph(seed);
          expectNamed(await runGraph(input.spec), `seed ${seed}: ${input.label}`);
        }),
        options(1500),
      ),
    );
  });

  it('graph data sets: trained on', async () => {
    const graph = defineGraph(fullGraphSpec());
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedGraphData(seed);
          expectNamed(await runData(graph, input.data), `seed ${seed}: ${input.label}`);
        }),
        options(800),
      ),
    );
  });

  it.each([
    ['rnn case files: loaded and trained', malformedRecurrentCase],
    ['graph case files: loaded and trained', malformedGraphCase],
  ])('%s', async (_, generate) => {
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = generate(seed);
          expectNamed(await runAnyCase(input.text), `seed ${seed}: ${input.label}`);
        }),
        options(800),
      ),
    );
  });

  it('recurrent specs: defined and trained', async () => {
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedRecurrentSpec(seed);
          expectNamed(await runRecurrent(input.spec), `seed ${seed}: ${input.label}`);
        }),
        options(800),
      ),
    );
  });

  it('sequence data sets: trained on', async () => {
    const topology = defineRecurrent(fullRecurrentSpec());
    await boundedMemory(256, () =>
      fc.assert(
        fc.asyncProperty(seedArb, async (seed) => {
          const input = malformedSequences(seed);
          expectNamed(await runSequences(topology, input.data), `seed ${seed}: ${input.label}`);
        }),
        options(800),
      ),
    );
  });

  it("the demos' command line", () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const input = malformedDemoArgs(seed);
        expectNamed(runDemoArgs(input.args), `seed ${seed}: ${input.label}`, ['UsageError']);
      }),
      options(1500),
    );
  });
});
