/**
 * The offline inspector draws the paper's other unlocks (issue 22): a trace of graph-unlock.json's
 * network (a complete unlock l0→l1, a forward unlock l2→m, a dni edge with λ = 0.5 and one with a
 * warm-up) opened in headless Chromium (see tests/inspector.e2e.test.ts): each forward synthesizer
 * is a box of its own, labelled, fed the data and its source's h, and feeding ĥ to its consumer in
 * place of the source's h; in a batch it predicts and is refitted like any synthesizer.
 *
 * Skips when /usr/bin/chromium is missing, except in CI (see tests/browser.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceRecorder } from '../actors/inspect/inspection.ts';
import { createTraining } from '../actors/trainer/training.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { type InspectorServer, serveInspector } from '../tools/inspector/server.ts';
import { haveChromium, offlineBrowser, requireChromiumInCI } from './browser.ts';
import { REFERENCE_DIR } from './helpers.ts';

requireChromiumInCI('inspector unlock e2e');

const unlock = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-unlock.json'), 'utf8')) as ReferenceCase, 'graph-unlock');
const t = unlock.topology;

describe.runIf(haveChromium)('the inspector page draws forward synthesizers, in headless Chromium', () => {
  let dir: string;
  let server: InspectorServer;
  let context: BrowserContext;
  let page: Page;
  let errors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-inspector-unlock-'));
    const file = join(dir, 'unlock.jsonl');
    const recorder = createTraceRecorder({ file, meta: { demo: 'inspector unlock e2e', scheduler: 'queue' } });
    const training = createTraining({
      topology: t,
      data: unlock.data,
      params: unlock.initial,
      steps: 3,
      inspect: recorder.inspect,
      relay: recorder.relay,
    });
    await training.run();
    await recorder.close();
    server = await serveInspector({ trace: file, port: 0 });
    const browser = await offlineBrowser(dir);
    ({ context, page } = browser);
    errors = browser.errors;
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
  }, 60_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const node = (actor: string) => page.locator(`#graph .node[data-actor="${actor}"]`);
  const edge = (kind: string, from: string, to: string) => page.locator(`#graph path.edge.${kind}[data-from="${from}"][data-to="${to}"]`);
  const forwards = t.synthesizers.filter((s) => s.actor.startsWith('forward:'));

  it('draws each forward synthesizer as a box of its own, labelled, clear of every other box', async () => {
    expect(forwards.map((f) => f.actor)).toEqual(['forward:l0>l1', 'forward:l2>m']);
    for (const actor of ['trainer', ...t.nodes.map((n) => n.actor), ...t.heads.map((h) => h.actor), ...t.synthesizers.map((s) => s.actor)])
      expect(await node(actor).count(), actor).toBe(1);
    expect(await node('forward:l0>l1').locator('.summary').textContent()).toBe('24→64 forward · delay 0');
    expect(await node('forward:l2>m').locator('.summary').textContent()).toBe('24→32 forward · delay 1');
    const boxes = await page.locator('#graph .node .box').evaluateAll((rects) =>
      rects.map((r) => {
        const b = r.getBoundingClientRect();
        return { actor: r.parentElement!.getAttribute('data-actor')!, x: b.x, y: b.y, w: b.width, h: b.height };
      }),
    );
    const overlaps = boxes.flatMap((a, i) =>
      boxes
        .slice(i + 1)
        .filter((b) => a.x < b.x + b.w - 1 && b.x < a.x + a.w - 1 && a.y < b.y + b.h - 1 && b.y < a.y + a.h - 1)
        .map((b) => `${a.actor} / ${b.actor}`),
    );
    expect(overlaps).toEqual([]);
    // under the node whose output it predicts
    const y = async (actor: string) => (await node(actor).locator('.box').boundingBox())!.y;
    expect(await y('forward:l0>l1')).toBeGreaterThan(await y('layer:l0'));
  });

  it('draws its edges: x in, ĥ to the consumer in place of h, the source’s h as its refit target', async () => {
    for (const [from, to] of [
      ['l0', 'l1'],
      ['l2', 'm'],
    ]) {
      const f = `forward:${from}>${to}`,
        u = `layer:${from}`,
        v = `layer:${to}`;
      expect(await edge('input', 'input', f).count(), `x → ${f}`).toBe(1);
      expect(await edge('activation', f, v).count(), `ĥ ${f} → ${v}`).toBe(1);
      expect(await edge('activation', u, f).count(), `h ${u} → ${f}`).toBe(1);
      expect(await edge('activation', u, v).count(), `no real h across ${from}→${to}`).toBe(0);
    }
    const labels = await page.locator('#graph text.edge-label.activation').allTextContents();
    expect(labels.filter((l) => l === 'ĥ')).toHaveLength(2);
  });

  it('steps through a batch: each forward synthesizer predicts and is refitted', async () => {
    await page.click('#next-batch');
    expect(await page.locator('#position').textContent()).toBe('batch 0 · 1 of 3');
    // (its target, the source's h, may come before its prediction: the source does not wait for it)
    for (const f of forwards)
      expect((await page.locator(`#timeline .lane[data-actor="${f.actor}"] .chip .type`).allTextContents()).sort(), f.actor).toEqual([
        'PREDICT #0',
        'REFIT #0',
      ]);
    expect(errors).toEqual([]);
  });
});
