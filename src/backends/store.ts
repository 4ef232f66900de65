// The storage contract every backend implements, and the only one the HTTP layer sees. A store hands out
// immutable snapshot views, and a request is answered entirely from the one view it took, so a snapshot
// swap never mixes two versions in an answer. Views answer in exact terms (TransactionBatch: cents and
// epoch microseconds; daily sums in cents): rounding, truncation and encoding belong to the API version
// that writes the answer (server/api/v1/), as ROAPI's columnq hands its server record batches.

import type { DailyMerchantSums, TransactionBatch } from '../domain/transaction-batch.js';

export const BACKEND_KINDS = ['embedded', 'clickhouse'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** One snapshot, answering queries until the store moves on. */
export interface SnapshotView {
  /** The snapshot id (from its manifest). */
  readonly id: number;
  /** ISO 8601 time the snapshot was committed. */
  readonly created: string;
  /** Number of transactions in the snapshot. */
  readonly rows: number;
  /** How user lookups are answered from this view, and what its load cost (for logs and /readyz). */
  readonly lookup: LookupInfo;
  /** Why this view refuses lookups (files it reads changed on disk after they were verified), or null. */
  readonly impaired: string | null;
  /** Every transaction of `userId`, in the canonical order (datetime, type, merchant code, amount). */
  transactionsOfUser(userId: bigint): Promise<TransactionBatch>;
  /** The daily purchase and return sums of a merchant code, days ascending. */
  dailySumsOfMerchant(merchantTypeCode: number): Promise<DailyMerchantSums[]>;
}

/** A retained snapshot, as `GET /api/v2/snapshots` lists it. */
export interface SnapshotInfo {
  id: number;
  /** ISO 8601 UTC time of the commit. */
  created: string;
  operation: 'ingest' | 'delete-user' | 'rollback';
  /** How an ingest's rows joined its parent's; null for the other operations. */
  mode: 'append' | 'replace' | null;
  rows: number;
  /** Whether this is the snapshot the store serves by default. */
  current: boolean;
}

export interface LookupInfo {
  /**
   * `memory`: an in-memory index; `parquet`: a query over the snapshot's files per lookup; `clickhouse`:
   * a query to the ClickHouse cluster per lookup.
   */
  kind: 'memory' | 'parquet' | 'clickhouse';
  /** Bytes the in-memory index takes (0 when there is none). */
  indexBytes: number;
  /** Milliseconds the snapshot took to load (index and checksums included). */
  loadMs: number;
  /** Of those, milliseconds spent checking its files' checksums (only files not verified before). */
  verifyMs?: number;
  /** Why an in-memory index was wanted but not built (over its memory budget). */
  fallback?: string;
  /** ClickHouse: `shard` when lookups go to the user's shard alone, `distributed` when to every shard. */
  routing?: 'shard' | 'distributed';
}

/**
 * A view cannot answer right now (its files changed on disk after they were verified): the HTTP layer
 * answers 503, never a wrong answer. The message is for the log, not for the client.
 */
export class SnapshotUnavailable extends Error {
  override readonly name = 'SnapshotUnavailable';
}

/**
 * The engine behind the store did not answer in time or at all (a ClickHouse node down or hung): the HTTP
 * layer answers 503 with Retry-After, and the next request tries again. The message is for the log.
 */
export class BackendUnavailable extends Error {
  override readonly name = 'BackendUnavailable';
}

/**
 * A snapshot asked for by id (time travel, a cursor) that the store no longer retains (vacuumed): the
 * HTTP layer answers 410. `NoSuchSnapshot`: an id above every snapshot ever committed (404).
 */
export class SnapshotGone extends Error {
  override readonly name = 'SnapshotGone';
  constructor(readonly snapshot: number) {
    super(`snapshot ${snapshot} is no longer retained`);
  }
}

export class NoSuchSnapshot extends Error {
  override readonly name = 'NoSuchSnapshot';
  constructor(readonly snapshot: number) {
    super(`snapshot ${snapshot} was never committed`);
  }
}

/** What a store tells its owner as it follows its source (the lake's pointer, ClickHouse's served table). */
export interface StoreListener {
  /** A new snapshot is being served. */
  snapshot(view: SnapshotView): void;
  /**
   * The store's problem changed: a text (why the source's current snapshot is not served, or the served one
   * is impaired), or null once all is well again. `failure` is the error behind it when it was unexpected
   * (not a lake or ClickHouse state the store understood), for the log.
   */
  problem(problem: string | null, serving: SnapshotView | null, failure: unknown): void;
}

/** A node's failed queries since the store opened (for /metrics). */
export interface EngineQueryErrors {
  /** The node's place among the configured endpoints, from 1 (its address is the operator's business). */
  node: number;
  /** Queries the node did not answer in time or at all (BackendUnavailable). */
  unavailable: number;
  /** Queries the node answered with an error. */
  failed: number;
}

export interface TransactionStore {
  readonly kind: BackendKind;
  /**
   * Optional capability: the failed queries of the store's engine, per node (ClickHouse); absent when the
   * engine runs in this process.
   */
  queryErrors?(): readonly EngineQueryErrors[];
  /** The view to answer the next request from, or null until a snapshot is loaded. */
  current(): SnapshotView | null;
  /**
   * Why the store does not serve its source's current snapshot, or its served snapshot is impaired, in
   * words for the log and /readyz (nothing private: anyone may read /readyz); null when all is well.
   */
  problem(): string | null;
  /**
   * The view of a retained snapshot (time travel): the current one's when `id` is current, else one that
   * reads that snapshot's data as it was committed (checked as the current one is). Rejects with
   * SnapshotGone (retained no longer), NoSuchSnapshot (above every committed id), SnapshotUnavailable (its
   * files are damaged) or BackendUnavailable.
   */
  viewOf(id: number): Promise<SnapshotView>;
  /** The retained snapshots, newest first (reflecting a vacuum within 2 s). */
  snapshots(): Promise<SnapshotInfo[]>;
  /** Load the source's current snapshot if it changed; resolves to true when a new view was swapped in. */
  refresh(): Promise<boolean>;
  /**
   * Load the current snapshot, then follow the source (each store knows how: a watched pointer file, a
   * polled table), telling `listener` of each change. Resolves after the first check, loaded or not.
   */
  follow(listener: StoreListener): Promise<void>;
  /** Stop following and release every resource; pending queries may fail afterwards. */
  close(): Promise<void>;
}

/**
 * Run `work` on `view`. Should it fail while the store has moved on (a vacuum removed the files of the
 * snapshot the request began on), run it once on the store's newer view: the answer is still wholly from
 * one snapshot, and the caller learns which.
 */
export async function answerFrom<T>(
  store: TransactionStore,
  view: SnapshotView,
  work: (view: SnapshotView) => Promise<T>,
): Promise<{ view: SnapshotView; value: T }> {
  try {
    return { view, value: await work(view) };
  } catch (error) {
    if (error instanceof BackendUnavailable) throw error; // a retry would wait as long again
    await store.refresh().catch(() => false);
    const next = store.current();
    if (next === null || next.id === view.id) throw error;
    return { view: next, value: await work(next) };
  }
}
