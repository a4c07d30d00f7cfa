/**
 * An edge between two actors: an rxjs Subject with a name (`layer:0 → layer:1`) that the
 * inspector can print without serialising the tensors it carries.
 */
import { Subject } from 'rxjs';
import type { Matrix } from '../lib/matrix.ts';

export class Edge<T> extends Subject<T> {
  constructor(readonly name: string) {
    super();
  }
  toJSON(): string {
    return this.name;
  }
}

/** Batch t's activations on their way down. */
export interface ActivationMessage {
  readonly batch: number;
  readonly h: Matrix;
}

/** A gradient with respect to some layer's output, for batch t. */
export interface GradientMessage {
  readonly batch: number;
  readonly g: Matrix;
}

export interface LossMessage {
  readonly batch: number;
  readonly loss: number;
  /** the head's accuracy on the batch (head losses only) */
  readonly accuracy?: number;
}
