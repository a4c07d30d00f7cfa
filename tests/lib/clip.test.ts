import { describe, expect, it } from 'vitest';
import { zeros, fromArray } from '../../lib/matrix.ts';
import { Synthesizer } from '../../lib/synthesizer.ts';
import { defineTopology } from '../../lib/topology.ts';

describe('synthetic gradient clipping', () => {
  const spec = (clip?: number) =>
    defineTopology({
      inputs: 2,
      batch: 2,
      layers: [{ units: 3, decoupled: true, synthesizer: clip === undefined ? {} : { clip } }, { units: 1 }],
    }).synthesizers[0];
  const predict = (clip?: number) => {
    const s = new Synthesizer('synthesizer:0', spec(clip), fromArray(3, 3, [2, 0, 0, 0, 2, 0, 0, 0, 2]), zeros(1, 3), null, 2);
    return Array.from(s.predict(0, fromArray(2, 3, [3, 0, 0, 0, 4, 0]), null).data);
  };

  it('scales a prediction whose batch norm is above the bound down to it, keeping its direction', () => {
    // unclipped: [6, 0, 0, 0, 8, 0], norm 10
    expect(predict()).toEqual([6, 0, 0, 0, 8, 0]);
    const clipped = predict(5);
    expect(clipped.map((v) => Math.round(v * 1e5) / 1e5)).toEqual([3, 0, 0, 0, 4, 0]);
    expect(predict(20)).toEqual([6, 0, 0, 0, 8, 0]);
  });

  it('refuses a bound that is not positive, by name', () => {
    expect(() => spec(0)).toThrow(/layer 0: synthesizer clip must be a finite number > 0, got 0/);
  });
});
