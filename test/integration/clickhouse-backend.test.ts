// The ClickHouse backend on a real 2-shard cluster (two clickhouse-server processes on 127.0.0.1): lake
// operations bring ClickHouse to each new snapshot; a server on `--backend clickhouse` answers v1 exactly as
// the oracle and byte for byte as the embedded backend; it follows switches; a node down or hung is a 503
// problem within 2 s and answers resume without a restart; a ClickHouse failure leaves the lake commit
// standing and exits 4 until `txlake clickhouse sync` catches up. The store itself (API v2): daily counts,
// the retained snapshots, time travel to each of them, and a database of an earlier txlake brought up to date.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseStore } from '../../src/backends/clickhouse/clickhouse-store.js';
import { type ClickHouseConfig, resolveClickHouseConfig } from '../../src/backends/clickhouse/cluster.js';
import type { NodeStatus } from '../../src/backends/clickhouse/status.js';
import type { SnapshotInfo, SnapshotView } from '../../src/backends/store.js';
import type { DailyMerchantSums } from '../../src/domain/transaction-batch.js';
import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import { eventually } from '../helpers/load.js';
import { type OracleRow, oracleIngest, utcDay, V1Oracle } from '../helpers/oracle.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  currentSnapshot,
  describeRun,
  errorLine,
  ingest,
  parseJsonOutput,
  runTxlake,
  TempDirs,
} from '../helpers/txlake.js';
import { describeMismatches, v1Mismatches } from '../helpers/v1-compare.js';

const ABSENT_USERS = [2n, 3n, 123456789n, 9223372036854775805n, 9223372036854775808n, 10n ** 20n];
const ABSENT_CODES = [1n, 9998n, 10000n, 10n ** 20n];
const MARKER_USER = 777000777n;

/** Paths whose answers (status, type, body) must be the same on both backends: v1 seeds, errors, odd ids. */
const CONFORMANCE_PATHS = [
  '/api/v1/data/transactions/31373',
  '/api/v1/data/transactions/0031373',
  '/api/v1/data/transactions/-5',
  '/api/v1/data/transactions/abc',
  '/api/v1/data/transactions/1.5',
  '/api/v1/data/transactions/%31',
  '/api/v1/data/transactions/99999999999999999999999',
  '/api/v1/data/netAmount/5310',
  '/api/v1/data/netAmount/05310',
  '/api/v1/data/netAmount/xyz',
  '/api/v1/data/netAmount/100000',
  '/api/v1/data/nothing',
];

const temp = new TempDirs();
let cluster: ClickHouseCluster;
let dir = '';
let lake = '';
let firstRows: OracleRow[] = [];
let bothRows: OracleRow[] = [];
let clickhouseServer: RunningServer | undefined;
let embeddedServer: RunningServer | undefined;
/** The store the v2 tests ask directly, opened as `openStore` opens it; and stores opened for one test. */
let store: ClickHouseStore | undefined;
const stores: ClickHouseStore[] = [];
/** A time-travel view of the first snapshot, taken while a later one is served (the vacuum test uses it). */
let pinnedFirst: SnapshotView | undefined;

function txlake(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runTxlake(args, { env: { ...cluster.env, ...env }, timeoutMs: 120_000 });
}

async function status(): Promise<{ lake_current: number | null; up_to_date: boolean; nodes: NodeStatus[] }> {
  const args = ['clickhouse', 'status', '--lake', lake, '--json'];
  return parseJsonOutput(args, await txlake(args));
}

/** A server on the ClickHouse backend without an answer cache: every answer below is ClickHouse's. */
/** A user of the generated rows whose shard is node `index`'s (Distributed: intHash64(id) % shards). */
async function userOnNode(index: number, skip = 0): Promise<bigint> {
  const { intHash64 } = await import('../../src/backends/clickhouse/cluster.js');
  const users = [...new Set(bothRows.map((r) => r.userId))].filter(
    (id) => Number(intHash64(id) % BigInt(cluster.nodes.length)) === index,
  );
  return users[skip] as bigint;
}

async function openClickHouseStore(env: NodeJS.ProcessEnv = {}): Promise<ClickHouseStore> {
  const config = resolveClickHouseConfig({}, { ...cluster.env, ...env }) as ClickHouseConfig;
  const opened = await ClickHouseStore.open({ clickhouse: config });
  stores.push(opened);
  return opened;
}

/** The lake's own list of its retained snapshots, as `snapshots()` must answer it (newest first). */
async function lakeSnapshots(): Promise<SnapshotInfo[]> {
  const args = ['snapshots', '--lake', lake, '--json'];
  const result = await txlake(args);
  expect(result.code, describeRun(args, result)).toBe(0);
  const listed = JSON.parse(result.stdout) as Array<{
    id: number;
    created: string;
    operation: string;
    mode: string;
    rows: number;
    current: boolean;
  }>;
  return listed
    .map((s) => ({
      id: s.id,
      created: s.created,
      operation: s.operation as SnapshotInfo['operation'],
      mode: s.operation === 'ingest' ? (s.mode as SnapshotInfo['mode']) : null,
      rows: s.rows,
      current: s.current,
    }))
    .sort((a, b) => b.id - a.id);
}

/** The oracle's daily sums and counts per merchant code, days ascending. */
function oracleSums(rows: readonly OracleRow[]): Map<number, DailyMerchantSums[]> {
  const byDay = new Map<string, DailyMerchantSums>();
  for (const r of rows) {
    const day = Number(utcDay(r.micros));
    const key = `${r.code}/${day}`;
    const sums = byDay.get(key) ?? {
      merchantTypeCode: r.code,
      day,
      purchaseCents: 0n,
      returnCents: 0n,
      purchases: 0,
      returns: 0,
    };
    if (r.type === 'PurchaseActivity') {
      sums.purchaseCents += r.cents;
      sums.purchases++;
    } else {
      sums.returnCents += r.cents;
      sums.returns++;
    }
    byDay.set(key, sums);
  }
  const byCode = new Map<number, DailyMerchantSums[]>();
  for (const sums of [...byDay.values()].sort((a, b) => a.day - b.day))
    byCode.set(sums.merchantTypeCode, [...(byCode.get(sums.merchantTypeCode) ?? []), sums]);
  return byCode;
}

/** Every user's transactions and every code's daily sums and counts of `view`, against the oracle's. */
async function expectViewAsOracle(view: SnapshotView, rows: readonly OracleRow[]): Promise<void> {
  expect(view.rows).toBe(rows.length);
  const expectedSums = oracleSums(rows);
  for (const code of [...expectedSums.keys(), 1, 9998])
    expect(await view.dailySumsOfMerchant(code), `daily sums of ${code} in snapshot ${view.id}`).toEqual(
      expectedSums.get(code) ?? [],
    );
  const byUser = new Map<bigint, string[]>();
  const canonical = [...rows].sort(
    (a, b) =>
      (a.micros < b.micros ? -1 : a.micros > b.micros ? 1 : 0) ||
      a.type.localeCompare(b.type) ||
      a.code - b.code ||
      (a.cents < b.cents ? -1 : a.cents > b.cents ? 1 : 0),
  );
  for (const r of canonical)
    byUser.set(r.userId, [
      ...(byUser.get(r.userId) ?? []),
      `${r.type === 'ReturnActivity' ? 1 : 0} ${r.code} ${r.cents} ${r.micros}`,
    ]);
  const users = [...byUser.keys(), ...ABSENT_USERS.filter((u) => u < 2n ** 63n)];
  for (let i = 0; i < users.length; i += 16)
    await Promise.all(
      users.slice(i, i + 16).map(async (user) => {
        const batch = await view.transactionsOfUser(user);
        const got: string[] = [];
        for (let j = batch.start; j < batch.end; j++)
          got.push(
            `${batch.transactionType[j]} ${batch.merchantTypeCode[j]} ${batch.amountCents[j]} ${batch.epochMicros[j]}`,
          );
        expect(got, `user ${user} in snapshot ${view.id}`).toEqual(byUser.get(user) ?? []);
      }),
    );
}

function startClickHouseServer(env: NodeJS.ProcessEnv = {}): Promise<RunningServer> {
  return startServer(null, {
    extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'],
    env: { ...cluster.env, ...env },
  });
}

beforeAll(async () => {
  assertBuilt();
  cluster = await ClickHouseCluster.start({ shards: 2 });
  dir = temp.make();
  lake = path.join(dir, 'lake');
  const first: TxRow[] = [
    ...randomTransactions({ seed: 5, rows: 3000, users: 400 }),
    ...cornerCaseTransactions(),
  ];
  const second: TxRow[] = [
    ...randomTransactions({ seed: 6, rows: 500, users: 100, userOffset: 9n }),
    {
      user_id: String(MARKER_USER),
      transaction_type: 'ReturnActivity',
      merchant_type_code: '6011',
      amount_cents: '2550',
      datetime: '2023-05-20T23:59:59.999999',
    },
  ];
  const firstText = csvText(first);
  const secondText = csvText(second);
  writeCsvFile(path.join(dir, 'first.csv'), firstText);
  writeCsvFile(path.join(dir, 'second.csv'), secondText);
  firstRows = oracleIngest(firstText).rows;
  bothRows = [...firstRows, ...oracleIngest(secondText).rows];
}, 120_000);

afterAll(async () => {
  for (const opened of stores) await opened.close();
  await clickhouseServer?.stop();
  await embeddedServer?.stop();
  await cluster?.stop();
  temp.cleanup();
});

describe('ClickHouse backend', () => {
  it('an ingest with ClickHouse configured copies the snapshot to both shards and switches to it', async () => {
    await ingest([path.join(dir, 'first.csv')], lake, [], { env: cluster.env });
    const report = await status();
    expect(report.up_to_date).toBe(true);
    expect(report.nodes.map((n) => n.shard).sort()).toEqual([1, 2]);
    for (const node of report.nodes) {
      expect(node.served).toBe(report.lake_current);
      expect(node.rows, 'each shard holds a share of the rows').toBeGreaterThan(firstRows.length / 5);
    }
    expect(report.nodes.reduce((sum, n) => sum + n.rows, 0)).toBe(firstRows.length);
  });

  it('a server on --backend clickhouse answers every user and code as the oracle does', async () => {
    clickhouseServer = await startClickHouseServer();
    const readyz = JSON.parse((await clickhouseServer.get('/readyz')).body);
    expect(readyz).toMatchObject({ status: 'ready', rows: firstRows.length, user_lookup: 'clickhouse' });
    const mismatches = await v1Mismatches(
      clickhouseServer,
      new V1Oracle(firstRows),
      ABSENT_USERS,
      ABSENT_CODES,
    );
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it("the store: daily sums and counts of purchases and returns per day are the oracle's; snapshots() lists the ingest", async () => {
    store = await openClickHouseStore();
    // It follows `served` as a server's store does (the tests below ask it as the lake moves on).
    await store.follow({ snapshot() {}, problem() {} });
    const view = store.current() as SnapshotView;
    expect(view).not.toBeNull();
    await expectViewAsOracle(view, firstRows);
    const listed = await store.snapshots();
    expect(listed).toEqual(await lakeSnapshots());
    expect(listed).toMatchObject([{ id: view.id, operation: 'ingest', mode: 'append', current: true }]);
    expect(await store.viewOf(view.id)).toBe(view);
  });

  it("routes each lookup to its user's shard with ClickHouse's own intHash64", async () => {
    const { intHash64 } = await import('../../src/backends/clickhouse/cluster.js');
    const ids = [0n, 1n, 31373n, 777000777n, 2n ** 53n + 1n, 9223372036854775807n];
    const answer = await cluster.query(
      0,
      `SELECT ${ids.map((id) => `toString(intHash64(toInt64(${id})))`).join(', ')} FORMAT TSV`,
    );
    expect(answer.trim().split('\t')).toEqual(ids.map((id) => String(intHash64(id))));
    expect(clickhouseServer?.stdout()).toContain('"routing":"shard"');
  });

  it('a server given one endpoint (lookups through the Distributed table) answers exactly too', async () => {
    const one = await startServer(null, {
      extraArgs: ['--backend', 'clickhouse', '--answer-cache', '0'],
      env: { ...cluster.env, TXLAKE_CLICKHOUSE_URL: cluster.urls[1] },
    });
    try {
      expect(one.stdout()).toContain('"routing":"distributed"');
      const mismatches = await v1Mismatches(one, new V1Oracle(firstRows), ABSENT_USERS, ABSENT_CODES);
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
    } finally {
      await one.stop();
    }
  });

  it('answers every conformance path byte for byte as the embedded backend does', async () => {
    embeddedServer = await startServer(lake);
    for (const p of CONFORMANCE_PATHS) {
      const [a, b] = await Promise.all([clickhouseServer?.get(p), embeddedServer.get(p)]);
      expect(`${a?.status} ${a?.headers['content-type']} ${a?.body}`, p).toBe(
        `${b?.status} ${b?.headers['content-type']} ${b?.body}`,
      );
      expect(a?.headers.etag, p).toBe(b?.headers.etag);
    }
  });

  it('follows an append within 2 s, and answers both files exactly', async () => {
    const server = clickhouseServer as RunningServer;
    await ingest([path.join(dir, 'second.csv')], lake, [], { env: cluster.env });
    const committed = Date.now();
    await eventually(
      'the appended marker user',
      async () =>
        (await server.get(`/api/v1/data/transactions/${MARKER_USER}`)).body !== '[]' ? true : null,
      5_000,
    );
    expect(Date.now() - committed).toBeLessThan(2_000);
    const mismatches = await v1Mismatches(server, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('delete-user erases the user from ClickHouse answers; rollback brings the earlier content back', async () => {
    const server = clickhouseServer as RunningServer;
    const victim = bothRows[0]?.userId as bigint;
    const before = (await server.get(`/api/v1/data/transactions/${victim}`)).body;
    expect(before).not.toBe('[]');
    const erased = await txlake(['delete-user', String(victim), '--lake', lake]);
    expect(erased.code, describeRun(['delete-user'], erased)).toBe(0);
    await eventually(
      'the erasure served',
      async () => ((await server.get(`/api/v1/data/transactions/${victim}`)).body === '[]' ? true : null),
      2_000,
    );
    const remaining = bothRows.filter((r) => r.userId !== victim);
    const mismatches = await v1Mismatches(server, new V1Oracle(remaining), [victim], []);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);

    const report = await status();
    const previous = (report.lake_current as number) - 1;
    const rolled = await txlake(['rollback', String(previous), '--lake', lake]);
    expect(rolled.code, describeRun(['rollback'], rolled)).toBe(0);
    await eventually(
      'the rollback served',
      async () => ((await server.get(`/api/v1/data/transactions/${victim}`)).body === before ? true : null),
      2_000,
    );
  });

  it('snapshots() lists each retained snapshot newest first; viewOf answers each as it was committed', async () => {
    const live = store as ClickHouseStore;
    const expected = await lakeSnapshots();
    expect(expected.map((s) => s.operation)).toEqual(['rollback', 'delete-user', 'ingest', 'ingest']);
    // Until the store follows the rollback its `current` may lag: the catalog's says what `served` names.
    await eventually(
      'the rollback in snapshots()',
      async () => ((await live.snapshots())[0]?.current ? true : null),
      2_000,
    );
    expect(await live.snapshots()).toEqual(expected);
    const [rolledBack, erased, appended, first] = expected.map((s) => s.id) as [
      number,
      number,
      number,
      number,
    ];
    const victim = bothRows[0]?.userId as bigint;
    const contentOf = new Map<number, OracleRow[]>([
      [first, firstRows],
      [appended, bothRows],
      [erased, bothRows.filter((r) => r.userId !== victim)],
      [rolledBack, bothRows],
    ]);
    await live.refresh();
    expect(live.current()?.id).toBe(rolledBack);
    for (const [id, rows] of contentOf) {
      const view = await live.viewOf(id);
      expect(view.id).toBe(id);
      expect(view.created).toBe(expected.find((s) => s.id === id)?.created);
      if (id === rolledBack) expect(view).toBe(live.current());
      await expectViewAsOracle(view, rows);
    }
    pinnedFirst = await live.viewOf(first);
    expect(await live.viewOf(first), 'a view asked for again is the one kept').toBe(pinnedFirst);
    await expect(live.viewOf(rolledBack + 1)).rejects.toMatchObject({ name: 'NoSuchSnapshot' });
    await expect(live.viewOf(10 ** 9)).rejects.toMatchObject({ name: 'NoSuchSnapshot' });
    await expect(live.viewOf(0)).rejects.toMatchObject({ name: 'SnapshotGone' });
  });

  it('vacuum drops the copies of the snapshots it removed, and the server keeps answering', async () => {
    const before = await status();
    const held = before.nodes[0]?.snapshots ?? [];
    expect(held.length).toBeGreaterThan(1);
    const vacuumed = await txlake(['vacuum', '--retain', '0', '--lake', lake]);
    expect(vacuumed.code, describeRun(['vacuum'], vacuumed)).toBe(0);
    const after = await status();
    for (const node of after.nodes) expect(node.snapshots).toEqual([after.lake_current]);
    expect(after.nodes.reduce((sum, n) => sum + n.rows, 0)).toBe(bothRows.length);
    const mismatches = await v1Mismatches(clickhouseServer as RunningServer, new V1Oracle(bothRows), [], []);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);

    // The store: the vacuumed snapshots leave snapshots() within 2 s; asked for, they are gone (410), and
    // a view of one taken before the vacuum refuses lookups rather than answer from missing file lists.
    const live = store as ClickHouseStore;
    const current = after.lake_current as number;
    const vacuumedAt = Date.now();
    const listed = await eventually(
      'the vacuum in snapshots()',
      async () => {
        const list = await live.snapshots();
        return list.length === 1 ? list : null;
      },
      2_000,
    );
    expect(Date.now() - vacuumedAt).toBeLessThan(2_000);
    expect(listed).toEqual(await lakeSnapshots());
    for (const id of held.filter((id) => id !== current))
      await expect(live.viewOf(id), `viewOf(${id})`).rejects.toMatchObject({
        name: 'SnapshotGone',
        snapshot: id,
      });
    await expect(live.viewOf(current + 1)).rejects.toMatchObject({ name: 'NoSuchSnapshot' });
    const user = firstRows[1]?.userId as bigint;
    await expect((pinnedFirst as SnapshotView).transactionsOfUser(user)).rejects.toMatchObject({
      name: 'SnapshotGone',
    });
  });

  it('a node down: user answers are 503 problems with Retry-After within 2 s, then resume without a restart', async () => {
    const server = clickhouseServer as RunningServer;
    const user = await userOnNode(1);
    const healthy = await server.get(`/api/v1/data/transactions/${user}`);
    expect(healthy.status).toBe(200);
    await cluster.stopNode(1);
    try {
      const started = Date.now();
      const down = await server.get(`/api/v1/data/transactions/${user}`);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(down.status).toBe(503);
      expect(down.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(down.headers['retry-after']).toBe('1');
      expect(JSON.parse(down.body)).toMatchObject({ status: 503, title: 'Service Unavailable' });
      expect(down.body).not.toContain('127.0.0.1'); // the node's address stays in the log
      // A server whose only endpoint is down starts, is not ready, and says why on /readyz, which anyone
      // may read: the node is named by its place in TXLAKE_CLICKHOUSE_URL, not by its address.
      const lonely = await startServer(null, {
        extraArgs: ['--backend', 'clickhouse'],
        env: { ...cluster.env, TXLAKE_CLICKHOUSE_URL: cluster.urls[1] },
        until: 'listening',
      });
      try {
        const readyz = await eventually(
          'the outage on /readyz',
          async () => {
            const answer = await lonely.get('/readyz');
            return answer.body.includes('did not answer') ? answer : null;
          },
          5_000,
        );
        expect(readyz.status).toBe(503);
        expect(readyz.body).toContain('ClickHouse at node 1 did not answer');
        expect(readyz.body).not.toContain('127.0.0.1');
      } finally {
        await lonely.stop();
      }
      // netAmount is answered from the sums held in memory
      const code = bothRows[0]?.code as number;
      expect((await server.get(`/api/v1/data/netAmount/${code}`)).status).toBe(200);
      // The store: with its only endpoint down, time travel and the list are BackendUnavailable (503); a
      // view of a snapshot the store does not serve yet answers BackendUnavailable for the down shard.
      const alone = await openClickHouseStore({ TXLAKE_CLICKHOUSE_URL: cluster.urls[1] });
      const current = (store as ClickHouseStore).current()?.id as number;
      await expect(alone.viewOf(current)).rejects.toMatchObject({ name: 'BackendUnavailable' });
      await expect(alone.snapshots()).rejects.toMatchObject({ name: 'BackendUnavailable' });
      const unloaded = await openClickHouseStore();
      const travelled = await unloaded.viewOf(current);
      await expect(travelled.transactionsOfUser(user)).rejects.toMatchObject({ name: 'BackendUnavailable' });
    } finally {
      await cluster.startNode(1);
    }
    await eventually(
      'answers after the node came back',
      async () => ((await server.get(`/api/v1/data/transactions/${user}`)).status === 200 ? true : null),
      10_000,
    );
    expect((await server.get(`/api/v1/data/transactions/${user}`)).body).toBe(healthy.body);
  });

  it('a hung node (SIGSTOP): a 503 within 2 s, never a hang; answers resume on SIGCONT', async () => {
    const server = clickhouseServer as RunningServer;
    const user = await userOnNode(1, 1);
    const elsewhere = await userOnNode(0);
    cluster.pauseNode(1);
    try {
      const started = Date.now();
      const hung = await server.get(`/api/v1/data/transactions/${user}`);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(hung.status).toBe(503);
      expect(hung.headers['retry-after']).toBe('1');
      // Lookups go to the user's shard alone: users of the other shard are still answered.
      expect((await server.get(`/api/v1/data/transactions/${elsewhere}`)).status).toBe(200);
    } finally {
      cluster.resumeNode(1);
    }
    await eventually(
      'answers after the node resumed',
      async () => ((await server.get(`/api/v1/data/transactions/${user}`)).status === 200 ? true : null),
      10_000,
    );
  });

  it('ClickHouse down during an ingest: the commit stands, exit 4 in one line; clickhouse sync catches up', async () => {
    const server = clickhouseServer as RunningServer;
    const late = 888000888n;
    const file = writeCsvFile(
      path.join(dir, 'late.csv'),
      csvText([
        {
          user_id: String(late),
          transaction_type: 'PurchaseActivity',
          merchant_type_code: '5411',
          amount_cents: '1234',
          datetime: '2023-06-01T10:00:00',
        },
      ]),
    );
    await cluster.stopNode(0);
    let result: Awaited<ReturnType<typeof txlake>>;
    try {
      result = await txlake(['ingest', file, '--lake', lake]);
    } finally {
      await cluster.startNode(0);
    }
    expect(result.code, describeRun(['ingest'], result)).toBe(4);
    expect(errorLine(result)).toMatch(
      /^error: the ingest stands in the lake, but ClickHouse is behind it: .*; run `txlake clickhouse sync` once that is fixed$/,
    );
    expect(result.stdout).toContain('committed snapshot');
    const behind = await txlake(['clickhouse', 'status', '--lake', lake]);
    expect(behind.code).toBe(4);
    expect(behind.stdout).toContain('behind:');
    expect((await server.get(`/api/v1/data/transactions/${late}`)).body).toBe('[]'); // still the old snapshot

    const synced = await txlake(['clickhouse', 'sync', '--lake', lake, '--json']);
    expect(synced.code, describeRun(['clickhouse', 'sync'], synced)).toBe(0);
    const outcome = parseJsonOutput<{ served: number; loadedRows: number }>(['clickhouse', 'sync'], synced);
    expect(outcome.loadedRows).toBe(1);
    expect((await status()).up_to_date).toBe(true);
    await eventually(
      'the caught-up snapshot served',
      async () => ((await server.get(`/api/v1/data/transactions/${late}`)).body !== '[]' ? true : null),
      2_000,
    );
    // A second sync has nothing to do.
    const again = parseJsonOutput<{ loadedFiles: number; published: number[] }>(
      ['clickhouse', 'sync'],
      await txlake(['clickhouse', 'sync', '--lake', lake, '--json']),
    );
    expect(again).toMatchObject({ loadedFiles: 0, published: [] });
  });

  it('a database of an earlier txlake (no counts, no mode): readers refuse its sums, the next sync brings it up to date', async () => {
    const lateRows = oracleIngest(readFileSync(path.join(dir, 'late.csv'), 'utf8')).rows;
    const expected = await lakeSnapshots();
    expect(expected.map((s) => [s.operation, s.mode])).toEqual([
      ['ingest', 'append'],
      ['rollback', null],
    ]);
    // Node 1 as the earlier txlake left it; node 0 with the columns added but its rows written before them.
    for (let i = 0; i < cluster.nodes.length; i++) {
      await cluster.query(i, 'ALTER TABLE txlake.daily_sums DROP COLUMN purchases');
      await cluster.query(i, 'ALTER TABLE txlake.daily_sums DROP COLUMN returns');
      await cluster.query(i, 'ALTER TABLE txlake.snapshots DROP COLUMN mode');
    }
    await cluster.query(0, 'ALTER TABLE txlake.daily_sums ADD COLUMN purchases UInt64');
    await cluster.query(0, 'ALTER TABLE txlake.daily_sums ADD COLUMN returns UInt64');
    await cluster.query(0, 'ALTER TABLE txlake.snapshots ADD COLUMN mode String');
    const older = await openClickHouseStore({ TXLAKE_CLICKHOUSE_URL: cluster.urls[1] });
    await expect(older.refresh()).rejects.toThrow(/lack columns this txlake reads .*txlake clickhouse sync/);
    const uncounted = await openClickHouseStore({ TXLAKE_CLICKHOUSE_URL: cluster.urls[0] });
    await expect(uncounted.refresh()).rejects.toThrow(/published without the purchase and return counts/);
    // v1 answers go on from the view the server holds.
    const user = bothRows[5]?.userId as bigint;
    expect((await (clickhouseServer as RunningServer).get(`/api/v1/data/transactions/${user}`)).status).toBe(
      200,
    );

    const synced = await txlake(['clickhouse', 'sync', '--lake', lake, '--json']);
    expect(synced.code, describeRun(['clickhouse', 'sync'], synced)).toBe(0);
    const outcome = parseJsonOutput<{ published: number[]; loadedFiles: number }>(
      ['clickhouse', 'sync'],
      synced,
    );
    expect(outcome).toMatchObject({ loadedFiles: 0, published: expected.map((s) => s.id).reverse() });
    for (let i = 0; i < cluster.nodes.length; i++)
      expect(
        (
          await cluster.query(
            i,
            "SELECT table, name, type FROM system.columns WHERE database = 'txlake' AND name IN ('purchases', 'returns', 'mode') ORDER BY table, name FORMAT TSV",
          )
        ).trim(),
      ).toBe('daily_sums\tpurchases\tUInt64\ndaily_sums\treturns\tUInt64\nsnapshots\tmode\tString');
    for (const url of cluster.urls) {
      const upgraded = await openClickHouseStore({ TXLAKE_CLICKHOUSE_URL: url });
      expect(await upgraded.refresh()).toBe(true);
      expect(await upgraded.snapshots()).toEqual(expected);
      await expectViewAsOracle(upgraded.current() as SnapshotView, [...bothRows, ...lateRows]);
      await expectViewAsOracle(await upgraded.viewOf(expected[1]?.id as number), bothRows);
    }
    const again = parseJsonOutput<{ published: number[] }>(
      ['clickhouse', 'sync'],
      await txlake(['clickhouse', 'sync', '--lake', lake, '--json']),
    );
    expect(again.published).toEqual([]);
  });

  it('never copies a lake file whose checksum does not match: the sync names it, ClickHouse unchanged', async () => {
    const file = writeCsvFile(
      path.join(dir, 'damaged.csv'),
      csvText([
        {
          user_id: '999000999',
          transaction_type: 'ReturnActivity',
          merchant_type_code: '5411',
          amount_cents: '777',
          datetime: '2023-06-02T10:00:00',
        },
      ]),
    );
    // Committed while ClickHouse is unreachable, so its file is not in ClickHouse yet; then damaged.
    const earlier = new Set((await currentSnapshot(lake))?.files ?? []);
    const offline = await txlake(['ingest', file, '--lake', lake, '--json'], {
      TXLAKE_CLICKHOUSE_URL: 'http://127.0.0.1:1',
    });
    expect(offline.code, describeRun(['ingest'], offline)).toBe(4);
    const snapshot = await currentSnapshot(lake);
    const newest = snapshot?.files.find((f) => !earlier.has(f)) as string;
    expect(newest).toContain('ReturnActivity');
    const before = await status();
    const { flipBytes } = await import('../helpers/damage.js');
    const original = readFileSync(path.join(lake, newest));
    await flipBytes(path.join(lake, newest));
    try {
      const refused = await txlake(['clickhouse', 'sync', '--lake', lake]);
      expect(refused.code, describeRun(['clickhouse', 'sync'], refused)).not.toBe(0);
      expect(errorLine(refused)).toContain(`${newest} does not match its checksum`);
      expect(errorLine(refused)).toContain('nothing of it was copied to ClickHouse');
      expect(await status()).toEqual(before);
    } finally {
      writeFileSync(path.join(lake, newest), original);
    }
    expect((await txlake(['clickhouse', 'sync', '--lake', lake])).code).toBe(0);
  });

  it('refuses to publish a second lake into the same database, changing nothing', async () => {
    const other = path.join(dir, 'other-lake');
    const before = await status();
    const result = await runTxlake(['ingest', path.join(dir, 'second.csv'), '--lake', other], {
      env: cluster.env,
      timeoutMs: 60_000,
    });
    expect(result.code, describeRun(['ingest'], result)).toBe(4);
    expect(errorLine(result)).toContain("holds another lake's copy in database txlake");
    expect(errorLine(result)).toContain('TXLAKE_CLICKHOUSE_DATABASE');
    expect(await status()).toEqual(before);
    // With its own database it is published beside the first.
    const own = await runTxlake(['clickhouse', 'sync', '--lake', other], {
      env: { ...cluster.env, TXLAKE_CLICKHOUSE_DATABASE: 'txlake_other' },
      timeoutMs: 60_000,
    });
    expect(own.code, describeRun(['clickhouse', 'sync'], own)).toBe(0);
  });

  it('a cluster whose shards changed since the rows were loaded: writers refuse, readers stop routing', async () => {
    const [identity, root, layout] = (
      await cluster.query(0, 'SELECT identity, root, layout FROM txlake.lake FORMAT TSV')
    )
      .trim()
      .split('\t');
    expect(layout).toBe('1:1,2:1');
    const claim = (shards: string) =>
      `INSERT INTO txlake.lake (identity, root, layout, claimed) VALUES ('${identity}', '${String(root).replaceAll("'", "\\'")}', '${shards}', now())`;
    const recordLayout = async (shards: string) => {
      for (let i = 0; i < cluster.nodes.length; i++) {
        await cluster.query(i, 'TRUNCATE TABLE txlake.lake');
        await cluster.query(i, claim(shards));
      }
    };
    // As if the rows had been loaded when the cluster had three shards.
    await recordLayout('1:1,2:1,3:1');
    try {
      const refused = await txlake(['clickhouse', 'sync', '--lake', lake]);
      expect(refused.code, describeRun(['clickhouse', 'sync'], refused)).toBe(4);
      expect(errorLine(refused)).toMatch(
        /the shards of cluster txlake_test changed since this lake's rows were loaded \(shard:weight 1:1,2:1,3:1, now 1:1,2:1\)/,
      );
      const reader = await startClickHouseServer();
      try {
        expect(reader.stdout()).toContain('"routing":"distributed"');
        const user = bothRows[3]?.userId as bigint;
        const [got, expected] = await Promise.all([
          reader.get(`/api/v1/data/transactions/${user}`),
          (clickhouseServer as RunningServer).get(`/api/v1/data/transactions/${user}`),
        ]);
        expect(got.body).toBe(expected.body);
      } finally {
        await reader.stop();
      }
    } finally {
      await recordLayout('1:1,2:1');
    }
    expect((await txlake(['clickhouse', 'sync', '--lake', lake])).code).toBe(0);
  });

  it('a server on an empty ClickHouse database is not ready and says how to fill it', async () => {
    const empty = await startServer(null, {
      extraArgs: ['--backend', 'clickhouse'],
      env: { ...cluster.env, TXLAKE_CLICKHOUSE_DATABASE: 'txlake_nothing' },
      until: 'listening',
    });
    try {
      const readyz = await empty.get('/readyz');
      expect(readyz.status).toBe(503);
      expect(readyz.body).toContain('no txlake tables in database txlake_nothing');
      expect((await empty.get('/api/v1/data/transactions/1')).status).toBe(503);
    } finally {
      await empty.stop();
    }
  });

  it('refuses bad ClickHouse configuration with one line and exit 2', async () => {
    const cases: Array<{ args: string[]; env: NodeJS.ProcessEnv; message: RegExp }> = [
      {
        args: ['clickhouse', 'sync', '--lake', lake],
        env: { TXLAKE_CLICKHOUSE_URL: cluster.urls[0], TXLAKE_CLICKHOUSE_CLUSTER: '' },
        message: /TXLAKE_CLICKHOUSE_URL is set but no cluster is/,
      },
      {
        args: ['clickhouse', 'status', '--clickhouse-url', 'ftp://x', '--clickhouse-cluster', 'c'],
        env: {},
        message: /--clickhouse-url must list HTTP endpoints/,
      },
      {
        args: [
          'clickhouse',
          'status',
          '--clickhouse-url',
          'http://u:p@127.0.0.1:1',
          '--clickhouse-cluster',
          'c',
        ],
        env: {},
        message: /credentials in TXLAKE_CLICKHOUSE_USER/,
      },
      {
        args: [
          'clickhouse',
          'status',
          '--clickhouse-url',
          cluster.urls[0] as string,
          '--clickhouse-cluster',
          'a;DROP',
        ],
        env: {},
        message: /--clickhouse-cluster must be a plain name/,
      },
      {
        args: ['clickhouse', 'sync', '--lake', lake],
        env: { TXLAKE_CLICKHOUSE_URL: '', TXLAKE_CLICKHOUSE_CLUSTER: '' },
        message: /no ClickHouse is configured/,
      },
      { args: ['serve', '--backend', 'bogus'], env: {}, message: /--backend must be embedded or clickhouse/ },
      {
        args: ['serve', '--backend', 'clickhouse'],
        env: { TXLAKE_CLICKHOUSE_URL: '', TXLAKE_CLICKHOUSE_CLUSTER: '' },
        message: /--backend clickhouse needs TXLAKE_CLICKHOUSE_URL/,
      },
      {
        args: ['serve', '--backend', 'clickhouse', '--lake', lake],
        env: {},
        message: /--backend clickhouse reads no lake/,
      },
    ];
    for (const c of cases) {
      const result = await txlake(c.args, c.env);
      expect(result.code, describeRun(c.args, result)).toBe(2);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(errorLine(result), c.args.join(' ')).toMatch(c.message);
    }
  });

  it('a cluster name the nodes do not know is refused in words, exit 4, the lake untouched', async () => {
    const result = await txlake(['clickhouse', 'sync', '--lake', lake], {
      TXLAKE_CLICKHOUSE_CLUSTER: 'nope',
    });
    expect(result.code, describeRun(['clickhouse', 'sync'], result)).toBe(4);
    expect(errorLine(result)).toMatch(/is not a node of cluster nope/);
  });
});
