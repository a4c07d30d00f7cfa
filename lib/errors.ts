/**
 * Errors that name what is at fault: the actor or layer, the batch, the tensor, the shapes. One
 * class per kind of mistake or failure, all {@link DniError}s, so a caller can tell "my input was
 * wrong" (TopologyError, DataError, TrainingOptionsError, CheckpointError) from "the training
 * failed" (DivergenceError, StageError) without reading messages.
 */

/**
 * What every error this library throws on purpose extends (programming errors inside it, and
 * errors from Node or the dependencies, pass through as they are).
 *
 * @example
 * try { await train(options); } catch (err) { if (err instanceof DniError) console.error(err.message); else throw err; }
 */
export class DniError extends Error {
  override name = 'DniError';
}

/** An environment variable the library reads (`DNI_BACKEND`, `DNI_WASM_MEMORY_MB`, `DNI_MAX_*_BYTES`) set to a value it cannot use. */
export class EnvironmentError extends DniError {
  override name = 'EnvironmentError';
  constructor(
    readonly variable: string,
    readonly value: string,
    /** what it may be */
    allowed: string,
  ) {
    super(`${variable} must be ${allowed}, got ${JSON.stringify(value)} (or unset it for the default)`);
  }
}

/** A topology or parameter set that cannot train; thrown when a training is built, before any work. */
export class TopologyError extends DniError {
  override name = 'TopologyError';
}

/** A data set (or sequence) that cannot be trained on: not matrices, empty, non-finite, or the wrong shape for the topology. */
export class DataError extends DniError {
  override name = 'DataError';
}

/** An option of a training that cannot be used: steps, scheduler, checkpoint options, a learning-rate schedule, … */
export class TrainingOptionsError extends DniError {
  override name = 'TrainingOptionsError';
}

/** A non-finite loss, activation or synthetic gradient: training stops at once. */
export class DivergenceError extends DniError {
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

/** The `path` of a {@link CheckpointError} about a training state given in memory (`resume: state`), not read from a file. */
export const IN_MEMORY_STATE = '(in memory)';

/** A checkpoint that cannot be used: unreadable, truncated, corrupt, another format or version, or another topology. */
export class CheckpointError extends DniError {
  override name = 'CheckpointError';
  constructor(
    /** the file, or {@link IN_MEMORY_STATE} */
    readonly path: string,
    reason: string,
  ) {
    super(path === IN_MEMORY_STATE ? `resume state (in memory): ${reason}` : `checkpoint ${path}: ${reason}`);
  }
}

/**
 * A local page (the live inspector, the Stately relay, the trace viewer) cannot listen where it was
 * asked to: `code` is Node's (`EADDRINUSE`: the port is in use; the original error is the `cause`).
 * Nothing was started.
 */
export class PortError extends DniError {
  override name = 'PortError';
  constructor(
    /** what was to listen, e.g. `Stately inspector` */
    readonly what: string,
    readonly host: string,
    readonly port: number,
    readonly code: string | undefined,
    options?: ErrorOptions,
  ) {
    const why =
      code === 'EADDRINUSE'
        ? 'is in use: pick another (0: any free port)'
        : `cannot be listened on (${code ?? String((options?.cause as Error | undefined)?.message)})`;
    super(`${what}: port ${port} on ${host} ${why}`, options);
  }
}

/** A worker stage failed: it threw, or its thread exited. Names the stage and the actors it hosted. */
export class StageError extends DniError {
  override name = 'StageError';
  constructor(
    readonly stage: number,
    readonly actors: readonly string[],
    reason: string,
  ) {
    super(`stage:${stage} (${actors.join(', ')}): ${reason}; training stopped`);
  }
}

/**
 * A training stopped before its end (its AbortSignal fired, `training.stop()` was called, SIGINT
 * in a demo): its `name` is `'AbortError'`, as the web platform's is. It stopped at a consistent
 * cut: every batch before `step` was finished everywhere and none after it began; when the
 * training had a checkpoint path, the state at that cut is saved there (`checkpoint`), so
 * `resume` goes on exactly as if it had never stopped.
 */
export class TrainingAbortedError extends DniError {
  override name = 'AbortError';
  constructor(
    /** the first batch not trained */
    readonly step: number,
    /** where the state at `step` was saved, or null */
    readonly checkpoint: string | null,
    /** what the signal or `stop()` gave as the reason */
    readonly reason?: unknown,
  ) {
    super(
      `training stopped before step ${step}` +
        `${checkpoint ? `; the state at that step is saved in ${checkpoint} (resume from it to go on)` : ''}`,
      reason === undefined ? undefined : { cause: reason },
    );
  }
}
