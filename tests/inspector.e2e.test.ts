/**
 * The offline inspector, end to end: record real trainings' traces (a chain, a graph, a graph on
 * worker threads, and a trace recorded before graphs existed), serve them, drive the page in
 * headless Chromium (Debian's `chromium`, through playwright-core: no browser download) and check
 * what it shows while stepping through the batches.
 *
 * Skips when /usr/bin/chromium is missing, except in CI (see tests/browser.ts).
 * INSPECTOR_SCREENSHOT=docs/inspector.png saves the README picture (the graph, in batch 1).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceRecorder } from '../actors/inspect/inspection.ts';
import type { SchedulerName } from '../actors/schedulers/schedulers.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { type InspectorServer, serveInspector } from '../tools/inspector/server.ts';
import { haveChromium, offlineBrowser, requireChromiumInCI } from './browser.ts';
import { REFERENCE_DIR } from './helpers.ts';

requireChromiumInCI('inspector e2e');

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);

const graphCase = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-branch.json'), 'utf8')) as ReferenceCase);

/** The seed network's trace, following the actors from outside (`attach`). */
async function recordTrace(file: string, steps: number, sample = 1): Promise<void> {
  const recorder = createTraceRecorder({ file, sample, meta: { demo: 'inspector e2e', scheduler: 'queue' } });
  const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps });
  recorder.attach(training.actor);
  await training.run();
  await recorder.close();
}

/** A graph's trace, as the demos record it (`inspect`, and `relay` for worker-hosted actors). */
async function recordGraphTrace(file: string, steps: number, scheduler: SchedulerName): Promise<void> {
  const recorder = createTraceRecorder({ file, meta: { demo: 'inspector e2e', scheduler } });
  const c = graphCase;
  const training = createTraining({
    topology: c.topology,
    data: c.data,
    params: c.initial,
    steps,
    scheduler,
    inspect: recorder.inspect,
    relay: recorder.relay,
  });
  await training.run();
  await recorder.close();
}

describe.runIf(haveChromium)('the inspector page, in headless Chromium', () => {
  let dir: string;
  let full: InspectorServer, sampled: InspectorServer;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-inspector-'));
    await recordTrace(join(dir, 'out.jsonl'), 5);
    await recordTrace(join(dir, 'sampled.jsonl'), 5, 2);
    full = await serveInspector({ trace: join(dir, 'out.jsonl'), port: 0 });
    sampled = await serveInspector({ trace: join(dir, 'sampled.jsonl'), port: 0 });
    const browser = await offlineBrowser(dir);
    ({ context, page } = browser);
    errors = browser.errors;
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await full?.close();
    await sampled?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const node = (actor: string) => page.locator(`#graph [data-actor="${actor}"]`);
  const state = (actor: string) => node(actor).locator('.state');
  const lane = (actor: string) => page.locator(`#timeline .lane[data-actor="${actor}"] .chip .type`);
  const position = () => page.locator('#position');

  it('draws every actor of the recorded training, in its state before the first batch', async () => {
    await page.goto(full.url);
    await page.waitForSelector('body[data-ready="true"]');
    await expect.poll(() => position().textContent()).toBe('setup (before the first batch)');
    for (const actor of ['trainer', 'layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head']) {
      expect(await node(actor).count(), actor).toBe(1);
    }
    expect(await node('layer:0').locator('.summary').textContent()).toBe('24→128 sigmoid · decoupled');
    expect(await node('layer:2').locator('.summary').textContent()).toBe('64→12 sigmoid · backprop');
    expect(await node('synthesizer:1').locator('.summary').textContent()).toBe('64 units · delay 0');
    expect(await node('trainer').locator('.summary').textContent()).toBe('24-128-64-12 · queue');
    for (const actor of ['layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'])
      expect(await state(actor).textContent()).toBe('ready');
    // the trainer has started (its START handled); the stages feed the first batch after that
    expect(await state('trainer').textContent()).toBe('training');
    expect(await page.locator('#meta').textContent()).toContain('inspector e2e · 24-128-64-12 · scheduler queue · 5 steps');
    expect(await page.locator('#prev-batch').isDisabled()).toBe(true);
    // edges: h along the chain (3) and into each synthesizer (2); g_hat from each synthesizer (2),
    // the targets layer:1 → synthesizer:0 and layer:2 → synthesizer:1, and the head's gradient into layer:2
    expect(await page.locator('#graph .edge.activation').count()).toBe(5);
    expect(await page.locator('#graph .edge.gradient').count()).toBe(5);
  });

  it('steps to batch 0 and shows what each actor received, and the states it left them in', async () => {
    await page.click('#next-batch');
    expect(await position().textContent()).toBe('batch 0 · 1 of 5');
    expect(await lane('layer:0').allTextContents()).toEqual(['FORWARD #0', 'SYNTHETIC_GRADIENT #0']);
    expect(await lane('layer:2').allTextContents()).toEqual(['FORWARD #0', 'GRADIENT #0']);
    expect(await lane('synthesizer:1').allTextContents()).toEqual(['PREDICT #0', 'REFIT #0']);
    expect(await lane('head').allTextContents()).toEqual(['FORWARD #0']);
    expect(await page.locator('#timeline .lane[data-actor="layer:1"] .chip .to').allTextContents()).toEqual([
      '→ awaitingSyntheticGradient',
      '→ ready',
    ]);
    for (const actor of ['layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1'])
      expect(await state(actor).textContent()).toBe('ready');
    // batches run after the trainer has handled START (and entered training), never inside it
    expect(await state('trainer').textContent()).toBe('training');
    expect(await node('trainer').locator('.last').textContent()).toBe('last: START');
    expect(await node('layer:2').locator('.last').textContent()).toBe('last: GRADIENT #0');
  });

  it('steps with the keyboard: → a batch, Shift+→ one event, ← back', async () => {
    await page.keyboard.press('ArrowRight');
    expect(await position().textContent()).toBe('batch 1 · 2 of 5');
    await page.keyboard.press('Shift+ArrowRight'); // layer:0 receives FORWARD #2
    expect(await position().textContent()).toBe('batch 2 · 3 of 5');
    expect(await state('layer:0').textContent()).toBe('ready');
    expect(await node('layer:0').locator('.last').textContent()).toBe('handling FORWARD #2');
    expect(await node('layer:0').getAttribute('class')).toContain('active');
    await page.keyboard.press('Shift+ArrowRight'); // …and takes its snapshot
    expect(await state('layer:0').textContent()).toBe('awaitingSyntheticGradient');
    expect(await node('layer:0').getAttribute('class')).toContain('awaiting');
    expect(await page.locator('#timeline .chip.current .type').textContent()).toBe('FORWARD #2');
    expect(await page.locator('#timeline .chip.future').count()).toBeGreaterThan(5);
    expect(JSON.parse((await page.locator('#detail').textContent())!)).toMatchObject({
      actor: 'layer:0',
      type: '@xstate.snapshot',
      state: 'awaitingSyntheticGradient',
      batch: 2,
      actions: ['forward'],
    });
    await page.keyboard.press('ArrowLeft');
    expect(await position().textContent()).toBe('batch 1 · 2 of 5');
    expect(await state('layer:0').textContent()).toBe('ready');
  });

  it('jumps to an event by its chip, and to the end', async () => {
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight'); // batch 3
    await page.locator('#timeline .lane[data-actor="synthesizer:0"] .chip', { hasText: 'PREDICT #3' }).click();
    expect(JSON.parse((await page.locator('#detail').textContent())!)).toMatchObject({
      actor: 'synthesizer:0',
      type: '@xstate.snapshot',
      event: { type: 'PREDICT', batch: 3, h: '10x128' },
    });
    expect(await state('layer:1').textContent()).toBe('awaitingSyntheticGradient');

    await page.click('#last');
    expect(await position().textContent()).toBe('end (after the last batch)');
    expect(await state('synthesizer:0').textContent()).toBe('drained (done)');
    expect(await state('trainer').textContent()).toBe('done (done)');
    expect(await state('layer:0').textContent()).toBe('ready (stopped)');
    expect(await lane('synthesizer:1').allTextContents()).toEqual(['DRAIN']);
    expect(await page.locator('#next-batch').isDisabled()).toBe(true);
    await page.keyboard.press('Home');
    expect(await position().textContent()).toBe('setup (before the first batch)');
  });

  it('steps through the batches a sampled trace kept', async () => {
    await page.goto(sampled.url);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#meta').textContent()).toContain('sampled: every 2th batch');
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.click('#next-batch');
      seen.push((await position().textContent())!);
    }
    expect(seen).toEqual(['batch 0 · 1 of 3', 'batch 2 · 2 of 3', 'batch 4 · 3 of 3']);
    expect(await lane('layer:1').allTextContents()).toEqual(['FORWARD #4', 'SYNTHETIC_GRADIENT #4']);
  });

  it('loaded nothing from outside and logged no error', () => {
    expect(errors).toEqual([]);
  });
});

describe.runIf(haveChromium)('the inspector page draws graphs, in headless Chromium', () => {
  let dir: string;
  const servers: InspectorServer[] = [];
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];
  const t = graphCase.topology;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-inspector-graph-'));
    await recordGraphTrace(join(dir, 'graph.jsonl'), 3, 'queue');
    await recordGraphTrace(join(dir, 'graph-worker.jsonl'), 3, 'worker');
    const browser = await offlineBrowser(dir);
    ({ context, page } = browser);
    errors = browser.errors;
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    for (const s of servers) await s.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const open = async (trace: string) => {
    const s = await serveInspector({ trace, port: 0 });
    servers.push(s);
    await page.goto(s.url);
    await page.waitForSelector('body[data-ready="true"]');
  };
  const node = (actor: string) => page.locator(`#graph .node[data-actor="${actor}"]`);
  const edge = (kind: string, from: string, to: string) => page.locator(`#graph path.edge.${kind}[data-from="${from}"][data-to="${to}"]`);

  /** Every box's rectangle on screen, to check that none covers another. */
  const boxes = () =>
    page.locator('#graph .node .box').evaluateAll((rects) =>
      rects.map((r) => {
        const b = r.getBoundingClientRect();
        return { actor: r.parentElement!.getAttribute('data-actor')!, x: b.x, y: b.y, w: b.width, h: b.height };
      }),
    );
  const overlapping = (list: Awaited<ReturnType<typeof boxes>>) => {
    const out: string[] = [];
    for (const [i, a] of list.entries()) {
      for (const b of list.slice(i + 1))
        if (a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1) out.push(`${a.actor} / ${b.actor}`);
    }
    return out;
  };

  it('draws every node, head and synthesizer of the graph, and the stage', async () => {
    await open(join(dir, 'graph.jsonl'));
    const actors = [
      'trainer',
      'stage:0',
      ...t.nodes.map((n) => n.actor),
      ...t.heads.map((h) => h.actor),
      ...t.synthesizers.map((s) => s.actor),
    ];
    expect(actors).toHaveLength(12);
    for (const actor of actors) expect(await node(actor).count(), actor).toBe(1);
    expect(await page.locator('#graph .node').count()).toBe(actors.length);
    expect(overlapping(await boxes())).toEqual([]);
    expect(await page.locator('#meta').textContent()).toContain('inspector e2e · 5 nodes, 2 heads · scheduler queue · 3 steps');
    expect(await node('layer:mod4_out').locator('.summary').textContent()).toBe('concat 80→4 linear · backprop');
    expect(await node('head:mod4').locator('.summary').textContent()).toBe('softmax CE · mod4 (4) · ×0.5');
    expect(await node('synthesizer:trunk>b').locator('.summary').textContent()).toBe('64 units · delay 1 · cDNI');
    expect(await node('stage:0').locator('.summary').textContent()).toBe('10 actors · this thread');
    // nodes by depth, left to right: trunk, then a and b, then their consumers, then the heads
    const x = async (actor: string) => (await node(actor).locator('.box').boundingBox())!.x;
    expect(await x('layer:trunk')).toBeLessThan(await x('layer:a'));
    expect(await x('layer:a')).toBe(await x('layer:b'));
    expect(await x('layer:b')).toBeLessThan(await x('layer:mod4_out'));
    expect(await x('layer:mod4_out')).toBeLessThan(await x('head:mod4'));
    // a synthesizer sits under the node whose output it reads
    const y = async (actor: string) => (await node(actor).locator('.box').boundingBox())!.y;
    expect(await y('synthesizer:trunk>a')).toBeGreaterThan(await y('layer:trunk'));
    expect(await page.locator('#graph .node[data-actor="layer:mod4_out"] .merge.concat').count()).toBe(1);
  });

  it('draws each edge: h forward; a true gradient back on a backprop edge; ĝ and the refit target on a decoupled one', async () => {
    for (const e of t.edges) {
      const from = t.nodes[e.from].actor;
      const to = e.toNode >= 0 ? t.nodes[e.toNode].actor : t.heads[e.toHead].actor;
      expect(await edge('activation', from, to).count(), `h ${from} → ${to}`).toBe(1);
      if (e.synthesizer < 0) {
        expect(await edge('gradient', to, from).count(), `g ${to} → ${from}`).toBe(1);
        continue;
      }
      const s = t.synthesizers[e.synthesizer].actor;
      expect(await edge('gradient', to, from).count(), `no true gradient across ${e.name}`).toBe(0);
      expect(await edge('activation', from, s).count(), `h ${from} → ${s}`).toBe(1);
      expect(await edge('gradient', s, from).count(), `ĝ ${s} → ${from}`).toBe(1);
      expect(await edge('gradient', to, s).count(), `target ${to} → ${s}`).toBe(1);
    }
    const decoupled = t.edges.filter((e) => e.synthesizer >= 0).length;
    expect(await page.locator('#graph path.edge.activation').count()).toBe(t.edges.length + decoupled);
    expect(await page.locator('#graph path.edge.gradient').count()).toBe(t.edges.length + decoupled);
    expect(await page.locator('#graph path.edge.input').count()).toBe(1);
  });

  it('steps through a batch of the graph, every actor in its lane', async () => {
    await page.click('#next-batch');
    expect(await page.locator('#position').textContent()).toBe('batch 0 · 1 of 3');
    const lane = (actor: string) => page.locator(`#timeline .lane[data-actor="${actor}"] .chip .type`).allTextContents();
    for (const n of t.nodes) expect(await lane(n.actor), n.actor).toContain('FORWARD #0');
    for (const h of t.heads) expect(await lane(h.actor), h.actor).toEqual(['FORWARD #0']);
    for (const s of t.synthesizers) expect(await lane(s.actor), s.actor).toEqual(['PREDICT #0', 'REFIT #0']);

    if (process.env.INSPECTOR_SCREENSHOT) {
      // batch 1, half way through: trunk waits for its gradient while the branches run
      await page.keyboard.press('ArrowRight');
      await page.locator('#timeline .lane[data-actor="synthesizer:trunk>b"] .chip', { hasText: 'PREDICT #1' }).click();
      const shot = join(dir, 'inspector.png');
      await page.screenshot({ path: shot, fullPage: true });
      copyFileSync(shot, process.env.INSPECTOR_SCREENSHOT);
    }
    await page.keyboard.press('End');
    for (const s of t.synthesizers) expect(await node(s.actor).locator('.state').textContent(), s.actor).toBe('drained (done)');
  });

  it('shows the stages and threads of a graph trained on worker threads', async () => {
    await open(join(dir, 'graph-worker.jsonl'));
    expect(await page.locator('#meta').textContent()).toMatch(/5 nodes, 2 heads · \d worker threads? · scheduler worker/);
    const workers = await page
      .locator('#graph .node[data-thread]')
      .evaluateAll((nodes) => nodes.map((n) => [n.getAttribute('data-actor'), n.getAttribute('data-thread')]));
    const hosted = new Map(workers as [string, string][]);
    // every graph actor runs on a worker, and every worker's stage is drawn beside the trainer's link to it
    for (const actor of [...t.nodes.map((n) => n.actor), ...t.heads.map((h) => h.actor), ...t.synthesizers.map((s) => s.actor)]) {
      expect(hosted.get(actor), actor).toMatch(/^worker:\d$/);
    }
    const threads = new Set(hosted.values());
    for (const thread of threads) {
      const k = thread.slice('worker:'.length);
      expect(await node(`stage:${k}`).count()).toBe(1);
      expect(await node(`stage:${k}@${thread}`).count()).toBe(1);
      expect(await node(`stage:${k}`).locator('.summary').textContent()).toBe(`the trainer's link to ${thread}`);
      expect(await page.locator(`#graph path.edge.spawn[data-from="stage:${k}"][data-to="stage:${k}@${thread}"]`).count()).toBe(1);
    }
    expect(await page.locator('#graph .node[data-thread] .thread-stripe').count()).toBe(hosted.size);
    expect(overlapping(await boxes())).toEqual([]);
  });

  it('opens a chain traced before graphs existed (no graph in the trace: the chain from its names and sizes)', async () => {
    await open(join(import.meta.dirname, 'fixtures', 'trace-chain-before-graphs.jsonl'));
    for (const actor of ['trainer', 'layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head'])
      expect(await node(actor).count(), actor).toBe(1);
    expect(await node('layer:0').locator('.summary').textContent()).toBe('24→128 sigmoid · decoupled');
    expect(await node('head').locator('.summary').textContent()).toBe('mse · 12 labels');
    expect(await page.locator('#graph path.edge.activation').count()).toBe(5);
    expect(await page.locator('#graph path.edge.gradient').count()).toBe(5);
    expect(await edge('gradient', 'layer:1', 'synthesizer:0').count()).toBe(1);
    expect(await edge('gradient', 'head', 'layer:2').count()).toBe(1);
    expect(await page.locator('#meta').textContent()).toContain('before graphs · 24-128-64-12 · scheduler queue · 2 steps');
    await page.click('#next-batch');
    expect(await page.locator('#timeline .lane[data-actor="layer:0"] .chip .type').allTextContents()).toEqual([
      'FORWARD #0',
      'SYNTHETIC_GRADIENT #0',
    ]);
  });

  it('loaded nothing from outside and logged no error', () => {
    expect(errors).toEqual([]);
  });
});
