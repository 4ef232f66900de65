// API v2 on a real server, compared with the independent oracle byte for byte: one suite, run on every
// backend (the embedded default, and ClickHouse behind the same store contract). The lake goes through an
// ingest, an append, an erasure and a vacuum while the server follows it; the suite walks cursors across
// commits, travels in time, exports, and checks every problem.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, type TxRow, writeCsvFile } from './csv-file.js';
import { daysFromCivil, type OracleRow, oracleIngest, type V2Filter, V2Oracle } from './oracle.js';
import { type HttpResponse, httpGet, type RunningServer } from './server.js';
import { cornerCaseTransactions, prng, randomTransactions } from './synthetic.js';
import { assertBuilt, ingest, runTxlake, TempDirs } from './txlake.js';

export interface V2Backend {
  /** Start what the backend needs (a ClickHouse cluster); called once before the suite. */
  setup(): Promise<void>;
  /** Environment for lake commands, so that they bring the backend along (ClickHouse's sync). */
  env(): NodeJS.ProcessEnv;
  /** A server answering from the backend, following `lake`. */
  serve(lake: string): Promise<RunningServer>;
  teardown(): Promise<void>;
}

/** Rows of a user in both files, so that an append changes their answer (and a walk across it). */
const WALKER = 555000555n;
const ERASED_SEED = 3;

function dataOf(body: string): string[] {
  const data = /^\{"data":\[(.*)\](,|\})/.exec(body)?.[1];
  if (data === undefined) throw new Error(`not a v2 answer: ${body.slice(0, 200)}`);
  return data.match(/\{[^{}]*\}/g) ?? [];
}

function json(response: HttpResponse): Record<string, unknown> {
  return JSON.parse(response.body) as Record<string, unknown>;
}

function walkerRows(count: number, seed: number): TxRow[] {
  const random = prng(seed);
  return Array.from({ length: count }, (_, i) => ({
    user_id: String(WALKER),
    transaction_type: random() < 0.3 ? 'ReturnActivity' : 'PurchaseActivity',
    merchant_type_code: String([5411, 5732, 6011][i % 3]),
    amount_cents: String(Math.floor(random() * 200_000)),
    datetime: `2023-04-${String(1 + (i % 28)).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00.${String(i).padStart(6, '0')}`,
  }));
}

export function describeV2(name: string, backend: V2Backend): void {
  const temp = new TempDirs();
  let dir = '';
  let lake = '';
  let server: RunningServer;
  let port = 0;
  let firstRows: OracleRow[] = [];
  let bothRows: OracleRow[] = [];
  let thirdRows: OracleRow[] = [];
  const snapshotIds: number[] = [];
  let erased = 0n;

  const get = (p: string, headers: Record<string, string> = {}) => httpGet(port, p, headers);
  const txlake = (args: string[]) => runTxlake(args, { env: backend.env(), timeoutMs: 120_000 });

  /** Walk `next_cursor` from `first` to its end, returning every row and the snapshot of each page. */
  async function walk(first: string, limit: number): Promise<{ rows: string[]; snapshots: number[] }> {
    const rows: string[] = [];
    const snapshots: number[] = [];
    let url = first;
    for (let page = 0; page < 10_000; page++) {
      const response = await get(url);
      expect(response.status, `${url}: ${response.body}`).toBe(200);
      const body = json(response);
      rows.push(...dataOf(response.body));
      snapshots.push(body.snapshot as number);
      expect(dataOf(response.body).length).toBeLessThanOrEqual(limit);
      if (body.next_cursor === null) return { rows, snapshots };
      expect(dataOf(response.body).length).toBe(limit);
      url = `${first.split('?')[0]}?cursor=${body.next_cursor as string}&limit=${limit}`;
    }
    throw new Error('the walk did not end');
  }

  async function waitForSnapshot(id: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const response = await get('/api/v2/snapshots');
      const list = (json(response).data as { id: number; current: boolean }[]) ?? [];
      if (list.some((s) => s.id === id && s.current)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`the server did not serve snapshot ${id} within 10 s`);
  }

  beforeAll(async () => {
    assertBuilt();
    await backend.setup();
    dir = temp.make();
    lake = path.join(dir, 'lake');
    const first: TxRow[] = [
      ...randomTransactions({ seed: 21, rows: 2500, users: 300 }),
      ...cornerCaseTransactions(),
      ...walkerRows(130, 1),
    ];
    const second: TxRow[] = [...randomTransactions({ seed: 22, rows: 400, users: 80, userOffset: 5n })];
    const third: TxRow[] = walkerRows(40, 2);
    writeCsvFile(path.join(dir, 'first.csv'), csvText(first));
    writeCsvFile(path.join(dir, 'second.csv'), csvText(second));
    writeCsvFile(path.join(dir, 'third.csv'), csvText(third));
    firstRows = oracleIngest(csvText(first)).rows;
    bothRows = [...firstRows, ...oracleIngest(csvText(second)).rows];
    thirdRows = oracleIngest(csvText(third)).rows;
    const env = { env: backend.env(), timeoutMs: 120_000 };
    snapshotIds.push((await ingest([path.join(dir, 'first.csv')], lake, [], env)).summary.snapshot);
    snapshotIds.push((await ingest([path.join(dir, 'second.csv')], lake, [], env)).summary.snapshot);
    // An erasure: the third snapshot lacks one user of the first file.
    const users = new V2Oracle(firstRows).userIds();
    erased = users[Math.floor(prng(ERASED_SEED)() * users.length)] as bigint;
    const deleted = await txlake(['delete-user', String(erased), '--lake', lake, '--json']);
    expect(deleted.code, deleted.stderr).toBe(0);
    snapshotIds.push(JSON.parse(deleted.stdout).snapshot as number);
    server = await backend.serve(lake);
    port = server.port;
    await waitForSnapshot(snapshotIds[2] as number);
  }, 240_000);

  afterAll(async () => {
    await server?.stop();
    await backend.teardown();
    temp.cleanup();
  });

  describe(`API v2 on the ${name} backend`, () => {
    const current = () => new V2Oracle(bothRows.filter((r) => r.userId !== erased));

    it('every user’s transactions are the oracle’s, exact, walked page by page', async () => {
      const oracle = current();
      const users = oracle.userIds();
      expect(users.length).toBeGreaterThan(300);
      for (const [i, user] of users.entries()) {
        const limit = [1000, 7, 3, 100][i % 4] as number;
        const { rows, snapshots } = await walk(`/api/v2/users/${user}/transactions?limit=${limit}`, limit);
        expect(rows, `user ${user}`).toEqual(oracle.transactions(user));
        expect(new Set(snapshots)).toEqual(new Set([snapshotIds[2]]));
      }
    });

    it('filters: from/to (timestamps with zones, dates), type and merchant code, alone and together', async () => {
      const oracle = current();
      const random = prng(77);
      const users = oracle.userIds();
      const cases: { query: string; filter: V2Filter }[] = [];
      for (let i = 0; i < 120; i++) {
        const user = users[Math.floor(random() * users.length)] as bigint;
        const parts: string[] = [];
        const filter: V2Filter = {};
        if (random() < 0.5) {
          const day = 14 + Math.floor(random() * 60);
          parts.push(`from=2023-03-${String(1).padStart(2, '0')}T00:00:00Z`);
          filter.from = daysFromCivil(2023, 3, 1) * 86_400_000_000n;
          if (random() < 0.5) {
            parts[parts.length - 1] = `from=2023-04-10T12:30:00.5${random() < 0.5 ? '%2B' : '+'}02:00`;
            filter.from =
              (daysFromCivil(2023, 4, 10) * 86_400n + 10n * 3600n + 30n * 60n) * 1_000_000n + 500_000n;
          }
          parts.push(`to=2023-05-${String((day % 28) + 1).padStart(2, '0')}`);
          filter.to = daysFromCivil(2023, 5, (day % 28) + 1) * 86_400_000_000n;
        }
        if (random() < 0.4) {
          filter.type = random() < 0.5 ? 'PurchaseActivity' : 'ReturnActivity';
          parts.push(`type=${filter.type}`);
        }
        if (random() < 0.3) {
          const codes = oracle.codes();
          filter.code = codes[Math.floor(random() * codes.length)] as number;
          parts.push(`merchant_type_code=${filter.code}`);
        }
        cases.push({ query: `/api/v2/users/${user}/transactions?${parts.join('&')}`, filter });
        const expected = oracle.transactions(user, filter);
        const limit = 1 + Math.floor(random() * 5);
        const { rows } = await walk(`${cases.at(-1)?.query}&limit=${limit}`, limit);
        expect(rows, cases.at(-1)?.query).toEqual(expected);
      }
    });

    it('a cursor stays on its snapshot while new ones are committed, and is refused (410) once vacuumed', async () => {
      const before = new V2Oracle(bothRows.filter((r) => r.userId !== erased)).transactions(WALKER);
      expect(before.length).toBe(130);
      const first = await get(`/api/v2/users/${WALKER}/transactions?limit=20`);
      const cursor = json(first).next_cursor as string;
      // Mid-walk, an append adds 40 rows for this very user.
      const appended = await ingest([path.join(dir, 'third.csv')], lake, [], {
        env: backend.env(),
        timeoutMs: 120_000,
      });
      snapshotIds.push(appended.summary.snapshot);
      await waitForSnapshot(appended.summary.snapshot);
      const rest = await walk(`/api/v2/users/${WALKER}/transactions?cursor=${cursor}&limit=20`, 20);
      expect([...dataOf(first.body), ...rest.rows]).toEqual(before);
      expect(new Set(rest.snapshots)).toEqual(new Set([snapshotIds[2]]));
      // A new walk sees the appended rows.
      const after = new V2Oracle([...bothRows.filter((r) => r.userId !== erased), ...thirdRows]);
      const fresh = await walk(`/api/v2/users/${WALKER}/transactions?limit=50`, 50);
      expect(fresh.rows).toEqual(after.transactions(WALKER));
      expect(fresh.snapshots.every((s) => s === appended.summary.snapshot)).toBe(true);
      // Time travel on the way: each retained snapshot answers as it was committed.
      const asFirst = await walk(
        `/api/v2/users/${WALKER}/transactions?snapshot=${snapshotIds[0]}&limit=1000`,
        1000,
      );
      expect(asFirst.rows).toEqual(new V2Oracle(firstRows).transactions(WALKER));
      const erasedThen = await get(
        `/api/v2/users/${erased}/transactions?snapshot=${snapshotIds[1]}&limit=1000`,
      );
      expect(dataOf(erasedThen.body)).toEqual(new V2Oracle(bothRows).transactions(erased));
      const erasedNow = await get(`/api/v2/users/${erased}/transactions`);
      expect(json(erasedNow)).toEqual({ data: [], next_cursor: null, snapshot: appended.summary.snapshot });
      // Vacuum every snapshot but the current one: the old cursor and ?snapshot= are gone (410), higher ids 404.
      const vacuum = await txlake(['vacuum', '--retain', '0', '--lake', lake]);
      expect(vacuum.code, vacuum.stderr).toBe(0);
      const deadline = Date.now() + 12_000;
      let gone: HttpResponse | null = null;
      while (Date.now() < deadline) {
        const response = await get(`/api/v2/users/${WALKER}/transactions?cursor=${cursor}&limit=20`);
        if (response.status === 410) {
          gone = response;
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(gone?.headers['content-type']).toBe('application/problem+json');
      expect(json(gone as HttpResponse)).toMatchObject({ type: 'about:blank', title: 'Gone', status: 410 });
      const pinned = await get(`/api/v2/merchant-types/5411/daily-net?snapshot=${snapshotIds[0]}`);
      expect(pinned.status).toBe(410);
      const never = await get(`/api/v2/users/1/transactions?snapshot=${appended.summary.snapshot + 1}`);
      expect(never.status).toBe(404);
      expect(json(never)).toMatchObject({ status: 404, title: 'Not Found' });
      const list = json(await get('/api/v2/snapshots')).data as { id: number }[];
      expect(list.map((s) => s.id)).toEqual([appended.summary.snapshot]);
    });

    it('daily-net is the oracle’s for every code, with counts, and with from/to', async () => {
      const oracle = new V2Oracle([...bothRows.filter((r) => r.userId !== erased), ...thirdRows]);
      for (const code of oracle.codes()) {
        const response = await get(`/api/v2/merchant-types/${code}/daily-net`);
        expect(response.status).toBe(200);
        expect(dataOf(response.body), `code ${code}`).toEqual(oracle.dailyNet(code));
        const ranged = await get(`/api/v2/merchant-types/${code}/daily-net?from=2023-04-01&to=2023-05-01`);
        expect(dataOf(ranged.body)).toEqual(
          oracle.dailyNet(code, daysFromCivil(2023, 4, 1), daysFromCivil(2023, 5, 1)),
        );
      }
      expect(json(await get('/api/v2/merchant-types/10000/daily-net')).data).toEqual([]);
      expect(json(await get('/api/v2/merchant-types/0000000000000000000000123/daily-net')).data).toEqual(
        oracle.dailyNet(123),
      );
    });

    it('snapshots lists the retained ones, newest first, with operation, mode, rows and current', async () => {
      const response = await get('/api/v2/snapshots');
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      const list = json(response).data as Record<string, unknown>[];
      expect(list).toHaveLength(1); // after the vacuum above
      expect(list[0]).toMatchObject({ operation: 'ingest', mode: 'append', current: true });
      expect(Object.keys(list[0] as object)).toEqual([
        'id',
        'created',
        'operation',
        'mode',
        'rows',
        'current',
      ]);
      expect(list[0]?.rows).toBe(bothRows.filter((r) => r.userId !== erased).length + thirdRows.length);
      expect(Number.isNaN(Date.parse(String(list[0]?.created)))).toBe(false);
    });

    it('export: CSV, NDJSON and Parquet hold exactly the user’s rows, as attachments', async () => {
      const oracle = new V2Oracle([...bothRows.filter((r) => r.userId !== erased), ...thirdRows]);
      const csv = await get(`/api/v2/users/${WALKER}/export?format=csv`);
      expect(csv.status).toBe(200);
      expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(csv.headers['content-disposition']).toMatch(
        /^attachment; filename="txlake-user-555000555-snapshot-\d+\.csv"$/,
      );
      expect(csv.headers['x-txlake-snapshot']).toBe(String(snapshotIds[3]));
      expect(csv.body).toBe(
        `user_id,datetime,transaction_type,merchant_type_code,amount_cents\n${oracle.transactionsCsv(WALKER).join('\n')}\n`,
      );
      const ndjson = await get(`/api/v2/users/${WALKER}/export?format=ndjson`);
      expect(ndjson.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
      expect(ndjson.body).toBe(`${oracle.transactions(WALKER).join('\n')}\n`);
      const parquet = await get(`/api/v2/users/${WALKER}/export?format=parquet`);
      expect(parquet.headers['content-type']).toBe('application/vnd.apache.parquet');
      const file = path.join(dir, 'export.parquet');
      writeFileSync(file, parquet.bytes);
      const instance = await DuckDBInstance.create(':memory:');
      const connection = await instance.connect();
      const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM '${file}'`);
      expect(described.getRowObjects().map((r) => `${r.column_name} ${r.column_type}`)).toEqual([
        'user_id BIGINT',
        'transaction_type VARCHAR',
        'merchant_type_code INTEGER',
        'amount_cents BIGINT',
        'datetime TIMESTAMP',
      ]);
      const rows = await connection.runAndReadAll(
        `SELECT user_id, strftime(datetime, '%Y-%m-%dT%H:%M:%S.%fZ') AS datetime, transaction_type, merchant_type_code, amount_cents FROM '${file}'`,
      );
      const lines = rows
        .getRowObjects()
        .map(
          (r) => `${r.user_id},${r.datetime},${r.transaction_type},${r.merchant_type_code},${r.amount_cents}`,
        )
        .sort();
      expect(lines).toEqual([...oracle.transactionsCsv(WALKER)].sort());
      connection.closeSync();
      instance.closeSync();
      // An unknown user exports a header and nothing else.
      expect((await get('/api/v2/users/3/export?format=csv')).body).toBe(
        'user_id,datetime,transaction_type,merchant_type_code,amount_cents\n',
      );
      expect(readFileSync(file).subarray(0, 4).toString()).toBe('PAR1');
    });

    it('Accept: text/csv pages like JSON, with the next page in Link', async () => {
      const oracle = new V2Oracle([...bothRows.filter((r) => r.userId !== erased), ...thirdRows]);
      const lines: string[] = [];
      let url: string | null = `/api/v2/users/${WALKER}/transactions?limit=60`;
      let pages = 0;
      while (url !== null) {
        const response = await get(url, { accept: 'text/csv' });
        expect(response.status).toBe(200);
        expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
        const [header, ...rest] = response.body.split('\n');
        expect(header).toBe('user_id,datetime,transaction_type,merchant_type_code,amount_cents');
        expect(rest.pop()).toBe('');
        lines.push(...rest);
        const link = response.headers.link as string | undefined;
        url = link ? (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? null) : null;
        pages++;
      }
      expect(pages).toBe(3);
      expect(lines).toEqual(oracle.transactionsCsv(WALKER));
    });

    it('ETags per snapshot and representation: 304 on If-None-Match, Vary: Accept, Cache-Control', async () => {
      const jsonAnswer = await get(`/api/v2/users/${WALKER}/transactions`);
      const csvAnswer = await get(`/api/v2/users/${WALKER}/transactions`, { accept: 'text/csv' });
      const etag = jsonAnswer.headers.etag as string;
      expect(etag).toMatch(/^"[^"]+"$/);
      expect(csvAnswer.headers.etag).not.toBe(etag);
      expect(jsonAnswer.headers.vary).toBe('Accept');
      expect(jsonAnswer.headers['cache-control']).toBe('private, no-cache');
      const notModified = await get(`/api/v2/users/${WALKER}/transactions`, { 'if-none-match': etag });
      expect(notModified.status).toBe(304);
      expect(notModified.body).toBe('');
      expect(
        (
          await get(`/api/v2/users/${WALKER}/transactions`, {
            'if-none-match': csvAnswer.headers.etag as string,
          })
        ).status,
      ).toBe(200);
      const pinned = await get(`/api/v2/merchant-types/5411/daily-net?snapshot=${snapshotIds[3]}`);
      expect(pinned.headers['cache-control']).toBe('private, max-age=31536000, immutable');
      expect(pinned.headers['x-txlake-snapshot']).toBe(String(snapshotIds[3]));
    });

    it('every client error is an RFC 9457 problem naming the parameter', async () => {
      const cases: [string, number, string | undefined, Record<string, string>?][] = [
        ['/api/v2/users/abc/transactions', 400, 'userId'],
        ['/api/v2/users/-1/transactions', 400, 'userId'],
        ['/api/v2/users/%zz/transactions', 400, 'userId'],
        ['/api/v2/merchant-types/x1/daily-net', 400, 'code'],
        ['/api/v2/users/1/transactions?from=yesterday', 400, 'from'],
        ['/api/v2/users/1/transactions?to=2023-02-30', 400, 'to'],
        ['/api/v2/users/1/transactions?from=2023-03-01T00:00:00.1234567Z', 400, 'from'],
        ['/api/v2/users/1/transactions?type=purchaseactivity', 400, 'type'],
        ['/api/v2/users/1/transactions?merchant_type_code=abc', 400, 'merchant_type_code'],
        ['/api/v2/users/1/transactions?limit=0', 400, 'limit'],
        ['/api/v2/users/1/transactions?limit=1001', 400, 'limit'],
        ['/api/v2/users/1/transactions?limit=1&limit=2', 400, 'limit'],
        ['/api/v2/users/1/transactions?cursor=%21', 400, 'cursor'],
        ['/api/v2/users/1/transactions?cursor=eyJ2IjoyfQ', 400, 'cursor'],
        ['/api/v2/users/1/transactions?snapshot=first', 400, 'snapshot'],
        ['/api/v2/merchant-types/5411/daily-net?from=2023-03-01T00:00:00Z', 400, 'from'],
        ['/api/v2/users/1/export', 400, 'format'],
        ['/api/v2/users/1/export?format=CSV', 400, 'format'],
        ['/api/v2/users/1/transactions?snapshot=99999999999999999999', 404, undefined],
        ['/api/v2/users/1/transactions?snapshot=0', 404, undefined],
        ['/api/v2/nothing/here', 404, undefined],
        ['/api/v2/users/1/transactions', 406, undefined, { accept: 'application/xml' }],
        ['/api/v2/snapshots', 406, undefined, { accept: 'text/csv' }],
      ];
      for (const [url, status, parameter, headers] of cases) {
        const response = await get(url, headers);
        expect(response.status, url).toBe(status);
        expect(response.headers['content-type'], url).toBe('application/problem+json');
        const body = json(response);
        expect(Object.keys(body).slice(0, 4), url).toEqual(['type', 'title', 'status', 'detail']);
        expect(body.status).toBe(status);
        expect(body.parameter, url).toBe(parameter);
        if (parameter) expect(String(body.detail), url).toContain(parameter);
        expect(response.body, url).not.toMatch(/\/tmp\/|\/work\/|at .*\.js:/);
      }
      // A cursor of another user's walk is refused, not answered with the other user's rows.
      const first = json(await get(`/api/v2/users/${WALKER}/transactions?limit=1`));
      const stolen = await get(`/api/v2/users/1/transactions?cursor=${first.next_cursor as string}`);
      expect(stolen.status).toBe(400);
      expect(json(stolen).parameter).toBe('cursor');
      // Other methods: 405 with Allow, as a problem.
      const post = await httpGet(port, '/api/v2/snapshots', {}, 'POST');
      expect(post.status).toBe(405);
      expect(post.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(post.headers['content-type']).toBe('application/problem+json');
    });

    it('ids beyond their range answer empty data; leading zeros name the same user', async () => {
      for (const id of ['9223372036854775808', '1'.repeat(400)]) {
        const response = await get(`/api/v2/users/${id}/transactions`);
        expect(response.status).toBe(200);
        expect(json(response)).toEqual({ data: [], next_cursor: null, snapshot: snapshotIds[3] });
      }
      const padded = await get(`/api/v2/users/000${WALKER}/transactions?limit=1000`);
      const plain = await get(`/api/v2/users/${WALKER}/transactions?limit=1000`);
      expect(padded.body).toBe(plain.body);
    });
  });
}
