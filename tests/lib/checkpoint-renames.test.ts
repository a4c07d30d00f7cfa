/**
 * Checkpoints written before a rename (tests/fixtures/rnn-checkpoint-before-words23.ckpt, written by
 * main before issue 23) are read under today's names; a file that holds an old name beside its new
 * one is refused by name, never silently overwritten.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, isRecurrentState } from '../../lib/checkpoint/checkpoint.ts';
import { CheckpointError } from '../../lib/errors.ts';

const text = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'rnn-checkpoint-before-words23.ckpt'), 'utf8');

/** The fixture with its payload changed by `edit`, and a header that matches again. */
function edited(edit: (payload: Record<string, any>) => void): string {
  const [header, body] = text.split('\n');
  const payload = JSON.parse(body);
  edit(payload);
  const out = JSON.stringify(payload);
  return (
    `${JSON.stringify({ ...JSON.parse(header), bytes: Buffer.byteLength(out), sha256: createHash('sha256').update(out).digest('hex') })}` +
    `\n${out}\n`
  );
}

describe('checkpoint names from before a rename', () => {
  it("the recurrent 'link' synthesizer is read as the interface synthesizer: topology field, parameters, optimiser, pending refits", () => {
    const s = decodeCheckpoint(text, 'old.ckpt');
    if (!isRecurrentState(s)) throw new Error('not recurrent');
    expect(s.topology.layers.map((l) => Object.keys(l))).toEqual(
      s.topology.layers.map(() => ['index', 'key', 'inputs', 'units', 'state', 'optimizer', 'synthesizer', 'aux', 'interface']),
    );
    expect(
      Object.keys(s.params)
        .filter((k) => /^(link|interface)/.test(k))
        .sort(),
    ).toEqual(['interface0.M', 'interface0.c', 'interface0.hidden0.W', 'interface0.hidden0.b']);
    expect(Object.keys(s.optimizers)).toContain('synthesizer:interface0');
    expect(s.synthesizers['synthesizer:interface0'].pending.length).toBe(2);
  });

  it('an old parameter name beside its new one is refused by name', () => {
    const both = edited((p) => (p.params['interface0.M'] = p.params['link0.M']));
    expect(() => decodeCheckpoint(both, 'both.ckpt')).toThrow(CheckpointError);
    expect(() => decodeCheckpoint(both, 'both.ckpt')).toThrow(
      "checkpoint both.ckpt: parameter 'link0.M' is not a parameter of its topology",
    );
  });

  it('an old actor name beside its new one is refused by name', () => {
    const both = edited((p) => (p.synthesizers['synthesizer:interface0'] = p.synthesizers['synthesizer:link0']));
    expect(() => decodeCheckpoint(both, 'both.ckpt')).toThrow(/synthesizer 'synthesizer:link0' is not an actor of its topology/);
  });
});
