/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (page.evaluate callbacks run in the browser: their code is typed against the DOM.)
// The web explorer (SPEC §8) in a real browser: Debian's Chromium driven by playwright-core against real
// `txlake serve` processes on a generated lake of two snapshots. Every table is compared with the v2
// API's own answer (fetched by the test, formatted by the test's own rules); the chart's days with the
// answer's; the snapshot switch, paging, filters, export, the keyboard alone, a phone-sized screen and
// the API-key prompt. On every page: no console error, no uncaught exception, no request to another host.
//
// TXLAKE_SCREENSHOTS=DIR also writes a screenshot of each view into DIR (`npm run screenshots` fills
// docs/images/ this way).

import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { merchantCategoryDescription } from '../../src/domain/merchant-categories.js';
import { launchBrowser, openWatchedPage, type PageWatch, type WatchedPage } from '../helpers/browser.js';
import { flipBytes } from '../helpers/damage.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, runExpecting, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
const servers: RunningServer[] = [];
const screenshots = process.env.TXLAKE_SCREENSHOTS ? path.resolve(process.env.TXLAKE_SCREENSHOTS) : null;
let browser: Browser;
let server: RunningServer;
let origin = '';
let lake = '';
/** A user with rows in both snapshots and more than three pages of 50. */
let heavyUser = '';
let busyCode = 0;

interface V2Row {
  datetime: string;
  transaction_type: string;
  merchant_type_code: number;
  amount_cents: string;
}

// ---------------------------------------------------------------------------------------------------------
// The test's own reading of the API: exact integers as digit strings, and its own money format.

/** Integers of a v2 body as their digits (so nothing is rounded on the test's side either). */
function exactJson(text: string): unknown {
  return JSON.parse(
    text.replace(/("(?:amount|purchases|returns|net)_cents"|"purchases"|"returns"):(-?\d+)/g, '$1:"$2"'),
  );
}

/** `-123456` cents → `-$1,234.56`, as en-US writes US dollars. */
function dollars(cents: string): string {
  const negative = cents.startsWith('-');
  const digits = (negative ? cents.slice(1) : cents).padStart(3, '0');
  const whole = digits.slice(0, -2).replace(/^0+(?=\d)/, '');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative ? '-' : ''}$${grouped}.${digits.slice(-2)}`;
}

async function api<T>(pathAndQuery: string, headers: Record<string, string> = {}, on = server): Promise<T> {
  const response = await on.get(pathAndQuery, headers);
  if (response.status !== 200) throw new Error(`${pathAndQuery}: ${response.status} ${response.body}`);
  return exactJson(response.body) as T;
}

/** Every row of a user's walk, through v2's cursors. */
async function allRows(
  user: string,
  query: string,
  headers: Record<string, string> = {},
  on = server,
): Promise<V2Row[]> {
  const rows: V2Row[] = [];
  let next = `/api/v2/users/${user}/transactions?limit=1000${query}`;
  for (;;) {
    const page = await api<{ data: V2Row[]; next_cursor: string | null }>(next, headers, on);
    rows.push(...page.data);
    if (page.next_cursor === null) return rows;
    next = `/api/v2/users/${user}/transactions?limit=1000&cursor=${page.next_cursor}`;
  }
}

/** A row as the explorer's table must show it. */
function expectedCells(row: V2Row): string[] {
  const [, day, time] = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})\.\d{6}Z$/.exec(row.datetime) ?? [];
  const description = merchantCategoryDescription(row.merchant_type_code);
  return [
    `${day} ${time}`,
    row.transaction_type === 'PurchaseActivity' ? 'Purchase' : 'Return',
    description ? `${row.merchant_type_code} ${description}` : String(row.merchant_type_code),
    dollars(row.amount_cents),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Reading the page.

async function tableRows(page: Page, table: string): Promise<string[][]> {
  return page.$$eval(`${table} tbody tr`, (rows) =>
    rows.map((row) => [...(row as HTMLTableRowElement).cells].map((cell) => cell.textContent?.trim() ?? '')),
  );
}

/** Wait until the view's status line says a lookup finished (not "Loading…", not empty). */
async function settled(page: Page, view: '#user-view' | '#merchant-view'): Promise<string> {
  await page.waitForFunction((selector) => {
    const section = document.querySelector(selector);
    const status = section?.querySelector('.status')?.textContent ?? '';
    const problem = section?.querySelector('.problem:not([hidden])')?.textContent ?? '';
    return problem !== '' || (status !== '' && !status.startsWith('Loading'));
  }, view);
  return (await page.locator(`${view} .status`).textContent()) ?? '';
}

async function lookUpUser(page: Page, user: string): Promise<string> {
  await page.locator('#user-form input[name="user"]').fill(user);
  await page.locator('#user-form input[name="user"]').press('Enter');
  return settled(page, '#user-view');
}

async function shoot(page: Page, name: string): Promise<void> {
  if (screenshots === null) return;
  fs.mkdirSync(screenshots, { recursive: true });
  // The viewport at CSS pixels: what a reader sees first, small enough for the docs.
  await page.screenshot({ path: path.join(screenshots, `${name}.png`), scale: 'css' });
}

const opened: WatchedPage[] = [];

async function open(
  hash = '',
  options: Parameters<typeof openWatchedPage>[2] = {},
  on = server,
): Promise<WatchedPage> {
  const watched = await openWatchedPage(browser, `http://127.0.0.1:${on.port}`, options);
  opened.push(watched);
  await watched.page.goto(`http://127.0.0.1:${on.port}/${hash}`);
  return watched;
}

/** Console errors, exceptions and foreign requests: none, but for the 401s a key prompt is made of. */
function expectClean(watch: PageWatch, allowed: RegExp | null = null): void {
  expect(watch.foreignRequests).toEqual([]);
  expect(watch.errors.filter((error) => allowed === null || !allowed.test(error))).toEqual([]);
}

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make('txlake-explorer-');
  lake = path.join(dir, 'lake');
  const first = path.join(dir, 'first.csv');
  const second = path.join(dir, 'second.csv');
  await runExpecting(['generate', '--rows', '20000', '--users', '150', '--seed', '3', '--out', first], 0);
  await runExpecting(['generate', '--rows', '3000', '--users', '150', '--seed', '4', '--out', second], 0);
  await runExpecting(['ingest', first, '--lake', lake], 0);
  await runExpecting(['ingest', second, '--lake', lake, '--mode', 'append'], 0);
  server = await startServer(lake);
  servers.push(server);
  origin = `http://127.0.0.1:${server.port}`;
  browser = await launchBrowser();

  // The heaviest user of the first file who also has rows in the second: paging and time travel show.
  const counts = new Map<string, number>();
  for (const line of fs.readFileSync(first, 'utf8').split('\n').slice(1)) {
    const user = line.split(',')[0];
    if (user) counts.set(user, (counts.get(user) ?? 0) + 1);
  }
  const later = new Set(
    fs
      .readFileSync(second, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.split(',')[0]),
  );
  heavyUser =
    [...counts]
      .filter(([user, count]) => later.has(user) && count > 160)
      .sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
  expect(heavyUser).not.toBe('');
  const codes = new Map<number, number>();
  for (const line of fs.readFileSync(first, 'utf8').split('\n').slice(1)) {
    const code = Number(line.split(',')[2]);
    if (code) codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  busyCode = [...codes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 0;
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((watched) => watched.context.close()));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((running) => running.stop()));
  temp.cleanup();
});

describe('the page itself', () => {
  it('is served at / with a strict Content-Security-Policy, no inline script or style, assets of this origin only', async () => {
    const response = await server.get('/');
    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(response.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(response.headers['x-frame-options']).toBe('DENY');
    // No inline script or style element, no style attribute, no event-handler attribute, no absolute URL.
    expect(response.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(response.body).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(response.body).not.toMatch(/(src|href)="(https?:)?\/\//);
    const assets = [...response.body.matchAll(/(?:src|href)="(\/explorer\/[^"]+)"/g)].map(
      (match) => match[1] ?? '',
    );
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const file = await server.get(asset, { 'accept-encoding': 'gzip' });
      expect(file.status, asset).toBe(200);
      expect(file.headers['content-encoding'], asset).toBe(asset.endsWith('.svg') ? 'gzip' : 'gzip');
      expect(file.headers['cache-control'], asset).toContain('immutable');
    }
  });

  it('shows the latest snapshot and works with no console error and no request to another host', async () => {
    const { page, watch } = await open();
    await expect.poll(() => page.locator('#answered-by').textContent()).toBe('Latest is snapshot #2');
    const options = await page.locator('#snapshot-select option').allTextContents();
    expect(options[0]).toBe('Latest (now #2)');
    expect(options.slice(1).map((text) => text.split(' · ')[0])).toEqual(['#2', '#1']);
    expect(options[1]).toMatch(/ingest \(append\) · 23,000 rows · current$/);
    expect(options[2]).toMatch(/ingest \(append\) · 20,000 rows$/);
    expect(watch.requests.every((request) => request.url.startsWith(origin))).toBe(true);
    expectClean(watch);
  });
});

describe('a server that cannot answer yet', () => {
  it('says so, keeps trying, and shows the answer once the server can give it', async () => {
    const damagedLake = path.join(temp.make('txlake-explorer-damaged-'), 'lake');
    fs.cpSync(lake, damagedLake, { recursive: true });
    const data = fs
      .readdirSync(damagedLake, { recursive: true, encoding: 'utf8' })
      .filter((name) => name.endsWith('.parquet') && !name.includes('_txlake'))
      .map((name) => path.join(damagedLake, name));
    const pristine = new Map(data.map((file) => [file, fs.readFileSync(file)]));
    for (const file of data) await flipBytes(file);
    const damaged = await startServer(damagedLake, { until: 'listening' });
    servers.push(damaged);
    const { page, watch } = await open(`#/users/${heavyUser}`, {}, damaged);
    const notice = page.locator('#notice');
    await expect
      .poll(() => notice.textContent(), { timeout: 10_000 })
      .toMatch(/^The server is not ready \(.+\); trying again in \d s…$/);
    for (const [file, bytes] of pristine) fs.writeFileSync(file, bytes); // restored from a backup
    await expect.poll(() => page.locator('#user-table tbody tr').count(), { timeout: 20_000 }).toBe(50);
    expect(await notice.isVisible()).toBe(false);
    expectClean(watch, /status of 503/);
  });
});

describe('a user', () => {
  it('shows a page of the user’s transactions exactly as v2 answers them, with ISO 18245 descriptions', async () => {
    const { page, watch } = await open();
    const status = await lookUpUser(page, heavyUser);
    expect(status).toBe(`Rows 1–50 of user ${heavyUser} (more on the next page).`);
    const expected = (await allRows(heavyUser, '')).slice(0, 50).map(expectedCells);
    expect(await tableRows(page, '#user-table')).toEqual(expected);
    expect(page.url()).toBe(`${origin}/#/users/${heavyUser}`);
    await expect
      .poll(() => page.locator('#answered-by').textContent())
      .toBe('Answered by snapshot #2 (latest)');
    await shoot(page, 'explorer-user');
    expectClean(watch);
  });

  it('pages forward through every row exactly once and back again', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}?limit=25`);
    await settled(page, '#user-view');
    const every = (await allRows(heavyUser, '')).map(expectedCells);
    expect(every.length).toBeGreaterThan(75);
    const seen: string[][] = [];
    const firstPage = await tableRows(page, '#user-table');
    for (let pageNumber = 1; ; pageNumber++) {
      expect(await page.locator('#page-label').textContent()).toBe(`Page ${pageNumber}`);
      seen.push(...(await tableRows(page, '#user-table')));
      if (await page.locator('#next-page').isDisabled()) break;
      await page.locator('#next-page').click();
      await page.waitForFunction(
        (n) => document.querySelector('#page-label')?.textContent === `Page ${n}`,
        pageNumber + 1,
      );
      await settled(page, '#user-view');
    }
    expect(seen).toEqual(every);
    const pages = Math.ceil(every.length / 25);
    expect(await page.locator('#user-view .status').textContent()).toBe(
      `Rows ${(pages - 1) * 25 + 1}–${every.length} of user ${heavyUser}.`,
    );
    for (let pageNumber = pages - 1; pageNumber >= 1; pageNumber--) {
      await page.locator('#previous-page').click();
      await page.waitForFunction(
        (n) => document.querySelector('#page-label')?.textContent === `Page ${n}`,
        pageNumber,
      );
    }
    await settled(page, '#user-view');
    expect(await tableRows(page, '#user-table')).toEqual(firstPage);
    expect(await page.locator('#previous-page').isDisabled()).toBe(true);
    expectClean(watch);
  });

  it('filters by dates, type and merchant code, keeps them in the URL, and says when nothing matches', async () => {
    const { page, watch } = await open();
    await page.locator('#user-form input[name="user"]').fill(heavyUser);
    await page.locator('#user-form input[name="from"]').fill('2023-02-01');
    await page.locator('#user-form input[name="to"]').fill('2023-05-01');
    await page.locator('#user-form select[name="type"]').selectOption('PurchaseActivity');
    await page.locator('#user-form select[name="limit"]').selectOption('500');
    await page.locator('#user-form button[type="submit"]').click();
    await settled(page, '#user-view');
    const filtered = await allRows(heavyUser, '&from=2023-02-01&to=2023-05-01&type=PurchaseActivity');
    expect(filtered.length).toBeGreaterThan(0);
    expect(await tableRows(page, '#user-table')).toEqual(filtered.slice(0, 500).map(expectedCells));
    expect(filtered.every((row) => row.transaction_type === 'PurchaseActivity')).toBe(true);
    expect(new URL(page.url()).hash).toBe(
      `#/users/${heavyUser}?from=2023-02-01&to=2023-05-01&type=PurchaseActivity&limit=500`,
    );

    // The URL alone brings the same answer back (a bookmark, a shared link, a reload).
    await page.reload();
    await settled(page, '#user-view');
    expect(await tableRows(page, '#user-table')).toEqual(filtered.slice(0, 500).map(expectedCells));
    expect(await page.locator('#user-form input[name="from"]').inputValue()).toBe('2023-02-01');

    const code = filtered[0]?.merchant_type_code ?? 0;
    await page.locator('#user-form input[name="merchant"]').fill(String(code));
    await page.locator('#user-form input[name="merchant"]').press('Enter');
    const byCode = await allRows(
      heavyUser,
      `&from=2023-02-01&to=2023-05-01&type=PurchaseActivity&merchant_type_code=${code}`,
    );
    // The page answers in place (the fragment changes, the document stays): wait for the new rows.
    await expect.poll(() => tableRows(page, '#user-table')).toEqual(byCode.map(expectedCells));

    const status = page.locator('#user-view .status');
    await page.goto(`${origin}/#/users/${heavyUser}?from=2031-01-01`);
    await expect
      .poll(() => status.textContent())
      .toBe(`User ${heavyUser} has no transactions that match these filters in snapshot #2.`);
    expect(await page.locator('#user-table').isVisible()).toBe(false);
    await page.goto(`${origin}/#/users/999999999`);
    await expect.poll(() => status.textContent()).toBe('User 999999999 has no transactions in snapshot #2.');
    expectClean(watch);
  });

  it('refuses a user id or code that is not digits, in words, without asking the server', async () => {
    const { page, watch } = await open('#/users/%3Cscript%3Ealert(1)%3C%2Fscript%3E');
    const problem = page.locator('#user-view .problem');
    await expect.poll(() => problem.textContent()).toBe('A user id is digits only.');
    await page.goto(`${origin}/#/merchant-types/%E0%A4%A`);
    await expect
      .poll(() => page.locator('#merchant-view .problem').textContent())
      .toBe('A merchant code is digits only.');
    expect(watch.requests.some((request) => /\/api\/v2\/(users|merchant-types)\//.test(request.url))).toBe(
      false,
    );
    expect(await page.locator('script').count()).toBe(1); // the page's own, nothing injected
    for (const hash of ['#/USERS/1613', '#/5732', '#/users/1613/extra']) {
      await page.goto(`${origin}/${hash}`);
      await expect
        .poll(() => page.locator('#notice').textContent(), { message: hash })
        .toBe('This address names no view of the explorer; here is the user lookup.');
      expect(await page.locator('#user-form input[name="user"]').inputValue(), hash).toBe('');
    }
    await page.goto(`${origin}/#/users/${heavyUser}`);
    await expect.poll(() => page.locator('#notice').isVisible()).toBe(false);
    expectClean(watch);
  });

  it('shows the API’s problem for a bad filter, next to the form', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}?from=2023-13-45`);
    await settled(page, '#user-view');
    const problem = page.locator('#user-view .problem');
    await expect.poll(() => problem.isVisible()).toBe(true);
    expect(await problem.textContent()).toMatch(/from/);
    expect(await page.locator('#user-table').isVisible()).toBe(false);
    // The 400 itself is the one console line Chromium writes for a failed fetch.
    expectClean(watch, /status of 400/);
  });

  it('links to the export of the user’s data, which downloads every row', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}`);
    await settled(page, '#user-view');
    expect(await page.locator('#export-csv').getAttribute('href')).toBe(
      `/api/v2/users/${heavyUser}/export?format=csv`,
    );
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#export-csv').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`txlake-user-${heavyUser}-snapshot-2.csv`);
    const saved = fs.readFileSync(await download.path(), 'utf8');
    expect(saved).toBe((await server.get(`/api/v2/users/${heavyUser}/export?format=csv`)).body);
    expect(saved.trim().split('\n')).toHaveLength((await allRows(heavyUser, '')).length + 1);
    expectClean(watch);
  });

  it('opens a merchant category from a code in the user’s table', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}`);
    await settled(page, '#user-view');
    const link = page.locator('#user-table tbody tr').first().locator('a');
    const code = (await link.textContent()) ?? '';
    await link.click();
    await settled(page, '#merchant-view');
    expect(new URL(page.url()).hash).toBe(`#/merchant-types/${code}`);
    expect(await page.locator('#merchant-heading').textContent()).toBe(
      `${code} · ${merchantCategoryDescription(Number(code))}`,
    );
    expectClean(watch);
  });
});

describe('a merchant category', () => {
  interface Day {
    date: string;
    purchases_cents: string;
    returns_cents: string;
    net_cents: string;
    purchases: string;
    returns: string;
  }

  const expectedDay = (day: Day) => [
    day.date,
    dollars(day.purchases_cents),
    day.purchases,
    dollars(day.returns_cents),
    day.returns,
    dollars(day.net_cents),
  ];

  /** How many pixels of the chart's canvas are drawn (not transparent). */
  const drawnPixels = (page: Page) =>
    page.$eval('.chart-canvas canvas', (canvas) => {
      const context = (canvas as HTMLCanvasElement).getContext('2d');
      if (!context) return 0;
      const { data } = context.getImageData(
        0,
        0,
        (canvas as HTMLCanvasElement).width,
        (canvas as HTMLCanvasElement).height,
      );
      let drawn = 0;
      for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) drawn++;
      return drawn;
    });

  it('draws one point per day the API answers, and the table has every day exactly', async () => {
    const { page, watch } = await open('#/merchant-types');
    await page.locator('#merchant-form input[name="code"]').fill(String(busyCode));
    await page.locator('#merchant-form input[name="code"]').press('Enter');
    await settled(page, '#merchant-view');
    const answer = await api<{ data: Day[] }>(`/api/v2/merchant-types/${busyCode}/daily-net`);
    expect(answer.data.length).toBeGreaterThan(30);
    await expect
      .poll(() => page.locator('.chart-canvas').getAttribute('data-days'))
      .toBe(String(answer.data.length));
    expect(await drawnPixels(page)).toBeGreaterThan(1000);
    expect(await tableRows(page, '#merchant-table')).toEqual(answer.data.map(expectedDay));
    const sum = (pick: (day: Day) => string) =>
      answer.data.reduce((total, day) => total + BigInt(pick(day)), 0n);
    const footer = await page.$$eval('#merchant-table tfoot td', (cells) =>
      cells.map((cell) => cell.textContent),
    );
    expect(footer).toEqual([
      dollars(String(sum((day) => day.purchases_cents))),
      String(sum((day) => day.purchases)).replace(/\B(?=(\d{3})+(?!\d))/g, ','),
      dollars(String(sum((day) => day.returns_cents))),
      String(sum((day) => day.returns)).replace(/\B(?=(\d{3})+(?!\d))/g, ','),
      dollars(String(sum((day) => day.net_cents))),
    ]);
    expect(await page.locator('.chart-canvas').getAttribute('role')).toBe('img');
    expect(await page.locator('.chart-canvas').getAttribute('aria-label')).toContain(
      `${answer.data.length} days`,
    );
    await shoot(page, 'explorer-merchant');

    // The legend under the pointer gives that day's exact amounts, as the table does.
    const over = await page.locator('.chart-canvas .u-over').boundingBox();
    await page.mouse.move((over?.x ?? 0) + (over?.width ?? 0) / 2, (over?.y ?? 0) + (over?.height ?? 0) / 2);
    const legend = await page.$$eval('.chart-canvas .u-legend .u-value', (cells) =>
      cells.map((cell) => cell.textContent),
    );
    const day = answer.data.find((entry) => entry.date === legend[0]);
    expect(day, `legend ${JSON.stringify(legend)}`).toBeDefined();
    const negated = (cents: string) => (cents === '0' ? '0' : `-${cents}`);
    expect(legend.slice(1)).toEqual([
      dollars(day?.purchases_cents ?? ''),
      dollars(negated(day?.returns_cents ?? '')),
      dollars(day?.net_cents ?? ''),
    ]);

    // A date range: fewer days, drawn again.
    await page.locator('#merchant-form input[name="from"]').fill('2023-03-01');
    await page.locator('#merchant-form input[name="to"]').fill('2023-03-15');
    await page.locator('#merchant-form button[type="submit"]').click();
    await page.waitForFunction(() => document.querySelector('#merchant-table tbody')?.children.length === 14);
    const march = await api<{ data: Day[] }>(
      `/api/v2/merchant-types/${busyCode}/daily-net?from=2023-03-01&to=2023-03-15`,
    );
    expect(march.data).toHaveLength(14);
    await expect.poll(() => page.locator('.chart-canvas').getAttribute('data-days')).toBe('14');
    expect(await tableRows(page, '#merchant-table')).toEqual(march.data.map(expectedDay));
    expectClean(watch);
  });

  it('says so when a code has no transactions', async () => {
    const { page, watch } = await open('#/merchant-types/1');
    expect(await settled(page, '#merchant-view')).toBe(
      'Merchant category 1 has no transactions on these days in snapshot #2.',
    );
    expect(await page.locator('.chart-canvas').getAttribute('data-days')).toBeNull();
    expectClean(watch);
  });
});

describe('time travel', () => {
  it('answers every view as of the snapshot chosen, and says which snapshot answered', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}?limit=500`);
    await settled(page, '#user-view');
    const latest = await allRows(heavyUser, '');
    const before = await allRows(heavyUser, '&snapshot=1');
    expect(latest.length).toBeGreaterThan(before.length);
    expect(await tableRows(page, '#user-table')).toEqual(latest.slice(0, 500).map(expectedCells));

    await page.locator('#snapshot-select').selectOption('1');
    await page.waitForFunction(() => document.querySelector('#answered-by')?.textContent?.includes('#1'));
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by snapshot #1 (time travel)');
    expect(new URL(page.url()).hash).toBe(`#/users/${heavyUser}?limit=500&snapshot=1`);
    expect(await tableRows(page, '#user-table')).toEqual(before.slice(0, 500).map(expectedCells));
    expect(await page.locator('#export-csv').getAttribute('href')).toBe(
      `/api/v2/users/${heavyUser}/export?format=csv&snapshot=1`,
    );
    await shoot(page, 'explorer-time-travel');
    // A merchant code in the table opens that category as of the same snapshot.
    expect(await page.locator('#user-table tbody a').first().getAttribute('href')).toMatch(
      /^#\/merchant-types\/\d+\?snapshot=1$/,
    );

    // The other view keeps the snapshot chosen.
    await page.locator('#nav-merchants').click();
    await page.locator('#merchant-form input[name="code"]').fill(String(busyCode));
    await page.locator('#merchant-form input[name="code"]').press('Enter');
    await settled(page, '#merchant-view');
    const old = await api<{ data: unknown[] }>(`/api/v2/merchant-types/${busyCode}/daily-net?snapshot=1`);
    expect(await page.locator('#merchant-table tbody tr').count()).toBe(old.data.length);
    expect(new URL(page.url()).hash).toBe(`#/merchant-types/${busyCode}?snapshot=1`);
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by snapshot #1 (time travel)');

    await page.locator('#snapshot-select').selectOption('');
    await page.waitForFunction(() => document.querySelector('#answered-by')?.textContent?.includes('latest'));
    expect(new URL(page.url()).hash).toBe(`#/merchant-types/${busyCode}`);
    expectClean(watch);
  });

  it('says "latest" only for the latest, and reads a snapshot id as the API does', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}?snapshot=`);
    await settled(page, '#user-view');
    await expect
      .poll(() => page.locator('#answered-by').textContent())
      .toBe('Answered by snapshot #2 (latest)');
    await page.goto(`${origin}/#/users/${heavyUser}?snapshot=01`);
    await expect
      .poll(() => page.locator('#answered-by').textContent())
      .toBe('Answered by snapshot #1 (time travel)');
    expect(await page.locator('#snapshot-select').inputValue()).toBe('1');
    expect(await page.locator('#snapshot-select option', { hasText: 'not retained' }).count()).toBe(0);
    expectClean(watch);
  });

  it('lets only the view on screen say which snapshot answered (a late answer of the view left is not)', async () => {
    const { page, watch } = await open();
    await page.locator('#answered-by').filter({ hasText: 'Latest' }).waitFor();
    // The user's answer (pinned to #1) is held back until the merchant view has answered from the latest.
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route('**/api/v2/users/**', async (route) => {
      await held;
      await route.continue();
    });
    await page.goto(`${origin}/#/users/${heavyUser}?snapshot=1`);
    await page.goto(`${origin}/#/merchant-types/${busyCode}`);
    await settled(page, '#merchant-view');
    await expect
      .poll(() => page.locator('#answered-by').textContent())
      .toBe('Answered by snapshot #2 (latest)');
    const late = page.waitForResponse((response) => response.url().includes('/api/v2/users/'));
    release();
    await late;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await page.locator('#answered-by').textContent()).toBe('Answered by snapshot #2 (latest)');
    expectClean(watch);
  });

  it('names a snapshot that is not retained and shows the server’s 404', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}?snapshot=99`);
    await settled(page, '#user-view');
    expect(await page.locator('#user-view .problem').textContent()).toMatch(/snapshot 99/);
    await expect.poll(() => page.locator('#snapshot-select').inputValue()).toBe('99');
    expect(await page.locator('#snapshot-select option:checked').textContent()).toBe('#99 (not retained)');
    await page.locator('#user-form button[type="submit"]').click(); // the same lookup again
    await settled(page, '#user-view');
    expect(await page.locator('#snapshot-select option', { hasText: 'not retained' }).count()).toBe(1);
    expectClean(watch, /status of 404/);
  });
});

describe('keyboard and small screens', () => {
  it('reaches every control with Tab, and Enter submits', async () => {
    const { page, watch } = await open();
    await page.locator('#answered-by').filter({ hasText: 'Latest' }).waitFor();
    // Each field once, in order (a date field is three Tab stops in Chromium: month, day, year).
    const reached: string[] = [];
    for (let step = 0; step < 24 && reached.at(-1) !== 'Look up'; step++) {
      await page.keyboard.press('Tab');
      const name = await page.evaluate(() => {
        const element = document.activeElement as HTMLElement | null;
        if (!element) return '';
        return element.id || (element.getAttribute('name') ?? element.textContent?.trim() ?? element.tagName);
      });
      if (reached.at(-1) !== name) reached.push(name);
    }
    expect(reached).toEqual([
      'nav-users',
      'nav-merchants',
      'snapshot-select',
      'user',
      'from',
      'to',
      'type',
      'merchant',
      'limit',
      'Look up',
    ]);
    // Back to the user id with Shift+Tab, type, and Enter.
    for (
      let step = 0;
      step < 20 && (await page.evaluate(() => document.activeElement?.getAttribute('name'))) !== 'user';
      step++
    ) {
      await page.keyboard.press('Shift+Tab');
    }
    await page.keyboard.type(heavyUser);
    await page.keyboard.press('Enter');
    await settled(page, '#user-view');
    expect(await page.locator('#user-table tbody tr').count()).toBe(50);
    // On through the pages with the keyboard: the pager comes before the table's links (a few Tabs from
    // the form), and focus stays on Next, so Enter after Enter walks page after page.
    let tabs = 0;
    for (; tabs < 16 && (await page.evaluate(() => document.activeElement?.id)) !== 'next-page'; tabs++) {
      await page.keyboard.press('Tab');
    }
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('next-page');
    for (const pageNumber of [2, 3]) {
      await page.keyboard.press('Enter');
      await page.waitForFunction(
        (n) => document.querySelector('#page-label')?.textContent === `Page ${n}`,
        pageNumber,
      );
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('next-page');
    }
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter'); // Previous
    await page.waitForFunction(() => document.querySelector('#page-label')?.textContent === 'Page 2');
    // The merchant view, by keyboard: its link, its form, Enter.
    await page.locator('#nav-merchants').focus();
    await page.keyboard.press('Enter');
    await page.locator('#merchant-form').waitFor();
    await page.locator('#merchant-form input[name="code"]').focus();
    await page.keyboard.type(String(busyCode));
    await page.keyboard.press('Enter');
    await settled(page, '#merchant-view');
    expect(Number(await page.locator('.chart-canvas').getAttribute('data-days'))).toBeGreaterThan(0);
    expectClean(watch);
  });

  it('fits a phone-sized screen: no sideways scrolling of the page, every control visible', async () => {
    const { page, watch } = await open(`#/users/${heavyUser}`, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    await settled(page, '#user-view');
    const width = () => page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    let [scrollWidth, innerWidth] = await width();
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth ?? 0);
    for (const selector of [
      '#snapshot-select',
      '#user-form input[name="user"]',
      '#user-form button',
      '#next-page',
    ]) {
      const box = await page.locator(selector).boundingBox();
      expect(box, selector).not.toBeNull();
      expect((box?.x ?? -1) + (box?.width ?? 0), selector).toBeLessThanOrEqual(390);
      expect(box?.x ?? -1, selector).toBeGreaterThanOrEqual(0);
    }
    // Each transaction's amount is on screen, not cut off to the right.
    const amount = await page.locator('#user-table tbody tr').first().locator('td').nth(3).boundingBox();
    expect((amount?.x ?? 999) + (amount?.width ?? 0)).toBeLessThanOrEqual(390);
    await shoot(page, 'explorer-phone');

    await page.goto(`${origin}/#/merchant-types/${busyCode}`);
    await settled(page, '#merchant-view');
    [scrollWidth, innerWidth] = await width();
    expect(scrollWidth).toBeLessThanOrEqual(innerWidth ?? 0);
    const chart = await page.locator('.chart-canvas canvas').boundingBox();
    expect((chart?.x ?? 999) + (chart?.width ?? 0)).toBeLessThanOrEqual(390);
    expectClean(watch);
  });
});

describe('a server that needs an API key', () => {
  let keyed: RunningServer;
  let key = '';

  let keyedLake = '';

  beforeAll(async () => {
    const keyLake = path.join(temp.make('txlake-explorer-keys-'), 'lake');
    keyedLake = keyLake;
    fs.cpSync(lake, keyLake, { recursive: true });
    key = (await runExpecting(['keys', 'create', 'support', '--lake', keyLake], 0)).stdout.trim();
    keyed = await startServer(keyLake);
    servers.push(keyed);
  });

  /** Chromium's console line for each refused fetch is expected here; nothing else is. */
  const REFUSED = /status of 401/;

  it('asks for a key, refuses a wrong one, keeps the right one for the tab only and sends it on every request', async () => {
    const { page, watch, context } = await open(`#/users/${heavyUser}`, {}, keyed);
    const dialog = page.locator('#key-dialog');
    await dialog.waitFor({ state: 'visible' });
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('key');
    await shoot(page, 'explorer-key-prompt');

    // Not a key at all (a header cannot carry it): said at once, nothing sent.
    const sent = watch.requests.length;
    await page.keyboard.type('ключ');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#key-message').textContent()).toMatch(/letters, digits/);
    expect(watch.requests.length).toBe(sent);
    expect(await dialog.isVisible()).toBe(true);

    await page.locator('#key-dialog input[name="key"]').fill('txl_not-a-key');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('#key-message').textContent()).toMatch(/refused/);
    expect(await dialog.isVisible()).toBe(true);

    await page.locator('#key-dialog input[name="key"]').fill(key);
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await settled(page, '#user-view');
    const expected = (await allRows(heavyUser, '', { authorization: `Bearer ${key}` }, keyed)).slice(0, 50);
    expect(await tableRows(page, '#user-table')).toEqual(expected.map(expectedCells));
    expect(await page.locator('#forget-key').isVisible()).toBe(true);

    // Only in the tab's session: not in local storage, a cookie or any URL; on every API request.
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([key]);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(await context.cookies()).toEqual([]);
    expect(page.url()).not.toContain(key);
    const apiRequests = watch.requests.filter((request) => new URL(request.url).pathname.startsWith('/api/'));
    expect(watch.requests.some((request) => request.url.includes(key))).toBe(false);
    const accepted = apiRequests.filter((request) => request.headers.authorization === `Bearer ${key}`);
    expect(accepted.length).toBeGreaterThan(0);
    expect(
      apiRequests.every(
        (request) =>
          request.headers.authorization === undefined || request.headers.authorization.startsWith('Bearer '),
      ),
    ).toBe(true);

    // A reload keeps the tab's key: no prompt.
    await page.reload();
    await settled(page, '#user-view');
    expect(await dialog.isVisible()).toBe(false);
    expect(await page.locator('#user-table tbody tr').count()).toBe(50);

    // The export with a key: fetched with the key (a link cannot send it), saved under the server's name.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.locator('#export-ndjson').click(),
    ]);
    expect(download.suggestedFilename()).toBe(`txlake-user-${heavyUser}-snapshot-2.ndjson`);
    const saved = fs.readFileSync(await download.path(), 'utf8');
    expect(saved).toBe(
      (await keyed.get(`/api/v2/users/${heavyUser}/export?format=ndjson`, { authorization: `Bearer ${key}` }))
        .body,
    );

    // Forget: the key leaves the tab and the prompt comes back.
    await page.locator('#forget-key').click();
    await dialog.waitFor({ state: 'visible' });
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expectClean(watch, REFUSED);
  });

  it('asks again, saying so, when the key in use is revoked; Escape leaves no key behind', async () => {
    const keyLake = keyedLake;
    const temporary = (
      await runExpecting(['keys', 'create', 'temporary', '--lake', keyLake], 0)
    ).stdout.trim();
    const { page, watch } = await open(`#/users/${heavyUser}`, {}, keyed);
    await page.locator('#key-dialog').waitFor({ state: 'visible' });
    await page.locator('#key-dialog input[name="key"]').fill(temporary);
    await page.keyboard.press('Enter');
    await settled(page, '#user-view');
    expect(await page.locator('#forget-key').isVisible()).toBe(true);
    await runExpecting(['keys', 'revoke', 'temporary', '--lake', keyLake], 0);
    // Servers honour a revocation within 2 s; the next lookup is refused and the prompt says why.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await page.locator('#user-form button[type="submit"]').click();
    await page.locator('#key-dialog').waitFor({ state: 'visible' });
    expect(await page.locator('#key-message').textContent()).toMatch(/refused/);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('#forget-key').isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    expectClean(watch, REFUSED);
  });

  it('asks again in a new tab session, and Cancel leaves the API’s answer on the page', async () => {
    const { page, watch } = await open(`#/merchant-types/${busyCode}`, {}, keyed);
    const dialog = page.locator('#key-dialog');
    await dialog.waitFor({ state: 'visible' });
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await settled(page, '#merchant-view');
    expect(await page.locator('#merchant-view .problem').textContent()).toMatch(/API key/);
    expect(await page.locator('.chart-canvas').getAttribute('data-days')).toBeNull();
    expectClean(watch, REFUSED);
  });
});
