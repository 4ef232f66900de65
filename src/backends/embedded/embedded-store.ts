// The embedded backend: DuckDB in-process over the lake's Parquet files. User lookups are answered from an
// in-memory index of the snapshot (typed arrays, built at load) when it fits the memory budget, else by SQL
// over the snapshot's sorted files (row-group statistics prune all but a few groups). Daily sums are the
// small per-snapshot file, loaded into memory whole.

import { type FSWatcher, watch } from 'node:fs';
import os from 'node:os';
import type { DuckDBConnection, DuckDBPreparedStatement } from '@duckdb/node-api';
import { TxlakeError } from '../../domain/errors.js';
import type { TransactionType } from '../../domain/schema.js';
import { splitEpochMicros } from '../../domain/time.js';
import {
  batchOfTransactions,
  type DailyMerchantSums,
  dailySumsByMerchant,
  type TransactionBatch,
} from '../../domain/transaction-batch.js';
import { dailySumsRelation, dataFilesSql } from '../../lake/daily-sums.js';
import { type Engine, openEngine } from '../../lake/engine.js';
import { listSnapshots, type SnapshotHistory } from '../../lake/history.js';
import { describeDamage, VerifiedFiles } from '../../lake/integrity.js';
import { readServableSnapshot } from '../../lake/lake-state.js';
import { LakeLayout } from '../../lake/layout.js';
import type { SnapshotManifest } from '../../lake/manifest.js';
import { describeManifestProblem, readManifest } from '../../lake/snapshots.js';
import { SnapshotFollower } from '../follower.js';
import {
  type LookupInfo,
  NoSuchSnapshot,
  SnapshotGone,
  type SnapshotInfo,
  SnapshotUnavailable,
  type SnapshotView,
  type StoreListener,
  type TransactionStore,
} from '../store.js';
import { buildUserIndexInWorker } from './index-worker.js';
import { INDEX_BYTES_PER_ROW, INDEX_BYTES_PER_USER, UserIndex } from './user-index.js';

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
  purchases: number;
  returns: number;
}

/** A user's rows from the snapshot's files (row-group statistics prune all but a few groups). */
function parquetUserSql(filesSql: string, fileCount: number): string {
  return fileCount === 0
    ? 'SELECT NULL::BIGINT AS user_id, NULL AS transaction_type, NULL::INTEGER AS merchant_type_code, NULL::BIGINT AS amount_cents, NULL::BIGINT AS epoch_us WHERE $1::BIGINT IS NULL AND false'
    : `SELECT user_id, transaction_type, merchant_type_code, amount_cents, epoch_us(datetime) AS epoch_us
       FROM ${filesSql} WHERE user_id = $1`;
}

/** How often a view found damaged verifies its files again on a lookup. */
const DAMAGE_RECHECK_MS = 1000;

/** Views of earlier snapshots kept open for time travel and cursors (Parquet lookups: no index memory). */
const PINNED_VIEWS = 4;
/** How long a read of the lake's history answers `snapshots()` and `viewOf()` (a vacuum shows within 2 s). */
const HISTORY_TTL_MS = 1000;

/** How a view finds a user's rows. */
export type UserLookupKind = 'memory' | 'parquet';

class EmbeddedSnapshotView implements SnapshotView {
  readonly id: number;
  readonly created: string;
  readonly rows: number;
  private readonly statements = new WeakMap<DuckDBConnection, Promise<DuckDBPreparedStatement>>();

  readonly lookup: LookupInfo;
  /**
   * Set when a file of this snapshot changed on disk after it was verified and loaded. Lookups that read
   * the files (Parquet lookups) are then refused; the in-memory index and daily sums were read from the
   * verified bytes and keep answering.
   */
  damage: string | null = null;
  private damagedAt = 0;

  get impaired(): string | null {
    return this.index === null ? this.damage : null;
  }

  constructor(
    readonly manifest: SnapshotManifest,
    private readonly pool: ConnectionPool,
    private readonly userSql: string,
    private readonly daily: Map<number, DailyMerchantSums[]>,
    /** The in-memory index, or null when lookups query the Parquet files. */
    private readonly index: UserIndex | null,
    /** What the files were verified against, for lookups that read them. */
    private readonly verified: VerifiedFiles,
    cost: { loadMs: number; verifyMs: number },
    fallback: string | null,
  ) {
    this.id = manifest.id;
    this.created = manifest.created;
    this.rows = manifest.rows;
    this.lookup = {
      kind: index ? 'memory' : 'parquet',
      indexBytes: index?.bytes ?? 0,
      ...cost,
      ...(fallback ? { fallback } : {}),
    };
  }

  async transactionsOfUser(userId: bigint): Promise<TransactionBatch> {
    if (this.index) return this.index.lookup(userId);
    // Parquet lookups read the files now: a file written to since it was verified is hashed again first
    // (the same bytes in a new file are fine), and not read at all if it differs. A damaged view is
    // verified again at most once a second (a pinned view has no follower to do it): a restored file
    // brings it back, a damaged one is not hashed on every request.
    const recheck =
      this.damage === null
        ? (await this.verified.changedSinceVerified(this.manifest)).length > 0
        : performance.now() - this.damagedAt > DAMAGE_RECHECK_MS;
    if (recheck) {
      const changed = await this.verified.verify(this.manifest);
      this.damage =
        changed.length === 0
          ? null
          : `snapshot ${this.id}, being served, changed on disk after it was loaded: ${describeDamage(changed)}; user lookups are refused until it is verified again`;
      this.damagedAt = performance.now();
    }
    if (this.damage) throw new SnapshotUnavailable(this.damage);
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
      return batchOfTransactions(userId, transactions);
    });
  }

  async dailySumsOfMerchant(merchantTypeCode: number): Promise<DailyMerchantSums[]> {
    return this.daily.get(merchantTypeCode) ?? [];
  }
}

export interface EmbeddedStoreOptions {
  lake: string;
  /** Concurrent DuckDB queries (connections) for Parquet lookups. */
  connections?: number;
  /** `memory` (default): index each snapshot in memory, within `indexMemoryBytes`; `parquet`: never. */
  userLookup?: UserLookupKind;
  /**
   * The most memory one snapshot's index may take; a larger snapshot is served by Parquet lookups
   * instead (slower, never failing). Default: a quarter of the machine's memory.
   */
  indexMemoryBytes?: number;
  /** Index snapshots of at least this many rows in a worker thread (default INDEX_IN_WORKER_FROM_ROWS). */
  indexInWorkerFromRows?: number;
  /** How often `follow` looks at the lake's pointer besides watching it, in ms (default 1000). */
  pollIntervalMs?: number;
}

/** Snapshots of at least this many rows are indexed in a worker thread (see `buildIndex`). */
export const INDEX_IN_WORKER_FROM_ROWS = 1_000_000;

/** The index's memory budget when none is given: a quarter of the machine (a swap briefly holds two). */
export function defaultIndexMemoryBytes(): number {
  return Math.floor(os.totalmem() / 4);
}

export class EmbeddedStore implements TransactionStore {
  readonly kind = 'embedded' as const;
  private view: EmbeddedSnapshotView | null = null;
  private loading: Promise<boolean> | null = null;
  /** Why the lake's current snapshot is not the one served (refused, or the lake cannot vouch for it). */
  private refusal: string | null = null;
  private readonly verified: VerifiedFiles;
  /** Stops a load in progress when the store closes (a server stopped, or one that could not listen). */
  private readonly closing = new AbortController();
  private follower: SnapshotFollower | null = null;
  private watcher: FSWatcher | null = null;
  /** Views of earlier snapshots by id, least recently used first; `loaded` once the view is ready. */
  private readonly pinned = new Map<
    number,
    { view: Promise<EmbeddedSnapshotView>; loaded: EmbeddedSnapshotView | null }
  >();
  private history: { read: number; value: Promise<SnapshotHistory> } | null = null;

  private constructor(
    private readonly layout: LakeLayout,
    private readonly engine: Engine,
    private readonly pool: ConnectionPool,
    private readonly userLookup: UserLookupKind,
    private readonly indexMemoryBytes: number,
    private readonly workerMinRows: number,
    private readonly pollIntervalMs: number,
  ) {
    this.verified = new VerifiedFiles(layout);
  }

  static async open(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
    const engine = await openEngine();
    await engine.run('SET parquet_metadata_cache = true');
    const connections: DuckDBConnection[] = [];
    for (let i = 0; i < (options.connections ?? 4); i++) connections.push(await engine.connect());
    return new EmbeddedStore(
      new LakeLayout(options.lake),
      engine,
      new ConnectionPool(connections),
      options.userLookup ?? 'memory',
      options.indexMemoryBytes ?? defaultIndexMemoryBytes(),
      options.indexInWorkerFromRows ?? INDEX_IN_WORKER_FROM_ROWS,
      options.pollIntervalMs ?? 1000,
    );
  }

  current(): SnapshotView | null {
    return this.view;
  }

  problem(): string | null {
    const problem = this.refusal ?? this.view?.damage ?? null;
    // Said on /readyz too, which anyone may read: the lake's place on disk is the operator's business.
    // One line (an engine error can span several), the lake's place on disk left out.
    return problem?.split('\n')[0]?.replaceAll(this.layout.root, '<lake>') ?? null;
  }

  /**
   * Follow the lake: `_txlake/` is watched for the CURRENT pointer's rename, with polling as the fallback
   * where watching is unavailable or misses an event.
   */
  async follow(listener: StoreListener): Promise<void> {
    const follower = new SnapshotFollower(this, listener, this.pollIntervalMs, () => this.ensureWatching());
    this.follower = follower;
    await follower.start();
    this.ensureWatching();
  }

  /** Watch `_txlake/` once it exists (a new lake gets it with its first commit). */
  private ensureWatching(): void {
    const follower = this.follower;
    if (this.watcher || follower === null || this.closing.signal.aborted) return;
    try {
      this.watcher = watch(this.layout.metadataDir, { persistent: false }, (_event, name) => {
        if (name === null || String(name) === 'CURRENT') void follower.check();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null; // polling goes on; the next tick tries to watch again
      });
    } catch {
      this.watcher = null;
    }
  }

  refresh(): Promise<boolean> {
    // One load at a time; a caller arriving during a load shares its outcome.
    this.loading ??= this.load()
      .catch((error: unknown) => {
        if (!this.closing.signal.aborted) this.refusal = String((error as Error)?.message ?? error);
        throw error;
      })
      .finally(() => {
        this.loading = null;
      });
    return this.loading;
  }

  /**
   * Serve the lake's current snapshot if it changed and can be vouched for: the lake's pointer, log and
   * manifest agree (lake-state.ts), and every file it reads has the manifest's sha256 (VerifiedFiles: only
   * files not seen before are hashed, so a swap costs the appended files). Otherwise the error says why, and
   * the snapshot being served stays.
   */
  private async load(): Promise<boolean> {
    const started = performance.now();
    // The served snapshot's files are watched whatever becomes of the lake's newer ones.
    await this.recheckServed();
    const found = await readServableSnapshot(this.layout, this.view?.id ?? null);
    if (found.kind !== 'snapshot') {
      this.refusal = null;
      return false;
    }
    const manifest = found.manifest;
    const verifyStarted = performance.now();
    const damaged = await this.verified.verify(manifest);
    const verifyMs = Math.round(performance.now() - verifyStarted);
    if (damaged.length > 0)
      throw new TxlakeError('lake', `snapshot ${manifest.id} is not served: ${describeDamage(damaged)}`);
    this.closing.signal.throwIfAborted();
    const daily = await this.loadDailySums(manifest);
    const filesSql = dataFilesSql(this.layout, manifest.files);
    const userSql = parquetUserSql(filesSql, manifest.files.length);
    // The estimate counts a user per row: the budget holds whatever the rows-per-user ratio.
    const estimate = manifest.rows * (INDEX_BYTES_PER_ROW + INDEX_BYTES_PER_USER);
    const fits = this.userLookup === 'memory' && estimate <= this.indexMemoryBytes;
    const index = fits ? await this.buildIndex(filesSql, manifest.rows) : null;
    // The index was read from the files after they were hashed: they must not have changed meanwhile.
    const changed = await this.verified.verify(manifest);
    if (changed.length > 0)
      throw new TxlakeError('lake', `snapshot ${manifest.id} is not served: ${describeDamage(changed)}`);
    const fallback =
      this.userLookup === 'memory' && !fits
        ? `an index of ${manifest.rows} rows may take ${estimate} bytes, over the ${this.indexMemoryBytes}-byte index memory budget`
        : null;
    const loadMs = Math.round(performance.now() - started);
    this.view = new EmbeddedSnapshotView(
      manifest,
      this.pool,
      userSql,
      daily,
      index,
      this.verified,
      { loadMs, verifyMs },
      fallback,
    );
    this.retainVerified();
    this.refusal = null;
    return true;
  }

  /** Remember the checksums of the files the served and pinned views read, and no others. */
  private retainVerified(): void {
    const views: EmbeddedSnapshotView[] = [];
    if (this.view) views.push(this.view);
    for (const { loaded } of this.pinned.values()) if (loaded) views.push(loaded);
    this.verified.retainOnly(views.map((v) => v.manifest));
  }

  /** The lake's history, read at most once a second however many requests ask. */
  private readHistory(): Promise<SnapshotHistory> {
    const now = performance.now();
    if (this.history === null || now - this.history.read > HISTORY_TTL_MS) {
      const value = listSnapshots(this.layout);
      value.catch(() => {
        if (this.history?.value === value) this.history = null; // the next request reads again
      });
      this.history = { read: now, value };
    }
    return this.history.value;
  }

  async snapshots(): Promise<SnapshotInfo[]> {
    const history = await this.readHistory();
    const served = this.view?.id ?? null;
    return history.snapshots
      .map((s) => ({
        id: s.id,
        created: s.created,
        operation: s.operation,
        mode: s.operation === 'ingest' ? s.mode : null,
        rows: s.rows,
        current: s.id === served,
      }))
      .reverse();
  }

  async viewOf(id: number): Promise<SnapshotView> {
    if (this.view?.id === id) return this.view;
    const history = await this.readHistory();
    const entry = history.snapshots.find((s) => s.id === id);
    if (entry === undefined) {
      this.unpin(id);
      throw id > history.highestId ? new NoSuchSnapshot(id) : new SnapshotGone(id);
    }
    let pinned = this.pinned.get(id);
    if (pinned) {
      this.pinned.delete(id); // re-inserted below: most recently used
    } else {
      const fresh: { view: Promise<EmbeddedSnapshotView>; loaded: EmbeddedSnapshotView | null } = {
        view: this.loadPinned(id, entry.damaged),
        loaded: null,
      };
      pinned = fresh;
      fresh.view.then(
        (view) => {
          fresh.loaded = view;
        },
        () => this.unpin(id),
      );
    }
    this.pinned.set(id, pinned);
    for (const old of this.pinned.keys()) {
      if (this.pinned.size <= PINNED_VIEWS) break;
      this.unpin(old);
    }
    return pinned.view;
  }

  private unpin(id: number): void {
    if (!this.pinned.delete(id)) return;
    this.retainVerified();
  }

  /**
   * A retained snapshot as committed, checked as a served one is (manifest as logged, every file's
   * checksum) and answered by Parquet lookups: time travel costs no index memory.
   */
  private async loadPinned(id: number, damaged: string | null): Promise<EmbeddedSnapshotView> {
    const started = performance.now();
    const unavailable = (why: string) =>
      new SnapshotUnavailable(`snapshot ${id} cannot be read: ${why.replaceAll(this.layout.root, '<lake>')}`);
    if (damaged) throw unavailable(damaged);
    const reading = await readManifest(this.layout, id);
    if (reading.kind !== 'ok') throw unavailable(describeManifestProblem(this.layout, id, reading));
    const manifest = reading.manifest;
    const verifyStarted = performance.now();
    const problems = await this.verified.verify(manifest);
    if (problems.length > 0) throw unavailable(describeDamage(problems));
    const verifyMs = Math.round(performance.now() - verifyStarted);
    const daily = await this.loadDailySums(manifest);
    const userSql = parquetUserSql(dataFilesSql(this.layout, manifest.files), manifest.files.length);
    return new EmbeddedSnapshotView(
      manifest,
      this.pool,
      userSql,
      daily,
      null,
      this.verified,
      { loadMs: Math.round(performance.now() - started), verifyMs },
      null,
    );
  }

  /** The served snapshot's files, watched between snapshots: a change is hashed again, a damage recorded. */
  private async recheckServed(): Promise<void> {
    const view = this.view;
    if (view === null) return;
    const damaged = await this.verified.verify(view.manifest);
    view.damage =
      damaged.length === 0
        ? null
        : `snapshot ${view.id}, being served, changed on disk after it was loaded: ${describeDamage(damaged)}` +
          (view.lookup.kind === 'memory'
            ? '; answers still come from the in-memory copy verified at load'
            : '; user lookups are refused until the file is restored');
  }

  /**
   * A small snapshot is indexed right here, on the store's engine (a worker thread's start alone costs
   * more); a large one in a worker thread (index-worker.ts). The first load may use every core, as nothing
   * is served yet; later ones run beside live requests and take one DuckDB thread.
   */
  private async buildIndex(filesSql: string, rows: number): Promise<UserIndex> {
    if (rows === 0) return UserIndex.empty();
    if (rows < this.workerMinRows) {
      return this.pool.use((connection) => UserIndex.build(connection, filesSql, rows));
    }
    return buildUserIndexInWorker(
      { filesSql, rows, ...(this.view ? { threads: 1 } : {}) },
      this.closing.signal,
    );
  }

  private async loadDailySums(manifest: SnapshotManifest): Promise<Map<number, DailyMerchantSums[]>> {
    const rows = await this.engine.rows<DailyRow>(
      `SELECT merchant_type_code, (day - DATE '1970-01-01')::INTEGER AS day,
         purchase_cents::VARCHAR AS purchase_cents, return_cents::VARCHAR AS return_cents,
         purchases::INTEGER AS purchases, returns::INTEGER AS returns
       FROM ${await dailySumsRelation(this.engine, this.layout, manifest)}
       ORDER BY merchant_type_code, day`,
    );
    return dailySumsByMerchant(
      rows.map((row) => ({
        merchantTypeCode: row.merchant_type_code,
        day: row.day,
        purchaseCents: BigInt(row.purchase_cents),
        returnCents: BigInt(row.return_cents),
        purchases: row.purchases,
        returns: row.returns,
      })),
    );
  }

  async close(): Promise<void> {
    this.closing.abort();
    this.follower?.stop();
    this.watcher?.close();
    this.watcher = null;
    await this.loading?.catch(() => false); // the engine must outlive the queries of a load under way
    this.view = null;
    this.engine.close();
  }
}
