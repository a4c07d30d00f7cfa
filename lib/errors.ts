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
    /** where and what, e.g. `h[3, 17] = NaN` */
    readonly detail: string,
  ) {
    super(`${actor}: non-finite ${tensor} at batch ${batch} (${detail}); training stopped`);
  }
}

/** A checkpoint that cannot be used: unreadable, truncated, corrupt, another format or version, or another topology. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`checkpoint ${path}: ${reason}`);
  }
}

/** A worker stage failed: it threw, or its thread exited. Names the stage and the actors it hosted. */
export class StageError extends Error {
  override name = 'StageError';
  constructor(
    readonly stage: number,
    readonly actors: readonly string[],
    reason: string,
  ) {
    super(`stage:${stage} (${actors.join(', ')}): ${reason}; training stopped`);
  }
}
