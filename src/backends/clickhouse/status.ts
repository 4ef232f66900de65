// What each ClickHouse node serves and holds, for `txlake clickhouse status` (read-only, no lock).

import type { ClickHouseClient } from '@clickhouse/client';
import {
  type ClickHouseConfig,
  clientFor,
  describeClickHouseError,
  READ_TIMEOUT_MS,
  sqlText,
} from './cluster.js';

export interface NodeStatus {
  url: string;
  /** Why the node could not be read (down, no txlake tables), or null. */
  problem: string | null;
  shard: number | null;
  /** The snapshot its `served` table names, or null before the first switch. */
  served: number | null;
  /** The snapshots it holds copies of, ascending. */
  snapshots: number[];
  /** Rows of its shard (of every file it holds). */
  rows: number;
  files: number;
}

async function rows<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  return (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
}

export async function clickHouseStatus(config: ClickHouseConfig): Promise<NodeStatus[]> {
  return Promise.all(
    config.urls.map(async (url) => {
      // A status must answer even when a node hangs: reads, not loads, so a reader's timeout (×2).
      const client = clientFor(url, READ_TIMEOUT_MS * 2, config);
      const db = config.database;
      try {
        const [shard, served, snapshots, held] = await Promise.all([
          rows<{ shard_num: number }>(
            client,
            `SELECT shard_num FROM system.clusters WHERE cluster = ${sqlText(config.cluster)} AND is_local = 1`,
          ),
          rows<{ snapshot: string }>(client, `SELECT snapshot FROM ${db}.served ORDER BY seq DESC LIMIT 1`),
          rows<{ snapshot: string }>(client, `SELECT snapshot FROM ${db}.snapshots ORDER BY snapshot`),
          rows<{ rows: string; files: string }>(
            client,
            `SELECT (SELECT count() FROM ${db}.transactions_local) AS rows, (SELECT count() FROM ${db}.files) AS files`,
          ),
        ]);
        return {
          url,
          problem: null,
          shard: shard[0] ? Number(shard[0].shard_num) : null,
          served: served[0] ? Number(served[0].snapshot) : null,
          snapshots: snapshots.map((row) => Number(row.snapshot)),
          rows: Number(held[0]?.rows ?? 0),
          files: Number(held[0]?.files ?? 0),
        };
      } catch (error) {
        const text = describeClickHouseError(error);
        return {
          url,
          problem: /doesn't exist|UNKNOWN_(TABLE|DATABASE)|Code: (60|81)\b/.test(text)
            ? `no txlake tables in database ${db} (run \`txlake clickhouse sync\`)`
            : text,
          shard: null,
          served: null,
          snapshots: [],
          rows: 0,
          files: 0,
        };
      } finally {
        await client.close().catch(() => {});
      }
    }),
  );
}
