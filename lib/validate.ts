/**
 * The small checks every spec validator shares (graphs, chains, recurrent cores): each throws a
 * {@link TopologyError} that says where (`what`) and the value it got, and never coerces
 * (`"1"`, `true`, `null` are not numbers; `"false"` is not a boolean).
 */
import { ACTIVATIONS, type Activation, isActivation } from './activations.ts';
import { TopologyError, TrainingOptionsError } from './errors.ts';
import { OPTIMIZERS, type OptimizerConfig, type OptimizerSpec, isPlainSgd } from './optimizers.ts';

/** A value as an error message shows it: strings quoted, objects as JSON. */
export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === null || typeof v !== 'object') return String(v);
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

export function positiveInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
    throw new TopologyError(`${what} must be a positive integer, got ${show(v)}`);
  if (v > max) throw new TopologyError(`${what} is ${v}, above the limit of ${max}`);
  return v;
}

export function nonNegativeInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new TopologyError(`${what} must be an integer >= 0, got ${show(v)}`);
  if (v > max) throw new TopologyError(`${what} is ${v}, above the limit of ${max}`);
  return v;
}

export function positive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw new TopologyError(`${what} must be a finite number > 0, got ${show(v)}`);
  return v;
}

export function rate(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw new TopologyError(`${what} must be a finite number >= 0, got ${show(v)}`);
  return v;
}

/** A number in [0, 1). */
export function fraction(v: unknown, what: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new TopologyError(`${what} must be a number in [0, 1), got ${show(v)}`);
  return v;
}

export function bool(v: unknown, what: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new TopologyError(`${what} must be true or false, got ${show(v)}`);
  return v;
}

export function activation(v: unknown, what: string): Activation {
  if (!isActivation(v)) throw new TopologyError(`${what}: unknown activation ${show(v)} (expected one of ${ACTIVATIONS.join(', ')})`);
  return v;
}

/** One of `options`, or a message that lists them. */
export function oneOf<T extends string>(v: unknown, options: readonly T[], what: string): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) {
    throw new TopologyError(`${what}: unknown ${show(v)} (expected one of ${options.join(', ')})`);
  }
  return v as T;
}

export function object(v: unknown, what: string, shape: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new TopologyError(`${what}: expected ${shape}, got ${show(v)}`);
  return v as Record<string, unknown>;
}

/**
 * Refuse keys a spec does not know (a typo would otherwise be a silent default), and `null`
 * anywhere (leave an option out for its default: null is not "the default").
 */
export function knownKeys(v: Record<string, unknown>, known: readonly string[], what: string): void {
  refuseUnknownKeys(v, known, what);
  const nulls = Object.keys(v).filter((k) => v[k] === null);
  if (nulls.length > 0)
    throw new TopologyError(`${what}: ${nulls.map((k) => `'${k}'`).join(', ')} is null (leave an option out for its default)`);
}

/**
 * Refuse keys an options object does not know, by name, with the closest known one when a typo
 * is likely (`schedular` → `scheduler`): plain JavaScript has no type checker to catch it, and
 * the option would otherwise be a silent default. Keys set to `undefined` count as left out.
 * `error` makes the error thrown (default a {@link TopologyError}).
 *
 * @example
 * refuseUnknownKeys({ schedular: 'worker' }, ['steps', 'scheduler'], 'training', (m) => new TrainingOptionsError(m));
 * // TrainingOptionsError: training: unknown option 'schedular' (it takes steps, scheduler); did you mean 'scheduler'?
 */
export function refuseUnknownKeys(
  v: object,
  known: readonly string[],
  what: string,
  error: (message: string) => Error = (m) => new TopologyError(m),
): void {
  const unknown = Object.keys(v).filter((k) => !known.includes(k) && (v as Record<string, unknown>)[k] !== undefined);
  if (unknown.length === 0) return;
  const guesses = unknown.map((k) => closest(k, known)).filter((g) => g !== null);
  const hint = guesses.length ? `; did you mean ${guesses.map((g) => `'${g}'`).join(', ')}?` : '';
  throw error(`${what}: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (it takes ${known.join(', ')})${hint}`);
}

/**
 * Options of a training (or of what watches one) with a key they do not take: a TrainingOptionsError naming `what` (`training`,
 * `fit: checkpoint`).
 */
export function refuseUnknownOptions(o: object, known: readonly string[], what: string): void {
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new TrainingOptionsError(`${what}: the options must be an object, got ${show(o)}`);
  refuseUnknownKeys(o, known, what, (m) => new TrainingOptionsError(m));
}

/** The known word nearest to `word` when it is a likely typo of it (a few letters apart, case aside), else null. */
export function closest(word: string, known: readonly string[]): string | null {
  let best: string | null = null,
    bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) ((best = k), (bestDistance = d));
  }
  return best !== null && bestDistance <= Math.max(1, Math.floor(best.length / 3)) ? best : null;
}

/** Levenshtein distance, adjacent transpositions counting one (`stpes` is one edit from `steps`). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * Every key of an options type, as a list checked by the compiler both ways: a name that is not a
 * key fails to compile, and so does a key of `T` the list leaves out (so a new option cannot be
 * refused as unknown by a list nobody updated).
 *
 * @example
 * const KEYS = keysOf<CheckpointOptions>()(['path', 'at', 'every', 'onSaved', 'onStop']);
 */
export function keysOf<T>() {
  return <const K extends readonly (keyof T & string)[]>(
    keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : { missing: Exclude<keyof T, K[number]> }),
  ): K => keys;
}

/**
 * An object of a case file states every key it needs and nothing else (a missing key would train on
 * a default, a misspelt one be ignored): refused by name. `holds` says what it may hold.
 */
export function caseKeys(
  v: Record<string, unknown>,
  required: readonly string[],
  optional: readonly string[],
  what: string,
  holds?: string,
): void {
  const missing = required.filter((k) => !Object.hasOwn(v, k) || v[k] === undefined);
  if (missing.length > 0) {
    throw new TopologyError(
      `${what} lacks ${missing.map((k) => `'${k}'`).join(', ')} (a case file states everything it needs: ${required.join(', ')})`,
    );
  }
  const nulls = required.filter((k) => v[k] === null);
  if (nulls.length > 0)
    throw new TopologyError(`${what}: ${nulls.map((k) => `'${k}'`).join(', ')} is null (a case file states every value it needs)`);
  const extra = Object.keys(v).find((k) => !required.includes(k) && !optional.includes(k));
  if (extra !== undefined)
    throw new TopologyError(
      `${what} has '${extra}', which a case file does not hold (${holds ?? `it holds ${[...required, ...optional].join(', ')}`})`,
    );
}

export function sgd(lr: number): OptimizerConfig {
  return Object.freeze({ kind: 'sgd', lr, momentum: 0 });
}

/** `lr`, plus the optimiser itself when it is not plain SGD (so a plain-SGD topology reads as before). */
export function withOptimizer(c: OptimizerConfig): { lr: number; optimizer?: OptimizerConfig } {
  return isPlainSgd(c) ? { lr: c.lr } : { lr: c.lr, optimizer: c };
}

/** The optimiser one level of a spec gives (`lr` alone: plain SGD), or undefined when it gives neither. */
export function optimizerAt(level: { readonly lr?: unknown; readonly optimizer?: unknown }, where: string): OptimizerConfig | undefined {
  const { lr, optimizer: o } = level;
  if (lr !== undefined && o !== undefined) {
    throw new TopologyError(`${where}: give lr (plain SGD) or optimizer, not both (got lr ${show(lr)} and optimizer ${show(o)})`);
  }
  if (o === undefined) return lr === undefined ? undefined : sgd(rate(lr, `${where}: lr`));
  const spec = o as Partial<OptimizerSpec> | null;
  if (spec === null || typeof spec !== 'object' || !(OPTIMIZERS as readonly string[]).includes(spec.kind as string)) {
    throw new TopologyError(
      `${where}: optimizer must be { kind: ${OPTIMIZERS.map((k) => `'${k}'`).join(' | ')}, lr, ... }, got ${show(o)}`,
    );
  }
  const what = `${where}: optimizer`;
  const known = spec.kind === 'sgd' ? ['kind', 'lr', 'momentum'] : ['kind', 'lr', 'beta1', 'beta2', 'eps'];
  const unknown = Object.keys(spec).filter((k) => !known.includes(k));
  if (unknown.length > 0) {
    throw new TopologyError(
      `${what} ${spec.kind} has no option ${unknown.map((k) => `'${k}'`).join(', ')} (it takes ${known.slice(1).join(', ')})`,
    );
  }
  const nulls = Object.keys(spec).filter((k) => (spec as Record<string, unknown>)[k] === null);
  if (nulls.length > 0)
    throw new TopologyError(`${what}: ${nulls.map((k) => `'${k}'`).join(', ')} is null (leave an option out for its default)`);
  const olr = rate(spec.lr, `${what} lr`);
  if (spec.kind === 'sgd') return Object.freeze({ kind: 'sgd', lr: olr, momentum: fraction(spec.momentum ?? 0, `${what} momentum`) });
  const a = spec as Partial<Extract<OptimizerSpec, { kind: 'adam' }>>;
  const eps = a.eps ?? 1e-8;
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps))
    throw new TopologyError(`${what} eps must be a finite number > 0, got ${show(eps)}`);
  return Object.freeze({
    kind: 'adam',
    lr: olr,
    beta1: fraction(a.beta1 ?? 0.9, `${what} beta1`),
    beta2: fraction(a.beta2 ?? 0.999, `${what} beta2`),
    eps,
  });
}
