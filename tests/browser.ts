/**
 * Headless Chromium for the inspector tests: Debian's `chromium` driven by playwright-core (no
 * browser download), offline: every request that leaves 127.0.0.1 is refused and recorded, as is
 * every page error and console error, so a test can assert there were none.
 *
 * The tests skip when /usr/bin/chromium is missing, except in CI (CI=true), where .ci/run
 * installs it and a missing browser is a failure (see {@link requireChromiumInCI}).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const haveChromium = existsSync(CHROMIUM);
const inCI = process.env.CI === 'true';

/** In CI a missing browser fails the run; elsewhere the tests say they were skipped. */
export function requireChromiumInCI(what: string): void {
  if (!haveChromium && !inCI)
    console.warn(`${what} skipped: ${CHROMIUM} is missing (apt-get install -y chromium; CI installs it in .ci/run)`);
  describe.runIf(!haveChromium && inCI)(`${what} in CI`, () => {
    it('needs Debian chromium at /usr/bin/chromium', () => {
      throw new Error(`${CHROMIUM} is missing: .ci/run must 'apt-get install -y chromium' before the tests`);
    });
  });
}

export interface OfflineBrowser {
  context: BrowserContext;
  page: Page;
  /** requests that left 127.0.0.1, page errors, console errors */
  errors: string[];
  /** every URL the page requested */
  requests: string[];
}

/** A headless Chromium with a fresh profile in `dir`, which may reach 127.0.0.1 only. */
export async function offlineBrowser(dir: string, viewport = { width: 1600, height: 1000 }): Promise<OfflineBrowser> {
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport,
  });
  const errors: string[] = [];
  const requests: string[] = [];
  // the pages are all local: anything else is refused (and fails the test through `errors`)
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    requests.push(url.href);
    if (url.hostname === '127.0.0.1') return route.continue();
    errors.push(`request outside this machine: ${url.href}`);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && errors.push(`console: ${m.text()}`));
  return { context, page, errors, requests };
}
