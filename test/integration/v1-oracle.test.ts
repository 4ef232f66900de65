// Every v1 answer of a real lake and server, compared byte for byte with the independent oracle:
// thousands of generated rows plus hand-made corner cases, then a second file appended.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import { type OracleRow, oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { cornerCaseTransactions, prng, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, currentSnapshot, type IngestSummary, ingest, TempDirs } from '../helpers/txlake.js';
import { describeMismatches, v1Mismatches } from '../helpers/v1-compare.js';

const ABSENT_USERS = [2n, 3n, 123456789n, 9223372036854775805n, 9223372036854775808n, 10n ** 20n];
const ABSENT_CODES = [1n, 2n, 9998n, 10000n, 123456n, 9223372036854775807n, 10n ** 20n];
/** Only in the second file: its presence tells that a server sees the appended snapshot. */
const MARKER_USER = 777000777n;

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const random = prng(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** The worker pids the primary logged ("worker started"). */
function workerPids(stdout: string): number[] {
  return [...stdout.matchAll(/"worker_pid":([0-9]+),"msg":"worker started"/g)].map((m) => Number(m[1]));
}

function killIfAlive(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function rowKey(r: Omit<OracleRow, 'line'>): string {
  return `${r.userId}|${r.type}|${r.code}|${r.cents}|${r.micros}`;
}

const temp = new TempDirs();
let lake = '';
let firstText = '';
let secondText = '';
let firstRows: OracleRow[] = [];
let bothRows: OracleRow[] = [];
let firstSummary: IngestSummary;
let server: RunningServer | undefined;

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make();
  lake = path.join(dir, 'lake');
  const first: TxRow[] = shuffled(
    [...randomTransactions({ seed: 1, rows: 3000, users: 400 }), ...cornerCaseTransactions()],
    11,
  );
  const second: TxRow[] = [
    ...randomTransactions({ seed: 2, rows: 800, users: 150, userOffset: 7n }),
    ...randomTransactions({ seed: 1, rows: 200, users: 400 }), // same users and codes as the first file
    {
      user_id: String(MARKER_USER),
      transaction_type: 'ReturnActivity',
      merchant_type_code: '6011',
      amount_cents: '2550',
      datetime: '2023-05-20T23:59:59.999999',
    },
  ];
  firstText = csvText(first);
  secondText = csvText(second, { crlf: true });
  writeCsvFile(path.join(dir, 'first.csv'), firstText);
  writeCsvFile(path.join(dir, 'second.csv'), secondText);
  const firstOracle = oracleIngest(firstText);
  const secondOracle = oracleIngest(secondText);
  // the generator writes only valid rows: anything else is a bug of the test, not of txlake
  expect(firstOracle.rejects).toEqual([]);
  expect(secondOracle.rejects).toEqual([]);
  firstRows = firstOracle.rows;
  bothRows = [...firstOracle.rows, ...secondOracle.rows];
  ({ summary: firstSummary } = await ingest([path.join(dir, 'first.csv')], lake));
  server = await startServer(lake);
});

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

describe('v1 answers against the oracle', () => {
  it('ingest reports every row read and committed', () => {
    expect(firstSummary).toMatchObject({
      rows_read: firstRows.length,
      rows_committed: firstRows.length,
      rows_rejected: 0,
    });
    expect(Number.isInteger(firstSummary.snapshot)).toBe(true);
  });

  it('snapshot --json lists the Hive-partitioned data files of the lake', async () => {
    const snapshot = await currentSnapshot(lake);
    expect(snapshot, 'txlake snapshot --json failed').not.toBeNull();
    if (!snapshot) return;
    expect(snapshot.id).toBe(firstSummary.snapshot);
    expect(snapshot.rows).toBe(firstRows.length);
    expect(Number.isNaN(Date.parse(snapshot.created))).toBe(false);
    expect(snapshot.files.length).toBeGreaterThan(0);
    for (const file of snapshot.files) {
      expect(file).toMatch(/^transaction_type=(PurchaseActivity|ReturnActivity)\/.+\.parquet$/);
      expect(existsSync(path.join(lake, file)), file).toBe(true);
    }
    expect(snapshot.files.some((f) => f.startsWith('transaction_type=PurchaseActivity/'))).toBe(true);
    expect(snapshot.files.some((f) => f.startsWith('transaction_type=ReturnActivity/'))).toBe(true);
  });

  it('another engine (DuckDB read_parquet, hive_partitioning) reads exactly the oracle rows with the SPEC types', async () => {
    const snapshot = await currentSnapshot(lake);
    if (!snapshot) throw new Error('no snapshot');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const list = snapshot.files.map((f) => `'${path.join(lake, f).replaceAll("'", "''")}'`).join(', ');
      const source = `read_parquet([${list}], hive_partitioning = true)`;
      const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
      const types = Object.fromEntries(
        described.getRowObjects().map((r) => [String(r.column_name), String(r.column_type)]),
      );
      expect(types).toMatchObject({
        user_id: 'BIGINT',
        transaction_type: 'VARCHAR',
        merchant_type_code: 'INTEGER',
        amount_cents: 'BIGINT',
      });
      expect(types.datetime).toMatch(/^TIMESTAMP( WITH TIME ZONE)?$/);
      const reader = await connection.runAndReadAll(
        `SELECT user_id, transaction_type, merchant_type_code, amount_cents, epoch_us(datetime) AS micros FROM ${source}`,
      );
      const got = reader
        .getRowObjects()
        .map((r) =>
          rowKey({
            userId: BigInt(r.user_id as bigint),
            type: r.transaction_type as OracleRow['type'],
            code: Number(r.merchant_type_code),
            cents: BigInt(r.amount_cents as bigint),
            micros: BigInt(r.micros as bigint),
          }),
        )
        .sort();
      const expected = firstRows.map(rowKey).sort();
      expect(got.length).toBe(expected.length);
      const missing = expected.filter((k, i) => got[i] !== k).slice(0, 5);
      expect(missing, 'rows differ (first oracle rows not matched)').toEqual([]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('answers every user and every merchant code exactly, and [] for absent ids', async () => {
    if (!server) throw new Error('no server');
    const oracle = new V1Oracle(firstRows);
    expect(oracle.userIds().length).toBeGreaterThan(300);
    const mismatches = await v1Mismatches(server, oracle, ABSENT_USERS, ABSENT_CODES);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('appending a second file commits a new snapshot holding both', async () => {
    const { summary } = await ingest([path.join(path.dirname(lake), 'second.csv')], lake);
    const secondCount = bothRows.length - firstRows.length;
    expect(summary).toMatchObject({ rows_read: secondCount, rows_committed: secondCount, rows_rejected: 0 });
    expect(summary.snapshot).toBeGreaterThan(firstSummary.snapshot);
    const snapshot = await currentSnapshot(lake);
    expect(snapshot?.id).toBe(summary.snapshot);
    expect(snapshot?.rows).toBe(bothRows.length);
  });

  it('the running server follows the new snapshot without a restart', async () => {
    if (!server) throw new Error('no server');
    const live = server;
    const deadline = Date.now() + 15_000;
    let body = '';
    while (Date.now() < deadline) {
      body = (await live.get(`/api/v1/data/transactions/${MARKER_USER}`)).body;
      if (body !== '[]') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(body, 'the server did not pick up the appended snapshot within 15 s').not.toBe('[]');
    const mismatches = await v1Mismatches(live, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('a server started on the appended lake answers both files exactly', async () => {
    const fresh = await startServer(lake);
    try {
      const mismatches = await v1Mismatches(fresh, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
    } finally {
      expect(await fresh.stop()).toBe(0);
    }
  });

  it('the first server indexes users in memory and says so on /readyz', async () => {
    if (!server) throw new Error('no server');
    expect(JSON.parse((await server.get('/readyz')).body)).toMatchObject({
      status: 'ready',
      user_lookup: 'memory',
    });
  });

  it('a server with --user-lookup parquet --answer-cache 0 answers both files exactly', async () => {
    const parquet = await startServer(lake, {
      extraArgs: ['--user-lookup', 'parquet', '--answer-cache', '0'],
    });
    try {
      expect(JSON.parse((await parquet.get('/readyz')).body)).toMatchObject({ user_lookup: 'parquet' });
      const oracle = new V1Oracle(bothRows);
      for (let round = 0; round < 2; round++) {
        const mismatches = await v1Mismatches(parquet, oracle, ABSENT_USERS, ABSENT_CODES);
        expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
      }
      // Parquet lookups were asked for, not fallen back to: no warning
      expect(parquet.stdout()).not.toContain('user lookups query Parquet files');
    } finally {
      expect(await parquet.stop()).toBe(0);
    }
  });

  it('a server with the JavaScript answer writer (TXLAKE_NATIVE=0) answers both files exactly, saying so', async () => {
    const javascript = await startServer(lake, { env: { TXLAKE_NATIVE: '0' } });
    try {
      const mismatches = await v1Mismatches(javascript, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
      expect(javascript.stdout()).toContain('"answer_writer":"javascript"');
      expect(javascript.stdout()).toContain('answers are written by the JavaScript writer');
    } finally {
      expect(await javascript.stop()).toBe(0);
    }
  });

  it('a server with --index-memory 1KB falls back to Parquet lookups, warns, and answers both files exactly', async () => {
    const small = await startServer(lake, { extraArgs: ['--index-memory', '1KB'] });
    try {
      expect(JSON.parse((await small.get('/readyz')).body)).toMatchObject({
        status: 'ready',
        rows: bothRows.length,
        user_lookup: 'parquet',
      });
      const warning = small
        .stdout()
        .split('\n')
        .filter((line) => line.includes('user lookups query Parquet files'))
        .map((line) => JSON.parse(line) as { level: number; reason?: string });
      expect(warning.length, small.stdout().slice(0, 2000)).toBe(1);
      expect(warning[0]?.level).toBe(40); // pino's warn
      expect(warning[0]?.reason).toContain('1024-byte index memory budget');
      const mismatches = await v1Mismatches(small, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
    } finally {
      expect(await small.stop()).toBe(0);
    }
  });

  it('a server with --workers 2 answers both files exactly from either worker', async () => {
    const workers = await startServer(lake, { extraArgs: ['--workers', '2'], readyTimeoutMs: 60_000 });
    try {
      // both workers listening, so the comparison goes through each of them
      const deadline = Date.now() + 60_000;
      while ((workers.stdout().match(/Server listening at/g) ?? []).length < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((workers.stdout().match(/Server listening at/g) ?? []).length).toBe(2);
      const mismatches = await v1Mismatches(workers, new V1Oracle(bothRows), ABSENT_USERS, ABSENT_CODES);
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
      // the keep-alive connections of the comparison were shared out: each worker logged some requests
      const servedBy = () =>
        new Set(
          workers
            .stdout()
            .split('\n')
            .filter((line) => line.includes('"route":"/api/v1/'))
            .map((line) => /"pid":([0-9]+)/.exec(line)?.[1]),
        );
      const until = Date.now() + 5_000;
      while (servedBy().size < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(servedBy()).toEqual(new Set(workerPids(workers.stdout()).map(String)));
    } finally {
      // SIGKILL: a graceful stop of the workers is the business of test/e2e/serve-workers.test.ts
      killIfAlive(workers.process.pid as number);
      for (const pid of workerPids(workers.stdout())) killIfAlive(pid);
    }
  });

  it('--mode replace makes a third file the whole dataset, and the running server follows', async () => {
    if (!server) throw new Error('no server');
    const live = server;
    const dir = path.dirname(lake);
    const text = csvText(randomTransactions({ seed: 3, rows: 500, users: 120, userOffset: 3n }));
    const third = oracleIngest(text).rows;
    writeCsvFile(path.join(dir, 'third.csv'), text);
    const { summary } = await ingest([path.join(dir, 'third.csv')], lake, ['--mode', 'replace']);
    expect(summary).toMatchObject({
      rows_read: third.length,
      rows_committed: third.length,
      rows_rejected: 0,
    });
    expect((await currentSnapshot(lake))?.rows).toBe(third.length);
    const deadline = Date.now() + 15_000;
    while (
      (await live.get(`/api/v1/data/transactions/${MARKER_USER}`)).body !== '[]' &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 200));
    }
    const oracle = new V1Oracle(third);
    const kept = new Set(oracle.userIds());
    const gone = new V1Oracle(bothRows).userIds().filter((id) => !kept.has(id));
    const mismatches = await v1Mismatches(live, oracle, [...gone, ...ABSENT_USERS], ABSENT_CODES);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('the test data really exercises the corner cases', () => {
    // guards against a generator change that would make the comparisons above vacuous
    const oracle = new V1Oracle(bothRows);
    const nets = oracle.codes().map((c) => oracle.netAmountBody(c));
    expect(nets.some((b) => b.includes('"net_amount_in_dollars":-'))).toBe(true);
    expect(firstText).toContain('+05');
    expect(readFileSync(path.join(path.dirname(lake), 'second.csv'), 'utf8')).toContain('\r\n');
    expect(secondText.length).toBeGreaterThan(0);
    const perUser = new Map<bigint, number>();
    for (const r of firstRows) perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + 1);
    expect(Math.max(...perUser.values())).toBeGreaterThan(150);
  });
});
