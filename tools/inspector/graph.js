// @ts-check
/**
 * The actors of a training as a picture, shared by the trace viewer (viewer.js) and the live page
 * (live.js): the trainer and its stages on top, then the graph: nodes laid out by depth (left to
 * right), heads after the node they score, each synthesizer under the node whose output it reads,
 * with the edges between them: solid for activations, dashed red for gradients (ĝ to the source,
 * the refit target from the consumer, the true gradient of a backprop edge).
 *
 * What the graph is comes from the trainer's context (`graph`, see `graphSummary` in
 * actors/inspect/inspection.ts); a trace recorded before graphs existed has none, and its chain is
 * rebuilt from the actors' names (`layer:i`, `synthesizer:i`, `head`).
 *
 * {@link buildScene} draws what does not change (boxes, edges, summaries) once; {@link paint}
 * writes each actor's state and last event into it, as often as the caller likes.
 */

const SVG = 'http://www.w3.org/2000/svg';
export const NODE_W = 196,
  NODE_H = 80;
const MARGIN = 24,
  GAP = 58,
  SYN_GAP = 14,
  SYN_DY = 56,
  ROW_GAP = 34,
  PAD = 26,
  INPUT_W = 64,
  TOP_H = NODE_H + 56;
const THREAD_COLORS = ['#7c3aed', '#0f766e', '#c2410c', '#1d4ed8', '#be185d', '#4d7c0f'];

/**
 * @typedef {{ actor: string, id: string, units?: number, activation?: string, merge?: string, sources: string[],
 *   decoupled?: boolean }} GraphNode
 * @typedef {{ actor: string, id: string, node: string, loss?: string, weight?: number }} GraphHead
 * @typedef {{ from: string, to: string, synthesizer: string | null, conditioned?: boolean, forward?: string | null, lambda?: number,
 *   warmup?: number }} GraphEdge
 * @typedef {{ inputs?: number, nodes: GraphNode[], heads: GraphHead[], edges: GraphEdge[] }} Graph
 * @typedef {{ name: string, context: any, thread: string | null, parent?: string | null }} SceneActor
 * @typedef {{ state: unknown, status: string, last: string, active?: boolean }} ActorView
 * @typedef {{ x: number, y: number, w: number, h: number }} Box
 */

/**
 * The graph a trace or a live training shows: the trainer's `graph` summary when it has one, else
 * the chain its actors' names spell (traces from before graphs), else null (no layers at all).
 * @param {SceneActor[]} actors
 * @returns {Graph | null}
 */
export function graphOf(actors) {
  const trainer = actors.find((a) => a.name === 'trainer')?.context;
  const g = trainer && typeof trainer === 'object' ? trainer.graph : null;
  if (g && Array.isArray(g.nodes) && Array.isArray(g.heads) && Array.isArray(g.edges)) return g;
  const names = new Set(actors.map((a) => a.name));
  const layers = actors
    .map((a) => /^layer:(\d+)$/.exec(a.name))
    .filter((m) => m !== null)
    .map((m) => Number(/** @type {RegExpExecArray} */ (m)[1]))
    .sort((a, b) => a - b);
  if (!layers.length) return null;
  const ctx = (/** @type {string} */ n) => actors.find((a) => a.name === n)?.context ?? {};
  const sizes = Array.isArray(trainer?.sizes) ? trainer.sizes : null;
  const last = layers[layers.length - 1];
  /** @type {Graph} */
  const graph = {
    inputs: sizes?.[0] ?? ctx('layer:0').inputs,
    nodes: layers.map((i) => ({
      actor: `layer:${i}`,
      id: String(i),
      units: ctx(`layer:${i}`).units ?? sizes?.[i + 1],
      activation: ctx(`layer:${i}`).activation,
      merge: 'concat',
      sources: [i === layers[0] ? 'input' : `layer:${i - 1}`],
      decoupled: ctx(`layer:${i}`).decoupled,
    })),
    heads: names.has('head') ? [{ actor: 'head', id: 'head', node: `layer:${last}`, loss: ctx('head').loss }] : [],
    edges: [],
  };
  for (const i of layers) {
    const to = i === last ? (names.has('head') ? 'head' : null) : `layer:${i + 1}`;
    if (to) graph.edges.push({ from: `layer:${i}`, to, synthesizer: names.has(`synthesizer:${i}`) ? `synthesizer:${i}` : null });
  }
  return graph;
}

/**
 * The order actors are listed in (timeline lanes): the trainer, its stages, then the graph in
 * topological order, each node followed by the synthesizers on its outgoing edges, the heads, and
 * anything else by name.
 * @param {SceneActor[]} actors
 * @param {Graph | null} graph
 */
export function orderActors(actors, graph) {
  /** @type {Map<string, number>} */
  const rank = new Map([['trainer', 0]]);
  let k = 1;
  for (const a of actors.filter((a) => /^stage:/.test(a.name)).sort((a, b) => stageKey(a.name).localeCompare(stageKey(b.name))))
    rank.set(a.name, k++);
  for (const n of graph?.nodes ?? []) {
    rank.set(n.actor, k++);
    for (const e of graph?.edges ?? []) if (e.from === n.actor && e.synthesizer) rank.set(e.synthesizer, k++);
  }
  for (const h of graph?.heads ?? []) rank.set(h.actor, k++);
  const r = (/** @type {string} */ n) => rank.get(n) ?? Number.MAX_SAFE_INTEGER;
  return [...actors].sort((a, b) => r(a.name) - r(b.name) || a.name.localeCompare(b.name));
}

/** `stage:1@worker:1` right after `stage:1`. @param {string} name */
function stageKey(name) {
  const m = /^stage:(\d+)(.*)$/.exec(name);
  return m ? `${m[1].padStart(6, '0')}${m[2]}` : name;
}

/** One line that says what an actor is, from its context. @param {SceneActor} a @param {Graph | null} graph */
export function summaryOf(a, graph) {
  const c = a.context;
  if (!c || typeof c !== 'object') return '';
  if (a.name.startsWith('layer:')) {
    const node = graph?.nodes.find((n) => n.actor === a.name);
    const merge = node && node.sources.length > 1 ? `${c.merge ?? node.merge} ` : '';
    return `${merge}${c.inputs}→${c.units} ${c.activation} · ${c.decoupled ? 'decoupled' : 'backprop'}`;
  }
  if (a.name.startsWith('forward:')) return `${c.inputs}→${c.units} forward · delay ${c.delay}`;
  if (a.name.startsWith('synthesizer:')) return `${c.units} units · delay ${c.delay}${c.conditioned ? ' · cDNI' : ''}`;
  if (a.name === 'head' || a.name.startsWith('head:')) {
    // traces from before graphs: `labels` was the label width
    if (typeof c.labels === 'number') return `${c.loss} · ${c.labels} labels`;
    const loss = c.loss === 'softmax-cross-entropy' ? 'softmax CE' : c.loss;
    return `${loss} · ${c.labels} (${c.width})${c.weight != null && c.weight !== 1 ? ` · ×${c.weight}` : ''}`;
  }
  if (a.name === 'trainer') {
    const shape = Array.isArray(c.sizes)
      ? c.sizes.join('-')
      : c.graph
        ? `${c.graph.nodes.length} nodes, ${c.graph.heads.length} heads`
        : '';
    return [shape, c.scheduler].filter(Boolean).join(' · ');
  }
  if (a.name.startsWith('stage:') && Array.isArray(c.actors)) return `${c.actors.length} actors · ${a.thread ?? 'this thread'}`;
  return '';
}

/** The text of a state value: `ready`, `running.feeding`. @param {unknown} v */
export function stateText(v) {
  if (v == null) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v).replace(/[{}"]/g, '').replace(/:/g, '.');
}

/** @param {unknown} value @param {string} status */
export function stateClass(value, status) {
  const v = stateText(value);
  if (status === 'error' || /failed/.test(v)) return 'failed';
  if (status === 'stopped' || v === 'stopped') return 'stopped';
  if (status === 'done' || v === 'drained' || v === 'done') return 'finished';
  if (/^awaiting/.test(v)) return 'awaiting';
  if (value == null) return 'unknown';
  return 'ready';
}

/** @param {string | null} thread */
function threadColor(thread) {
  const m = /(\d+)$/.exec(thread ?? '');
  return thread ? THREAD_COLORS[(m ? Number(m[1]) : 0) % THREAD_COLORS.length] : null;
}

/**
 * Where every actor sits, and the graph's routes.
 * @param {SceneActor[]} actors
 * @param {Graph | null} graph
 */
export function layout(actors, graph) {
  /** @type {Map<string, Box>} */
  const at = new Map();
  const present = new Set(actors.map((a) => a.name));
  // top row: the trainer, then each stage (a worker's own stage right after the trainer's stand-in)
  const top = [
    'trainer',
    ...actors
      .filter((a) => /^stage:/.test(a.name))
      .map((a) => a.name)
      .sort((a, b) => stageKey(a).localeCompare(stageKey(b))),
  ].filter((n) => present.has(n));
  top.forEach((n, i) => at.set(n, { x: MARGIN + i * (NODE_W + 24), y: 16, w: NODE_W, h: NODE_H }));
  let width = MARGIN * 2 + Math.max(0, top.length * (NODE_W + 24) - 24);
  let y0 = top.length ? TOP_H : 16;

  /** @type {{ col: number, row: number }[]} */
  const cells = [];
  /** @type {Map<string, { col: number, row: number }>} */
  const cell = new Map();
  /** @type {Map<string, string[]>} synthesizers under each node, in edge order */
  const under = new Map();
  /** @type {Box | null} */
  let input = null;
  /** @type {{ from: string, to: string, kind: string, label: string, synth?: string }[]} */
  const routes = [];
  if (graph) {
    // depth: 1 + the deepest source (the data's x is 0); a head one column after its node
    /** @type {Map<string, number>} */
    const depth = new Map([['input', 0]]);
    for (const n of graph.nodes) depth.set(n.actor, 1 + Math.max(0, ...n.sources.map((s) => depth.get(s) ?? 0)));
    for (const h of graph.heads) depth.set(h.actor, (depth.get(h.node) ?? 0) + 1);
    /** @type {Map<string, string[]>} */
    const sourcesOf = new Map(graph.nodes.map((n) => [n.actor, n.sources]));
    for (const h of graph.heads) sourcesOf.set(h.actor, [h.node]);
    const columns = Math.max(0, ...depth.values());
    /** @type {Map<string, number>} */
    const rowOf = new Map([['input', 0]]);
    // rows per column: the mean row of one's sources (fewer crossings), in topological order on ties
    const order = [...graph.nodes.map((n) => n.actor), ...graph.heads.map((h) => h.actor)];
    for (let c = 1; c <= columns; c++) {
      const here = order.filter((n) => depth.get(n) === c);
      const want = (/** @type {string} */ n) => {
        const rows = (sourcesOf.get(n) ?? []).map((s) => rowOf.get(s) ?? 0);
        return rows.length ? rows.reduce((a, b) => a + b, 0) / rows.length : 0;
      };
      here.sort((a, b) => want(a) - want(b) || order.indexOf(a) - order.indexOf(b));
      let next = 0;
      for (const n of here) {
        const row = Math.max(next, Math.round(want(n)));
        rowOf.set(n, row);
        next = row + 1;
      }
    }
    for (const n of order) {
      const c = { col: /** @type {number} */ (depth.get(n)), row: /** @type {number} */ (rowOf.get(n)) };
      cell.set(n, c);
      cells.push(c);
    }
    for (const e of graph.edges) {
      // a forward synthesizer sits under the node whose output it predicts, beside the synthesizers
      for (const s of [e.synthesizer, e.forward]) {
        if (!s) continue;
        const list = under.get(e.from) ?? [];
        list.push(s);
        under.set(e.from, list);
      }
    }
    const rows = 1 + Math.max(0, ...cells.map((c) => c.row));
    // a column is as wide as the synthesizers side by side under its widest node
    const colW = Array.from({ length: columns + 1 }, (_, c) => {
      if (c === 0) return INPUT_W;
      let w = NODE_W;
      for (const [n, s] of under) if (cell.get(n)?.col === c) w = Math.max(w, s.length * (NODE_W + SYN_GAP) - SYN_GAP);
      return w;
    });
    const colX = [MARGIN];
    for (let c = 1; c <= columns; c++) colX[c] = colX[c - 1] + colW[c - 1] + GAP;
    const hasSynths = Array.from({ length: rows }, (_, r) => [...under.keys()].some((n) => cell.get(n)?.row === r));
    const rowY = [y0 + PAD];
    for (let r = 1; r <= rows; r++) rowY[r] = rowY[r - 1] + NODE_H + (hasSynths[r - 1] ? SYN_DY + NODE_H : 0) + ROW_GAP + PAD;
    for (const n of order) {
      const c = /** @type {{ col: number, row: number }} */ (cell.get(n));
      at.set(n, { x: colX[c.col], y: rowY[c.row], w: NODE_W, h: NODE_H });
    }
    for (const [n, list] of under) {
      const b = /** @type {Box} */ (at.get(n));
      list.forEach((s, k) => at.set(s, { x: b.x + k * (NODE_W + SYN_GAP), y: b.y + NODE_H + SYN_DY, w: NODE_W, h: NODE_H }));
    }
    if (graph.nodes.some((n) => n.sources.includes('input'))) {
      input = { x: MARGIN, y: rowY[0] + NODE_H * 0.28 - 16, w: INPUT_W, h: 32 };
    }
    width = Math.max(width, colX[columns] + colW[columns] + MARGIN);
    y0 = rowY[rows] - PAD;
    // what to draw between them
    for (const n of graph.nodes)
      for (const s of n.sources) if (s === 'input') routes.push({ from: 'input', to: n.actor, kind: 'input', label: 'x' });
    for (const e of graph.edges) {
      const head = !e.to.startsWith('layer:');
      if (e.forward) {
        // the data in, ĥ on to the consumer, the real h down as its refit target
        routes.push({ from: 'input', to: e.forward, kind: 'input', label: 'x' });
        routes.push({ from: e.forward, to: e.to, kind: 'activation', label: 'ĥ' });
        routes.push({ from: e.from, to: e.forward, kind: 'activation', label: 'h', synth: e.forward });
      } else routes.push({ from: e.from, to: e.to, kind: 'activation', label: 'h' });
      if (e.synthesizer) {
        routes.push({ from: e.from, to: e.synthesizer, kind: 'activation', label: 'h', synth: e.synthesizer });
        routes.push({ from: e.synthesizer, to: e.from, kind: 'gradient', label: 'ĝ', synth: e.synthesizer });
        routes.push({ from: e.to, to: e.synthesizer, kind: 'gradient', label: head ? '∂l/∂ŷ' : 'g', synth: e.synthesizer });
      } else routes.push({ from: e.to, to: e.from, kind: 'gradient', label: head ? '∂l/∂ŷ' : 'g' });
    }
  }
  // anything else (actors of a kind this page does not know) in a row of its own
  let other = 0;
  for (const a of actors) {
    if (at.has(a.name)) continue;
    at.set(a.name, { x: MARGIN + other++ * (NODE_W + 24), y: y0 + 8, w: NODE_W, h: NODE_H });
  }
  width = Math.max(width, MARGIN * 2 + other * (NODE_W + 24) - 24, 400);
  const height = (other ? y0 + 8 + NODE_H : y0) + 16;
  return { at, cell, under, input, routes, width, height, top };
}

/** @param {string} tag @param {Record<string, string | number>} attrs @param {Element} [parent] */
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

/**
 * @typedef {{ g: Element, state: Element, last: Element, name: string }} ActorBox
 * @typedef {{ boxes: Map<string, ActorBox>, width: number, height: number }} Scene
 */

/**
 * Draw the actors and their edges into `svg` (replacing what it held); {@link paint} fills in states.
 * @param {SVGSVGElement} svg
 * @param {SceneActor[]} actors
 * @param {Graph | null} graph
 * @returns {Scene}
 */
export function buildScene(svg, actors, graph) {
  const L = layout(actors, graph);
  const { at } = L;
  svg.replaceChildren();
  svg.setAttribute('viewBox', `0 0 ${L.width} ${L.height}`);
  // natural size where there is room, scaled down where there is not
  svg.style.maxWidth = `${L.width}px`;
  svg.dataset.width = String(L.width);
  const defs = el('defs', {}, svg);
  for (const [id, color] of [
    ['arrow', '#444'],
    ['arrow-red', '#c0392b'],
    ['arrow-grey', '#aaa'],
  ]) {
    const marker = el(
      'marker',
      { id, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' },
      defs,
    );
    el('path', { d: 'M0,0 L10,5 L0,10 z', fill: color }, marker);
  }
  const edges = el('g', { class: 'edges' }, svg);
  /**
   * @param {number[][]} pts a polyline
   * @param {string} kind @param {string} label @param {Record<string, string>} data
   */
  const edge = (pts, kind, label, data) => {
    const marker = kind === 'gradient' ? 'arrow-red' : kind === 'spawn' ? 'arrow-grey' : 'arrow';
    const path = el(
      'path',
      {
        class: `edge ${kind}`,
        d: pts.map((p, i) => `${i ? 'L' : 'M'}${p[0].toFixed(1)},${p[1].toFixed(1)}`).join(' '),
        'marker-end': `url(#${marker})`,
      },
      edges,
    );
    for (const [k, v] of Object.entries(data)) path.setAttribute(`data-${k}`, v);
    if (!label) return;
    // on the longest segment: horizontal ones get it above (activations) or below (gradients)
    let best = 0,
      len = -1;
    for (let i = 1; i < pts.length; i++) {
      const l = Math.hypot(pts[i][0] - pts[i - 1][0], pts[i][1] - pts[i - 1][1]);
      if (l > len) ((len = l), (best = i));
    }
    const [a, b] = [pts[best - 1], pts[best]];
    const flat = Math.abs(a[1] - b[1]) < 1;
    const t = el(
      'text',
      {
        class: `edge-label ${kind}`,
        x: (a[0] + b[0]) / 2 + (flat ? -6 : 5),
        y: (a[1] + b[1]) / 2 + (flat ? (kind === 'gradient' ? 13 : -4) : 4),
      },
      edges,
    );
    t.textContent = label;
  };

  // the trainer spawns its stages; a worker's stage belongs to the trainer's stand-in for it
  const trainer = at.get('trainer');
  for (const n of L.top) {
    if (n === 'trainer') continue;
    const b = /** @type {Box} */ (at.get(n));
    const m = /^(stage:\d+)@/.exec(n);
    const from = m && at.get(m[1]) ? /** @type {Box} */ (at.get(m[1])) : trainer;
    if (!from) continue;
    if (from === trainer)
      edge(
        [
          [from.x + from.w / 2, from.y + from.h],
          [from.x + from.w / 2, from.y + from.h + 14],
          [b.x + b.w / 2, b.y + b.h + 14],
          [b.x + b.w / 2, b.y + b.h],
        ],
        'spawn',
        '',
        { from: 'trainer', to: n },
      );
    else
      edge(
        [
          [from.x + from.w, from.y + from.h / 2],
          [b.x, b.y + b.h / 2],
        ],
        'spawn',
        '',
        { from: /** @type {string[]} */ (m)[1], to: n },
      );
  }

  if (L.input) {
    const g = el('g', { class: 'input' }, svg);
    el('rect', { x: L.input.x, y: L.input.y, width: L.input.w, height: L.input.h, rx: 16 }, g);
    const t = el('text', { x: L.input.x + L.input.w / 2, y: L.input.y + 21, 'text-anchor': 'middle' }, g);
    t.textContent = graph?.inputs != null ? `x · ${graph.inputs}` : 'x';
  }

  // routes through the gaps between columns: each edge gets a lane of its own in a gap
  /** @type {Map<string, number>} */
  const lanes = new Map();
  const lane = (/** @type {string} */ key) => {
    const k = lanes.get(key) ?? 0;
    lanes.set(key, k + 1);
    return k;
  };
  const mergeNodes = new Map((graph?.nodes ?? []).filter((n) => n.sources.length > 1).map((n) => [n.actor, n.merge ?? 'concat']));
  /** a polyline from `a` (leaving right at ya) to `b` (entering left at yb) that goes round what lies between */
  const around = (
    /** @type {Box} */ a,
    /** @type {Box} */ b,
    /** @type {number} */ ya,
    /** @type {number} */ yb,
    /** @type {number} */ end,
    /** @type {string} */ kind,
  ) => {
    const ca = graph && a !== L.input ? boxCol(a) : 0,
      cb = boxCol(b);
    const right = a === L.input ? a.x + a.w : colRight(a);
    const start = [a.x + a.w, ya];
    if (Math.abs(ya - yb) < 1 && cb === ca + 1) return [start, [end, yb]];
    const x1 = right + 10 + 7 * lane(`gap${ca}`);
    if (cb === ca + 1) return [start, [x1, ya], [x1, yb], [end, yb]];
    // over the nodes in between: along the padding above the target's row
    const yPad = b.y - PAD + 6 + (kind === 'gradient' ? 8 : 0) + 3 * lane(`pad${b.y}`);
    const x2 = b.x - 22 - 7 * lane(`gap${cb - 1}in`);
    return [start, [x1, ya], [x1, yPad], [x2, yPad], [x2, yb], [end, yb]];
  };
  /** @param {Box} b */
  function boxCol(b) {
    for (const [n, c] of L.cell) if (at.get(n) === b) return c.col;
    return 0;
  }
  /** the right edge of a box's column (wider than the box when synthesizers sit under it) @param {Box} b */
  function colRight(b) {
    let r = b.x + b.w;
    for (const [n, list] of L.under) {
      const nb = at.get(n);
      if (nb && nb.x === b.x) r = Math.max(r, nb.x + list.length * (NODE_W + SYN_GAP) - SYN_GAP);
    }
    return r;
  }

  for (const r of L.routes) {
    const data = { from: r.from, to: r.to };
    if (r.kind === 'input') {
      const b = /** @type {Box} */ (at.get(r.to)),
        inp = /** @type {Box} */ (L.input);
      const y = b.y + NODE_H * 0.28;
      edge(around(inp, b, inp.y + inp.h / 2, y, b.x - (mergeNodes.has(r.to) ? 10 : 0), 'input'), 'input', '', data);
      continue;
    }
    const a = at.get(r.from),
      b = at.get(r.to);
    if (!a || !b) continue;
    if (r.synth && r.to === r.synth && r.kind === 'activation') {
      // h down into the synthesizer, ĝ back up (below)
      const { k, n } = synthSlot(r.from, r.synth);
      const hx = a.x + NODE_W * (0.15 + (0.7 * (k + 0.3)) / n);
      edge(
        [
          [hx, a.y + a.h],
          [b.x + b.w * 0.3, b.y],
        ],
        'activation',
        'h',
        data,
      );
    } else if (r.synth && r.from === r.synth) {
      const { k, n } = synthSlot(r.to, r.synth);
      const gx = b.x + NODE_W * (0.15 + (0.7 * (k + 0.7)) / n);
      edge(
        [
          [a.x + a.w * 0.62, a.y],
          [gx, b.y + b.h],
        ],
        'gradient',
        'ĝ',
        data,
      );
    } else if (r.synth) {
      // the refit target, from the consumer round to the synthesizer's bottom: out of the
      // consumer's left side, down the gap before its column, along under the synthesizers' row
      const x1 = a.x - 12 - 7 * lane(`gap${boxCol(a) - 1}target`);
      const y1 = b.y + b.h + 12 + 4 * lane(`under${b.y}`);
      const bx = b.x + b.w * 0.5;
      edge(
        [
          [a.x, a.y + a.h * 0.86],
          [x1, a.y + a.h * 0.86],
          [x1, y1],
          [bx, y1],
          [bx, b.y + b.h],
        ],
        'gradient',
        r.label,
        data,
      );
    } else if (r.kind === 'activation') {
      const end = b.x - (mergeNodes.has(r.to) ? 10 : 0);
      edge(around(a, b, a.y + NODE_H * 0.28, b.y + NODE_H * 0.28, end, 'activation'), 'activation', r.label, data);
    } else {
      // a true gradient back along a backprop edge: the same way round, lower, reversed
      edge(around(b, a, b.y + NODE_H * 0.72, a.y + NODE_H * 0.72, a.x, 'gradient').reverse(), 'gradient', r.label, data);
    }
  }
  /** @param {string} node @param {string} synth */
  function synthSlot(node, synth) {
    const list = L.under.get(node) ?? [synth];
    return { k: Math.max(0, list.indexOf(synth)), n: list.length };
  }

  /** @type {Map<string, ActorBox>} */
  const boxes = new Map();
  for (const a of actors) {
    const p = at.get(a.name);
    if (!p) continue;
    const color = threadColor(a.thread);
    const kind =
      a.name === 'trainer'
        ? 'trainer'
        : /^stage:/.test(a.name)
          ? 'stage'
          : a.name.startsWith('synthesizer:') || a.name.startsWith('forward:')
            ? 'synthesizer'
            : a.name.startsWith('head')
              ? 'head'
              : a.name.startsWith('layer:')
                ? 'layer'
                : 'other';
    const g = el('g', { class: `node unknown kind-${kind}`, 'data-actor': a.name, transform: `translate(${p.x},${p.y})` }, svg);
    if (a.thread) g.setAttribute('data-thread', a.thread);
    el('rect', { class: 'box', width: p.w, height: p.h }, g);
    if (color) el('rect', { class: 'thread-stripe', width: 5, height: p.h - 2, x: 1, y: 1, fill: color }, g);
    const text = (/** @type {string} */ cls, /** @type {number} */ y, /** @type {string} */ value) => {
      const t = el('text', { class: cls, x: 10, y }, g);
      t.textContent = value;
      return t;
    };
    fit(text('name', 17, a.name.replace(/@worker:\d+$/, '')), p.w - 16);
    if (a.thread) {
      // a tab above the box: long names fill the box's first line
      const t = text('thread', -4, a.thread);
      t.setAttribute('x', String(p.w - 4));
      if (color) t.setAttribute('fill', color);
    }
    const link = /^stage:\d+$/.test(a.name) && !a.context ? actors.find((o) => o.name.startsWith(`${a.name}@`)) : undefined;
    fit(text('summary', 32, link ? `the trainer's link to ${link.thread}` : summaryOf(a, graph)), p.w - 16);
    const state = text('state', 52, '—');
    const last = text('last', 70, '');
    const title = el('title', {}, g);
    title.textContent = `${a.name}${a.thread ? ` (${a.thread})` : ''}\n${JSON.stringify(a.context ?? {}, null, 1)}`;
    boxes.set(a.name, { g, state, last, name: a.name });
    // a merge: where its inputs meet, concat (‖) or sum (+)
    const merge = mergeNodes.get(a.name);
    if (merge) {
      const m = el('g', { class: `merge ${merge}`, transform: `translate(${-1},${NODE_H * 0.28})` }, g);
      el('circle', { r: 9 }, m);
      const t = el('text', { 'text-anchor': 'middle', y: 4 }, m);
      t.textContent = merge === 'sum' ? '+' : '‖';
      const tt = el('title', {}, m);
      tt.textContent = `${merge} of ${graph?.nodes.find((n) => n.actor === a.name)?.sources.join(', ')}`;
    }
  }
  return { boxes, width: L.width, height: L.height };
}

/** Squeeze a text that would run past its box (`last: SYNTHETIC_GRADIENT #24488`) into it. @param {Element} t @param {number} max */
function fit(t, max) {
  t.removeAttribute('textLength');
  t.removeAttribute('lengthAdjust');
  const text = /** @type {SVGTextContentElement} */ (t);
  if (typeof text.getComputedTextLength === 'function' && text.getComputedTextLength() > max) {
    t.setAttribute('textLength', String(max));
    t.setAttribute('lengthAdjust', 'spacingAndGlyphs');
  }
}

/**
 * Write each actor's state and last event into the scene.
 * @param {Scene} scene
 * @param {Map<string, ActorView>} views
 */
export function paint(scene, views) {
  for (const [name, box] of scene.boxes) {
    const v = views.get(name);
    if (!v) continue;
    const kind = /** @type {string} */ (box.g.getAttribute('class')).split(' ').find((c) => c.startsWith('kind-'));
    box.g.setAttribute('class', `node ${stateClass(v.state, v.status)} ${kind}${v.active ? ' active' : ''}`);
    const text = stateText(v.state);
    box.g.setAttribute('data-state', text);
    const label = text + (v.status !== 'active' ? ` (${v.status})` : '');
    if (box.state.textContent !== label) {
      box.state.textContent = label;
      fit(box.state, NODE_W - 16);
    }
    if (box.last.textContent !== v.last) {
      box.last.textContent = v.last;
      fit(box.last, NODE_W - 16);
    }
  }
}
