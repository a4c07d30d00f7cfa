/**
 * The offline inspector, end to end: record a real training's trace, serve it, drive the page in
 * headless Chromium (Debian's `chromium`, through playwright-core: no browser download) and check
 * what it shows while stepping through the batches.
 *
 * Skips when /usr/bin/chromium is missing, except in CI (CI=true), where .ci/run installs it and
 * a missing browser is a failure. INSPECTOR_SCREENSHOT=docs/inspector.png saves the README picture.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraceRecorder } from '../actors/inspection.ts';
import { createTraining } from '../actors/training.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { type InspectorServer, serveInspector } from '../tools/inspector/server.ts';
import { REFERENCE_DIR } from './helpers.ts';
import { readFileSync } from 'node:fs';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
const inCI = process.env.CI === 'true';
if (!haveChromium && !inCI) {
  console.warn(`inspector e2e skipped: ${CHROMIUM} is missing (apt-get install -y chromium; CI installs it in .ci/run)`);
}

describe.runIf(!haveChromium && inCI)('the inspector in CI', () => {
  it('needs Debian chromium at /usr/bin/chromium', () => {
    throw new Error(`${CHROMIUM} is missing: .ci/run must 'apt-get install -y chromium' before the tests`);
  });
});

const dni = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'dni.json'), 'utf8')) as ReferenceCase);

async function recordTrace(file: string, steps: number, sample = 1): Promise<void> {
  const recorder = createTraceRecorder({ file, sample, meta: { demo: 'inspector e2e', scheduler: 'queue' } });
  const training = createTraining({ topology: dni.topology, data: dni.data, params: dni.initial, steps });
  recorder.attach(training.actor);
  await training.run();
  await recorder.close();
}

describe.runIf(haveChromium)('the inspector page, in headless Chromium', () => {
  let dir: string;
  let full: InspectorServer, sampled: InspectorServer;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-inspector-'));
    await recordTrace(join(dir, 'out.jsonl'), 5);
    await recordTrace(join(dir, 'sampled.jsonl'), 5, 2);
    full = await serveInspector({ trace: join(dir, 'out.jsonl'), port: 0 });
    sampled = await serveInspector({ trace: join(dir, 'sampled.jsonl'), port: 0 });
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1600, height: 1000 },
    });
    // the page is all local: anything else is refused (and would fail the test through `errors`)
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1') return route.continue();
      errors.push(`request outside this machine: ${url.href}`);
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
    page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
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
    for (const actor of ['layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1', 'head']) expect(await state(actor).textContent()).toBe('ready');
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
    for (const actor of ['layer:0', 'layer:1', 'layer:2', 'synthesizer:0', 'synthesizer:1']) expect(await state(actor).textContent()).toBe('ready');
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
      actor: 'layer:0', type: '@xstate.snapshot', state: 'awaitingSyntheticGradient', batch: 2, actions: ['forward'],
    });
    await page.keyboard.press('ArrowLeft');
    expect(await position().textContent()).toBe('batch 1 · 2 of 5');
    expect(await state('layer:0').textContent()).toBe('ready');
  });

  it('jumps to an event by its chip, and to the end', async () => {
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight'); // batch 3
    await page.locator('#timeline .lane[data-actor="synthesizer:0"] .chip', { hasText: 'PREDICT #3' }).click();
    expect(JSON.parse((await page.locator('#detail').textContent())!)).toMatchObject({ actor: 'synthesizer:0', type: '@xstate.snapshot', event: { type: 'PREDICT', batch: 3, h: '10x128' } });
    expect(await state('layer:1').textContent()).toBe('awaitingSyntheticGradient');

    if (process.env.INSPECTOR_SCREENSHOT) {
      const shot = join(dir, 'inspector.png');
      await page.screenshot({ path: shot, fullPage: true });
      copyFileSync(shot, process.env.INSPECTOR_SCREENSHOT);
    }

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
