/**
 * Seeded random numbers: xoshiro128** seeded through splitmix32. Its whole state is four
 * uint32 words, so a checkpoint can save and restore it exactly.
 */

/** The largest seed: seeds are uint32, integers in [0, {@link MAX_SEED}]. */
export const MAX_SEED = 2 ** 32 - 1;

/**
 * `seed` if it is an integer in [0, 2^32 - 1]; otherwise a TypeError (not a number) or RangeError
 * naming `what` and the accepted range. Nothing is coerced: `NaN`, `"7"`, `1.5`, `-1` and `2**40`
 * would all have meant some other seed (0, 7, 1, 4294967295, 0) without a word.
 */
export function checkSeed(seed: unknown, what = 'seed'): number {
  if (typeof seed !== 'number')
    throw new TypeError(
      `${what} must be an integer in [0, ${MAX_SEED}], got ` +
        `${typeof seed === 'string' ? JSON.stringify(seed) : String(seed)} (a ${typeof seed})`,
    );
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)
    throw new RangeError(`${what} must be an integer in [0, ${MAX_SEED}], got ${seed}`);
  return seed;
}

export class Rng {
  private s = new Uint32Array(4);
  private spare: number | null = null;

  /** `seed`: an integer in [0, 2^32 - 1] (see {@link checkSeed}). */
  constructor(seed = 1) {
    let x = checkSeed(seed, 'Rng: seed');
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (this.s.every((v) => v === 0)) this.s[0] = 1;
  }

  /** A uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller, the second value cached). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const r = Math.sqrt(-2 * Math.log(u)),
      th = 2 * Math.PI * this.next();
    this.spare = r * Math.sin(th);
    return r * Math.cos(th);
  }

  /** In-place Fisher-Yates shuffle. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextUint32() % (i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** The full state, for checkpoints. */
  getState(): { s: number[]; spare: number | null } {
    return { s: Array.from(this.s), spare: this.spare };
  }

  /** Continue from a {@link getState}: four uint32 words, not all zero, and a spare normal or null. */
  setState(state: { s: number[]; spare: number | null }): void {
    const s = state?.s;
    if (!Array.isArray(s) || s.length !== 4 || !s.every((w) => Number.isInteger(w) && w >= 0 && w <= MAX_SEED) || s.every((w) => w === 0)) {
      throw new RangeError(`Rng: a state needs s = 4 integers in [0, ${MAX_SEED}], not all zero, got ${JSON.stringify(s)}`);
    }
    if (state.spare !== null && (typeof state.spare !== 'number' || !Number.isFinite(state.spare))) {
      throw new RangeError(`Rng: a state's spare must be null or a finite number, got ${String(state.spare)}`);
    }
    this.s.set(s);
    this.spare = state.spare;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
