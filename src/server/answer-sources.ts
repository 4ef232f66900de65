// Where data answers came from, counted for /metrics: the answer cache, or a lookup in the snapshot view
// (its in-memory index, its Parquet files, or ClickHouse). Plain counters: they are bumped on every data
// request, and read only when scraped.

import type { SnapshotView } from '../backends/store.js';

/** transactions: a user's rows (v1, v2 pages and exports); daily_net: a merchant code's daily sums. */
export const ANSWER_RESOURCES = ['transactions', 'daily_net'] as const;
export type AnswerResource = (typeof ANSWER_RESOURCES)[number];

export const ANSWER_SOURCES = ['cache', 'memory', 'parquet', 'clickhouse'] as const;
export type AnswerSource = (typeof ANSWER_SOURCES)[number];

type Counts = Record<AnswerSource, number>;

const zero = (): Counts => ({ cache: 0, memory: 0, parquet: 0, clickhouse: 0 });

export class AnswerSources {
  readonly counts: Record<AnswerResource, Counts> = { transactions: zero(), daily_net: zero() };

  /** An answer sent from the answer cache. */
  cached(resource: AnswerResource): void {
    this.counts[resource].cache++;
  }

  /**
   * An answer computed from `view`. Daily sums come from memory on every backend (each view holds its
   * snapshot's sums, loaded with it); a user's rows from wherever the view looks users up.
   */
  looked(resource: AnswerResource, view: SnapshotView): void {
    this.counts[resource][resource === 'daily_net' ? 'memory' : view.lookup.kind]++;
  }
}
