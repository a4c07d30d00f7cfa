/** Errors that name what is at fault: the actor or layer, the batch, the tensor, the shapes. */

/** A topology, data set or parameter set that cannot train; thrown when a training is built, before any work. */
export class TopologyError extends Error {
  override name = 'TopologyError';
}

/** A non-finite loss, activation or synthetic gradient: training stops at once. */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
  constructor(
    /** systemId of the actor that saw it, e.g. `layer:1` */
    readonly actor: string,
    readonly batch: number,
    /** which tensor: `h`, `g_hat`, `loss`, ... */
    readonly tensor: string,
    detail: string,
  ) {
    super(`${actor}: non-finite ${tensor} at batch ${batch} (${detail}); training stopped`);
  }
}
