/**
 * Checkpoints of every kind (chain, graph, recurrent with a boundary synthesizer and with a
 * decoupled interface), broken in one way each, as files and as states in memory: a byte flipped,
 * truncated, a resealed edit of any field, a pending refit or a whole entry dropped, a bookkeeping
 * field tampered. Every one is refused by name (a CheckpointError, or another of the library's
 * errors), never resumed silently, never a TypeError or RangeError from inside.
 * (bench/fuzz/_checkpoints.ts; `npm run bench -- fuzz` runs the same generator longer.)
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CheckpointBase, brokenCheckpoint, checkpointBases, resumeBroken } from '../../bench/fuzz/_checkpoints.ts';
import { NAMED_ERRORS } from '../../bench/fuzz/_generators.ts';

let bases: CheckpointBase[] = [];
beforeAll(async () => {
  bases = await checkpointBases();
}, 120_000);

describe('checkpoints of every kind', () => {
  it('resume as they are (the generator breaks valid ones)', async () => {
    for (const b of bases) expect(await resumeBroken({ label: b.kind, text: b.text }, b), b.kind).toEqual({ kind: 'accepted' });
  }, 120_000);

  it('broken as files or in memory, are refused by name', async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 32 - 1 }), async (seed) => {
        const base = bases[seed % bases.length],
          input = brokenCheckpoint(base, seed);
        seen.add(`${base.kind}/${input.state ? 'memory' : 'file'}`);
        const v = await resumeBroken(input, base);
        if (v.kind === 'accepted') expect.fail(`seed ${seed}: accepted silently: ${input.label}`);
        expect(NAMED_ERRORS, `seed ${seed}: ${input.label}: ${v.name}: ${v.message}`).toContain(v.name);
        expect(v.message, `seed ${seed}: ${input.label}`).not.toMatch(/checkpoint checkpoint:/);
      }),
      { numRuns: 300, interruptAfterTimeLimit: 20_000, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) },
    );
    // every kind was tried both ways
    expect(seen.size).toBe(2 * bases.length);
  }, 120_000);
});
