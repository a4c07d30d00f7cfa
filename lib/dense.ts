/**
 * A dense layer's maths: `h = f(x W + b)`, and its update from a gradient g of the loss with
 * respect to h (synthetic when the layer is decoupled, true or backpropagated otherwise):
 * `d = g * f'(h)`, upstream `g_x = d Wᵀ` with the pre-update W, then `W -= lr xᵀd / B`,
 * `b -= lr mean_rows(d)` (plain SGD; with momentum or Adam the layer's optimiser takes the step
 * from the same batch-mean gradients).
 */
import { DivergenceError } from './errors.ts';
import { backend } from './kernels.ts';
import { type Matrix, copyInto, firstNonFinite, release, shapeOf, zeros } from './matrix.ts';
import { Optimizer, optimizerOf } from './optimizers.ts';
import { MatrixRing } from './ring.ts';
import type { LayerTopology } from './topology.ts';

export class DenseLayer {
  /** the updates' optimiser, over [W, b] (plain SGD: `W -= lr xᵀd / B` fused into one GEMM) */
  readonly optimizer: Optimizer;
  private readonly x: Matrix;
  private readonly d: Matrix;
  private readonly outputs: MatrixRing;
  private readonly upstream: MatrixRing;
  private readonly kernels = backend();
  /** the batch whose forward pass was the last one (its h and x are held for the update) */
  private batch = -1;
  private disposed = false;

  constructor(
    /** systemId-style name used in errors, e.g. `layer:1` */
    readonly id: string,
    readonly spec: LayerTopology,
    readonly W: Matrix,
    readonly b: Matrix,
    readonly batchSize: number,
    ringDepth: number,
  ) {
    if (W.rows !== spec.inputs || W.cols !== spec.units) {
      throw new RangeError(`${id}: W is ${shapeOf(W)}, the topology needs ${spec.inputs}x${spec.units}`);
    }
    if (b.data.length !== spec.units) throw new RangeError(`${id}: b has ${b.data.length} values, the topology needs ${spec.units}`);
    this.x = zeros(batchSize, spec.inputs);
    this.d = zeros(batchSize, spec.units);
    this.outputs = new MatrixRing(ringDepth, batchSize, spec.units);
    this.upstream = new MatrixRing(ringDepth, batchSize, spec.inputs);
    this.optimizer = new Optimizer(optimizerOf(spec), [W, b]);
  }

  /** h = f(x W + b) for `batch`; returns h (a ring slot valid while the batch is in flight). */
  forward(batch: number, x: Matrix): Matrix {
    if (this.disposed) throw new Error(`${this.id}: forward of batch ${batch} after dispose()`);
    if (x.rows !== this.batchSize || x.cols !== this.spec.inputs) {
      throw new RangeError(`${this.id}: forward of batch ${batch} got x ${shapeOf(x)}, expected ${this.batchSize}x${this.spec.inputs}`);
    }
    copyInto(this.x, x);
    const h = this.outputs.slot(batch), k = this.kernels;
    k.matmul(this.x, this.W, h);
    k.addRowVector(h, this.b);
    const sum = k.activate(this.spec.activation, h);
    if (!Number.isFinite(sum)) {
      const at = firstNonFinite(h.data);
      throw new DivergenceError(this.id, batch, 'h', `h[${Math.floor(at / h.cols)}, ${at % h.cols}] = ${h.data[at]}`);
    }
    this.batch = batch;
    return h;
  }

  /**
   * Apply the gradient g = dl/dh of the last forward batch. Returns the upstream gradient
   * `d Wᵀ` (computed before the update) when `withUpstream`, else null (the first layer).
   */
  update(batch: number, g: Matrix, withUpstream: boolean): Matrix | null {
    if (this.disposed) throw new Error(`${this.id}: update of batch ${batch} after dispose()`);
    if (batch !== this.batch) throw new Error(`${this.id}: gradient for batch ${batch}, but the last forward was batch ${this.batch}`);
    if (g.rows !== this.batchSize || g.cols !== this.spec.units) {
      throw new RangeError(`${this.id}: gradient of batch ${batch} is ${shapeOf(g)}, expected ${this.batchSize}x${this.spec.units}`);
    }
    const k = this.kernels, h = this.outputs.slot(batch), opt = this.optimizer;
    k.activationGrad(this.spec.activation, h, g, this.d);
    const gx = withUpstream ? k.matmulTB(this.d, this.W, this.upstream.slot(batch)) : null;
    opt.outer(0, this.x, this.d);
    opt.mean(1, this.d);
    opt.step();
    return gx;
  }

  /**
   * Give every buffer this layer allocated back to the backend: the input copy, d, the output and
   * upstream rings, the optimiser's gradients and moments. W and b are not the layer's (they belong
   * to the parameter set it was given) and stay. The layer cannot be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    release(this.x, this.kernels);
    release(this.d, this.kernels);
    this.outputs.dispose();
    this.upstream.dispose();
    this.optimizer.dispose();
  }
}
