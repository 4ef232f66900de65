// The HTTP layer over a real embedded store and a real lake (Fastify's inject, no sockets): readiness,
// caching headers, following a new snapshot, and never a 500 for what a client can send.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
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
    expect(answer.value.dollars[answer.value.start]).toBe(9999);
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
