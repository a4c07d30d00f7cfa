// @ts-check
/**
 * Line charts in SVG for the live page: one chart per metric, one line per training run (and per
 * interface, for the cosine). Each line is drawn twice: its points faintly, and a moving average
 * over them boldly (a step's loss on a batch of 10 is noisy; the trend is what one watches).
 */

const SVG = 'http://www.w3.org/2000/svg';
const W = 340,
  H = 190,
  L = 42,
  R = 8,
  T = 10,
  B = 22;

/**
 * @typedef {{ label: string, color: string, dash?: string, x: number[], y: number[] }} Line
 * @typedef {{ title: string, lines: Line[], xMax: number, yRange?: [number, number] }} ChartSpec
 */

/** @param {string} tag @param {Record<string, string | number>} attrs @param {Element} [parent] */
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/** A short number for an axis: 0.0123, 1.5, 12k. @param {number} v */
function tick(v) {
  const a = Math.abs(v);
  if (a >= 1e4) return `${(v / 1e3).toFixed(0)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1 || a === 0) return String(Number(v.toFixed(2)));
  return v.toPrecision(2);
}

/** Bounds with a little room; a metric that is never negative (a loss) keeps 0 as its floor. @param {number} lo @param {number} hi */
function niceRange(lo, hi) {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const pad = (hi - lo) * 0.06;
  return [lo >= 0 ? Math.max(0, lo - pad) : lo - pad, hi + pad];
}

/** A centered moving average over `w` points on either side. @param {number[]} y @param {number} w */
function smooth(y, w) {
  if (w < 1) return y;
  const sum = [0];
  for (const v of y) sum.push(sum[sum.length - 1] + v);
  return y.map((_, i) => {
    const a = Math.max(0, i - w),
      b = Math.min(y.length, i + w + 1);
    return (sum[b] - sum[a]) / (b - a);
  });
}

/**
 * Draw one chart into `svg` (replacing what it held). Sets `data-points` (every point drawn),
 * `data-lines` and `data-last-x` on the svg, for whoever checks the chart grew.
 * @param {SVGSVGElement} svg
 * @param {ChartSpec} spec
 */
export function drawChart(svg, spec) {
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const lines = spec.lines.filter((l) => l.x.length > 0);
  const points = lines.reduce((n, l) => n + l.x.length, 0);
  svg.dataset.points = String(points);
  svg.dataset.lines = String(lines.length);
  // the latest step charted (points merge as a run grows; this only moves on)
  svg.dataset.lastX = String(Math.max(-1, ...lines.map((l) => l.x[l.x.length - 1])));
  const ys = lines.flatMap((l) => l.y).filter(Number.isFinite);
  let [lo, hi] = spec.yRange ?? niceRange(ys.length ? Math.min(...ys) : 0, ys.length ? Math.max(...ys) : 1);
  if (spec.yRange && ys.length) ((lo = Math.min(lo, ...ys)), (hi = Math.max(hi, ...ys)));
  const xMax = Math.max(1, spec.xMax, ...lines.map((l) => l.x[l.x.length - 1]));
  const px = (/** @type {number} */ x) => L + (x / xMax) * (W - L - R);
  const py = (/** @type {number} */ y) => T + (1 - (y - lo) / (hi - lo)) * (H - T - B);

  const axes = el('g', { class: 'axes' }, svg);
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    el('line', { x1: L, x2: W - R, y1: py(v), y2: py(v), class: 'grid' }, axes);
    const t = el('text', { x: L - 4, y: py(v) + 4, 'text-anchor': 'end' }, axes);
    t.textContent = tick(v);
  }
  for (let i = 0; i <= 4; i++) {
    const v = (xMax * i) / 4;
    const t = el('text', { x: px(v), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, axes);
    t.textContent = tick(Math.round(v));
  }
  if (!lines.length) {
    const t = el('text', { x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, svg);
    t.textContent = 'no points yet';
    return;
  }
  for (const l of lines) {
    const raw = l.x.map((x, i) => `${px(x).toFixed(1)},${py(l.y[i]).toFixed(1)}`).join(' ');
    el('polyline', { points: raw, class: 'raw', stroke: l.color, ...(l.dash ? { 'stroke-dasharray': l.dash } : {}) }, svg);
    const s = smooth(l.y, Math.floor(l.y.length / 40));
    const line = el(
      'polyline',
      {
        points: l.x.map((x, i) => `${px(x).toFixed(1)},${py(s[i]).toFixed(1)}`).join(' '),
        class: 'trend',
        stroke: l.color,
        ...(l.dash ? { 'stroke-dasharray': l.dash } : {}),
      },
      svg,
    );
    const title = el('title', {}, line);
    title.textContent = `${l.label}: ${l.y.length} points, last ${tick(l.y[l.y.length - 1])} at batch ${l.x[l.x.length - 1]}`;
  }
}
