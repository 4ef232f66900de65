// The v2 contract, checked the way a client meets it: hundreds of real answers of a real lake (several
// snapshots, odd values at the edges of every type, time travel, a vacuum) each validated against the
// OpenAPI document the server publishes, and compared with an independent oracle of what they must say.

import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import { buildApp } from '../../src/server/app.js';
import { csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import {
  type Answer,
  OpenApiContract,
  type OpenApiDocument,
  type Operation,
  parseExactJson,
} from '../helpers/openapi-contract.js';
import { daysFromCivil, type OracleRow, oracleIngest, type V2Filter, V2Oracle } from '../helpers/oracle.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, ingest, runExpecting, TempDirs } from '../helpers/txlake.js';

const MAX = '9223372036854775807';
const P = 'PurchaseActivity';
const R = 'ReturnActivity';
const DELETED = 424242n;

function tx(user: string, type: string, code: number, cents: string, datetime: string): TxRow {
  return {
    user_id: user,
    transaction_type: type,
    merchant_type_code: String(code),
    amount_cents: cents,
    datetime,
  };
}

/** Values at the edges of every column: INT64 ids and amounts, years 0001 and 9999, sums past 2^64. */
const EDGES: TxRow[] = [
  tx(MAX, P, 9999, MAX, '0001-01-01T00:00:00'),
  tx(MAX, P, 9999, MAX, '0001-01-01T00:00:00.000001'),
  tx(MAX, P, 9999, MAX, '0001-01-01T23:59:59.999999Z'),
  tx(MAX, R, 9999, MAX, '9999-12-31T23:59:59.999999'),
  tx('9223372036854775806', R, 9999, MAX, '9999-12-31T12:00:00+00:00'),
  tx('9223372036854775806', R, 0, '9223372036854775806', '9999-12-31T00:00:00'),
  tx('0', P, 0, '0', '0001-01-01T00:00:00'),
];

const dirs = new TempDirs();
let lake: string;
let store: EmbeddedStore;
let app: FastifyInstance;
let contract: OpenApiContract;
let doc: OpenApiDocument;
/** The rows of each snapshot, as the oracle reads the files. */
const snapshots = new Map<number, OracleRow[]>();
/** First-page cursors taken on snapshot 2 while it was current, walked on after snapshot 3 is committed. */
const openWalks: { userId: bigint; cursor: string; firstRows: string[] }[] = [];

async function request(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const r = await app.inject({ method: method as InjectOptions['method'], url, headers });
  const answer: Answer = { method, url, status: r.statusCode, headers: r.headers, body: r.body };
  contract.check(answer);
  return answer;
}

/** The v2 oracle of one snapshot's rows. */
function oracleOf(snapshot: number): V2Oracle {
  return new V2Oracle(snapshots.get(snapshot) ?? []);
}

/** The JSON objects of a user's transactions in `snapshot` matching `filter`, in order. */
function expectedRows(snapshot: number, userId: bigint, filter: V2Filter = {}): string[] {
  return oracleOf(snapshot).transactions(userId, filter);
}

/** The same rows as CSV text (no header). */
function expectedCsv(snapshot: number, userId: bigint): string {
  return oracleOf(snapshot)
    .transactionsCsv(userId)
    .map((line) => `${line}\n`)
    .join('');
}

function expectedDailyNet(snapshot: number, code: number, from?: string, to?: string): string {
  const dayOf = (date: string | undefined) =>
    date === undefined
      ? undefined
      : daysFromCivil(...(date.split('-').map(Number) as [number, number, number]));
  const entries = new V2Oracle(snapshots.get(snapshot) ?? []).dailyNet(code, dayOf(from), dayOf(to));
  return `{"data":[${entries.join(',')}],"snapshot":${snapshot}}`;
}

/** The `data` array's members as the server wrote them (the page is `{"data":[…],"next_cursor":…}`). */
function dataText(body: string): string[] {
  const end = body.lastIndexOf('],"next_cursor":');
  expect(body.startsWith('{"data":[') && end > 0, body.slice(0, 200)).toBe(true);
  const inner = body.slice('{"data":['.length, end);
  return inner === '' ? [] : inner.split(/(?<=\}),(?=\{)/);
}

function pageOf(answer: Answer): { next: string | null; snapshot: number } {
  const page = parseExactJson(answer.body).value as { next_cursor: string | null; snapshot: number };
  return { next: page.next_cursor, snapshot: page.snapshot };
}

/** Walk a JSON listing from `first` to its last page; every page checked against the document. */
async function walkJson(
  userPath: string,
  first: string,
  limit?: number,
): Promise<{ rows: string[]; pages: number }> {
  const rows: string[] = [];
  let answer = await request(first);
  expect(answer.status, answer.body).toBe(200);
  let pages = 1;
  for (;;) {
    rows.push(...dataText(answer.body));
    const { next, snapshot } = pageOf(answer);
    expect(answer.headers['x-txlake-snapshot']).toBe(String(snapshot));
    if (next === null) return { rows, pages };
    answer = await request(`${userPath}?cursor=${next}${limit === undefined ? '' : `&limit=${limit}`}`);
    expect(answer.status, answer.body).toBe(200);
    pages++;
  }
}

/** Walk a CSV listing by its `Link: <…>; rel="next"` headers. */
async function walkCsv(first: string): Promise<string> {
  let body = '';
  let url: string | null = first;
  while (url !== null) {
    const answer = await request(url, { accept: 'text/csv' });
    expect(answer.status, answer.body).toBe(200);
    expect(
      answer.body.startsWith('user_id,datetime,transaction_type,merchant_type_code,amount_cents\n'),
    ).toBe(true);
    body += answer.body.slice(answer.body.indexOf('\n') + 1);
    const link = /^<([^>]+)>; rel="next"$/.exec(String(answer.headers.link ?? ''));
    url = link ? (link[1] as string) : null;
  }
  return body;
}

function usersOf(snapshot: number): bigint[] {
  return [...new Set((snapshots.get(snapshot) ?? []).map((r) => r.userId))].sort((a, b) => (a < b ? -1 : 1));
}

function codesOf(snapshot: number): number[] {
  return [...new Set((snapshots.get(snapshot) ?? []).map((r) => r.code))].sort((a, b) => a - b);
}

beforeAll(async () => {
  assertBuilt();
  const dir = dirs.make('txlake-openapi-v2-');
  lake = path.join(dir, 'lake');
  const first = [
    ...randomTransactions({ seed: 41, rows: 2400, users: 150 }),
    ...cornerCaseTransactions(),
    ...EDGES,
  ];
  const second = randomTransactions({ seed: 42, rows: 700, users: 60, userOffset: 3n });
  const files = [first, second].map((rows, i) =>
    writeCsvFile(path.join(dir, `part-${i + 1}.csv`), csvText(rows)),
  );
  const oracle = files.map((file) => oracleIngest(fs.readFileSync(file, 'utf8')).rows);
  let rows: OracleRow[] = [];
  for (const [i, file] of files.entries()) {
    const { summary } = await ingest([file], lake, ['--max-reject-rate', '0']);
    expect(summary.rows_committed).toBe(oracle[i]?.length);
    rows = [...rows, ...(oracle[i] ?? [])];
    snapshots.set(summary.snapshot, rows);
  }
  store = await EmbeddedStore.open({ lake });
  expect(await store.refresh()).toBe(true);
  app = await buildApp({ store, version: 'contract' });
  doc = (await app.inject('/openapi.json')).json() as OpenApiDocument;
  const transactions = doc.paths['/api/v2/users/{userId}/transactions']?.get;
  const page = transactions?.responses['200']?.content?.['application/json']?.schema as
    | { properties: { data: { items: Record<string, unknown> } } }
    | undefined;
  contract = new OpenApiContract(doc, page?.properties.data.items);
  // Walks begun on snapshot 2 go on after a commit: they must stay on snapshot 2.
  for (const userId of [DELETED, ...usersOf(2).filter((_, i) => i % 25 === 0)]) {
    const answer = await request(`/api/v2/users/${userId}/transactions?limit=3`);
    const { next, snapshot } = pageOf(answer);
    expect(snapshot).toBe(2);
    if (next !== null) openWalks.push({ userId, cursor: next, firstRows: dataText(answer.body) });
  }
  await runExpecting(['delete-user', String(DELETED), '--lake', lake], 0);
  expect(await store.refresh()).toBe(true);
  snapshots.set(
    3,
    rows.filter((r) => r.userId !== DELETED),
  );
}, 120_000);

afterAll(async () => {
  await app?.close();
  await store?.close();
  dirs.cleanup();
});

describe('the document', () => {
  it('is OpenAPI 3.1 and describes every v2 route, every parameter the handlers read, every problem', () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const source = fs.readFileSync(path.resolve('src/server/api/v2/routes.ts'), 'utf8');
    const blocks = source.split(/\n {2}app\.get\(\n/).slice(1);
    expect(blocks.length).toBeGreaterThanOrEqual(4);
    for (const block of blocks) {
      const route = /^\s*'([^']+)'/.exec(block)?.[1] as string;
      const template = `/api/v2${route.replace(/:([A-Za-z]+)/g, '{$1}')}`;
      const operation = doc.paths[template]?.get as Operation;
      expect(operation, template).toBeDefined();
      const documented = new Set((operation.parameters ?? []).map((p) => `${p.in} ${p.name}`));
      for (const [, name] of block.matchAll(/query\.get\('([A-Za-z_]+)'\)/g))
        expect(documented, template).toContain(`query ${name}`);
      for (const [, name] of block.matchAll(/request\.params\.([A-Za-z_]+)/g))
        expect(documented, template).toContain(`path ${name}`);
      const ok = operation.responses['200'];
      expect(ok?.headers?.['x-txlake-snapshot'], template).toBeDefined();
      for (const [status, response] of Object.entries(operation.responses)) {
        if (Number(status) >= 400)
          expect(Object.keys(response.content ?? {}), `${template} ${status}`).toEqual([
            'application/problem+json',
          ]);
      }
    }
    // Every status a v2 error is sent with is documented on some v2 operation or as a shared response.
    const statuses = new Set<string>();
    for (const [template, item] of Object.entries(doc.paths)) {
      if (template.startsWith('/api/v2/'))
        for (const op of Object.values(item)) for (const s of Object.keys(op.responses)) statuses.add(s);
    }
    for (const r of Object.values(doc.components?.responses ?? {}))
      statuses.add(String((r as { 'x-status'?: number })['x-status']));
    // 500 is the handler of last resort for a bug, not part of the contract.
    const sent = [...source.matchAll(/sendProblem\((?:[^()]|\([^()]*\))*?,\s*(\d{3})\b/g)]
      .map((m) => m[1] as string)
      .filter((status) => status !== '500');
    for (const status of [...sent, '404', '405']) expect(statuses, `status ${status}`).toContain(status);
  });

  it('is checked for real: a wrong body, media type, status or number is refused', () => {
    const ok =
      '{"data":[{"user_id":9223372036854775807,"datetime":"0001-01-01T00:00:00.000000Z","transaction_type":"PurchaseActivity","merchant_type_code":5310,"amount_cents":1}],"next_cursor":null,"snapshot":1}';
    const answer = (body: string, status = 200, type = 'application/json; charset=utf-8'): Answer => ({
      method: 'GET',
      url: '/api/v2/users/1/transactions',
      status,
      headers: { 'content-type': type },
      body,
    });
    expect(() => contract.check(answer(ok))).not.toThrow();
    expect(() => contract.check(answer(ok.replace('"amount_cents":1', '"amount_cents":"1"')))).toThrow(
      /validate/,
    );
    expect(() => contract.check(answer(ok.replace('"amount_cents":1', '"amount_cents":1.5')))).toThrow(
      /integer literals/,
    );
    expect(() => contract.check(answer(ok.replace('"amount_cents":1', '"amount_cents":1e3')))).toThrow(
      /integer literals/,
    );
    expect(() => contract.check(answer(ok.replace('.000000Z', 'Z')))).toThrow(/validate/);
    expect(() => contract.check(answer(ok.replace(',"snapshot":1', '')))).toThrow(/validate/);
    expect(() => contract.check(answer(ok.replace('"snapshot":1', '"snapshot":1,"extra":0')))).toThrow(
      /validate/,
    );
    expect(() => contract.check(answer(ok, 200, 'text/html'))).toThrow(/not documented/);
    expect(() => contract.check(answer(ok, 418))).toThrow(/not documented/);
    expect(parseExactJson('[9223372036854775807]', true).value).toEqual([9223372036854775807n]);
  });

  it('declares content per media type: JSON and CSV pages, problems as application/problem+json', () => {
    const ops = doc.paths;
    expect(
      Object.keys(ops['/api/v2/users/{userId}/transactions']?.get?.responses['200']?.content ?? {}),
    ).toEqual(['application/json', 'text/csv']);
    expect(Object.keys(ops['/api/v2/users/{userId}/export']?.get?.responses['200']?.content ?? {})).toEqual([
      'text/csv',
      'application/x-ndjson',
      'application/vnd.apache.parquet',
    ]);
    expect(
      Object.keys(ops['/api/v2/merchant-types/{code}/daily-net']?.get?.responses['200']?.content ?? {}),
    ).toEqual(['application/json']);
  });
});

describe('every real answer validates against the document', () => {
  it('transactions of every user: walks to the end with several limits, filters, CSV, against the oracle', async () => {
    const users = [...usersOf(3), DELETED, 123456789n];
    for (const [i, userId] of users.entries()) {
      const base = `/api/v2/users/${userId}/transactions`;
      const all = expectedRows(3, userId);
      expect((await walkJson(base, base)).rows).toEqual(all);
      const limit = [7, 1, 1000, 50, 2][i % 5] as number;
      if (i % 2 === 0) {
        const walk = await walkJson(base, `${base}?limit=${limit}`, limit);
        expect(walk.rows).toEqual(all);
        expect(walk.pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
      }
      if (i % 4 === 0) expect(await walkCsv(`${base}?limit=25`)).toBe(expectedCsv(3, userId));
      if (i % 5 === 0) {
        const filters: [string, V2Filter][] = [
          ['type=ReturnActivity', { type: R }],
          ['type=PurchaseActivity&merchant_type_code=5310', { type: P, code: 5310 }],
          [
            'from=2023-04-01&to=2023-05-01T12:00:00%2B02:00',
            { from: 1680307200000000n, to: 1682935200000000n },
          ],
          ['from=2023-04-15T12:04:02.5&limit=3', { from: 1681560242500000n }],
          ['to=2023-04-01T00:00:00Z&type=PurchaseActivity&limit=4', { to: 1680307200000000n, type: P }],
        ];
        for (const [query, filter] of filters) {
          const limitOf = /limit=(\d+)/.exec(query)?.[1];
          const walk = await walkJson(
            base,
            `${base}?${query}`,
            limitOf === undefined ? undefined : Number(limitOf),
          );
          expect(walk.rows, query).toEqual(expectedRows(3, userId, filter));
        }
      }
    }
    // Ids that name nobody: digits beyond INT64, leading zeros of a real id.
    for (const id of ['99999999999999999999', '9223372036854775808', '0000000000000000000000001']) {
      const answer = await request(`/api/v2/users/${id}/transactions`);
      expect(answer.status).toBe(200);
    }
  });

  it('daily-net of every merchant code, with and without from/to, now and as of snapshot 1', async () => {
    for (const code of [...new Set([...codesOf(3), ...codesOf(1)]), 4, 10000]) {
      const base = `/api/v2/merchant-types/${code}/daily-net`;
      for (const [query, from, to] of [
        ['', undefined, undefined],
        ['?from=2023-04-01', '2023-04-01', undefined],
        ['?to=2023-05-01', undefined, '2023-05-01'],
        ['?from=2023-04-01&to=2023-04-15', '2023-04-01', '2023-04-15'],
        ['?from=0001-01-02&to=9999-12-31', '0001-01-02', '9999-12-31'],
      ] as const) {
        const answer = await request(`${base}${query}`);
        expect(answer.status).toBe(200);
        expect(answer.body, `${code}${query}`).toBe(
          code > 9999 ? '{"data":[],"snapshot":3}' : expectedDailyNet(3, code, from, to),
        );
      }
      const pinned = await request(`${base}?snapshot=1`);
      expect(pinned.body).toBe(code > 9999 ? '{"data":[],"snapshot":1}' : expectedDailyNet(1, code));
      expect(pinned.headers['cache-control']).toBe('private, max-age=31536000, immutable');
    }
  });

  it('time travel: pinned answers of snapshots 1 and 2, and walks begun on 2 stay on 2', async () => {
    for (const snapshot of [1, 2]) {
      for (const [i, userId] of [DELETED, ...usersOf(snapshot)].entries()) {
        if (i % 6 !== 0) continue;
        const base = `/api/v2/users/${userId}/transactions`;
        const walk = await walkJson(base, `${base}?snapshot=${snapshot}&limit=20`, 20);
        expect(walk.rows).toEqual(expectedRows(snapshot, userId));
      }
    }
    expect(openWalks.length).toBeGreaterThan(3);
    for (const walk of openWalks) {
      const base = `/api/v2/users/${walk.userId}/transactions`;
      const rest = await walkJson(base, `${base}?cursor=${walk.cursor}&limit=3`, 3);
      expect([...walk.firstRows, ...rest.rows]).toEqual(expectedRows(2, walk.userId));
    }
    const list = await request('/api/v2/snapshots');
    const data = (
      parseExactJson(list.body).value as { data: { id: number; operation: string; rows: number }[] }
    ).data;
    expect(data.map((s) => [s.id, s.operation, s.rows])).toEqual([
      [3, 'delete-user', snapshots.get(3)?.length],
      [2, 'ingest', snapshots.get(2)?.length],
      [1, 'ingest', snapshots.get(1)?.length],
    ]);
  });

  it('exports: CSV, NDJSON and Parquet, now and pinned', async () => {
    for (const [i, userId] of [...usersOf(3), DELETED].entries()) {
      if (i % 3 !== 0) continue;
      const rows = expectedRows(3, userId);
      const csv = await request(`/api/v2/users/${userId}/export?format=csv`);
      expect(csv.body).toBe(
        `user_id,datetime,transaction_type,merchant_type_code,amount_cents\n${expectedCsv(3, userId)}`,
      );
      const ndjson = await request(`/api/v2/users/${userId}/export?format=ndjson`);
      expect(ndjson.body).toBe(rows.map((r) => `${r}\n`).join(''));
      if (i % 30 === 0) {
        const parquet = await request(`/api/v2/users/${userId}/export?format=parquet&snapshot=2`);
        expect(parquet.status).toBe(200);
        expect(parquet.headers['content-disposition']).toMatch(/^attachment; filename=/);
      }
    }
  });

  it('conditional requests: 304 with the ETag, for every representation', async () => {
    for (const [url, accept] of [
      ['/api/v2/users/31373/transactions', 'application/json'],
      ['/api/v2/users/31373/transactions', 'text/csv'],
      ['/api/v2/users/31373/transactions?snapshot=1', 'application/json'],
      ['/api/v2/merchant-types/5732/daily-net', 'application/json'],
      ['/api/v2/users/31373/export?format=ndjson', '*/*'],
      ['/api/v2/snapshots', 'application/json'],
    ] as const) {
      const answer = await request(url, { accept });
      const again = await request(url, { accept, 'if-none-match': String(answer.headers.etag) });
      expect(again.status, url).toBe(304);
    }
  });

  it('problems: 400 for every parameter, 404, 406, 405, each naming what is wrong', async () => {
    const t = '/api/v2/users/31373/transactions';
    const d = '/api/v2/merchant-types/5732/daily-net';
    const e = '/api/v2/users/31373/export';
    const foreign = openWalks[0]?.cursor as string;
    const junkCursor = Buffer.from('{"v":1,"s":"x"}').toString('base64url');
    const bad: [string, string][] = [
      ['/api/v2/users/abc/transactions', 'userId'],
      ['/api/v2/users/-1/transactions', 'userId'],
      ['/api/v2/users/1.5/transactions', 'userId'],
      ['/api/v2/users/%zz/transactions', 'userId'],
      ['/api/v2/users/%EF%BC%91/transactions', 'userId'],
      ['/api/v2/users/abc/export?format=csv', 'userId'],
      ['/api/v2/merchant-types/x/daily-net', 'code'],
      ['/api/v2/merchant-types/-5/daily-net', 'code'],
      [`${t}?from=yesterday`, 'from'],
      [`${t}?from=2023-02-30`, 'from'],
      [`${t}?from=2023-03-25T11:31:26.1234567Z`, 'from'],
      [`${t}?to=2023-03-25T25:00:00Z`, 'to'],
      [`${t}?to=`, 'to'],
      [`${t}?type=purchaseactivity`, 'type'],
      [`${t}?type=`, 'type'],
      [`${t}?merchant_type_code=abc`, 'merchant_type_code'],
      [`${t}?merchant_type_code=-1`, 'merchant_type_code'],
      [`${t}?limit=0`, 'limit'],
      [`${t}?limit=1001`, 'limit'],
      [`${t}?limit=ten`, 'limit'],
      [`${t}?limit=`, 'limit'],
      [`${t}?cursor=not*a*cursor`, 'cursor'],
      [`${t}?cursor=${junkCursor}`, 'cursor'],
      [`/api/v2/users/1/transactions?cursor=${foreign}`, 'cursor'],
      [`${t}?snapshot=abc`, 'snapshot'],
      [`${t}?snapshot=-1`, 'snapshot'],
      [`${d}?from=2023-04-01T00:00:00Z`, 'from'],
      [`${d}?to=2023-13-01`, 'to'],
      [`${d}?snapshot=x`, 'snapshot'],
      [e, 'format'],
      [`${e}?format=xml`, 'format'],
      [`${e}?format=CSV`, 'format'],
      [`${e}?format=csv&snapshot=one`, 'snapshot'],
      [`${t}?limit=1&limit=2`, 'limit'],
      [`${t}?from=2023-04-01&from=2023-04-01`, 'from'],
      [`${d}?to=2023-05-01&to=2023-05-02`, 'to'],
      [`${e}?format=csv&format=csv`, 'format'],
      [`${t}?snapshot=1&snapshot=2`, 'snapshot'],
    ];
    for (const [url, parameter] of bad) {
      const answer = await request(url);
      expect(answer.status, url).toBe(400);
      const problem = JSON.parse(answer.body) as { parameter?: string; detail: string };
      expect(problem.parameter, url).toBe(parameter);
      expect(problem.detail, url).toContain(parameter);
    }
    const cursorOf = (snapshot: number) =>
      Buffer.from(
        JSON.stringify({ v: 1, s: snapshot, u: '31373', f: null, t: null, y: null, m: null, o: 0 }),
      ).toString('base64url');
    for (const url of [
      `${t}?snapshot=99`,
      `${t}?snapshot=0`,
      `${t}?snapshot=99999999999999999999999`,
      `${t}?cursor=${cursorOf(99)}`,
      `${d}?snapshot=4`,
      `${e}?format=parquet&snapshot=4`,
      '/api/v2/nope',
      '/api/v2/users/31373',
      '/api/v2/users/31373/transactions/extra',
      '/api/v2/merchant-types/5732',
    ]) {
      expect((await request(url)).status, url).toBe(404);
    }
    for (const [url, accept] of [
      [t, 'application/xml'],
      [t, 'text/csv;q=0, application/json;q=0'],
      [d, 'text/csv'],
      ['/api/v2/snapshots', 'text/html'],
    ] as const) {
      expect((await request(url, { accept })).status, `${url} ${accept}`).toBe(406);
    }
    for (const url of [t, d, `${e}?format=csv`, '/api/v2/snapshots']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
        const answer = await request(url, {}, method);
        expect(answer.status, `${method} ${url}`).toBe(405);
        expect(answer.headers.allow).toBe('GET, HEAD, OPTIONS');
      }
    }
  });

  it('410 for every snapshot and cursor a vacuum removed; 404 above the highest id', async () => {
    await runExpecting(['vacuum', '--retain', '0', '--lake', lake], 0);
    await store.refresh();
    // The list reflects a vacuum within 2 s (SPEC §4).
    const listed = async () =>
      (
        parseExactJson((await request('/api/v2/snapshots')).body).value as { data: { id: number }[] }
      ).data.map((s) => s.id);
    const deadline = Date.now() + 3000;
    while ((await listed()).length > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await listed()).toEqual([3]);
    for (const url of [
      '/api/v2/users/31373/transactions?snapshot=1',
      '/api/v2/users/31373/transactions?snapshot=2&type=ReturnActivity',
      '/api/v2/merchant-types/5732/daily-net?snapshot=2',
      '/api/v2/users/31373/export?format=csv&snapshot=1',
      '/api/v2/users/31373/export?format=parquet&snapshot=2',
      ...openWalks.map((w) => `/api/v2/users/${w.userId}/transactions?cursor=${w.cursor}`),
    ]) {
      expect((await request(url)).status, url).toBe(410);
    }
    expect((await request('/api/v2/users/31373/transactions?snapshot=4')).status).toBe(404);
    expect((await request('/api/v2/users/31373/transactions?snapshot=3')).status).toBe(200);
  });

  it('503 problems while no snapshot can be served', async () => {
    const empty = await EmbeddedStore.open({ lake: path.join(dirs.make('txlake-openapi-empty-'), 'lake') });
    const bare = await buildApp({ store: empty, version: 'contract' });
    try {
      for (const url of [
        '/api/v2/users/1/transactions',
        '/api/v2/merchant-types/1/daily-net',
        '/api/v2/users/1/export?format=csv',
        '/api/v2/snapshots',
      ]) {
        const r = await bare.inject(url);
        const answer: Answer = { method: 'GET', url, status: r.statusCode, headers: r.headers, body: r.body };
        contract.check(answer);
        expect(answer.status, url).toBe(503);
        expect(answer.headers['retry-after'], url).toBe('1');
      }
    } finally {
      await bare.close();
      await empty.close();
    }
  });

  afterAll(() => {
    // A record of what the corpus covered, for whoever reads the test output.
    const lines = [...contract.checked.entries()]
      .sort()
      .map(([key, n]) => `${String(n).padStart(6)}  ${key}`);
    console.log(`validated ${contract.total} answers against /openapi.json:\n${lines.join('\n')}`);
    expect(contract.total).toBeGreaterThan(500);
  });
});
