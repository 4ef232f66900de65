// What each ClickHouse node serves and holds, for `txlake clickhouse status` (read-only, no lock), and,
// given the lake, whether it is the lake's copy: serving the lake's current snapshot, holding every retained
// one, and nothing the lake vacuumed (a sync stopped while dropping leaves such copies behind).

import type { ClickHouseClient } from '@clickhouse/client';
import {
  type ClickHouseConfig,
  clientFor,
  describeClickHouseError,
  READ_TIMEOUT_MS,
  sqlText,
} from './cluster.js';
import type { LakeCopy } from './lake-copy.js';

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
  /** Given the lake: why this node is not (yet) the lake's copy, or null when it is. */
  behind?: string | null;
}

async function rows<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  return (await client.query({ query: sql, format: 'JSONEachRow' })).json<T>();
}

export async function clickHouseStatus(config: ClickHouseConfig, lake?: LakeCopy): Promise<NodeStatus[]> {
  return Promise.all(
    config.urls.map(async (url) => {
      // A status must answer even when a node hangs: reads, not loads, so a reader's timeout (×2).
      const client = clientFor(url, READ_TIMEOUT_MS * 2, config);
      const db = config.database;
      try {
        const [shard, served, snapshots, held, listed, fileKeys] = await Promise.all([
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
          lake
            ? rows<{ snapshot: string; file_key: string }>(
                client,
                `SELECT DISTINCT snapshot, file_key FROM ${db}.snapshot_files`,
              )
            : [],
          lake
            ? rows<{ file_key: string }>(
                client,
                `SELECT file_key FROM ${db}.files UNION ALL SELECT DISTINCT toUInt64(partition) AS file_key
                 FROM system.parts WHERE database = ${sqlText(db)} AND table = 'transactions_local' AND active`,
              )
            : [],
        ]);
        const status: NodeStatus = {
          url,
          problem: null,
          shard: shard[0] ? Number(shard[0].shard_num) : null,
          served: served[0] ? Number(served[0].snapshot) : null,
          snapshots: snapshots.map((row) => Number(row.snapshot)),
          rows: Number(held[0]?.rows ?? 0),
          files: Number(held[0]?.files ?? 0),
        };
        if (lake) status.behind = lagBehind(status, lake, listed, fileKeys);
        return status;
      } catch (error) {
        const text = describeClickHouseError(error);
        const problem = /doesn't exist|UNKNOWN_(TABLE|DATABASE)|Code: (60|81)\b/.test(text)
          ? `no txlake tables in database ${db} (run \`txlake clickhouse sync\`)`
          : text;
        return {
          url,
          problem,
          shard: null,
          served: null,
          snapshots: [],
          rows: 0,
          files: 0,
          ...(lake ? { behind: problem } : {}),
        };
      } finally {
        await client.close().catch(() => {});
      }
    }),
  );
}

/**
 * Why a node is not the lake's copy, in words, or null. Files count as needed when a retained snapshot or
 * any file list the node still holds names them, as the sync decides (a snapshot the lake lost without a
 * vacuum keeps its copy).
 */
function lagBehind(
  node: NodeStatus,
  lake: LakeCopy,
  listed: readonly { snapshot: string; file_key: string }[],
  fileKeys: readonly { file_key: string }[],
): string | null {
  const reasons: string[] = [];
  if (node.served !== lake.current)
    reasons.push(
      `serves ${node.served === null ? 'no snapshot' : `snapshot ${node.served}`}, the lake's current is ${lake.current ?? 'none'}`,
    );
  const held = new Set(node.snapshots);
  const missing = lake.retained.map((m) => m.id).filter((id) => !held.has(id));
  if (missing.length > 0) reasons.push(`lacks retained snapshots ${missing.join(', ')}`);
  const copies = new Set([...node.snapshots, ...listed.map((row) => Number(row.snapshot))]);
  const vacuumed = [...copies]
    .filter((id) => lake.vacuumed.has(id) && id !== lake.current)
    .sort((a, b) => a - b);
  if (vacuumed.length > 0)
    reasons.push(`still holds copies of snapshots ${vacuumed.join(', ')}, which the lake vacuumed`);
  const needed = new Set([...lake.needed.keys()].map(String));
  for (const row of listed) needed.add(row.file_key);
  const extra = new Set(fileKeys.map((row) => row.file_key).filter((key) => !needed.has(key)));
  if (extra.size > 0) reasons.push(`holds rows of ${extra.size} files no snapshot needs`);
  return reasons.length === 0 ? null : reasons.join('; ');
}
