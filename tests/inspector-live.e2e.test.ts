/**
 * The live inspector, end to end, in headless Chromium during real trainings: the demo's
 * `--inspect` (binary addition, a process of its own, read while it trains and then stopped with
 * Ctrl+C), and a graph trained on worker threads (its actors relayed from the workers). The page
 * must draw every actor, and its states, the step counter and the charts must move on between two
 * reads; nothing may leave 127.0.0.1.
 *
 * Skips when /usr/bin/chromium is missing, except in CI (see tests/browser.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTraining } from '../actors/trainer/training.ts';
import { type ReferenceCase, loadCase } from '../lib/reference.ts';
import { serveLiveInspector } from '../tools/inspector/live.ts';
import { type OfflineBrowser, haveChromium, offlineBrowser, requireChromiumInCI } from './browser.ts';
import { REFERENCE_DIR } from './helpers.ts';

requireChromiumInCI('live inspector e2e');

const root = join(import.meta.dirname, '..');
const graph = loadCase(JSON.parse(readFileSync(join(REFERENCE_DIR, 'graph-branch.json'), 'utf8')) as ReferenceCase);

/** What the page shows now: the step, the charts' last step and points, each actor's state, last event and event count. */
async function read(page: Page) {
  return page.evaluate(() => {
    const q = (s: string) => document.querySelector(s) as HTMLElement | SVGElement | null;
    const actors: Record<string, { state: string; last: string; events: number; thread: string | null }> = {};
    for (const g of document.querySelectorAll('#graph .node')) {
      actors[g.getAttribute('data-actor')!] = {
        state: g.getAttribute('data-state') ?? '',
        last: g.querySelector('.last')?.textContent ?? '',
        events: Number(g.getAttribute('data-events')),
        thread: g.getAttribute('data-thread'),
      };
    }
    const chart = (m: string) => ({ lastX: Number(q(`#chart-${m}`)?.dataset.lastX), points: Number(q(`#chart-${m}`)?.dataset.points) });
    return {
      progress: q('#progress')?.textContent ?? '',
      batch: Number(q('#progress')?.dataset.batch ?? -1),
      updates: Number(document.body.dataset.updates ?? 0),
      loss: chart('loss'),
      accuracy: chart('accuracy'),
      synthesizerLoss: chart('synthesizerLoss'),
      cosine: chart('cosine'),
      actors,
    };
  });
}

/** Wait until the page shows at least `batch + 1` finished steps. */
async function untilBatch(page: Page, batch: number, timeout = 30_000) {
  await page.waitForFunction((b) => Number(document.querySelector('#progress')?.getAttribute('data-batch') ?? -1) >= b, batch, { timeout });
}

describe.runIf(haveChromium)('the live inspector, in headless Chromium, during a real training', () => {
  let dir: string;
  let browser: OfflineBrowser;
  let demo: ChildProcess | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-live-'));
    browser = await offlineBrowser(dir);
  }, 60_000);

  afterAll(async () => {
    demo?.kill('SIGKILL');
    await browser?.context.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('npm run demo -- --inspect: every actor drawn, and states, steps and charts moving on while it trains', async () => {
    // far more steps than the test waits for: it is stopped with Ctrl+C once read
    demo = spawn(
      process.execPath,
      ['--import', 'tsx', join(root, 'demos', 'binary-addition.ts'), '--steps', '2000000', '--inspect', '--inspect-port', '0'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    const url = await new Promise<string>((resolve, reject) => {
      demo!.stderr!.on('data', (d: Buffer) => {
        stderr += d;
        const m = /live inspector: open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
        if (m) resolve(m[1]);
      });
      demo!.on('exit', (code) => reject(new Error(`the demo exited with ${code}: ${stderr}`)));
    });
    expect(stderr).toContain('(the actors and the metrics as they train; served from this machine, nothing from the network)');
    const { page } = browser;
    await page.goto(url);
    await untilBatch(page, 50);
    const a = await read(page);
    await page.waitForTimeout(1200);
    const b = await read(page);

    // the first training (backprop): the trainer, its stage, the layers and the head, all drawn
    expect(Object.keys(a.actors).sort()).toEqual(['head', 'layer:0', 'layer:1', 'layer:2', 'stage:0', 'trainer']);
    expect(a.progress).toMatch(/^backprop · step [\d,]+ of 2,000,000 · [\d,]+ steps\/s · training$/);
    expect(b.progress).toMatch(/ · training$/);
    expect(b.batch).toBeGreaterThan(a.batch);
    expect(b.updates).toBeGreaterThan(a.updates);
    for (const metric of ['loss', 'accuracy', 'synthesizerLoss'] as const) {
      expect(a[metric].points, metric).toBeGreaterThan(0);
      expect(b[metric].lastX, metric).toBeGreaterThan(a[metric].lastX);
    }
    expect(b.cosine.points).toBe(0); // backprop has no synthesizer
    for (const actor of ['layer:0', 'layer:1', 'layer:2', 'head']) {
      expect(b.actors[actor].events, actor).toBeGreaterThan(a.actors[actor].events);
      expect(b.actors[actor].last, actor).not.toBe(a.actors[actor].last);
      expect(b.actors[actor].last, actor).toMatch(/^last: (FORWARD|GRADIENT) #\d+$/);
      expect(['ready', 'awaitingGradient'], actor).toContain(b.actors[actor].state);
    }
    expect(b.actors.trainer.state).toBe('training');
    expect(b.actors['stage:0'].state).toBe('running');

    // Ctrl+C: the demo stops, the page says so and keeps what it showed
    demo.kill('SIGINT');
    const code = await new Promise((resolve) => demo!.once('exit', resolve));
    demo = null;
    expect(code).toBe(130);
    await page.waitForFunction(() => /the demo has stopped serving/.test(document.querySelector('#progress')?.textContent ?? ''), null, {
      timeout: 10_000,
    });
    expect(Object.keys((await read(page)).actors)).toHaveLength(6);
    expect(browser.requests.every((r) => new URL(r).hostname === '127.0.0.1')).toBe(true);
  });

  it('a graph on worker threads: every node, head, synthesizer and stage drawn, relayed from the workers as they train', async () => {
    const live = await serveLiveInspector({ port: 0 });
    const { page } = browser;
    try {
      await page.goto(live.url);
      await page.waitForSelector('body[data-ready="true"]');
      expect(await page.locator('#source').textContent()).toBe('waiting for a training');
      const steps = 4000;
      // two stages given: a default plan may run as one thread on a busy machine (its start probe)
      const run = live.run('graph', { demo: 'live e2e', scheduler: 'worker', steps });
      const training = createTraining({
        topology: graph.topology,
        data: graph.data,
        params: graph.initial,
        steps,
        scheduler: { name: 'worker', stages: 2 },
        inspect: run.inspect,
        relay: run.relay,
      });
      run.watch(training);
      const done = training.run();
      await untilBatch(page, 20);
      const a = await read(page);
      await page.waitForTimeout(800);
      const b = await read(page);

      const t = graph.topology;
      const hosted = [...t.nodes.map((n) => n.actor), ...t.heads.map((h) => h.actor), ...t.synthesizers.map((s) => s.actor)];
      for (const actor of hosted) {
        expect(b.actors[actor]?.thread, actor).toMatch(/^worker:\d$/);
        expect(b.actors[actor].events, actor).toBeGreaterThan(a.actors[actor].events);
      }
      const threads = new Set(hosted.map((actor) => b.actors[actor].thread!));
      for (const thread of threads) {
        const k = thread.slice('worker:'.length);
        expect(b.actors[`stage:${k}`], `the trainer's link to ${thread}`).toBeDefined();
        expect(b.actors[`stage:${k}@${thread}`]?.state, `the stage on ${thread}`).toBe('running');
      }
      expect(Object.keys(b.actors)).toHaveLength(2 + hosted.length + 2 * threads.size - 1);
      expect(a.progress).toMatch(/^graph · step [\d,]+ of 4,000 · [\d,]+ steps\/s · training$/);
      expect(b.batch).toBeGreaterThan(a.batch);
      expect(b.loss.lastX).toBeGreaterThan(a.loss.lastX);
      expect(await page.locator('#source').textContent()).toBe('live e2e · scheduler worker');

      await done;
      await run.close();
      await page.waitForFunction(() => /· finished$/.test(document.querySelector('#progress')?.textContent ?? ''), null, {
        timeout: 10_000,
      });
      expect((await read(page)).batch).toBe(steps - 1);
    } finally {
      await live.close();
    }
    await page.waitForFunction(() => /the demo has stopped serving/.test(document.querySelector('#progress')?.textContent ?? ''), null, {
      timeout: 10_000,
    });
  });

  it('loaded nothing from outside and logged no error', () => {
    expect(browser.errors).toEqual([]);
    expect(browser.requests.length).toBeGreaterThan(5);
    expect(browser.requests.every((r) => new URL(r).hostname === '127.0.0.1')).toBe(true);
  });
});
