import { type Matrix, zeros } from './matrix.ts';

/**
 * A fixed ring of same-shaped buffers, one slot per batch (`batch % depth`). A sender writes
 * batch t's tensor into its slot and sends the view; receivers use it or copy what they keep
 * before the sender comes round again. The ordering semantics bound how far a sender can run
 * ahead of its receivers (delay + 2 batches), so depth = delay + 3 never overwrites a tensor
 * still in flight, and no message allocates.
 */
export class MatrixRing {
  private readonly slots: Matrix[];
  constructor(readonly depth: number, rows: number, cols: number) {
    this.slots = Array.from({ length: depth }, () => zeros(rows, cols));
  }
  slot(batch: number): Matrix {
    return this.slots[batch % this.depth];
  }
}
