/**
 * Line charts as standalone SVG (no dependencies, opens in any browser): panels side by side,
 * one line per series, axes with ticks, a legend. For demos' `--plot` output.
 */
export interface Series {
  readonly name: string;
  /** [x, y] points; non-finite y values are skipped */
  readonly points: readonly (readonly [number, number])[];
}

export interface Panel {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** logarithmic y axis (for losses) */
  readonly logY?: boolean;
  /** format of the y tick labels */
  readonly formatY?: (v: number) => string;
  /** format of the x tick labels (default: the number, 4 significant digits) */
  readonly formatX?: (v: number) => string;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];
const W = 460,
  H = 320,
  M = { left: 64, right: 16, top: 36, bottom: 48 };

/** One SVG document with the panels side by side and a shared legend below them. */
export function chartSvg(title: string, panels: readonly Panel[]): string {
  const names = [...new Set(panels.flatMap((p) => p.series.map((s) => s.name)))];
  const color = (name: string) => COLORS[names.indexOf(name) % COLORS.length];
  const width = W * panels.length,
    height = H + 56;
  const body = panels.map((p, i) => `<g transform="translate(${i * W},24)">${panel(p, color)}</g>`).join('\n');
  const legend = names
    .map((n, i) => {
      const x = 24 + i * 150;
      return (
        `<line x1="${x}" y1="${height - 16}" x2="${x + 24}" y2="${height - 16}" stroke="${color(n)}" stroke-width="2.5"/>` +
        `<text x="${x + 30}" y="${height - 12}">${escape(n)}</text>`
      );
    })
    .join('');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="15" font-weight="bold">${escape(title)}</text>`,
    body,
    legend,
    '</svg>',
  ].join('\n');
}

function panel(p: Panel, color: (name: string) => string): string {
  const pts = p.series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y) && (!p.logY || y > 0)));
  if (pts.length === 0) return `<text x="${W / 2}" y="${H / 2}" text-anchor="middle">${escape(p.title)}: no data</text>`;
  const tf = (y: number) => (p.logY ? Math.log10(y) : y);
  let [x0, x1] = extent(pts.map(([x]) => x)),
    [y0, y1] = extent(pts.map(([, y]) => tf(y)));
  if (x0 === x1) ((x0 -= 1), (x1 += 1));
  if (y0 === y1) ((y0 -= 0.5), (y1 += 0.5));
  const pad = (y1 - y0) * 0.05;
  ((y0 -= pad), (y1 += pad));
  const iw = W - M.left - M.right,
    ih = H - M.top - M.bottom;
  const sx = (x: number) => M.left + ((x - x0) / (x1 - x0)) * iw;
  const sy = (y: number) => M.top + ih - ((tf(y) - y0) / (y1 - y0)) * ih;
  const fmt =
    p.formatY ?? ((v: number) => (Math.abs(v) >= 100 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(0) : String(+v.toPrecision(3))));
  const yTicks = p.logY ? logTicks(y0, y1) : niceTicks(y0, y1, 5);
  const xTicks = niceTicks(x0, x1, 6).filter((v) => Number.isInteger(v) || x1 - x0 < 6);
  const out: string[] = [];
  out.push(`<text x="${M.left + iw / 2}" y="${M.top - 12}" text-anchor="middle" font-weight="bold">${escape(p.title)}</text>`);
  for (const v of yTicks) {
    const y = M.top + ih - (((p.logY ? Math.log10(v) : v) - y0) / (y1 - y0)) * ih;
    if (y < M.top - 0.5 || y > M.top + ih + 0.5) continue;
    out.push(`<line x1="${M.left}" y1="${y}" x2="${M.left + iw}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${M.left - 6}" y="${y + 4}" text-anchor="end">${escape(fmt(v))}</text>`);
  }
  for (const v of xTicks) {
    const x = sx(v);
    out.push(`<line x1="${x}" y1="${M.top + ih}" x2="${x}" y2="${M.top + ih + 4}" stroke="#444"/>`);
    out.push(
      `<text x="${x}" y="${M.top + ih + 17}" text-anchor="middle">${escape(p.formatX ? p.formatX(v) : String(+v.toPrecision(4)))}</text>`,
    );
  }
  out.push(`<rect x="${M.left}" y="${M.top}" width="${iw}" height="${ih}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${M.left + iw / 2}" y="${H - 10}" text-anchor="middle">${escape(p.xLabel)}</text>`);
  out.push(`<text transform="translate(14,${M.top + ih / 2}) rotate(-90)" text-anchor="middle">${escape(p.yLabel)}</text>`);
  for (const s of p.series) {
    const ok = s.points.filter(([, y]) => Number.isFinite(y) && (!p.logY || y > 0));
    if (ok.length === 0) continue;
    const d = ok.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    out.push(`<path d="${d}" fill="none" stroke="${color(s.name)}" stroke-width="2"/>`);
    if (ok.length <= 60)
      for (const [x, y] of ok) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${color(s.name)}"/>`);
  }
  return out.join('\n');
}

function extent(v: number[]): [number, number] {
  return [Math.min(...v), Math.max(...v)];
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const step0 = (hi - lo) / count,
    mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

/** Ticks at 1, 2, 5 × powers of ten inside [10^lo, 10^hi]. */
function logTicks(lo: number, hi: number): number[] {
  const at = (mantissas: number[]) => {
    const out: number[] = [];
    for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
      for (const m of mantissas) {
        const v = +(m * 10 ** e).toPrecision(12),
          l = Math.log10(v);
        if (l >= lo && l <= hi) out.push(v);
      }
    }
    return out;
  };
  for (const m of [[1], [1, 2, 5], [1, 2, 3, 4, 5, 6, 7, 8, 9]]) {
    const ticks = at(m);
    if (ticks.length >= 3) return ticks;
  }
  return at([1, 1.2, 1.4, 1.6, 1.8, 2, 2.5, 3, 4, 5, 6, 7, 8, 9]);
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
