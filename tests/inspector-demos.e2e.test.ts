/**
 * Every demo that takes `--inspect`, under every scheduler, in headless Chromium: once the demo
 * has trained (small budgets, so it is quick), its live page shows, for each of its trainings,
 * the step it reached ("step N of N · finished", never "step 0"), every actor of the network
 * (layers, heads, synthesizers, the trainer and its stages; under `worker` each layer, head and
 * synthesizer on its thread) and metric charts with points. fit()'s one training per method
 * (demo:mnist, demo:multitask) included: it once showed "step 0 of 750 · finished", "no points
 * yet" and, under worker, no layer at all.
 *
 * Skips when /usr/bin/chromium is missing, except in CI (see tests/browser.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEDULERS } from '../actors/schedulers/schedulers.ts';
import { type OfflineBrowser, haveChromium, offlineBrowser, requireChromiumInCI } from './browser.ts';

requireChromiumInCI('the demos in the live inspector');

const root = join(import.meta.dirname, '..');

interface DemoCase {
  file: string;
  args: string[];
  /** the line on stderr once it has trained (it then serves the page until Ctrl+C) */
  trained: RegExp;
  /** each training's label (null: one unlabelled training) and its steps */
  runs: [string | null, number][];
  /** actors of the network (beside the trainer and its stages) */
  layers: number;
  heads: number;
  /** synthesizers of a decoupled training (backprop has none) */
  synthesizers: number;
}

const DEMOS: DemoCase[] = [
  {
    file: 'binary-addition.ts',
    args: ['--steps', '60'],
    trained: /still serves the live inspector/,
    runs: [
      ['backprop', 60],
      ['dni', 60],
      ['cdni', 60],
    ],
    layers: 3,
    heads: 1,
    synthesizers: 2,
  },
  {
    file: 'inspector.ts',
    args: ['--steps', '40', '--port', '0'],
    trained: /inspector: open http:\/\/127\.0\.0\.1:\d+\/? to step through/,
    runs: [[null, 40]],
    layers: 3,
    heads: 1,
    synthesizers: 2,
  },
  {
    // 640 training digits, batch 64: 10 steps an epoch
    file: 'mnist.ts',
    args: ['--train', '640', '--test', '64', '--epochs', '2', '--hidden', '16,16', '--methods', 'backprop,dni'],
    trained: /still serves the live inspector/,
    runs: [
      ['backprop', 20],
      ['dni', 20],
    ],
    layers: 3,
    heads: 1,
    synthesizers: 2,
  },
  {
    file: 'multitask.ts',
    args: [
      '--train',
      '640',
      '--test',
      '64',
      '--epochs',
      '2',
      '--trunk',
      '16',
      '--digit-hidden',
      '8',
      '--high-hidden',
      '8',
      '--methods',
      'backprop,cdni',
    ],
    trained: /still serves the live inspector/,
    runs: [
      ['backprop', 20],
      ['cdni', 20],
    ],
    layers: 5,
    heads: 2,
    synthesizers: 2,
  },
];

/** What the page shows of the run it draws: the header, the actors, the charts' points. */
async function read(page: Page) {
  return page.evaluate(() => {
    const actors: Record<string, { thread: string | null; events: number }> = {};
    for (const g of document.querySelectorAll('#graph .node')) {
      actors[g.getAttribute('data-actor')!] = { thread: g.getAttribute('data-thread'), events: Number(g.getAttribute('data-events')) };
    }
    const points = (m: string) => Number((document.querySelector(`#chart-${m}`) as SVGElement | null)?.dataset.points ?? 0);
    return {
      progress: document.querySelector('#progress')?.textContent ?? '',
      actors,
      loss: points('loss'),
      accuracy: points('accuracy'),
      synthesizerLoss: points('synthesizerLoss'),
      cosine: points('cosine'),
    };
  });
}

describe.runIf(haveChromium)("every demo's live page, under every scheduler", () => {
  let dir: string;
  let browser: OfflineBrowser;
  let demo: ChildProcess | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dni-live-demos-'));
    browser = await offlineBrowser(dir);
  }, 60_000);

  afterAll(async () => {
    demo?.kill('SIGKILL');
    await browser?.context.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases = DEMOS.flatMap((d) => SCHEDULERS.map((s) => [d.file, s, d] as const));
  it.each(cases)(
    '%s --inspect --scheduler %s: each training at its last step, every actor drawn, metrics charted',
    async (_, scheduler, d) => {
      const args = [
        ...d.args,
        '--scheduler',
        scheduler,
        '--inspect',
        '--inspect-port',
        '0',
        '--trace',
        join(dir, `${d.file}.${scheduler}.jsonl`),
      ];
      demo = spawn(process.execPath, ['--import', 'tsx', join(root, 'demos', d.file), ...args], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const child = demo;
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr!.on('data', (b: Buffer) => {
          stderr += b;
          const m = /live inspector: open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr);
          if (m) resolve(m[1]);
        });
        void exited.then((code) => reject(new Error(`${d.file} exited with ${code}: ${stderr}`)));
      });
      const { page } = browser;
      try {
        // opened as the demo starts: it follows the trainings as they come
        await page.goto(url);
        await new Promise<void>((resolve, reject) => {
          const check = () => d.trained.test(stderr) && resolve();
          child.stderr!.on('data', check);
          check();
          void exited.then((code) => reject(new Error(`${d.file} exited with ${code} before it had trained: ${stderr}`)));
        });
        const buttons = page.locator('#runs button');
        // the page hears of the last training a moment after the demo says it trained
        await expect.poll(() => buttons.count(), { timeout: 15_000 }).toBe(d.runs.length > 1 ? d.runs.length : 0);
        for (const [k, [label, steps]] of d.runs.entries()) {
          if (d.runs.length > 1) await buttons.nth(k).click();
          const header = `${label === null ? 'run 1' : label} · step ${steps} of ${steps} · finished`;
          await page
            .waitForFunction((h) => document.querySelector('#progress')?.textContent === h, header, { timeout: 10_000 })
            .catch(async () => {
              throw new Error(`the header reads '${(await read(page)).progress}', expected '${header}'`);
            });
          const shown = await read(page);
          const names = Object.keys(shown.actors);
          const of = (prefix: string) => names.filter((n) => n.startsWith(prefix) && !n.includes('@'));
          const decoupled = label !== 'backprop';
          expect(of('layer:'), `${label}: layers in ${names}`).toHaveLength(d.layers);
          expect(of('head'), `${label}: heads in ${names}`).toHaveLength(d.heads);
          expect(of('synthesizer:'), `${label}: synthesizers in ${names}`).toHaveLength(decoupled ? d.synthesizers : 0);
          expect(names, label ?? '').toContain('trainer');
          expect(of('stage:').length, `${label}: stages in ${names}`).toBeGreaterThan(0);
          const hosted = [...of('layer:'), ...of('head'), ...of('synthesizer:')];
          for (const actor of hosted) {
            expect(shown.actors[actor].events, `${label}: ${actor}'s events`).toBeGreaterThan(0);
            if (scheduler === 'worker') expect(shown.actors[actor].thread, `${label}: ${actor}'s thread`).toMatch(/^worker:\d+$/);
            else expect(shown.actors[actor].thread, `${label}: ${actor}'s thread`).toBeNull();
          }
          // the charts hold every training's points, one a step
          const all = d.runs.reduce((n, [, s]) => n + s, 0);
          for (const metric of ['loss', 'accuracy', 'synthesizerLoss'] as const) expect(shown[metric], metric).toBe(all);
          // cos(ĝ, g) is measured by the synthesizer's actor, wherever it runs: under every scheduler
          expect(shown.cosine, 'cosine').toBeGreaterThan(0);
        }
      } finally {
        child.kill('SIGINT');
        await exited;
        demo = null;
      }
      expect(browser.errors).toEqual([]);
    },
    240_000,
  );
});
