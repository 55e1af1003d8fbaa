/** Debian's Chromium driven by playwright-core, for the browser tests; screenshots go to test-artifacts/. */
import { afterAll, beforeAll } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type Page, chromium } from 'playwright-core';
import { chromiumBinary } from '../harness/services.ts';
import { type World, bootWorld } from '../channels/world.ts';
import { admin_token } from '../http/harness.ts';

export const artifacts = join(import.meta.dir, '..', '..', 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

/** Flags for a closed network: without them Chromium keeps trying Google's hosts. */
export const chromium_args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
];

export async function launchChromium(): Promise<Browser> {
  const executablePath = chromiumBinary();
  if (!executablePath) throw new Error('chromium is not installed: bun run test installs it (apt-get install chromium)');
  return chromium.launch({ executablePath, args: chromium_args, timeout: 30_000 });
}

/** The machine is shared with other work: navigations wait for the first bytes only, steps wait generously. */
const console_step_timeout_ms = 20_000;

/** A new page `width` wide, signed in to the console of the paycenter at `url` as an operator would (the form). */
export async function signedInPage(browser: Browser, url: string, width: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  page.setDefaultTimeout(console_step_timeout_ms);
  await page.goto(`${url}/admin/login`, { waitUntil: 'commit' });
  await page.fill('input[name="token"]', admin_token);
  await page.click('button');
  await page.waitForURL(`${url}/admin`, { waitUntil: 'commit' });
  return page;
}

/** A SQLite paycenter with the channel sandbox, and a Chromium: both started before the enclosing describe block's tests, stopped after. */
export function worldAndChromium(): { world: World; browser: Browser } {
  // Filled in by beforeAll; tests read the fields only once it has run.
  const both = {} as { world: World; browser: Browser };
  beforeAll(async () => {
    both.world = await bootWorld('sqlite');
    both.browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await both.browser?.close();
    await both.world?.stop();
  }, 30_000);
  return both;
}
