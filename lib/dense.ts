/**
 * A graph node's maths: a dense layer `h = f(x W + b)` whose input x is the merge of its sources
 * (side by side for `concat`, added for `sum`), and its update from the gradient of the loss with
 * respect to h, summed over its outgoing edges in their fixed order (synthetic on a decoupled
 * edge, what the consumer sends back on a backprop edge): `d = g * f'(h)`, to each source its
 * share of `d Wᵀ` with the pre-update W (its columns for concat, the whole for sum), then
 * `W -= lr xᵀd / B`, `b -= lr mean_rows(d)` (plain SGD; with momentum or Adam the node's
 * optimiser takes the step from the same batch-mean gradients). A chain's layer is a node with one
 * source and one outgoing edge.
 */
import { DivergenceError } from './errors.ts';
import { type GraphNode, lambdaAt } from './graph.ts';
import { backend } from './kernels/kernels.ts';
import { type Matrix, copyInto, firstNonFinite, release, rowsView, shapeOf, zeros } from './matrix.ts';
import { Optimizer, optimizerOf } from './optimizers.ts';
import { MatrixRing } from './ring.ts';

export class DenseLayer {
  /** the updates' optimiser, over [W, b] (plain SGD: `W -= lr xᵀd / B` fused into one GEMM) */
  readonly optimizer: Optimizer;
  /**
   * Per source: the ring its share of `d Wᵀ` is written to, or null for the data's x (nothing to
   * send). A sum merge's sources share one ring (they all get the whole of `d Wᵀ`).
   */
  private readonly upstream: (MatrixRing | null)[];
  /** per source: the rows of W that multiply it (W itself for one source or a sum) */
  private readonly weightsOf: Matrix[];
  /** the shares of batch t's upstream gradient, by source (reused every update) */
  private readonly shares: (Matrix | null)[];
  private readonly x: Matrix;
  private readonly d: Matrix;
  /** the sum of the gradients of several outgoing edges */
  private readonly g: Matrix | null;
  /** per mixed edge: its mix of the true and the synthetic gradient (reused every update) */
  private readonly mixes: Matrix[];
  /** the gradient of each outgoing edge once mixed (reused every update) */
  private readonly edgeGradients: Matrix[];
  private readonly outputs: MatrixRing;
  private readonly kernels = backend();
  /** the batch whose forward pass was the last one (its h and x are held for the update) */
  private batch = -1;
  private disposed = false;

  constructor(
    /** systemId-style name used in errors, e.g. `layer:1` */
    readonly id: string,
    readonly spec: GraphNode,
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
    this.g = spec.outputs.length > 1 ? zeros(batchSize, spec.units) : null;
    this.mixes = spec.mixed.map(() => zeros(batchSize, spec.units));
    this.edgeGradients = new Array<Matrix>(spec.outputs.length);
    this.outputs = new MatrixRing(ringDepth, batchSize, spec.units);
    const whole = spec.merge === 'sum' || spec.sources.length === 1;
    const shared = whole && spec.sources.some((s) => s.node >= 0) ? new MatrixRing(ringDepth, batchSize, spec.inputs) : null;
    this.upstream = spec.sources.map((s) => (s.node < 0 ? null : whole ? shared : new MatrixRing(ringDepth, batchSize, s.width)));
    this.weightsOf = spec.sources.map((s) => (whole ? W : rowsView(W, s.offset, s.width)));
    this.shares = spec.sources.map(() => null);
    this.optimizer = new Optimizer(optimizerOf(spec), [W, b]);
  }

  /**
   * h = f(x W + b) for `batch`, x the merge of `sources` (one matrix per source, in the node's
   * order); returns h (a ring slot valid while the batch is in flight).
   */
  forward(batch: number, sources: readonly Matrix[]): Matrix {
    if (this.disposed) throw new Error(`${this.id}: forward of batch ${batch} after dispose()`);
    const spec = this.spec;
    if (sources.length !== spec.sources.length)
      throw new RangeError(
        `${this.id}: forward of batch ${batch} got ${sources.length} inputs, the node has ${spec.sources.length} sources`,
      );
    sources.forEach((m, k) => {
      if (m.rows !== this.batchSize || m.cols !== spec.sources[k].width) {
        throw new RangeError(
          `${this.id}: forward of batch ${batch} got input ${k} ${shapeOf(m)}, expected ${this.batchSize}x${spec.sources[k].width}`,
        );
      }
    });
    if (sources.length === 1) copyInto(this.x, sources[0]);
    else if (spec.merge === 'concat') concatInto(this.x, sources, spec.sources);
    else sumInto(this.x, sources);
    const h = this.outputs.slot(batch),
      k = this.kernels;
    k.matmul(this.x, this.W, h);
    k.addRowVector(h, this.b);
    const sum = k.activate(spec.activation, h);
    if (!Number.isFinite(sum)) {
      const at = firstNonFinite(h.data);
      throw new DivergenceError(this.id, batch, 'h', `h[${Math.floor(at / h.cols)}, ${at % h.cols}] = ${h.data[at]}`);
    }
    this.batch = batch;
    return h;
  }

  /**
   * How many gradients batch `batch`'s update takes: one per outgoing edge, and the true gradient
   * of each mixed edge whose λ is above 0 at that batch.
   */
  gradientsFor(batch: number): number {
    let n = this.spec.outputs.length;
    for (const m of this.spec.mixed) if (lambdaAt(m, batch) > 0) n++;
    return n;
  }

  /**
   * Apply the gradient of the last forward batch, given by outgoing edge (in the node's output
   * order; summed in that order), then the true gradients of its mixed edges (`spec.mixed`; the
   * j-th at `outputs.length + j`, needed only where its λ is above 0 at this batch): such an
   * edge's gradient is `λ · true + (1 − λ) · synthetic`. Returns each source's share of the
   * upstream gradient `d Wᵀ` (computed before the update), null for the data's x; the array is
   * reused by the next update.
   */
  update(batch: number, gradients: readonly Matrix[]): readonly (Matrix | null)[] {
    if (this.disposed) throw new Error(`${this.id}: update of batch ${batch} after dispose()`);
    if (batch !== this.batch) throw new Error(`${this.id}: gradient for batch ${batch}, but the last forward was batch ${this.batch}`);
    const spec = this.spec,
      edges = spec.outputs.length;
    if (gradients.length < edges || gradients.length > edges + spec.mixed.length) {
      throw new RangeError(
        `${this.id}: ${gradients.length} gradients for batch ${batch}, the node has ${edges} outgoing edges` +
          `${spec.mixed.length ? ` and ${spec.mixed.length} mixed` : ''}`,
      );
    }
    for (let k = 0; k < gradients.length; k++) {
      const g = gradients[k];
      if (!g && k >= edges) continue;
      if (!g || g.rows !== this.batchSize || g.cols !== spec.units) {
        throw new RangeError(
          `${this.id}: gradient ${k} of batch ${batch} is ${g ? shapeOf(g) : 'missing'}, expected ${this.batchSize}x${spec.units}`,
        );
      }
    }
    const byEdge = spec.mixed.length ? this.mix(batch, gradients) : gradients;
    const g = this.g ? sumInto(this.g, byEdge) : byEdge[0];
    const k = this.kernels,
      h = this.outputs.slot(batch),
      opt = this.optimizer;
    k.activationGrad(this.spec.activation, h, g, this.d);
    // a sum's node sources share one d Wᵀ (the data's x may sit between them in the list)
    let last: MatrixRing | null = null,
      lastShare: Matrix | null = null;
    for (let s = 0; s < this.upstream.length; s++) {
      const ring = this.upstream[s];
      if (!ring) this.shares[s] = null;
      else if (ring === last) this.shares[s] = lastShare;
      else this.shares[s] = lastShare = k.matmulTB(this.d, this.weightsOf[s], ring.slot(batch));
      last = ring ?? last;
    }
    opt.outer(0, this.x, this.d);
    opt.mean(1, this.d);
    opt.step();
    return this.shares;
  }

  /** Each outgoing edge's gradient with the true ones mixed in where their λ is above 0 at `batch`. */
  private mix(batch: number, gradients: readonly Matrix[]): readonly Matrix[] {
    const out = this.edgeGradients,
      edges = this.spec.outputs.length;
    for (let k = 0; k < edges; k++) out[k] = gradients[k];
    this.spec.mixed.forEach((m, j) => {
      const lambda = lambdaAt(m, batch);
      if (lambda === 0) return;
      const back = gradients[edges + j];
      if (!back)
        throw new RangeError(
          `${this.id}: batch ${batch} mixes the true gradient of output ${m.slot} (lambda ${lambda}), but it is missing`,
        );
      out[m.slot] = mixGradient(this.mixes[j], back, gradients[m.slot], lambda);
    });
    return out;
  }

  /**
   * Give every buffer this layer allocated back to the backend: the input copy, d, the gradient
   * sum, the output and upstream rings, the optimiser's gradients and moments. W and b are not
   * the layer's (they belong to the parameter set it was given) and stay. The layer cannot be
   * used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const m of [this.x, this.d, this.g, ...this.mixes]) if (m) release(m, this.kernels);
    this.outputs.dispose();
    for (const r of new Set(this.upstream)) r?.dispose();
    this.optimizer.dispose();
  }
}

/** x = the sources side by side (row by row, each at its column offset). */
function concatInto(x: Matrix, sources: readonly Matrix[], layout: GraphNode['sources']): void {
  const X = x.data,
    n = x.cols;
  sources.forEach((m, k) => {
    const { offset, width } = layout[k];
    for (let r = 0; r < x.rows; r++) X.set(m.data.subarray(r * width, (r + 1) * width), r * n + offset);
  });
}

/** out = the sum of `parts` in order (float32 adds: the same bits whatever order they arrived in). */
function sumInto(out: Matrix, parts: readonly Matrix[]): Matrix {
  const O = out.data;
  O.set(parts[0].data);
  for (let k = 1; k < parts.length; k++) {
    const P = parts[k].data;
    for (let i = 0; i < O.length; i++) O[i] += P[i];
  }
  return out;
}

/** out = λ · back + (1 − λ) · synthetic (λ = 1: back itself, bit for bit). */
export function mixGradient(out: Matrix, back: Matrix, synthetic: Matrix, lambda: number): Matrix {
  if (lambda === 1) return copyInto(out, back);
  const O = out.data,
    T = back.data,
    S = synthetic.data,
    rest = 1 - lambda;
  for (let i = 0; i < O.length; i++) O[i] = lambda * T[i] + rest * S[i];
  return out;
}
