/** Debian's Chromium driven by playwright-core, for the browser tests; screenshots go to test-artifacts/. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { chromiumBinary } from '../harness/services.ts';

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
