// The in-memory user index and the embedded store's two ways of finding a user's rows. First the index
// alone, built by DuckDB from a table of awkward rows (negative and INT64-edge ids and amounts, years 0001
// and 9999, ties, several chunks, thousands of users); then real lakes written by `txlake ingest` (also
// partitioned by month), where memory views, Parquet views and the independent oracle must agree byte for
// byte, and a memory budget too small makes a view fall back to Parquet lookups, saying why.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore, type EmbeddedStoreOptions } from '../../src/backends/embedded/embedded-store.js';
import {
  INDEX_BYTES_PER_ROW,
  INDEX_BYTES_PER_USER,
  UserIndex,
} from '../../src/backends/embedded/user-index.js';
import type { SnapshotView } from '../../src/backends/store.js';
import { type Engine, openEngine } from '../../src/lake/engine.js';
import { v1DailyNetJson, v1TransactionsJson } from '../../src/server/api/v1/json.js';
import { csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import { daysFromCivil, type OracleRow, oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { cornerCaseTransactions, prng, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, ingest, TempDirs } from '../helpers/txlake.js';

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const MICROS_PER_DAY = 86_400_000_000n;
const FIRST_MICRO = daysFromCivil(1, 1, 1) * MICROS_PER_DAY;
const LAST_MICRO = (daysFromCivil(9999, 12, 31) + 1n) * MICROS_PER_DAY - 1n;

function int(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** Every body the index answers for `ids` that differs from the oracle's, as readable lines. */
function indexMismatches(index: UserIndex, oracle: V1Oracle, ids: readonly bigint[]): string[] {
  const out: string[] = [];
  for (const id of ids) {
    const got = v1TransactionsJson(index.lookup(id)).toString('latin1');
    const expected = oracle.transactionsBody(id);
    if (got !== expected)
      out.push(`user ${id}\n  expected ${expected.slice(0, 400)}\n  got      ${got.slice(0, 400)}`);
  }
  return out;
}

/** Rows that exercise every path of the index build: fast and slow amounts, signs, edges of time. */
function awkwardRows(): OracleRow[] {
  const random = prng(424_242);
  const amounts = [
    0n,
    49n,
    50n,
    150n,
    75_050n,
    75_150n,
    -1n,
    -50n,
    -150n,
    -75_150n,
    2n ** 52n - 1n,
    2n ** 53n - 1n, // around the largest cents a double holds exactly
    2n ** 53n,
    2n ** 53n + 1n,
    -(2n ** 53n) - 1n,
    2n ** 52n,
    -(2n ** 52n),
    -(2n ** 52n) - 1n,
    2n ** 53n * 100n - 1n,
    2n ** 53n * 100n, // 2^53 dollars: kept as a bigint
    2n ** 53n * 100n + 50n,
    -(2n ** 53n) * 100n,
    INT64_MAX,
    INT64_MAX - 50n,
    INT64_MIN,
    INT64_MIN + 1n,
  ];
  const edgeMicros = [
    FIRST_MICRO,
    FIRST_MICRO + 999_999n,
    LAST_MICRO,
    -1n,
    -500_000n,
    0n,
    -86_400_000_001n,
    daysFromCivil(1900, 3, 1) * MICROS_PER_DAY - 1n,
    daysFromCivil(2000, 2, 29) * MICROS_PER_DAY + 43_200_123_456n,
  ];
  const specialUsers = [INT64_MIN, INT64_MIN + 1n, -1n, 0n, 1n, 2n ** 53n + 1n, INT64_MAX - 1n, INT64_MAX];
  const rows: OracleRow[] = [];
  const add = (userId: bigint, type: OracleRow['type'], code: number, cents: bigint, micros: bigint) =>
    rows.push({ line: rows.length + 2, userId, type, code, cents, micros });
  // every special user gets every amount at an edge instant
  for (const user of specialUsers) {
    amounts.forEach((cents, i) => {
      add(
        user,
        i % 3 === 0 ? 'ReturnActivity' : 'PurchaseActivity',
        i * 380,
        cents,
        edgeMicros[i % edgeMicros.length] as bigint,
      );
    });
  }
  // exact ties on the instant (also before 1970): type, then code, then cents decide
  for (const micros of [1_680_000_000_000_000n, -1_000_000n, FIRST_MICRO]) {
    for (const [type, code, cents] of [
      ['ReturnActivity', 1, 100n],
      ['PurchaseActivity', 9999, 200n],
      ['PurchaseActivity', 742, 30_000n],
      ['PurchaseActivity', 742, 20_000n],
      ['ReturnActivity', 0, 90_000n],
      ['PurchaseActivity', 0, 1_000n],
    ] as const) {
      add(31_373n, type, code, cents, micros);
    }
  }
  // ties whose amounts need the exact (bigint) path, and negative ones, at one instant
  for (const cents of [INT64_MAX, 2n ** 53n * 100n, 100n, -5000n, INT64_MIN, 2n ** 53n + 1n, 101n]) {
    add(31_374n, 'PurchaseActivity', 5, cents, 1_700_000_000_123_456n);
    add(31_374n, 'ReturnActivity', 5, cents === INT64_MIN ? INT64_MAX - 7n : -cents, 1_700_000_000_123_456n);
  }
  // thousands of users with a few rows each (the index grows its user arrays), plus a heavy one
  for (let i = 0; i < 7000; i++) {
    const user = random() < 0.15 ? 77n : BigInt(int(random, 1000, 4000)) * 1_000_003n - 2_000_000_000n;
    const micros =
      random() < 0.2
        ? FIRST_MICRO + BigInt(Math.floor(random() * Number(LAST_MICRO - FIRST_MICRO)))
        : BigInt(int(random, -2_000_000, 2_000_000)) * 1_000_000n + BigInt(int(random, 0, 999_999));
    add(
      user,
      random() < 0.2 ? 'ReturnActivity' : 'PurchaseActivity',
      int(random, 0, 9999),
      random() < 0.1
        ? (amounts[int(random, 0, amounts.length - 1)] as bigint)
        : BigInt(int(random, 0, 500_000)),
      micros,
    );
  }
  return rows;
}

describe('UserIndex.build over a DuckDB table', () => {
  let engine: Engine;
  let rows: OracleRow[];
  let oracle: V1Oracle;
  let index: UserIndex;

  beforeAll(async () => {
    engine = await openEngine({ threads: 2 });
    rows = awkwardRows();
    oracle = new V1Oracle(rows);
    await engine.run(
      `CREATE TABLE t (user_id BIGINT, transaction_type VARCHAR, merchant_type_code INTEGER,
                       amount_cents BIGINT, datetime TIMESTAMP)`,
    );
    for (let at = 0; at < rows.length; at += 1000) {
      const values = rows
        .slice(at, at + 1000)
        .map((r) => `(${r.userId}, '${r.type}', ${r.code}, ${r.cents}, make_timestamp(${r.micros}::BIGINT))`);
      await engine.run(`INSERT INTO t VALUES ${values.join(',')}`);
    }
    index = await UserIndex.build(engine.connection, 't', rows.length);
  });

  afterAll(() => engine?.close());

  it('holds every row and user, several DuckDB chunks and a grown user array', () => {
    expect(rows.length).toBeGreaterThan(3 * 2048);
    expect(index.rowCount).toBe(rows.length);
    expect(index.userCount).toBe(oracle.userIds().length);
    expect(index.userCount).toBeGreaterThan(rows.length >>> 4);
    // the documented cost: 19 bytes per row, 12 per user (plus the end offset of the last user)
    const documented = rows.length * INDEX_BYTES_PER_ROW + index.userCount * INDEX_BYTES_PER_USER;
    expect(index.bytes).toBeGreaterThanOrEqual(documented);
    expect(index.bytes).toBeLessThanOrEqual(documented + 64);
  });

  it('answers every user exactly as the oracle', () => {
    const mismatches = indexMismatches(index, oracle, oracle.userIds());
    expect(mismatches.length, mismatches.slice(0, 3).join('\n')).toBe(0);
  });

  it('answers [] for ids below, between and above the stored ones', () => {
    const ids = oracle.userIds();
    const absent = [INT64_MIN + 2n, -2n, 2n, 78n, INT64_MAX - 2n];
    for (let i = 0; i + 1 < ids.length; i += 97) {
      const next = (ids[i] as bigint) + 1n;
      if (next !== ids[i + 1]) absent.push(next);
    }
    for (const id of absent) {
      expect(ids).not.toContain(id);
      expect(v1TransactionsJson(index.lookup(id)).toString(), `user ${id}`).toBe('[]');
    }
    const empty = new V1Oracle([]);
    expect(indexMismatches(UserIndex.empty(), empty, [0n, 5n, INT64_MAX])).toEqual([]);
  });

  it('refuses files that hold more or fewer rows than the manifest says', async () => {
    await expect(UserIndex.build(engine.connection, 't', rows.length + 1)).rejects.toThrow(
      `hold ${rows.length} rows, its manifest says ${rows.length + 1}`,
    );
    await expect(UserIndex.build(engine.connection, 't', rows.length - 1)).rejects.toThrow(
      `more rows than its manifest's ${rows.length - 1}`,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Real lakes

const P = 'PurchaseActivity';
const R = 'ReturnActivity';
const tx = (
  user: bigint | number,
  type: string,
  code: number,
  cents: string | number,
  datetime: string,
): TxRow => ({
  user_id: String(user),
  transaction_type: type,
  merchant_type_code: String(code),
  amount_cents: String(cents),
  datetime,
});

/** What the corner cases lack: amounts at the INT64 limit, far years, more same-instant ties. */
function lakeEdgeRows(): TxRow[] {
  return [
    tx(5, P, 5411, '9223372036854775807', '0001-01-01T00:00:00'),
    tx(5, R, 5411, '9223372036854775806', '9999-12-31T23:59:59.999999'),
    tx(5, P, 5411, '9223372036854775750', '1969-12-31T23:59:59.5'),
    tx(5, P, 5411, '900719925474099250', '1969-07-20T20:17:40Z'),
    tx(5, P, 5411, '900719925474099149', '1900-02-28T23:59:59.999999+01:00'),
    tx(5, R, 5411, '450359962737049550', '1900-03-01T00:00:00'),
    tx(6, R, 9999, '9223372036854775807', '0001-01-01T00:00:00.000001'),
    tx(6, P, 0, '0', '1600-02-29T12:00:00-11:00'),
    // ties on the instant, written in different zones: type, code, cents decide
    tx(7, R, 5310, 500, '2023-04-15T12:00:00Z'),
    tx(7, P, 9999, 100, '2023-04-15T14:00:00+02:00'),
    tx(7, P, 5310, 300, '2023-04-15T12:00:00'),
    tx(7, P, 5310, 200, '2023-04-15T07:00:00-05:00'),
    tx(7, P, 742, 900, '2023-04-15T12:00:00.000000'),
    tx(7, R, 742, 100, '2023-04-15T12:00:00+00:00'),
    tx(7, P, 742, 150, '1950-01-01T00:00:00'),
    tx(7, P, 742, 250, '1950-01-01T00:00:00'),
  ];
}

const temp = new TempDirs();
const stores: EmbeddedStore[] = [];
let lake = '';
let monthLake = '';
let lakeOracle: V1Oracle;
let lakeRows = 0;

async function openView(
  options: Omit<EmbeddedStoreOptions, 'lake'> & { lake: string },
): Promise<SnapshotView> {
  const store = await EmbeddedStore.open({ connections: 2, ...options });
  stores.push(store);
  expect(await store.refresh()).toBe(true);
  const view = store.current();
  if (view === null) throw new Error('no view after refresh');
  return view;
}

async function viewMismatches(
  view: SnapshotView,
  oracle: V1Oracle,
  absent: readonly bigint[],
  users: readonly bigint[] = oracle.userIds(),
): Promise<string[]> {
  const out: string[] = [];
  for (const id of [...users, ...absent]) {
    const got = v1TransactionsJson(await view.transactionsOfUser(id)).toString('latin1');
    const expected = oracle.transactionsBody(id);
    if (got !== expected)
      out.push(`user ${id}\n  expected ${expected.slice(0, 300)}\n  got      ${got.slice(0, 300)}`);
  }
  for (const code of [...oracle.codes(), 1, 9998]) {
    const got = v1DailyNetJson(await view.dailySumsOfMerchant(code)).toString('latin1');
    const expected = oracle.netAmountBody(code);
    if (got !== expected)
      out.push(`code ${code}\n  expected ${expected.slice(0, 300)}\n  got      ${got.slice(0, 300)}`);
  }
  return out;
}

const ABSENT = [2n, 3n, 123_456_789n, INT64_MAX - 3n];

describe('EmbeddedStore over lakes written by txlake ingest', () => {
  beforeAll(async () => {
    assertBuilt();
    const dir = temp.make('txlake-user-index-');
    lake = path.join(dir, 'lake');
    monthLake = path.join(dir, 'month-lake');
    const text = csvText([
      ...randomTransactions({ seed: 17, rows: 1500, users: 500 }),
      ...cornerCaseTransactions(),
      ...lakeEdgeRows(),
    ]);
    const parsed = oracleIngest(text);
    expect(parsed.rejects).toEqual([]);
    lakeOracle = new V1Oracle(parsed.rows);
    lakeRows = parsed.rows.length;
    const file = writeCsvFile(path.join(dir, 'data.csv'), text);
    await Promise.all([
      ingest([file], lake),
      ingest([file], monthLake, ['--partition-by', 'transaction_type,month']),
    ]);
  });

  afterAll(async () => {
    for (const store of stores.splice(0)) await store.close();
    temp.cleanup();
  });

  it('a memory view and a Parquet view of the month-partitioned lake answer exactly as the oracle', async () => {
    const memory = await openView({ lake: monthLake });
    expect(memory.lookup.kind).toBe('memory');
    expect(memory.lookup.indexBytes).toBeGreaterThan(lakeRows * INDEX_BYTES_PER_ROW);
    expect(memory.lookup.fallback).toBeUndefined();
    const parquet = await openView({ lake: monthLake, userLookup: 'parquet' });
    expect(parquet.lookup).toMatchObject({ kind: 'parquet', indexBytes: 0 });
    expect(parquet.lookup.fallback).toBeUndefined();
    expect(memory.rows).toBe(lakeRows);
    for (const view of [memory, parquet]) {
      const mismatches = await viewMismatches(view, lakeOracle, ABSENT);
      expect(mismatches.length, `${view.lookup.kind}: ${mismatches.slice(0, 3).join('\n')}`).toBe(0);
    }
  });

  it('memory and Parquet views of the lake partitioned by type alone answer byte for byte the same', async () => {
    const memory = await openView({ lake });
    const parquet = await openView({ lake, userLookup: 'parquet' });
    expect([memory.lookup.kind, parquet.lookup.kind]).toEqual(['memory', 'parquet']);
    for (const id of [...lakeOracle.userIds(), ...ABSENT]) {
      const fromMemory = v1TransactionsJson(await memory.transactionsOfUser(id)).toString('latin1');
      const fromParquet = v1TransactionsJson(await parquet.transactionsOfUser(id)).toString('latin1');
      if (fromMemory !== fromParquet || fromMemory !== lakeOracle.transactionsBody(id)) {
        expect({ id, fromMemory }).toEqual({ id, fromMemory: fromParquet });
        expect(fromMemory).toBe(lakeOracle.transactionsBody(id));
      }
    }
    // the data really holds what the comparison is about
    const edges = v1TransactionsJson(await memory.transactionsOfUser(5n)).toString();
    expect(edges).toContain('"amount_in_dollars":92233720368547758,"datetime":"0001-01-01T00:00:00+00:00"');
    expect(edges).toContain('"datetime":"9999-12-31T23:59:59+00:00"');
    expect(edges).toContain('"datetime":"1969-12-31T23:59:59+00:00"');
    expect(v1TransactionsJson(await memory.transactionsOfUser(7n)).toString()).toBe(
      lakeOracle.transactionsBody(7n),
    );
  });

  it('a budget below the estimate (rows × 31 B) falls back to Parquet lookups, saying why, and still answers exactly', async () => {
    const estimate = lakeRows * (INDEX_BYTES_PER_ROW + INDEX_BYTES_PER_USER);
    expect(INDEX_BYTES_PER_ROW + INDEX_BYTES_PER_USER).toBe(31);
    const tight = await openView({ lake: monthLake, indexMemoryBytes: estimate - 1 });
    expect(tight.lookup.kind).toBe('parquet');
    expect(tight.lookup.indexBytes).toBe(0);
    expect(tight.lookup.fallback).toMatch(
      new RegExp(`${lakeRows} rows.*${estimate - 1}-byte index memory budget`),
    );
    // a sample of users (every Parquet lookup is a query): the edge users and every 5th
    const sample = [5n, 6n, 7n, ...lakeOracle.userIds().filter((_, i) => i % 5 === 0)];
    const mismatches = await viewMismatches(tight, lakeOracle, ABSENT, sample);
    expect(mismatches.length, mismatches.slice(0, 3).join('\n')).toBe(0);
    const tiny = await openView({ lake, indexMemoryBytes: 1024 });
    expect(tiny.lookup.kind).toBe('parquet');
    expect(tiny.lookup.fallback).toContain('1024-byte');
    const enough = await openView({ lake: monthLake, indexMemoryBytes: estimate });
    expect(enough.lookup.kind).toBe('memory');
    expect(enough.lookup.fallback).toBeUndefined();
  });
});
