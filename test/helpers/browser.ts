// A real Chromium for the browser suites, driven by playwright-core (Playwright's own browser download is
// not reachable here: the browser is Debian's, installed by .ci/run). Each page is watched for console
// errors, uncaught exceptions and requests to any other origin; requests elsewhere are refused, not sent.

import { existsSync } from 'node:fs';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium binary: TXLAKE_CHROMIUM, else Debian's; missing is a failure that says how to install it. */
export function chromiumPath(): string {
  const given = process.env.TXLAKE_CHROMIUM;
  if (given) {
    if (!existsSync(given)) throw new Error(`TXLAKE_CHROMIUM=${given} does not exist`);
    return given;
  }
  const found = CANDIDATES.find((candidate) => existsSync(candidate));
  if (!found) {
    throw new Error(
      'the browser suite needs Chromium: apt-get update && apt-get install -y chromium (or set TXLAKE_CHROMIUM to a Chrome binary)',
    );
  }
  return found;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    // As root in CI a sandbox cannot start; the network is closed, so Chromium's own background requests
    // (updates, sync, safe browsing) are turned off rather than refused a hundred times.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
    timeout: 60_000,
  });
}

/** What a page did that a test must see: console errors, exceptions, and requests to other origins. */
export interface PageWatch {
  errors: string[];
  foreignRequests: string[];
  /** Every request the page made to the server: URL and headers as sent. */
  requests: { url: string; headers: Record<string, string> }[];
}

export interface WatchedPage {
  context: BrowserContext;
  page: Page;
  watch: PageWatch;
}

/** A new context (its own storage: a new tab session) and page on `origin`, watched. */
export async function openWatchedPage(
  browser: Browser,
  origin: string,
  options: BrowserContextOptions = {},
): Promise<WatchedPage> {
  const context = await browser.newContext({
    locale: 'en-US',
    timezoneId: 'America/New_York', // not UTC: the explorer must show UTC days whatever the reader's zone
    acceptDownloads: true,
    ...options,
  });
  const watch: PageWatch = { errors: [], foreignRequests: [], requests: [] };
  await context.route('**/*', async (route) => {
    const request = route.request();
    if (request.url().startsWith(`${origin}/`)) {
      watch.requests.push({ url: request.url(), headers: await request.allHeaders() });
      await route.continue();
    } else {
      watch.foreignRequests.push(request.url());
      await route.abort('blockedbyclient');
    }
  });
  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') watch.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => watch.errors.push(`exception: ${error.message}`));
  return { context, page, watch };
}
