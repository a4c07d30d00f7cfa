/** lib/wire.ts: plain data with typed arrays as bytes and back; messages as frames under a limit and back. */
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER, Reassembler, decodeValue, encodeValue, framesOf } from '../../lib/wire.ts';

describe('encodeValue / decodeValue', () => {
  it('keeps the structure, every typed array bit for bit (views into shared memory too), Maps, Sets and non-finite numbers', () => {
    const shared = new Float32Array(new SharedArrayBuffer(64)).fill(0.1);
    const value = {
      m: { rows: 2, cols: 3, data: new Float32Array([1.5, -0, NaN, 3e-39, Infinity, -2]) },
      view: shared.subarray(3, 7),
      moments: [new Float64Array([Math.PI, -Infinity]), new Int32Array([-7, 2 ** 31 - 1])],
      bytes: new Uint8Array([1, 2, 3]),
      n: NaN,
      inf: -Infinity,
      map: new Map([['a', new Float32Array([1])]]),
      set: new Set([1, 2]),
      nested: [null, 'x', true, 2],
    };
    const back = decodeValue<typeof value>(encodeValue(value));
    expect(back.m.data).toEqual(value.m.data);
    expect(Object.is(back.m.data[1], -0)).toBe(true);
    expect(back.view).toEqual(new Float32Array(shared.subarray(3, 7)));
    expect(back.moments[0]).toEqual(value.moments[0]);
    expect(back.moments[1]).toEqual(value.moments[1]);
    expect(back.bytes).toEqual(value.bytes);
    expect(back.n).toBeNaN();
    expect(back.inf).toBe(-Infinity);
    expect(back.map.get('a')).toEqual(new Float32Array([1]));
    expect([...back.set]).toEqual([1, 2]);
    expect(back.nested).toEqual(value.nested);
  });

  it('typed arrays travel as their bytes: 100,000 floats take 400 kB and a few bytes, not JSON text', () => {
    const bytes = encodeValue({ data: new Float32Array(100_000).fill(1 / 3) });
    expect(bytes.length).toBeLessThan(400_000 + 100);
  });

  it('a message cut short is refused by name', () => {
    const bytes = encodeValue({ a: new Float64Array(10) });
    expect(() => decodeValue(bytes.subarray(0, bytes.length - 8))).toThrow(/Float64Array of 10 runs past the message's end/);
    expect(() => decodeValue(new Uint8Array(2))).toThrow(/2 bytes has no header/);
  });
});

describe('framesOf / Reassembler', () => {
  const message = encodeValue({ data: new Float32Array(1000).map((_, i) => i / 7) });

  it('splits under the limit and puts interleaved senders back together', () => {
    const a = framesOf(message, 1, 7, 300),
      b = framesOf(message, 2, 9, 1000);
    expect(a.every((f) => f.length <= 300)).toBe(true);
    expect(a.length).toBe(Math.ceil(message.length / (300 - FRAME_HEADER)));
    const r = new Reassembler(),
      whole: Uint8Array[] = [];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      for (const f of [a[i], b[i]]) {
        const got = f && r.take(f);
        if (got) whole.push(got.message);
      }
    }
    expect(whole).toHaveLength(2);
    for (const w of whole) expect(w).toEqual(message);
  });

  it('a lost frame is an error naming the sender and the message', () => {
    const frames = framesOf(message, 3, 5, 500),
      r = new Reassembler();
    r.take(frames[0]);
    expect(() => r.take(frames[2])).toThrow(/frame 3 of \d+ of message 5 from sender 3 arrived out of sequence/);
  });

  it('a limit that leaves no room after the header is refused', () => {
    expect(() => framesOf(message, 0, 0, FRAME_HEADER)).toThrow(/leaves no room/);
  });
});
