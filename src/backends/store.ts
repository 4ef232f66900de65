// The storage backend seen by the HTTP layer: a store hands out immutable snapshot views, and a request is
// answered entirely from the one view it took, so a snapshot swap never mixes two versions in an answer.

import type { DailyMerchantSums } from '../domain/v1.js';
import type { TransactionColumns } from '../domain/v1-json.js';

export const BACKEND_KINDS = ['embedded'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

/** One loaded snapshot of the lake, answering queries until it is released. */
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
  /** Every transaction of `userId`, in v1 order (datetime, type, merchant code, amount), as columns. */
  transactionsOfUser(userId: bigint): Promise<TransactionColumns>;
  /** The daily purchase and return sums of a merchant code, days ascending. */
  dailySumsOfMerchant(merchantTypeCode: number): Promise<DailyMerchantSums[]>;
}

export interface LookupInfo {
  /** `memory`: an in-memory index; `parquet`: a query over the snapshot's files per lookup. */
  kind: 'memory' | 'parquet';
  /** Bytes the in-memory index takes (0 for Parquet lookups). */
  indexBytes: number;
  /** Milliseconds the snapshot took to load (index and checksums included). */
  loadMs: number;
  /** Of those, milliseconds spent checking its files' checksums (only files not verified before). */
  verifyMs?: number;
  /** Why an in-memory index was wanted but not built (over its memory budget). */
  fallback?: string;
}

/**
 * A view cannot answer right now (its files changed on disk after they were verified): the HTTP layer
 * answers 503, never a wrong answer. The message is for the log, not for the client.
 */
export class SnapshotUnavailable extends Error {
  override readonly name = 'SnapshotUnavailable';
}

export interface TransactionStore {
  readonly kind: BackendKind;
  /** The view to answer the next request from, or null until a snapshot is loaded. */
  current(): SnapshotView | null;
  /**
   * Why the store does not serve the lake's current snapshot, or its served snapshot is impaired (the lake
   * cannot vouch for its pointer, a file is damaged), in words for the log and /readyz; null when all is well.
   */
  problem(): string | null;
  /** Load the lake's current snapshot if it changed; resolves to true when a new view was swapped in. */
  refresh(): Promise<boolean>;
  /** Release every resource; pending queries may fail afterwards. */
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
    await store.refresh().catch(() => false);
    const next = store.current();
    if (next === null || next.id === view.id) throw error;
    return { view: next, value: await work(next) };
  }
}
