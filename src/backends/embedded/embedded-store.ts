// The embedded backend: DuckDB in-process over the lake's Parquet files. User lookups are SQL over the
// snapshot's sorted files (row-group statistics prune all but a few groups); daily sums are the small
// per-snapshot file, loaded into memory whole.

import fs from 'node:fs/promises';
import type { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import type { TransactionType } from '../../domain/schema.js';
import { splitEpochMicros } from '../../domain/time.js';
import { compareV1Order, type DailyMerchantSums, type StoredTransaction } from '../../domain/v1.js';
import { type Engine, openEngine, sqlString } from '../../lake/engine.js';
import { LakeLayout } from '../../lake/layout.js';
import type { SnapshotManifest } from '../../lake/manifest.js';
import { readCurrentSnapshot } from '../../lake/snapshots.js';
import type { SnapshotView, TransactionStore } from '../store.js';

/** A small pool of connections: DuckDB runs one query per connection at a time. */
class ConnectionPool {
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiting: Array<(connection: DuckDBConnection) => void> = [];

  constructor(connections: DuckDBConnection[]) {
    this.idle.push(...connections);
  }

  async use<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection =
      this.idle.pop() ?? (await new Promise<DuckDBConnection>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(connection);
    } finally {
      const next = this.waiting.shift();
      if (next) next(connection);
      else this.idle.push(connection);
    }
  }
}

interface UserRow {
  user_id: bigint;
  transaction_type: TransactionType;
  merchant_type_code: number;
  amount_cents: bigint;
  epoch_us: bigint;
}

interface DailyRow {
  merchant_type_code: number;
  day: number;
  purchase_cents: string;
  return_cents: string;
}

class EmbeddedSnapshotView implements SnapshotView {
  readonly id: number;
  readonly created: string;
  readonly rows: number;
  private readonly statements = new WeakMap<DuckDBConnection, Promise<DuckDBPreparedStatement>>();

  constructor(
    manifest: SnapshotManifest,
    private readonly pool: ConnectionPool,
    private readonly userSql: string,
    private readonly daily: Map<number, DailyMerchantSums[]>,
  ) {
    this.id = manifest.id;
    this.created = manifest.created;
    this.rows = manifest.rows;
  }

  transactionsOfUser(userId: bigint): Promise<StoredTransaction[]> {
    return this.pool.use(async (connection) => {
      let statement = this.statements.get(connection);
      if (!statement) {
        statement = connection.prepare(this.userSql);
        this.statements.set(connection, statement);
      }
      const prepared = await statement;
      prepared.bindBigInt(1, userId);
      const reader = await prepared.runAndReadAll();
      const transactions = (reader.getRowObjects() as unknown as UserRow[]).map((row) => ({
        userId: row.user_id,
        transactionType: row.transaction_type,
        merchantTypeCode: row.merchant_type_code,
        amountCents: row.amount_cents,
        ...splitEpochMicros(row.epoch_us),
      }));
      // v1's order is the domain's to define; a user's rows are few, so sorting them here is cheap.
      return transactions.sort(compareV1Order);
    });
  }

  async dailySumsOfMerchant(merchantTypeCode: number): Promise<DailyMerchantSums[]> {
    return this.daily.get(merchantTypeCode) ?? [];
  }
}

export interface EmbeddedStoreOptions {
  lake: string;
  /** Concurrent DuckDB queries (connections). */
  connections?: number;
}

export class EmbeddedStore implements TransactionStore {
  readonly kind = 'embedded' as const;
  private view: EmbeddedSnapshotView | null = null;
  private loading: Promise<boolean> | null = null;

  private constructor(
    private readonly layout: LakeLayout,
    private readonly engine: Engine,
    private readonly pool: ConnectionPool,
  ) {}

  static async open(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const engine = await openEngine();
    await engine.run('SET parquet_metadata_cache = true');
    const connections: DuckDBConnection[] = [];
    for (let i = 0; i < (options.connections ?? 4); i++) connections.push(await engine.connect());
    return new EmbeddedStore(new LakeLayout(options.lake), engine, new ConnectionPool(connections));
  }

  current(): SnapshotView | null {
    return this.view;
  }

  refresh(): Promise<boolean> {
    // One load at a time; a caller arriving during a load shares its outcome.
    this.loading ??= this.load().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async load(): Promise<boolean> {
    const manifest = await readCurrentSnapshot(this.layout);
    if (manifest === null || manifest.id === this.view?.id) return false;
    // A snapshot is served only if its files are all there: a missing or cut file would fail requests.
    for (const file of manifest.files) {
      const size = await fs.stat(this.layout.resolve(file.path)).then(
        (s) => s.size,
        () => -1,
      );
      if (size !== file.bytes) {
        throw new Error(
          `snapshot ${manifest.id}: data file ${file.path} is ${size < 0 ? 'missing' : 'damaged'}`,
        );
      }
    }
    const daily = await this.loadDailySums(manifest);
    const files = manifest.files.map((f) => sqlString(this.layout.resolve(f.path)));
    const userSql =
      files.length === 0
        ? 'SELECT NULL::BIGINT AS user_id, NULL AS transaction_type, NULL::INTEGER AS merchant_type_code, NULL::BIGINT AS amount_cents, NULL::BIGINT AS epoch_us WHERE $1::BIGINT IS NULL AND false'
        : `SELECT user_id, transaction_type, merchant_type_code, amount_cents, epoch_us(datetime) AS epoch_us
           FROM read_parquet([${files.join(', ')}], hive_partitioning = true, hive_types = {'transaction_type': VARCHAR})
           WHERE user_id = $1`;
    this.view = new EmbeddedSnapshotView(manifest, this.pool, userSql, daily);
    return true;
  }

  private async loadDailySums(manifest: SnapshotManifest): Promise<Map<number, DailyMerchantSums[]>> {
    const rows = await this.engine.rows<DailyRow>(
      `SELECT merchant_type_code, (day - DATE '1970-01-01')::INTEGER AS day,
         purchase_cents::VARCHAR AS purchase_cents, return_cents::VARCHAR AS return_cents
       FROM read_parquet(${sqlString(this.layout.resolve(manifest.daily_sums.path))})
       ORDER BY merchant_type_code, day`,
    );
    const byMerchant = new Map<number, DailyMerchantSums[]>();
    for (const row of rows) {
      const list = byMerchant.get(row.merchant_type_code) ?? [];
      list.push({
        merchantTypeCode: row.merchant_type_code,
        day: row.day,
        purchaseCents: BigInt(row.purchase_cents),
        returnCents: BigInt(row.return_cents),
      });
      byMerchant.set(row.merchant_type_code, list);
    }
    return byMerchant;
  }

  async close(): Promise<void> {
    this.view = null;
    this.engine.close();
  }
}
