/**
 * The allocator of a WebAssembly backend's memory: a first-fit free list in ALIGN-byte blocks.
 */

/** bytes: a cache line, and 16-byte v128 alignment for every allocation */
export const ALIGN = 64;

/**
 * First-fit free list over [start, end) of the memory, in ALIGN-byte units. Blocks are kept sorted
 * by offset and merged with their neighbours on free, so a training that allocates once and frees at
 * the end never fragments.
 */
export class FreeList {
  private readonly starts: number[] = [];
  private readonly sizes: number[] = [];
  private readonly live = new Map<number, { bytes: number; length: number }>();
  used = 0;

  constructor(
    start: number,
    private readonly end: number,
  ) {
    this.starts.push(start);
    this.sizes.push(end - start);
  }

  alloc(bytes: number, length: number): number {
    const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.starts.length; i++) {
      if (this.sizes[i] < need) continue;
      const at = this.starts[i];
      if (this.sizes[i] === need) {
        this.starts.splice(i, 1);
        this.sizes.splice(i, 1);
      } else {
        this.starts[i] += need;
        this.sizes[i] -= need;
      }
      this.live.set(at, { bytes: need, length });
      this.used += need;
      return at;
    }
    return -1;
  }

  /** Size in bytes of the live block at `at` of `length` floats, or -1 when there is none. */
  release(at: number, length: number): number {
    const block = this.live.get(at);
    if (!block || block.length !== length) return -1;
    this.live.delete(at);
    this.used -= block.bytes;
    // binary search for the first free block after `at`, then merge with both neighbours
    let lo = 0,
      hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    let start = at,
      size = block.bytes;
    if (lo < this.starts.length && at + size === this.starts[lo]) {
      size += this.sizes[lo];
      this.starts.splice(lo, 1);
      this.sizes.splice(lo, 1);
    }
    if (lo > 0 && this.starts[lo - 1] + this.sizes[lo - 1] === start) {
      lo--;
      start = this.starts[lo];
      size += this.sizes[lo];
      this.starts.splice(lo, 1);
      this.sizes.splice(lo, 1);
    }
    this.starts.splice(lo, 0, start);
    this.sizes.splice(lo, 0, size);
    return block.bytes;
  }

  free(): { freeBytes: number; largestFreeBytes: number } {
    let freeBytes = 0,
      largestFreeBytes = 0;
    for (const s of this.sizes) {
      freeBytes += s;
      largestFreeBytes = Math.max(largestFreeBytes, s);
    }
    return { freeBytes, largestFreeBytes };
  }

  get capacity(): number {
    return this.end;
  }
}
