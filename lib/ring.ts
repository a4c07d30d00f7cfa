import { backend } from './kernels/kernels.ts';
import { type Matrix, release, zeros } from './matrix.ts';

/**
 * A fixed ring of same-shaped buffers, one slot per batch (`batch % depth`). A sender writes
 * batch t's tensor into its slot and sends the view; receivers use it or copy what they keep
 * before the sender comes round again. The ordering semantics bound how far a sender can run
 * ahead of its receivers (delay + 2 batches), so depth = delay + 3 never overwrites a tensor
 * still in flight, and no message allocates.
 */
export class MatrixRing {
  private readonly slots: Matrix[];
  private readonly kernels = backend();
  constructor(
    readonly depth: number,
    rows: number,
    cols: number,
  ) {
    this.slots = Array.from({ length: depth }, () => zeros(rows, cols));
  }
  slot(batch: number): Matrix {
    return this.slots[batch % this.depth] ?? disposedRing();
  }
  /** Give every slot's storage back (see `release`); the ring must not be used afterwards. */
  dispose(): void {
    for (const m of this.slots.splice(0)) release(m, this.kernels);
  }
}

function disposedRing(): never {
  throw new Error('ring: used after dispose()');
}

/**
 * Buffers made for a training's actors, given back together when it ends (on the WebAssembly
 * backend the arena collects no garbage): the stage makes one and its actors allocate from it.
 */
export class BufferPool {
  private readonly rings: MatrixRing[] = [];
  private readonly matrices: Matrix[] = [];
  private readonly kernels = backend();

  matrix(rows: number, cols: number): Matrix {
    const m = zeros(rows, cols);
    this.matrices.push(m);
    return m;
  }

  ring(depth: number, rows: number, cols: number): MatrixRing {
    const r = new MatrixRing(depth, rows, cols);
    this.rings.push(r);
    return r;
  }

  dispose(): void {
    for (const r of this.rings.splice(0)) r.dispose();
    for (const m of this.matrices.splice(0)) release(m, this.kernels);
  }
}
