/**
 * Deviations of a run's output from a reference case's expected answers, and the tolerances they
 * are judged by. docs/maths.md: float32 against the float64 reference "stays within ~1e-6"; read, as
 * the parity tests do, as every final parameter within 1e-5 absolute and every per-step loss and
 * synthesizer loss within 1e-5 relative (to the expected value, or to 1e-3 where that is smaller,
 * so exact zeros compare absolutely).
 */
import type { ParameterJSON } from './params.ts';

export interface RunOutput {
  final: ParameterJSON;
  losses: number[];
  synthesizer_losses: number[];
}

export interface Deviation {
  maxParamDiff: number;
  worstParam: string;
  /** relative, with {@link CASE_TOLERANCE}'s floor */
  maxLossRelDiff: number;
  /** absolute */
  maxSynthesizerLossDiff: number;
  /** relative, as docs/maths.md's contract reads losses (the recurrent synthesizers' losses run large) */
  maxSynthesizerLossRelDiff: number;
}

/** What a float32 run may differ by from a case's float64 answers (see above). */
export const CASE_TOLERANCE = Object.freeze({ param: 1e-5, loss: 1e-5, relativeFloor: 1e-3 });

/**
 * How far `run` is from `expected`, over the answers `expected` carries. The two must have the same
 * shape (a parameter's length, the number of losses): a mismatch is a RangeError naming it, never
 * an Infinity or a NaN.
 */
export function compareWithCase(run: RunOutput, expected: Partial<RunOutput>): Deviation {
  let maxParamDiff = 0,
    worstParam = '';
  for (const [key, want] of Object.entries(expected.final ?? {})) {
    const got = (Object.hasOwn(run.final, key) ? run.final[key] : []).flat(),
      exp = want.flat();
    if (got.length !== exp.length)
      throw new RangeError(`compare: final '${key}' has ${exp.length} values in the case and ${got.length} in the run`);
    for (let i = 0; i < exp.length; i++) {
      const d = Math.abs(got[i] - exp[i]);
      if (!(d <= maxParamDiff)) ((maxParamDiff = d), (worstParam = key));
    }
  }
  const same = (what: string, a: number[], b: number[] | undefined) => {
    if (b !== undefined && a.length !== b.length)
      throw new RangeError(`compare: ${what} has ${b.length} values in the case and ${a.length} in the run`);
    return b ?? [];
  };
  const losses = same('losses', run.losses, expected.losses),
    synth = same('synthesizer_losses', run.synthesizer_losses, expected.synthesizer_losses);
  const maxRel = (a: number[], b: number[]) =>
    b.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v) / Math.max(Math.abs(v), CASE_TOLERANCE.relativeFloor)), 0);
  const maxAbs = (a: number[], b: number[]) => b.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v)), 0);
  return {
    maxParamDiff,
    worstParam,
    maxLossRelDiff: maxRel(run.losses, losses),
    maxSynthesizerLossDiff: maxAbs(run.synthesizer_losses, synth),
    maxSynthesizerLossRelDiff: maxRel(run.synthesizer_losses, synth),
  };
}

/** What exceeds {@link CASE_TOLERANCE} in `d`, one phrase each (none: the run agrees with the case). */
export function disagreements(d: Deviation): string[] {
  const out: string[] = [];
  // !(x <= tol): a NaN deviation disagrees too
  if (!(d.maxParamDiff <= CASE_TOLERANCE.param))
    out.push(
      `final ${d.worstParam} is off by ${d.maxParamDiff.toExponential(2)} (tolerance ${CASE_TOLERANCE.param.toExponential(0)} absolute)`,
    );
  if (!(d.maxLossRelDiff <= CASE_TOLERANCE.loss))
    out.push(`a loss is off by ${d.maxLossRelDiff.toExponential(2)} relative (tolerance ${CASE_TOLERANCE.loss.toExponential(0)})`);
  if (!(d.maxSynthesizerLossRelDiff <= CASE_TOLERANCE.loss))
    out.push(
      `a synthesizer loss is off by ${d.maxSynthesizerLossRelDiff.toExponential(2)} relative (tolerance ` +
        `${CASE_TOLERANCE.loss.toExponential(0)})`,
    );
  return out;
}
