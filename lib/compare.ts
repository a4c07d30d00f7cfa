/** Deviations of a run's output from a reference case's expected answers. */
import type { ParameterJSON } from './params.ts';

export interface RunOutput {
  final: ParameterJSON;
  losses: number[];
  synthesizer_losses: number[];
}

export interface Deviation {
  maxParamDiff: number;
  worstParam: string;
  maxLossRelDiff: number;
  /** absolute */
  maxSynthesizerLossDiff: number;
  /** relative, as docs/maths.md's contract reads losses (the recurrent synthesizers' losses run large) */
  maxSynthesizerLossRelDiff: number;
}

export function compareWithCase(run: RunOutput, expected: Partial<RunOutput>): Deviation {
  let maxParamDiff = 0, worstParam = '';
  for (const [key, want] of Object.entries(expected.final ?? {})) {
    const got = (run.final[key] ?? []).flat(), exp = want.flat();
    if (got.length !== exp.length) return { maxParamDiff: Infinity, worstParam: key, maxLossRelDiff: Infinity, maxSynthesizerLossDiff: Infinity, maxSynthesizerLossRelDiff: Infinity };
    for (let i = 0; i < exp.length; i++) {
      const d = Math.abs(got[i] - exp[i]);
      if (!(d <= maxParamDiff)) (maxParamDiff = d), (worstParam = key);
    }
  }
  const maxRel = (a: number[], b: number[] = []) =>
    b.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v) / Math.max(Math.abs(v), Number.MIN_VALUE)), a.length === b.length ? 0 : Infinity);
  const maxAbs = (a: number[], b: number[] = []) =>
    b.reduce((m, v, i) => Math.max(m, Math.abs(a[i] - v)), a.length === b.length ? 0 : Infinity);
  return {
    maxParamDiff,
    worstParam,
    maxLossRelDiff: maxRel(run.losses, expected.losses),
    maxSynthesizerLossDiff: maxAbs(run.synthesizer_losses, expected.synthesizer_losses),
    maxSynthesizerLossRelDiff: maxRel(run.synthesizer_losses, expected.synthesizer_losses),
  };
}
