// @ts-check
/**
 * The offline inspector page: loads /trace.jsonl (the lines written by the trace recorder in
 * actors/inspect/inspection.ts), draws the actors as a graph with the state each one is in at the
 * cursor, and a timeline of the events of the current step, one lane per actor.
 *
 * The cursor is an index into the trace's lines. "Next batch" moves it to the last line of the
 * next batch in the trace; "event ›" moves it one line. Everything is derived from the lines up
 * to the cursor, so stepping back shows exactly what stepping forward showed.
 */

import { buildScene, graphOf, orderActors, paint, stateText } from './graph.js';

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @typedef {{ t: number, actor: string, type: string, event: ({ type: string } & Record<string, unknown>) | null,
 *   state: unknown, batch: number | null, status?: string, actions?: string[], source?: string, parent?: string,
 *   context?: any, thread?: string, meta?: Record<string, unknown> }} Line
 * @typedef {{ name: string, parent: string | null, context: any, thread: string | null }} Actor
 * @typedef {{ kind: 'setup' } | { kind: 'batch', batch: number } | { kind: 'end' }} View
 */

/** @type {ReturnType<typeof buildModel>} */
let model;
/** @type {import('./graph.js').Scene} */
let scene;
/** @type {View} */
let view = { kind: 'setup' };
let cursor = -1;

main().catch((err) => {
  const el = $('error');
  el.hidden = false;
  el.textContent = String(err && err.message ? err.message : err);
  $('position').textContent = 'no trace';
});

async function main() {
  const res = await fetch('/trace.jsonl', { cache: 'no-store' });
  if (!res.ok) throw new Error(`could not load the trace: HTTP ${res.status} ${(await res.text()).trim()}`);
  $('source').textContent = decodeURIComponent(res.headers.get('x-trace-file') || 'trace');
  model = buildModel(parseTrace(await res.text()));
  if (model.events.length === 0) throw new Error('the trace has no events');
  $('meta').textContent = describeMeta(model);
  scene = buildScene(/** @type {SVGSVGElement} */ (/** @type {unknown} */ ($('graph'))), model.actors, model.graph);
  const stops = model.stops;
  goToStop(stops[0]);
  wireControls();
  document.body.dataset.ready = 'true';
}

/** @param {string} text */
function parseTrace(text) {
  /** @type {Line[]} */
  const out = [];
  const rows = text.split('\n');
  rows.forEach((row, i) => {
    if (!row.trim()) return;
    try {
      out.push(JSON.parse(row));
    } catch (err) {
      if (i < rows.length - 1) throw new Error(`trace line ${i + 1} is not JSON: ${/** @type {Error} */ (err).message}`);
    }
  });
  return out;
}

/** @param {Line[]} lines */
function buildModel(lines) {
  const meta = lines.find((l) => l.type === '@trace.meta')?.meta ?? {};
  const events = lines.filter((l) => l.type !== '@trace.meta');
  // an actor relayed from a worker keeps its name unless the main thread has one of that name too
  const local = new Set(events.filter((e) => !e.thread).map((e) => e.actor));
  for (const e of events) if (e.thread && local.has(e.actor)) e.actor = `${e.actor}@${e.thread}`;
  /** @type {Map<string, Actor>} */
  const actors = new Map();
  for (const e of events) {
    let a = actors.get(e.actor);
    if (!a) actors.set(e.actor, (a = { name: e.actor, parent: null, context: null, thread: null }));
    if (e.parent) a.parent = e.parent;
    if (e.context != null && a.context == null) a.context = e.context;
    if (e.thread) a.thread = e.thread;
  }
  /** @type {Map<number, number>} */ const first = new Map();
  /** @type {Map<number, number>} */ const last = new Map();
  events.forEach((e, i) => {
    if (e.batch == null) return;
    if (!first.has(e.batch)) first.set(e.batch, i);
    last.set(e.batch, i);
  });
  const batches = [...first.keys()].sort((a, b) => a - b);

  // pair each received event with the snapshot it led to (per actor, first in first out)
  const outcome = new Int32Array(events.length).fill(-1);
  const cause = new Int32Array(events.length).fill(-1);
  /** @type {Map<string, number[]>} */
  const waiting = new Map();
  events.forEach((e, i) => {
    if (e.type === '@xstate.event') {
      const q = waiting.get(e.actor) ?? [];
      q.push(i);
      waiting.set(e.actor, q);
    } else if (e.type === '@xstate.snapshot') {
      const q = waiting.get(e.actor);
      const k = q ? q.findIndex((j) => events[j].event?.type === e.event?.type && events[j].batch === e.batch) : -1;
      if (q && k >= 0) {
        const j = q.splice(k, 1)[0];
        outcome[j] = i;
        cause[i] = j;
      }
    }
  });

  const firstBatched = batches.length ? /** @type {number} */ (first.get(batches[0])) : events.length;
  const lastBatchStart = batches.length ? /** @type {number} */ (first.get(batches[batches.length - 1])) : events.length;
  /** @type {View[]} */
  const stops = [];
  if (firstBatched > 0) stops.push({ kind: 'setup' });
  for (const batch of batches) stops.push({ kind: 'batch', batch });
  if (events.slice(lastBatchStart + 1).some((e) => e.batch == null) || batches.length === 0) stops.push({ kind: 'end' });
  const graph = graphOf([...actors.values()]);
  return {
    meta,
    events,
    graph,
    actors: orderActors([...actors.values()], graph),
    batches,
    first,
    last,
    outcome,
    cause,
    firstBatched,
    lastBatchStart,
    stops,
  };
}

/** @param {ReturnType<typeof buildModel>} m */
function describeMeta(m) {
  const trainer = m.actors.find((a) => a.name === 'trainer')?.context;
  const parts = [];
  if (m.meta.demo) parts.push(String(m.meta.demo));
  if (trainer?.sizes) parts.push(trainer.sizes.join('-'));
  else if (m.graph) parts.push(`${m.graph.nodes.length} nodes, ${m.graph.heads.length} head${m.graph.heads.length === 1 ? '' : 's'}`);
  const threads = new Set(m.actors.map((a) => a.thread).filter(Boolean));
  if (threads.size) parts.push(`${threads.size} worker thread${threads.size === 1 ? '' : 's'}`);
  const scheduler = m.meta.scheduler ?? trainer?.scheduler;
  if (scheduler) parts.push(`scheduler ${scheduler}`);
  if (trainer?.steps != null) parts.push(`${trainer.steps} steps`);
  if (Number(m.meta.sample) > 1) parts.push(`sampled: every ${m.meta.sample}th batch`);
  parts.push(`${m.events.length} events`);
  if (m.meta.startedAt)
    parts.push(
      `recorded ${String(m.meta.startedAt)
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC')}`,
    );
  return parts.join(' · ');
}

// ---------------------------------------------------------------- navigation

/** The trace lines a view's timeline shows. @param {View} v */
function windowOf(v) {
  const { events, firstBatched, lastBatchStart } = model;
  /** @type {number[]} */
  const out = [];
  events.forEach((e, i) => {
    if (v.kind === 'batch' ? e.batch === v.batch : e.batch == null && (v.kind === 'setup' ? i < firstBatched : i > lastBatchStart))
      out.push(i);
  });
  return out;
}

/** The cursor a stop puts: the last line of that step. @param {View} v */
function cursorOf(v) {
  if (v.kind === 'setup') return model.firstBatched - 1;
  if (v.kind === 'batch') return /** @type {number} */ (model.last.get(v.batch));
  return model.events.length - 1;
}

/** The view the line at i belongs to. @param {number} i */
function viewAt(i) {
  const e = model.events[i];
  if (!e) return model.stops[0];
  if (e.batch != null) return /** @type {View} */ ({ kind: 'batch', batch: e.batch });
  if (i < model.firstBatched) return /** @type {View} */ ({ kind: 'setup' });
  if (i > model.lastBatchStart) return /** @type {View} */ ({ kind: 'end' });
  return view; // a line without a batch between batches: stay where we are
}

function stopIndex() {
  return model.stops.findIndex((s) => s.kind === view.kind && (s.kind !== 'batch' || (view.kind === 'batch' && s.batch === view.batch)));
}

/** @param {View} v */
function goToStop(v) {
  view = v;
  cursor = cursorOf(v);
  render();
}

/** @param {number} i */
function goToLine(i) {
  cursor = Math.max(-1, Math.min(model.events.length - 1, i));
  view = cursor >= 0 ? viewAt(cursor) : model.stops[0];
  render();
}

function step(/** @type {number} */ by) {
  const k = stopIndex();
  const next = model.stops[Math.max(0, Math.min(model.stops.length - 1, (k < 0 ? 0 : k) + by))];
  goToStop(next);
}

function wireControls() {
  $('first').addEventListener('click', () => goToStop(model.stops[0]));
  $('last').addEventListener('click', () => goToStop(model.stops[model.stops.length - 1]));
  $('prev-batch').addEventListener('click', () => step(-1));
  $('next-batch').addEventListener('click', () => step(1));
  $('prev-event').addEventListener('click', () => goToLine(cursor - 1));
  $('next-event').addEventListener('click', () => goToLine(cursor + 1));
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      ArrowRight: () => (e.shiftKey ? goToLine(cursor + 1) : step(1)),
      ArrowLeft: () => (e.shiftKey ? goToLine(cursor - 1) : step(-1)),
      '.': () => goToLine(cursor + 1),
      ',': () => goToLine(cursor - 1),
      Home: () => goToStop(model.stops[0]),
      End: () => goToStop(model.stops[model.stops.length - 1]),
    };
    const act = /** @type {Record<string, () => void>} */ (keys)[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  });
  const overview = /** @type {HTMLCanvasElement} */ ($('overview'));
  overview.addEventListener('click', (e) => {
    const r = overview.getBoundingClientRect();
    goToLine(Math.round(((e.clientX - r.left) / r.width) * (model.events.length - 1)));
  });
  window.addEventListener('resize', () => drawOverview());
}

// ---------------------------------------------------------------- state at the cursor

/**
 * Every actor's state after the lines up to the cursor, the last event it received, and the
 * events it has received but not finished handling (e.g. the trainer's START, whose entry
 * action feeds the batches).
 */
function statesAt(/** @type {number} */ at) {
  /** @type {Map<string, { state: unknown, status: string, last: Line | null, handling: Set<number> }>} */
  const out = new Map(model.actors.map((a) => [a.name, { state: null, status: 'active', last: null, handling: new Set() }]));
  for (let i = 0; i <= at; i++) {
    const e = model.events[i];
    const s = /** @type {NonNullable<ReturnType<typeof out.get>>} */ (out.get(e.actor));
    if (e.type === '@xstate.event') {
      if (s.state == null) s.state = e.state;
      s.last = e;
      s.handling.add(i);
    } else if (e.type === '@xstate.snapshot') {
      s.state = e.state;
      s.status = e.status ?? 'active';
      const c = model.cause[i];
      if (c >= 0) s.handling.delete(c);
    }
  }
  return out;
}

function eventLabel(/** @type {Line} */ e) {
  const type = e.event?.type ?? (e.type === '@xstate.actor' ? 'created' : e.type);
  const short = type
    .replace(/^xstate\.done\.actor\./, 'done: ')
    .replace(/^xstate\.error\.actor\./, 'error: ')
    .replace(/^xstate\./, '');
  return e.batch != null ? `${short} #${e.batch}` : short;
}

// ---------------------------------------------------------------- rendering

function render() {
  const states = statesAt(cursor);
  const current = model.events[cursor];
  const k = stopIndex();
  const n = model.batches.length;
  $('position').textContent =
    view.kind === 'batch'
      ? `batch ${view.batch} · ${model.batches.indexOf(view.batch) + 1} of ${n}`
      : view.kind === 'setup'
        ? 'setup (before the first batch)'
        : 'end (after the last batch)';
  const t0 = model.events[0]?.t ?? 0;
  $('cursor').textContent =
    cursor < 0
      ? `before event 1 of ${model.events.length}`
      : `event ${cursor + 1} of ${model.events.length} · +${(current.t - t0).toFixed(3)} ms`;
  /** @type {HTMLButtonElement} */ ($('prev-batch')).disabled = k <= 0;
  /** @type {HTMLButtonElement} */ ($('first')).disabled = k <= 0;
  /** @type {HTMLButtonElement} */ ($('next-batch')).disabled = k >= model.stops.length - 1;
  /** @type {HTMLButtonElement} */ ($('last')).disabled = k >= model.stops.length - 1;
  /** @type {HTMLButtonElement} */ ($('prev-event')).disabled = cursor < 0;
  /** @type {HTMLButtonElement} */ ($('next-event')).disabled = cursor >= model.events.length - 1;
  $('timeline-title').textContent = `Timeline · ${$('position').textContent}`;
  drawGraph(states, current?.actor ?? null);
  drawTimeline();
  drawOverview();
  $('detail').textContent = current ? JSON.stringify(current, null, 2) : '(before the first event)';
}

/**
 * Each actor's state at the cursor, and what it is handling or handled last.
 * @param {ReturnType<typeof statesAt>} states
 * @param {string | null} active
 */
function drawGraph(states, active) {
  /** @type {Map<string, import('./graph.js').ActorView>} */
  const views = new Map();
  for (const [name, s] of states) {
    const handling = [...s.handling].map((i) => eventLabel(model.events[i]));
    views.set(name, {
      state: s.state,
      status: s.status,
      last: handling.length ? `handling ${handling.join(', ')}` : s.last ? `last: ${eventLabel(s.last)}` : '',
      active: name === active,
    });
  }
  paint(scene, views);
}

/** One lane per actor; one chip per event received in this step, in the order they happened. */
function drawTimeline() {
  const box = $('timeline');
  const lines = windowOf(view);
  // a chip is an event with the snapshot it led to, or a lone snapshot / actor creation
  const chips = lines.filter((i) => {
    const e = model.events[i];
    return e.type === '@xstate.event' || e.type === '@xstate.actor' || (e.type === '@xstate.snapshot' && model.cause[i] < 0);
  });
  box.replaceChildren();
  box.style.gridTemplateColumns = `max-content repeat(${Math.max(chips.length, 1)}, max-content)`;
  if (chips.length === 0) {
    const p = document.createElement('div');
    p.className = 'empty';
    p.textContent = 'no events in this step';
    box.appendChild(p);
    return;
  }
  model.actors.forEach((a, row) => {
    const name = document.createElement('div');
    name.className = 'lane-name';
    name.textContent = a.name;
    name.style.gridRow = String(row + 1);
    name.style.gridColumn = '1';
    box.appendChild(name);
    const lane = document.createElement('div');
    lane.className = 'lane';
    lane.dataset.actor = a.name;
    lane.style.display = 'contents';
    box.appendChild(lane);
    chips.forEach((i, col) => {
      const e = model.events[i];
      if (e.actor !== a.name) return;
      const done = model.outcome[i];
      const end = done >= 0 ? done : i;
      const chip = document.createElement('div');
      chip.className = `chip ${e.event?.type ?? ''}`;
      if (i > cursor) chip.classList.add('future');
      if (i === cursor || done === cursor || (i <= cursor && cursor < end)) chip.classList.add('current');
      chip.dataset.index = String(i);
      chip.dataset.event = e.event?.type ?? e.type;
      chip.style.gridRow = String(row + 1);
      chip.style.gridColumn = String(col + 2);
      const label = document.createElement('span');
      label.className = 'type';
      label.textContent = eventLabel(e);
      chip.appendChild(label);
      const to = document.createElement('span');
      to.className = 'to';
      const after = done >= 0 ? model.events[done] : e.type === '@xstate.snapshot' ? e : null;
      to.textContent = after
        ? `→ ${stateText(after.state)}${after.status ? ` (${after.status})` : ''}`
        : e.type === '@xstate.event'
          ? '(not handled)'
          : '';
      chip.appendChild(to);
      const actions = after?.actions?.length ? `\nactions: ${after.actions.join(', ')}` : '';
      chip.title = `${JSON.stringify(e.event ?? {})}${actions}\n+${(e.t - model.events[0].t).toFixed(3)} ms`;
      chip.addEventListener('click', () => goToLine(end));
      lane.appendChild(chip);
    });
  });
}

/** Every event of the trace as a tick in its actor's lane; the current step shaded, the cursor a line. */
function drawOverview() {
  const canvas = /** @type {HTMLCanvasElement} */ ($('overview'));
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 800;
  const lanes = model.actors.length;
  const laneH = 12;
  canvas.style.height = `${lanes * laneH + 8}px`;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round((lanes * laneH + 8) * ratio);
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.scale(ratio, ratio);
  ctx.clearRect(0, 0, w, lanes * laneH + 8);
  const n = Math.max(model.events.length - 1, 1);
  const x = (/** @type {number} */ i) => 4 + (i / n) * (w - 8);
  const lines = windowOf(view);
  if (lines.length) {
    ctx.fillStyle = 'rgba(29, 78, 216, 0.10)';
    ctx.fillRect(x(lines[0]) - 1, 0, Math.max(x(lines[lines.length - 1]) - x(lines[0]) + 2, 2), lanes * laneH + 8);
  }
  const lane = new Map(model.actors.map((a, k) => [a.name, k]));
  model.events.forEach((e, i) => {
    if (e.type !== '@xstate.event') return;
    const type = e.event?.type ?? '';
    ctx.fillStyle = /GRADIENT|REFIT/.test(type) ? '#c0392b' : /FORWARD|PREDICT/.test(type) ? '#2f8a3b' : '#888';
    ctx.fillRect(x(i), 4 + (lane.get(e.actor) ?? 0) * laneH, 1, laneH - 3);
  });
  if (cursor >= 0) {
    ctx.fillStyle = '#1d4ed8';
    ctx.fillRect(x(cursor) - 1, 0, 2, lanes * laneH + 8);
  }
}
