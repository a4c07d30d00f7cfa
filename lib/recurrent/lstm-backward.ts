/** The LSTM cell's backward through its gates, one row at a time (lib/recurrent/core.ts drives it over a window). */
/**
 * One row (a step of one sequence) of the LSTM's backward through its gates: from the gradient
 * reaching h (`dh` at `dhAt`) and the one carried in c (`dc` at `dcAt`, replaced by the one
 * carried back a step) to the gates' pre-activation gradients (`D` at `dAt`, [i | f | o | g]).
 * `G` at `g0` holds the gates, `TC` at `row` tanh(c_t), `Cs` at `row` c_{t-1}.
 */
export function lstmRowBackward(
  H: number,
  G: Float32Array,
  TC: Float32Array,
  Cs: Float32Array,
  g0: number,
  row: number,
  dh: Float32Array,
  dhAt: number,
  dc: Float32Array,
  dcAt: number,
  D: Float32Array,
  dAt: number,
): void {
  for (let j = 0; j < H; j++) {
    const i = G[g0 + j],
      f = G[g0 + H + j],
      o = G[g0 + 2 * H + j],
      gg = G[g0 + 3 * H + j],
      tc = TC[row + j];
    const h = dh[dhAt + j];
    const dct = dc[dcAt + j] + h * o * (1 - tc * tc);
    D[dAt + j] = dct * gg * i * (1 - i);
    D[dAt + H + j] = dct * Cs[row + j] * f * (1 - f);
    D[dAt + 2 * H + j] = h * tc * o * (1 - o);
    D[dAt + 3 * H + j] = dct * i * (1 - gg * gg);
    dc[dcAt + j] = dct * f;
  }
}
