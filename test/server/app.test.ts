// The HTTP layer over a real embedded store and a real lake (Fastify's inject, no sockets): readiness,
// caching headers, following a new snapshot, and never a 500 for what a client can send.

import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import { answerFrom } from '../../src/backends/store.js';
import { ingest } from '../../src/etl/ingest.js';
import { buildApp } from '../../src/server/app.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let lake: string;
let store: EmbeddedStore;
let app: FastifyInstance;

async function ingestRows(name: string, rows: string[]) {
  const file = path.join(dir, name);
  await fs.writeFile(file, `${HEADER}\n${rows.join('\n')}\n`);
  return ingest({
    lake,
    files: [file],
    mode: 'append',
    maxRejectRate: 0,
    partitionBy: 'transaction_type',
    force: false,
  });
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-app-'));
  lake = path.join(dir, 'lake');
  store = await EmbeddedStore.open({ lake });
  app = await buildApp({ store, version: 'test' });
});

afterAll(async () => {
  await app.close();
  await store.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('before any snapshot', () => {
  it('is alive but not ready, and answers 503 with Retry-After', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok', snapshot: null });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    const answer = await app.inject('/api/v1/data/transactions/1');
    expect(answer.statusCode).toBe(503);
    expect(answer.headers['retry-after']).toBe('1');
    expect(answer.json()).toEqual({ error: 'no snapshot is loaded yet' });
  });

  it('still validates ids first', async () => {
    const answer = await app.inject('/api/v1/data/transactions/x1');
    expect(answer.statusCode).toBe(400);
  });
});

describe('with snapshots', () => {
  beforeAll(async () => {
    await ingestRows('first.csv', [
      '7,PurchaseActivity,5411,75050,2023-03-25T11:31:26.999',
      '7,ReturnActivity,5411,75150,2023-03-25T12:00:00',
    ]);
    expect(await store.refresh()).toBe(true);
  });

  it('is ready and answers from the snapshot, saying which', async () => {
    expect((await app.inject('/readyz')).json()).toEqual({
      status: 'ready',
      snapshot: 1,
      rows: 2,
      user_lookup: 'memory',
    });
    const answer = await app.inject('/api/v1/data/transactions/7');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['x-txlake-snapshot']).toBe('1');
    expect(answer.body).toBe(
      '[{"user_id":7,"amount_in_dollars":750,"datetime":"2023-03-25T11:31:26+00:00","merchant_type_code":5411},' +
        '{"user_id":7,"amount_in_dollars":752,"datetime":"2023-03-25T12:00:00+00:00","merchant_type_code":5411}]',
    );
    const net = await app.inject('/api/v1/data/netAmount/5411');
    expect(net.body).toBe('[{"merchant_type_code":5411,"net_amount_in_dollars":-1,"date":"2023-03-25"}]');
  });

  it('gives an ETag of the snapshot and answers 304 to a current copy', async () => {
    const first = await app.inject('/api/v1/data/netAmount/5411');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"txlake-1-[0-9a-z]+"$/);
    expect(first.headers['cache-control']).toBe('private, no-cache');
    for (const header of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
      const again = await app.inject({
        url: '/api/v1/data/netAmount/5411',
        headers: { 'if-none-match': header },
      });
      expect(again.statusCode, header).toBe(304);
      expect(again.body).toBe('');
    }
    const stale = await app.inject({
      url: '/api/v1/data/netAmount/5411',
      headers: { 'if-none-match': '"txlake-0-x"' },
    });
    expect(stale.statusCode).toBe(200);
  });

  it('follows a new snapshot: new rows appear, the ETag changes', async () => {
    const before = (await app.inject('/api/v1/data/transactions/7')).headers.etag as string;
    await ingestRows('second.csv', ['7,PurchaseActivity,5411,100,2023-03-26T00:00:00Z']);
    expect(await store.refresh()).toBe(true);
    expect(await store.refresh()).toBe(false); // nothing new the second time
    const answer = await app.inject('/api/v1/data/transactions/7');
    expect(answer.json()).toHaveLength(3);
    expect(answer.headers.etag).toMatch(/^"txlake-2-/);
    const old = await app.inject({
      url: '/api/v1/data/transactions/7',
      headers: { 'if-none-match': before },
    });
    expect(old.statusCode).toBe(200);
  });

  it.each([
    [`/api/v1/data/transactions/${'9'.repeat(300)}`, 200, '[]'],
    [`/api/v1/data/netAmount/${'0'.repeat(200)}5411`, 200, null],
    [`/api/v1/data/transactions/${'x'.repeat(300)}`, 400, '{"error":"userId must be an integer"}'],
    ['/api/v1/data/transactions/%zz', 400, '{"error":"userId must be an integer"}'],
    ['/api/v1/data/transactions/%E0%A4', 400, '{"error":"userId must be an integer"}'],
    ['/api/v1/data/netAmount/%zz', 400, '{"error":"merchantTypeCode must be an integer"}'],
  ])('long or undecodable ids answer in v1 words: %s', async (url, status, body) => {
    const answer = await app.inject(url as string);
    expect(answer.statusCode).toBe(status);
    if (body !== null) expect(answer.body).toBe(body);
    else expect(answer.json().length).toBeGreaterThan(0);
  });

  // Ids longer than the router's old 4,096-character parameter limit answered 400 "must be an integer".
  it.each([4_097, 8_000])(
    'an id of %i digits beyond the range answers 200 [] on both routes',
    async (length) => {
      for (const url of [
        `/api/v1/data/transactions/${'9'.repeat(length)}`,
        `/api/v1/data/netAmount/${'9'.repeat(length)}`,
      ]) {
        const answer = await app.inject(url);
        expect(`${answer.statusCode} ${answer.body}`, `${length} digits`).toBe('200 []');
      }
    },
  );

  it.each([4_097, 8_000])('an id of %i characters not all digits answers v1 400', async (length) => {
    const id = `${'9'.repeat(length - 1)}x`;
    const user = await app.inject(`/api/v1/data/transactions/${id}`);
    expect(`${user.statusCode} ${user.body}`).toBe('400 {"error":"userId must be an integer"}');
    const code = await app.inject(`/api/v1/data/netAmount/${id}`);
    expect(`${code.statusCode} ${code.body}`).toBe('400 {"error":"merchantTypeCode must be an integer"}');
  });

  // SPEC §5: a URL over 8 KiB is 414, whatever it holds (test/e2e/limits.test.ts asks over sockets).
  it.each([
    15_000,
    http.maxHeaderSize + 1, // longer than any request line Node takes over a socket; only `inject` can send it
  ])('an id of %i digits answers 414 (the URL is over 8 KiB)', async (length) => {
    const body = '{"error":"the URL is longer than 8192 bytes"}';
    for (const id of ['9'.repeat(length), `${'9'.repeat(length - 1)}x`]) {
      const user = await app.inject(`/api/v1/data/transactions/${id}`);
      expect(`${user.statusCode} ${user.body}`).toBe(`414 ${body}`);
      const code = await app.inject(`/api/v1/data/netAmount/${id}`);
      expect(`${code.statusCode} ${code.body}`).toBe(`414 ${body}`);
    }
  });

  it('an id in range after 5,000 leading zeros is that id', async () => {
    const zeros = '0'.repeat(5_000);
    const user = await app.inject(`/api/v1/data/transactions/${zeros}7`);
    expect(user.statusCode).toBe(200);
    expect(user.body).toBe((await app.inject('/api/v1/data/transactions/7')).body);
    expect(user.json().length).toBeGreaterThan(0);
    const code = await app.inject(`/api/v1/data/netAmount/${zeros}5411`);
    expect(code.statusCode).toBe(200);
    expect(code.body).toBe((await app.inject('/api/v1/data/netAmount/5411')).body);
  });

  it.each([
    '/api/v1/data/transactions/%ZZ',
    '/api/v1/data/transactions/%00',
    `/api/v1/data/transactions/${'9'.repeat(5000)}`,
    '/api/v1/data/netAmount/%E2%82%AC',
    '/api/v1/data/netAmount/00000000000000000005411',
    '/api/v1/data/transactions/7?x=%ZZ',
    '/api/v1/data/transactions/7/extra',
    '/%2e%2e/%2e%2e/etc/passwd',
  ])('never answers 5xx: %s', async (url) => {
    const answer = await app.inject(url);
    expect(answer.statusCode).toBeLessThan(500);
    expect(() => JSON.parse(answer.body)).not.toThrow();
  });
});

/** light-my-request sends any method Node knows; its type names only the seven common ones. */
function request(method: string, url: string): InjectOptions {
  return { method, url } as InjectOptions;
}

// The old Flask service answered a method a route lacks with 405 and `Allow` (and OPTIONS with 200), not 404.
describe('methods other than GET', () => {
  const ROUTES = [
    '/api/v1/data/transactions/7',
    `/api/v1/data/transactions/${'9'.repeat(300)}`,
    '/api/v1/data/netAmount/5411',
    '/healthz',
    '/readyz',
    '/metrics',
    '/openapi.json',
    '/docs',
    '/docs/',
    '/docs/json',
    '/docs/static/index.html',
  ];
  const REFUSED = ['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND', 'MKCOL', 'LOCK', 'SEARCH'] as const;

  const cases = ROUTES.map((url) => ({
    url,
    name: url.length > 48 ? `${url.slice(0, 40)}… (${url.length})` : url,
  }));

  it.each(cases)('$name answers other methods 405 with Allow and a v1 error body', async ({ url }) => {
    for (const method of REFUSED) {
      const answer = await app.inject(request(method, url));
      expect(answer.statusCode, `${method} ${url}: ${answer.body}`).toBe(405);
      expect(answer.headers.allow, method).toBe('GET, HEAD, OPTIONS');
      expect(answer.headers['content-type'], method).toMatch(/^application\/json/);
      expect(answer.json(), method).toEqual({ error: `method ${method} is not allowed on ${url}; use GET` });
      expect(answer.headers['x-request-id'], method).toBeTruthy();
    }
  });

  it.each(cases)('$name answers OPTIONS 200 with Allow and no body', async ({ url }) => {
    const answer = await app.inject({ method: 'OPTIONS', url });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers.allow).toBe('GET, HEAD, OPTIONS');
    expect(answer.body).toBe('');
  });

  it('answers 405 before reading a body: a form post, broken JSON, a huge body', async () => {
    const url = '/api/v1/data/transactions/7';
    const bodies = [
      { 'content-type': 'application/x-www-form-urlencoded', payload: 'a=1' }, // what `curl -d` sends
      { 'content-type': 'application/json', payload: '{not json' },
      { 'content-type': 'text/plain', payload: 'x'.repeat(2 * 1024 * 1024) }, // beyond the 1 MiB body limit
      { 'content-type': 'no/such;;type', payload: 'x' },
    ];
    for (const { payload, ...headers } of bodies) {
      const answer = await app.inject({ method: 'POST', url, headers, payload });
      expect(answer.statusCode, `${headers['content-type']}: ${answer.body}`).toBe(405);
    }
    const query = await app.inject(request('QUERY', url)); // Fastify wants a body type for QUERY
    expect(query.statusCode, query.body).toBe(405);
  });

  it('still answers GET and HEAD as before', async () => {
    expect((await app.inject('/api/v1/data/transactions/7')).statusCode).toBe(200);
    const head = await app.inject({ method: 'HEAD', url: '/api/v1/data/netAmount/5411' });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });

  it.each([
    '/nope',
    '/api/v1/data/transactions/',
    '/api/v1/data/netAmount/',
    '/api/v1/data/transactions/7/extra',
    '/api/v1/data/other/5',
    '/api/v9/data/transactions/5',
  ])('an unknown path (%s) stays 404 with every method', async (url) => {
    for (const method of ['GET', 'HEAD', 'OPTIONS', ...REFUSED] as const) {
      const answer = await app.inject(request(method, url));
      expect(answer.statusCode, `${method} ${url}: ${answer.body}`).toBe(404);
      if (method !== 'HEAD')
        expect(answer.json(), method).toEqual({ error: `no route for ${method} ${url}` });
    }
  });

  it('keeps the 405 routes out of the OpenAPI document', async () => {
    const doc = (await app.inject('/openapi.json')).json() as { paths: Record<string, object> };
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/api/v1/data/netAmount/{merchantTypeCode}',
      '/api/v1/data/transactions/{userId}',
      '/api/v2/merchant-types/{code}/daily-net',
      '/api/v2/snapshots',
      '/api/v2/users/{userId}/export',
      '/api/v2/users/{userId}/transactions',
      '/healthz',
      '/metrics',
      '/readyz',
    ]);
    for (const [path, item] of Object.entries(doc.paths)) expect(Object.keys(item), path).toEqual(['get']);
  });
});

describe('a request on a snapshot whose files were just vacuumed (Parquet lookups)', () => {
  it('is answered wholly from the snapshot that replaced it, not failed', async () => {
    const { vacuum } = await import('../../src/lake/vacuum.js');
    const { LakeLayout } = await import('../../src/lake/layout.js');
    // An in-memory index never reads the files again; lookups that query Parquet do.
    const store = await EmbeddedStore.open({ lake, userLookup: 'parquet' });
    onTestFinished(() => store.close());
    await store.refresh();
    const old = store.current();
    expect(old).not.toBeNull();
    const file = path.join(dir, 'replacement.csv');
    await fs.writeFile(file, `${HEADER}\n7,PurchaseActivity,5411,999900,2023-05-01T00:00:00\n`);
    await ingest({
      lake,
      files: [file],
      mode: 'replace',
      maxRejectRate: 0,
      partitionBy: 'transaction_type',
      force: false,
    });
    await vacuum(new LakeLayout(lake), 0); // the old snapshot's files are gone; the store has not looked yet
    if (old === null) throw new Error('no view');
    await expect(old.transactionsOfUser(7n)).rejects.toThrow(); // its files are gone
    const answer = await answerFrom(store, old, (view) => view.transactionsOfUser(7n));
    expect(answer.value.end - answer.value.start).toBe(1);
    expect(answer.value.amountCents[answer.value.start]).toBe(999_900n);
    expect(answer.view.id).not.toBe(old.id);
    expect(answer.view).toBe(store.current());
  });
});

describe('a snapshot whose data file is damaged', () => {
  it('is not served: the load fails and the last good snapshot stays', async () => {
    await store.refresh();
    const good = store.current();
    const file = path.join(dir, 'more.csv');
    await fs.writeFile(file, `${HEADER}\n8,PurchaseActivity,5411,100,2023-05-02T00:00:00\n`);
    await ingest({ lake, files: [file], mode: 'append', maxRejectRate: 0, force: false });
    const { readCurrentSnapshot } = await import('../../src/lake/lake-state.js');
    const { LakeLayout } = await import('../../src/lake/layout.js');
    const manifest = await readCurrentSnapshot(new LakeLayout(lake));
    const damaged = path.join(lake, manifest?.files.at(-1)?.path as string);
    await fs.truncate(damaged, 10);
    await expect(store.refresh()).rejects.toThrow(
      new RegExp(`^snapshot ${manifest?.id} is not served: its data file .* is 10 bytes, the manifest says`),
    );
    expect(store.current()).toBe(good);
    expect((await app.inject('/api/v1/data/transactions/7')).statusCode).toBe(200);
  });
});
