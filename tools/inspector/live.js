// @ts-check
/**
 * The live page: follows /events (Server-Sent Events from tools/inspector/live.ts). The first
 * message is the whole state (every run: its actors' latest states, its metrics' bounded
 * history); each later one holds only what changed, at most a few times a second. Actors are
 * drawn as the trace viewer draws them (graph.js), metrics as charts (charts.js).
 */
import { drawChart } from './charts.js';
import { buildScene, graphOf, orderActors, paint } from './graph.js';

const COLORS = ['#1d4ed8', '#c2410c', '#0f766e', '#7c3aed', '#be185d', '#4d7c0f', '#b45309', '#334155'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

/**
 * @typedef {{ name: string, parent: string | null, thread: string | null, context: any, state: unknown, status: string, last: string,
 *   events: number }} LiveActor
 * @typedef {{ x: number[], y: number[], stride: number }} Series
 * @typedef {{ id: number, label: string | null, meta: Record<string, unknown>, status: string, batch: number, steps: number | null,
 *   stepsPerSecond: number | null, actors: Map<string, LiveActor>, series: Record<string, Series> }} Run
 */

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @type {Map<number, Run>} */
const runs = new Map();
/** the run whose actors are drawn: null follows the latest */
let chosen = /** @type {number | null} */ (null);
/** @type {{ key: string, scene: import('./graph.js').Scene } | null} */
let drawn = null;
let connection = 'connecting';
let updates = 0;
let pending = false;

/** @param {any} r @returns {Run} */
function toRun(r) {
  return { ...r, actors: new Map(r.actors.map((/** @type {LiveActor} */ a) => [a.name, a])) };
}

const source = new EventSource('/events');
source.addEventListener('state', (e) => {
  const state = JSON.parse(/** @type {MessageEvent} */ (e).data);
  runs.clear();
  for (const r of state.runs) runs.set(r.id, toRun(r));
  connection = 'connected';
  drawn = null;
  schedule();
});
source.addEventListener('update', (e) => {
  const update = JSON.parse(/** @type {MessageEvent} */ (e).data);
  for (const d of update.runs) {
    let r = runs.get(d.id);
    if (!r) runs.set(d.id, (r = toRun({ ...d, actors: [], series: {} })));
    Object.assign(r, { label: d.label, meta: d.meta, status: d.status, batch: d.batch, steps: d.steps, stepsPerSecond: d.stepsPerSecond });
    for (const a of d.actors) r.actors.set(a.name, a);
    for (const [k, s] of Object.entries(d.series)) {
      const have = r.series[k] ?? (r.series[k] = { x: [], y: [], stride: s.stride });
      have.x.length = have.y.length = s.from;
      have.x.push(...s.x);
      have.y.push(...s.y);
      have.stride = s.stride;
    }
  }
  updates++;
  schedule();
});
source.addEventListener('bye', () => {
  connection = 'closed';
  source.close();
  schedule();
});
source.addEventListener('error', () => {
  if (connection !== 'closed') connection = source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting';
  schedule();
});
source.addEventListener('open', () => {
  connection = 'connected';
  schedule();
});

/** one render per animation frame, however many messages arrived */
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    try {
      render();
    } catch (err) {
      const el = $('error');
      el.hidden = false;
      el.textContent = String(/** @type {Error} */ (err)?.message ?? err);
    }
  });
}

function current() {
  const ids = [...runs.keys()];
  const id = chosen !== null && runs.has(chosen) ? chosen : ids[ids.length - 1];
  return id === undefined ? null : /** @type {Run} */ (runs.get(id));
}

const runName = (/** @type {Run} */ r) => r.label ?? `run ${r.id + 1}`;
const colorOf = (/** @type {Run} */ r) => COLORS[r.id % COLORS.length];

function render() {
  const run = current();
  renderProgress(run);
  renderRuns(run);
  if (run) renderActors(run);
  renderCharts();
  document.body.dataset.updates = String(updates);
  document.body.dataset.ready = 'true';
}

/** @param {Run | null} run */
function renderProgress(run) {
  const p = $('progress');
  const parts = [];
  if (run) {
    parts.push(runName(run));
    const step = run.batch + 1;
    parts.push(run.steps ? `step ${step.toLocaleString('en')} of ${run.steps.toLocaleString('en')}` : `step ${step.toLocaleString('en')}`);
    if (run.stepsPerSecond != null && run.status === 'running')
      parts.push(`${Math.round(run.stepsPerSecond).toLocaleString('en')} steps/s`);
    parts.push(run.status === 'running' ? 'training' : run.status);
    p.dataset.batch = String(run.batch);
  }
  if (connection === 'closed') parts.push('the demo has stopped serving: this page shows its last state');
  else if (connection !== 'connected') parts.push(connection);
  p.textContent = parts.join(' · ');
  p.className =
    connection === 'closed' || connection === 'reconnecting' ? 'disconnected' : run?.status === 'running' ? '' : (run?.status ?? '');
  const meta = run
    ? [
        run.meta.demo,
        run.meta.scheduler ? `scheduler ${run.meta.scheduler}` : null,
        Number(run.meta.sample) > 1 ? `actors: every ${run.meta.sample}th batch` : null,
      ]
    : [];
  $('source').textContent = meta.filter(Boolean).join(' · ') || (connection === 'connected' ? 'waiting for a training' : 'connecting…');
}

/** @param {Run | null} run */
function renderRuns(run) {
  const nav = $('runs');
  const want = [...runs.values()].map((r) => `${r.id}:${r.label}:${r.status}:${r === run}`).join('|');
  if (nav.dataset.key === want) return;
  nav.dataset.key = want;
  nav.replaceChildren();
  if (runs.size < 2) return;
  for (const r of runs.values()) {
    const b = document.createElement('button');
    b.dataset.run = String(r.id);
    b.setAttribute('aria-pressed', String(r === run));
    const sw = document.createElement('span');
    sw.className = 'swatch';
    sw.style.background = colorOf(r);
    b.append(sw, `${runName(r)}${r.status === 'running' ? ' (training)' : ''}`);
    b.title = 'show the actors of this training (click the highlighted one again to follow the latest)';
    b.addEventListener('click', () => {
      chosen = chosen === r.id ? null : r.id;
      drawn = null;
      schedule();
    });
    nav.appendChild(b);
  }
}

/** @param {Run} run */
function renderActors(run) {
  const actors = [...run.actors.values()].map((a) => ({ name: a.name, context: a.context, thread: a.thread, parent: a.parent }));
  // redraw the picture when the actors (or what the trainer says the graph is) change; else repaint
  const key = `${run.id}|${actors.map((a) => `${a.name}${a.context ? '+' : ''}`).join(',')}`;
  if (!drawn || drawn.key !== key) {
    const graph = graphOf(actors);
    drawn = {
      key,
      scene: buildScene(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('graph'))), orderActors(actors, graph), graph),
    };
  }
  /** @type {Map<string, import('./graph.js').ActorView>} */
  const views = new Map();
  for (const a of run.actors.values()) views.set(a.name, { state: a.state, status: a.status, last: a.last ? `last: ${a.last}` : '' });
  paint(drawn.scene, views);
  for (const [name, box] of drawn.scene.boxes) box.g.setAttribute('data-events', String(run.actors.get(name)?.events ?? 0));
}

function renderCharts() {
  const all = [...runs.values()];
  const xMax = Math.max(1, ...all.map((r) => r.steps ?? r.batch + 1));
  // one colour per run; the cosine's interfaces told apart by dashes
  const interfaces = [
    ...new Set(
      all.flatMap((r) =>
        Object.keys(r.series)
          .filter((k) => k.startsWith('cosine:'))
          .map((k) => k.slice(7)),
      ),
    ),
  ];
  /** @param {string} metric */
  const linesOf = (metric) =>
    all.flatMap((r) =>
      Object.entries(r.series)
        .filter(([k]) => k === metric || k.startsWith(`${metric}:`))
        .map(([k, s]) => {
          const sub = k.includes(':') ? k.slice(metric.length + 1) : null;
          const dash = sub === null ? '' : DASHES[interfaces.indexOf(sub) % DASHES.length];
          return { label: `${runName(r)}${sub === null ? '' : ` ${sub}`}`, color: colorOf(r), dash, x: s.x, y: s.y };
        }),
    );
  const ranges = /** @type {Record<string, [number, number] | undefined>} */ ({ accuracy: [0, 1], cosine: [0, 1] });
  for (const svg of document.querySelectorAll('svg.chart')) {
    const metric = /** @type {string} */ (/** @type {SVGElement} */ (svg).dataset.metric);
    drawChart(/** @type {SVGSVGElement} */ (svg), { title: metric, lines: linesOf(metric), xMax, yRange: ranges[metric] });
  }
  // the legend: a colour per run; the cosine's dashes tell its interfaces apart
  const legend = $('legend');
  const want = all.map((r) => `${r.id}:${Object.keys(r.series).join(',')}`).join('|');
  if (legend.dataset.key === want) return;
  legend.dataset.key = want;
  legend.replaceChildren();
  for (const r of all) {
    const s = document.createElement('span');
    const key = document.createElement('span');
    key.className = 'key';
    key.style.borderColor = colorOf(r);
    s.append(key, runName(r));
    legend.appendChild(s);
  }
  interfaces.forEach((name, i) => {
    if (interfaces.length < 2) return;
    const s = document.createElement('span');
    const key = document.createElement('span');
    key.className = `key${DASHES[i % DASHES.length] ? ' dashed' : ''}`;
    key.style.borderColor = '#57606a';
    s.append(key, `cos at ${name}`);
    legend.appendChild(s);
  });
}
