/**
 * A stage that gets its own copy of the data (a NATS host's) is sent only what it reads: the
 * inputs where a layer of it reads the data, each label set a head or a context-conditioned
 * synthesizer of it reads; the rest goes with no rows. Sequences go whole.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stageData } from '../../actors/stage/remoteStage.ts';
import type { Matrix } from '../../lib/matrix.ts';
import { buildModel } from '../../lib/model.ts';
import { type AnyLoadedCase, loadAnyCase } from '../../lib/reference.ts';
import { REFERENCE_DIR } from '../helpers.ts';

const load = (name: string) => {
  const c = loadAnyCase(JSON.parse(readFileSync(join(REFERENCE_DIR, `${name}.json`), 'utf8')), name) as AnyLoadedCase;
  return { ...c, network: buildModel(c.topology, c.initial) };
};
const rows = (m: unknown) => (m as Matrix).rows;

describe('stageData: a stage is sent only the data it reads', () => {
  it("a dense chain in two stages: the inputs to the first, the labels to the head's", () => {
    const c = load('dni');
    const first = stageData(c.network.topology, c.data, { index: 0, actors: ['layer:0', 'synthesizer:0', 'layer:1'] });
    const last = stageData(c.network.topology, c.data, { index: 1, actors: ['synthesizer:1', 'layer:2', 'head'] });
    expect([rows(first.x), rows(first.y)]).toEqual([1000, 0]);
    expect([rows(last.x), rows(last.y)]).toEqual([0, 1000]);
    // the columns stay: the stage's batch views keep their shape
    expect((last.x as Matrix).cols).toBe((c.data.x as Matrix).cols);
  });

  it('cdni: a synthesizer conditioned on the labels gets them, with no head there', () => {
    const c = load('cdni');
    const first = stageData(c.network.topology, c.data, { index: 0, actors: ['layer:0', 'synthesizer:0'] });
    const middle = stageData(c.network.topology, c.data, { index: 1, actors: ['layer:1'] });
    expect([rows(first.x), rows(first.y)]).toEqual([1000, 1000]);
    expect([rows(middle.x), rows(middle.y)]).toEqual([0, 0]);
  });

  it('a graph of two label sets: each stage gets the sets its heads and synthesizers read', () => {
    const c = load('graph-branch');
    const y = (d: { y: unknown }) => Object.fromEntries(Object.entries(d.y as Record<string, Matrix>).map(([k, m]) => [k, m.rows]));
    const trunk = stageData(c.network.topology, c.data, {
      index: 0,
      actors: ['layer:trunk', 'synthesizer:trunk>a', 'synthesizer:trunk>b'],
    });
    const sum = stageData(c.network.topology, c.data, {
      index: 1,
      actors: ['layer:a', 'synthesizer:a>sum_out', 'layer:sum_out', 'head:sum'],
    });
    const mod4 = stageData(c.network.topology, c.data, { index: 2, actors: ['layer:b', 'layer:mod4_out', 'head:mod4'] });
    expect([rows(trunk.x), y(trunk)]).toEqual([1000, { sum: 0, mod4: 1000 }]);
    expect([rows(sum.x), y(sum)]).toEqual([0, { sum: 1000, mod4: 0 }]);
    expect([rows(mod4.x), y(mod4)]).toEqual([0, { sum: 0, mod4: 1000 }]);
  });

  it('sequences go whole', () => {
    const c = load('rnn-dni');
    expect(stageData(c.network.topology, c.data, { index: 1, actors: ['readout'] })).toBe(c.data);
  });
});
