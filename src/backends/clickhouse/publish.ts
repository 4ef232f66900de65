// Bringing ClickHouse to the lake (SPEC §7): every snapshot the lake retains is copied to the cluster, the
// lake's current one is switched in, and the copies of snapshots vacuum removed are dropped. One idempotent
// `syncClickHouse` does it after every lake operation and for `txlake clickhouse sync`: whatever it finds
// (a first run, an outage that missed several operations, a sync stopped halfway), it does what is missing
// and nothing twice. The lake stays the system of record: a file is copied only after its sha256 matched
// the manifest, and the lake's writer lock is held throughout, so vacuum cannot remove a file mid-copy.

import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ClickHouseClient } from '@clickhouse/client';
import { TxlakeError } from '../../domain/errors.js';
import { dailySumsRelation } from '../../lake/daily-sums.js';
import { type Engine, sqlString, withEngine } from '../../lake/engine.js';
import { faultPoint } from '../../lake/fault-points.js';
import { checkFile } from '../../lake/integrity.js';
import { readKeyFile } from '../../lake/keys.js';
import type { LakeLayout } from '../../lake/layout.js';
import { acquireWriterLock } from '../../lake/lock.js';
import type { DataFile, SnapshotManifest } from '../../lake/manifest.js';
import {
  type ClickHouseConfig,
  clientFor,
  describeClickHouseError,
  layoutText,
  READER_GRACE_MS,
  readShardWeights,
  sqlCount,
  sqlText,
  WRITE_TIMEOUT_MS,
} from './cluster.js';
import { publishKeys } from './keys.js';
import { fileKeyOf, readLakeCopy } from './lake-copy.js';
import { ADDED_COLUMNS, createStatements, DAILY_SUM_COLUMNS, TRANSACTION_COLUMNS } from './tables.js';

export { fileKeyOf };

/** ClickHouse could not be brought to the lake: the lake is untouched, `clickhouse sync` finishes the job. */
export class ClickHouseBehind extends TxlakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('clickhouse', message, options);
  }
}

export interface SyncResult {
  /** The snapshot every node serves now (the lake's current), or null for a lake with none. */
  served: number | null;
  /**
   * Snapshots copied by this sync, and those whose catalog it copied again (published by a txlake that
   * knew neither the daily counts nor the mode).
   */
  published: number[];
  /** Lake files whose rows this sync loaded, and how many rows they held. */
  loadedFiles: number;
  loadedRows: number;
  /** Snapshots whose copies were dropped (vacuumed from the lake), and files no copy needs any more. */
  dropped: number[];
  droppedFiles: number;
  nodes: number;
}

/** One node as the writer sees it: its client, its shard, and what it holds. */
interface Node {
  url: string;
  client: ClickHouseClient;
  shard: number;
  files: Set<bigint>;
  /**
   * Files whose rows it holds (transactions_local's partitions), recorded in `files` or not: a load or a
   * drop stopped halfway leaves rows without their record.
   */
  partitions: Set<bigint>;
  snapshots: Map<number, string>;
  /** Snapshots whose file list or daily sums it holds, with their `snapshots` row or without (a drop stopped halfway). */
  listed: Set<number>;
  /** Snapshots it holds whose daily sums lack the counts or whose row lacks the mode (written before both). */
  outdated: Set<number>;
  served: number | null;
  nextSeq: bigint;
}

async function query<T>(client: ClickHouseClient, sql: string): Promise<T[]> {
  const result = await client.query({ query: sql, format: 'JSONEachRow' });
  return result.json<T>();
}

/** Run `step` on a node; a failure names the node and what was being done, in one line. */
async function onNode<T>(node: { url: string }, doing: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof TxlakeError) throw error;
    throw new ClickHouseBehind(
      `ClickHouse at ${node.url} failed while ${doing}: ${describeClickHouseError(error)}`,
      { cause: error },
    );
  }
}

export interface SyncOptions {
  notice?: (message: string) => void;
  /** How long readers get to move off a snapshot before its copy goes (default READER_GRACE_MS). */
  readerGraceMs?: number;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function syncClickHouse(
  layout: LakeLayout,
  config: ClickHouseConfig,
  options: SyncOptions = {},
): Promise<SyncResult> {
  const notice = options.notice ?? (() => {});
  const lock = await acquireWriterLock(layout, 'clickhouse sync', notice);
  const clients = config.urls.map((url) => ({ url, client: clientFor(url, WRITE_TIMEOUT_MS, config) }));
  try {
    return await bringToLake(layout, config, clients, options);
  } catch (error) {
    if (!(error instanceof TxlakeError) && isDiskFull(error))
      throw new ClickHouseBehind(
        `no space left on device on this host while copying the lake to ClickHouse (${describeClickHouseError(error)}): free space in ${os.tmpdir()}, where the sync writes each file as TabSeparated first (or point TMPDIR elsewhere); the sync changed nothing in the lake`,
        { cause: error },
      );
    throw error;
  } finally {
    await Promise.all(clients.map((c) => c.client.close().catch(() => {})));
    await lock.release();
  }
}

/** This host's disk (the scratch TabSeparated files), not ClickHouse's: ClickHouse answers with a code. */
function isDiskFull(error: unknown): boolean {
  return (
    (error as NodeJS.ErrnoException)?.code === 'ENOSPC' ||
    /No space left on device/i.test(String((error as Error)?.message))
  );
}

async function bringToLake(
  layout: LakeLayout,
  config: ClickHouseConfig,
  clients: { url: string; client: ClickHouseClient }[],
  options: SyncOptions,
): Promise<SyncResult> {
  const { state, retained, shaOf, vacuumed, needed } = await readLakeCopy(layout);
  {
    const first = [...state.committed.values()].sort((a, b) => a.id - b.id)[0];
    const nodes = await Promise.all(clients.map((c) => openNode(c.url, c.client, config)));
    // One lake per database: a second lake publishing into it would mix its snapshots with ours.
    const shards = await onNode(nodes[0] as Node, 'reading the shards of the cluster', () =>
      readShardWeights((nodes[0] as Node).client, config.cluster),
    );
    if (first !== undefined)
      for (const node of nodes)
        await claimForLake(node, config, first.manifest_sha256, layout.root, layoutText(shards));
    // Every node needs the snapshots' file lists (a shard reads its own), so a writer must reach them all.
    for (const { shard } of shards)
      if (!nodes.some((node) => node.shard === shard))
        throw new ClickHouseBehind(
          `no endpoint of TXLAKE_CLICKHOUSE_URL is a node of shard ${shard} of cluster ${config.cluster}: a writer needs every node's endpoint`,
        );
    for (const node of nodes)
      for (const [id, sha] of node.snapshots) {
        const lakeSha = shaOf.get(id) ?? state.committed.get(id)?.manifest_sha256;
        if (lakeSha !== undefined && lakeSha !== sha)
          throw new ClickHouseBehind(
            `ClickHouse at ${node.url} holds a snapshot ${id} that is not this lake's (another lake publishes to database ${config.database}?): give this lake its own TXLAKE_CLICKHOUSE_DATABASE`,
          );
      }

    const result: SyncResult = {
      served: state.current?.id ?? null,
      published: [],
      loadedFiles: 0,
      loadedRows: 0,
      dropped: [],
      droppedFiles: 0,
      nodes: nodes.length,
    };
    const missing = [...needed].filter(([key]) => nodes.some((node) => !node.files.has(key)));
    const unpublished = retained.filter((m) => nodes.some((node) => !node.snapshots.has(m.id)));
    const outdated = retained.filter((m) => nodes.some((node) => node.outdated.has(m.id)));
    if (missing.length > 0 || unpublished.length > 0 || outdated.length > 0) {
      // One engine for the whole sync: it writes the files' rows and reads the snapshots' daily sums.
      const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-clickhouse-'));
      try {
        await withEngine(async (engine) => {
          const checked = new Set<string>();
          for (const [key, file] of missing) {
            result.loadedRows += await loadFile(engine, layout, nodes, key, file, scratch, config);
            result.loadedFiles++;
            checked.add(file.path);
          }
          for (const manifest of unpublished) {
            const sums = await dailySumsText(engine, layout, manifest, checked);
            for (const node of nodes.filter((n) => !n.snapshots.has(manifest.id))) {
              await publishSnapshot(node, config, manifest, shaOf.get(manifest.id) as string, sums, false);
              faultPoint('clickhouse-snapshot-published');
            }
            result.published.push(manifest.id);
          }
          for (const manifest of outdated) {
            if (result.published.includes(manifest.id)) continue;
            const sums = await dailySumsText(engine, layout, manifest, checked);
            for (const node of nodes.filter((n) => n.outdated.has(manifest.id)))
              await publishSnapshot(node, config, manifest, shaOf.get(manifest.id) as string, sums, true);
            result.published.push(manifest.id);
          }
          result.published.sort((a, b) => a - b);
        });
      } finally {
        await fs.rm(scratch, { recursive: true, force: true });
      }
    }
    if (state.current !== null) {
      const current = state.current.id;
      for (const node of nodes)
        if (node.served !== current) {
          await onNode(node, `switching to snapshot ${current}`, () =>
            node.client.command({
              query: `INSERT INTO ${config.database}.served (seq, snapshot, switched) VALUES (${node.nextSeq}, ${sqlCount(current)}, now())`,
            }),
          );
          faultPoint('clickhouse-switching');
        }
    }
    // Copies of what vacuum removed from the lake go; a snapshot the lake lost without a vacuum stays (it
    // may be the only copy left of it). Its `snapshots` row goes from every node first, then, after readers
    // still answering from it have moved on (they poll `served` every 500 ms and give up a query after
    // 1.5 s), its file lists and sums, then the rows of files no remaining snapshot names. A sync stopped
    // between those steps left lists without their row, or rows without their `files` record: each
    // step looks at what the nodes hold, not at what the step before it recorded, so the next sync
    // finishes the job.
    const vacuumedHere = (id: number) => vacuumed.has(id) && id !== state.current?.id;
    const stale = new Map<Node, number[]>();
    for (const node of nodes) {
      const ids = [...new Set([...node.snapshots.keys(), ...node.listed])].filter(vacuumedHere);
      if (ids.length === 0) continue;
      stale.set(node, ids);
      for (const id of ids.filter((id) => node.snapshots.has(id))) {
        await onNode(node, `dropping its copy of snapshot ${id}`, () =>
          node.client.command({
            query: `ALTER TABLE ${config.database}.snapshots DROP PARTITION ${sqlCount(id)}`,
          }),
        );
        node.snapshots.delete(id);
        faultPoint('clickhouse-dropping');
      }
      for (const id of ids) if (!result.dropped.includes(id)) result.dropped.push(id);
    }
    // Lists left by a stopped sync wait out the grace too: their row may have gone just before it stopped.
    if (stale.size > 0) {
      faultPoint('clickhouse-grace');
      await pause(options.readerGraceMs ?? READER_GRACE_MS);
    }
    for (const [node, ids] of stale) for (const id of ids) await dropSnapshotLists(node, config, id);
    const droppedFiles = new Set<bigint>();
    for (const node of nodes) {
      const listed = await onNode(node, 'listing the files its snapshots need', () =>
        query<{ file_key: string }>(
          node.client,
          `SELECT DISTINCT file_key FROM ${config.database}.snapshot_files`,
        ),
      );
      const stillNeeded = new Set(listed.map((row) => BigInt(row.file_key)));
      for (const key of new Set([...node.files, ...node.partitions]))
        if (!stillNeeded.has(key) && !needed.has(key)) {
          // The rows first, then the record: stopped between the two, the record says what is left to drop.
          await onNode(node, 'dropping the rows of a file no snapshot needs', async () => {
            await node.client.command({
              query: `ALTER TABLE ${config.database}.transactions_local DROP PARTITION ${key}`,
            });
            await node.client.command({
              query: `ALTER TABLE ${config.database}.files DROP PARTITION ${key}`,
            });
          });
          droppedFiles.add(key);
          faultPoint('clickhouse-files-dropping');
        }
    }
    result.dropped.sort((a, b) => a - b);
    result.droppedFiles = droppedFiles.size;
    // The API keys travel with the lake: servers following ClickHouse read them there (keys.ts).
    const keys = await readKeyFile(layout);
    if (keys !== null)
      await publishKeys(config, keys).catch((error: Error) => {
        throw new ClickHouseBehind(error.message, { cause: error });
      });
    return result;
  }
}

async function claimForLake(
  node: Node,
  config: ClickHouseConfig,
  identity: string,
  root: string,
  shardLayout: string,
) {
  const db = config.database;
  const claims = await onNode(node, 'reading whose copy it holds', () =>
    query<{ identity: string; root: string; layout: string }>(
      node.client,
      `SELECT identity, root, layout FROM ${db}.lake`,
    ),
  );
  const other = claims.find((claim) => claim.identity !== identity);
  if (other)
    throw new ClickHouseBehind(
      `ClickHouse at ${node.url} holds another lake's copy in database ${db} (the lake at ${other.root}): give this lake its own TXLAKE_CLICKHOUSE_DATABASE`,
    );
  const moved = claims.find((claim) => claim.layout !== shardLayout);
  if (moved)
    throw new ClickHouseBehind(
      `the shards of cluster ${config.cluster} changed since this lake's rows were loaded (shard:weight ${moved.layout}, now ${shardLayout}); txlake does not move rows between shards: publish the lake into a new TXLAKE_CLICKHOUSE_DATABASE`,
    );
  if (claims.length === 0)
    await onNode(node, 'claiming its database for this lake', () =>
      node.client.command({
        query: `INSERT INTO ${db}.lake (identity, root, layout, claimed) VALUES (${sqlText(identity)}, ${sqlText(root)}, ${sqlText(shardLayout)}, now())`,
      }),
    );
}

async function openNode(url: string, client: ClickHouseClient, config: ClickHouseConfig): Promise<Node> {
  const node = { url };
  const db = config.database;
  await onNode(node, 'creating txlake tables', async () => {
    for (const statement of createStatements(db, config.cluster)) await client.command({ query: statement });
    await addMissingColumns(client, db);
  });
  await onNode(node, 'looking for inserts a stopped writer left running', () =>
    awaitLeftoverLoads(node, client, db),
  );
  const local = await onNode(node, 'reading its cluster configuration', () =>
    query<{ shard_num: number }>(
      client,
      `SELECT shard_num FROM system.clusters WHERE cluster = ${sqlText(config.cluster)} AND is_local = 1`,
    ),
  );
  if (local.length === 0)
    throw new ClickHouseBehind(
      `ClickHouse at ${url} is not a node of cluster ${config.cluster} (no such cluster in its remote_servers, or it is not one of the cluster's hosts)`,
    );
  const [files, partitions, lists, snapshots, sums, served] = await onNode(
    node,
    'reading what it holds',
    () =>
      Promise.all([
        query<{ file_key: string }>(client, `SELECT file_key FROM ${db}.files`),
        query<{ partition: string }>(
          client,
          `SELECT DISTINCT partition FROM system.parts WHERE database = ${sqlText(db)} AND table = 'transactions_local' AND active`,
        ),
        query<{ snapshot: string }>(client, `SELECT DISTINCT snapshot FROM ${db}.snapshot_files`),
        query<{ snapshot: string; manifest_sha256: string; operation: string; mode: string }>(
          client,
          `SELECT snapshot, manifest_sha256, operation, mode FROM ${db}.snapshots`,
        ),
        query<{ snapshot: string; rows: string; counted: string }>(
          client,
          `SELECT snapshot, sum(rows) AS rows, sum(purchases + returns) AS counted FROM ${db}.daily_sums GROUP BY snapshot`,
        ),
        query<{ seq: string; snapshot: string }>(
          client,
          `SELECT seq, snapshot FROM ${db}.served ORDER BY seq DESC LIMIT 1`,
        ),
      ]),
  );
  const last = served[0];
  // Every row of a day is a purchase or a return, so counts that do not add up to the rows were never
  // written: the sums predate the counts (their columns read as 0).
  const uncounted = new Set(
    sums.filter((row) => row.rows !== row.counted).map((row) => Number(row.snapshot)),
  );
  const outdated = snapshots
    .filter((row) => (row.operation === 'ingest' && row.mode === '') || uncounted.has(Number(row.snapshot)))
    .map((row) => Number(row.snapshot));
  return {
    url,
    client,
    shard: Number(local[0]?.shard_num),
    files: new Set(files.map((row) => BigInt(row.file_key))),
    partitions: new Set(partitions.map((row) => BigInt(row.partition))),
    snapshots: new Map(snapshots.map((row) => [Number(row.snapshot), row.manifest_sha256])),
    listed: new Set([...lists, ...sums].map((row) => Number(row.snapshot))),
    outdated: new Set(outdated),
    served: last ? Number(last.snapshot) : null,
    nextSeq: last ? BigInt(last.seq) + 1n : 1n,
  };
}

/** The query id of every load into `database` starts with it: the next writer stops what a killed one left. */
export function loadQueryPrefix(database: string): string {
  return `txlake-load-${database}-`;
}

/** How long a sync waits for a load a stopped writer left running before it gives up (exit 4). */
const LEFTOVER_WAIT_MS = 60_000;

/**
 * A writer killed while ClickHouse was still inserting a file's rows (the request body sent, the answer not
 * yet back) leaves that insert running, and ClickHouse commits it on its own: after this sync cleared the
 * file's partition it would add the rows a second time. 18.16 cannot kill an insert ("unkillable stages"),
 * so the sync waits for it to end before it touches anything. One writer holds the lake's lock: every load
 * under this database's prefix still running is such a leftover.
 */
async function awaitLeftoverLoads(
  node: { url: string },
  client: ClickHouseClient,
  db: string,
): Promise<void> {
  const prefix = loadQueryPrefix(db);
  const deadline = Date.now() + LEFTOVER_WAIT_MS;
  for (;;) {
    const [running] = await query<{ id: string; loads: string }>(
      client,
      `SELECT any(initial_query_id) AS id, count() AS loads FROM system.processes
       WHERE substring(initial_query_id, 1, ${prefix.length}) = ${sqlText(prefix)}`,
    );
    if (running === undefined || running.loads === '0') return;
    if (Date.now() > deadline)
      throw new ClickHouseBehind(
        `ClickHouse at ${node.url} is still running an insert that a stopped writer left (query ${running.id}) after ${LEFTOVER_WAIT_MS / 1000} s: let it finish (or restart that node), then run \`txlake clickhouse sync\``,
      );
    await pause(100);
  }
}

/** Bring tables created by an earlier txlake up to the columns it did not know (tables.ts, ADDED_COLUMNS). */
async function addMissingColumns(client: ClickHouseClient, db: string): Promise<void> {
  const present = await query<{ table: string; name: string }>(
    client,
    `SELECT table, name FROM system.columns WHERE database = ${sqlText(db)}
       AND table IN (${[...new Set(ADDED_COLUMNS.map((c) => sqlText(c.table)))].join(', ')})`,
  );
  const has = new Set(present.map((row) => `${row.table}.${row.name}`));
  for (const { table, column, type } of ADDED_COLUMNS)
    if (!has.has(`${table}.${column}`))
      await client.command({ query: `ALTER TABLE ${db}.${table} ADD COLUMN ${column} ${type}` });
}

/**
 * Load one lake file's rows: hashed first (never copy bytes the manifest does not vouch for), written as
 * TabSeparated by DuckDB, cleared from every node (what a half-done earlier load left), inserted through the
 * Distributed table synchronously (ClickHouse routes each row to its shard), counted across the cluster,
 * and only then marked loaded on every node.
 */
async function loadFile(
  engine: Engine,
  layout: LakeLayout,
  nodes: Node[],
  key: bigint,
  file: DataFile,
  scratch: string,
  config: ClickHouseConfig,
): Promise<number> {
  const problem = await checkFile(layout, file);
  if (problem)
    throw new TxlakeError(
      'lake',
      `${file.path} ${problem}; nothing of it was copied to ClickHouse. Run \`txlake verify --lake ${layout.root}\` and restore the file from a backup`,
    );
  const db = config.database;
  const source = `read_parquet([${sqlString(layout.resolve(file.path))}], hive_partitioning = true, hive_types = {'transaction_type': VARCHAR})`;
  const tsv = path.join(scratch, `${key}.tsv`);
  const [copied] = await engine.rows<{ Count: bigint }>(
    `COPY (
       SELECT user_id, epoch_us(datetime) AS epoch_us,
         CASE transaction_type WHEN 'ReturnActivity' THEN 1 ELSE 0 END AS transaction_type,
         merchant_type_code, amount_cents, ${key}::UBIGINT AS file_key
       FROM ${source}
     ) TO ${sqlString(tsv)} (FORMAT csv, DELIMITER '\t', HEADER false)`,
  );
  const rows = Number(copied?.Count ?? 0);
  if (rows !== file.rows)
    throw new TxlakeError('lake', `${file.path} holds ${rows} rows, its manifest says ${file.rows}`);
  for (const node of nodes)
    await onNode(node, `clearing what an earlier load of ${file.path} left`, async () => {
      await node.client.command({ query: `ALTER TABLE ${db}.files DROP PARTITION ${key}` });
      await node.client.command({ query: `ALTER TABLE ${db}.transactions_local DROP PARTITION ${key}` });
      node.files.delete(key);
    });
  faultPoint('clickhouse-file-loading');
  const entry = nodes[0] as Node;
  await onNode(entry, `loading ${file.path}`, async () => {
    if (rows > 0)
      await entry.client.insert({
        table: `${db}.transactions`,
        values: createReadStream(tsv),
        format: 'TabSeparated',
        columns: [...TRANSACTION_COLUMNS],
        // Every shard has its rows when the insert returns, or the insert fails: no queue to wait for.
        clickhouse_settings: { insert_distributed_sync: 1 },
        query_id: `${loadQueryPrefix(db)}${key}-${Date.now()}`,
      });
    const [counted] = await query<{ rows: string }>(
      entry.client,
      `SELECT count() AS rows FROM ${db}.transactions WHERE file_key = ${key}`,
    );
    if (Number(counted?.rows) !== rows)
      throw new ClickHouseBehind(
        `the cluster holds ${counted?.rows} rows of ${file.path} after loading ${rows}`,
      );
  });
  faultPoint('clickhouse-file-inserted');
  for (const node of nodes) {
    await onNode(node, `recording that ${file.path} is loaded`, () =>
      node.client.command({
        query: `INSERT INTO ${db}.files (file_key, path, sha256, rows, loaded) VALUES (${key}, ${sqlText(file.path)}, ${sqlText(file.sha256)}, ${sqlCount(file.rows)}, now())`,
      }),
    );
    node.files.add(key);
    faultPoint('clickhouse-file-recorded');
  }
  return rows;
}

/**
 * The snapshot's daily sums as TabSeparated rows of daily_sums (small: codes × days). A sums file written
 * before the counts has them counted from the snapshot's data files, so those files are checked first as
 * well (`checked`: the paths this sync has checked already), as a file is before its rows are copied.
 */
async function dailySumsText(
  engine: Engine,
  layout: LakeLayout,
  manifest: SnapshotManifest,
  checked: Set<string>,
): Promise<string> {
  const notCopied = (file: DataFile, problem: string) =>
    new TxlakeError(
      'lake',
      `${file.path} ${problem}; snapshot ${manifest.id} was not copied to ClickHouse. Run \`txlake verify --lake ${layout.root}\``,
    );
  const problem = await checkFile(layout, manifest.daily_sums);
  if (problem) throw notCopied(manifest.daily_sums, problem);
  const [counted] = await engine.rows<{ counted: boolean }>(
    `SELECT count(*) > 0 AS counted FROM parquet_schema(${sqlString(layout.resolve(manifest.daily_sums.path))})
     WHERE name = 'purchases'`,
  );
  if (counted?.counted !== true)
    for (const file of manifest.files) {
      if (checked.has(file.path)) continue;
      const damage = await checkFile(layout, file);
      if (damage) throw notCopied(file, damage);
      checked.add(file.path);
    }
  const sums = await dailySumsRelation(engine, layout, manifest);
  const rows = await engine.rows<{ line: string }>(
    `SELECT concat_ws('\t', ${manifest.id}, merchant_type_code, (day - DATE '1970-01-01')::INTEGER,
       purchase_cents::VARCHAR, return_cents::VARCHAR, purchases + returns, purchases, returns) AS line
     FROM ${sums}`,
  );
  return rows.map((row) => `${row.line}\n`).join('');
}

/**
 * A snapshot's catalog on one node: its file list and daily sums, then its row in `snapshots` last.
 * `again`: the node has published it before, without the counts or the mode: its file list stays (readers
 * may be answering from it), its sums are written anew (a reader loading meanwhile sees sums that do not
 * add up to the snapshot's rows and waits for them), then its row. The row is briefly absent: readers
 * keep the view they have, and this happens once per snapshot, on the first sync after the upgrade.
 */
async function publishSnapshot(
  node: Node,
  config: ClickHouseConfig,
  manifest: SnapshotManifest,
  manifestSha256: string,
  dailySums: string,
  again: boolean,
): Promise<void> {
  const db = config.database;
  const id = sqlCount(manifest.id);
  const mode = manifest.operation === 'ingest' ? manifest.mode : '';
  const doing = `copying snapshot ${manifest.id}`;
  await onNode(node, doing, async () => {
    // What an earlier, interrupted copy of this snapshot left goes first.
    if (!again) {
      await node.client.command({ query: `ALTER TABLE ${db}.snapshot_files DROP PARTITION ${id}` });
      if (manifest.files.length > 0)
        await node.client.command({
          query: `INSERT INTO ${db}.snapshot_files (snapshot, file_key) VALUES ${manifest.files
            .map((file) => `(${id}, ${fileKeyOf(file)})`)
            .join(', ')}`,
        });
    }
    await node.client.command({ query: `ALTER TABLE ${db}.daily_sums DROP PARTITION ${id}` });
    if (dailySums !== '')
      await node.client.insert({
        table: `${db}.daily_sums`,
        values: Readable.from([Buffer.from(dailySums)], { objectMode: false }),
        format: 'TabSeparated',
        columns: [...DAILY_SUM_COLUMNS],
      });
  });
  faultPoint('clickhouse-sums-written');
  await onNode(node, doing, async () => {
    if (again) await node.client.command({ query: `ALTER TABLE ${db}.snapshots DROP PARTITION ${id}` });
    await node.client.command({
      query: `INSERT INTO ${db}.snapshots (snapshot, manifest_sha256, created, operation, rows, published, mode) VALUES (${id}, ${sqlText(manifestSha256)}, ${sqlText(manifest.created)}, ${sqlText(manifest.operation)}, ${sqlCount(manifest.rows)}, now(), ${sqlText(mode)})`,
    });
  });
  node.snapshots.set(manifest.id, manifestSha256);
  node.outdated.delete(manifest.id);
}

async function dropSnapshotLists(node: Node, config: ClickHouseConfig, id: number): Promise<void> {
  await onNode(node, `dropping its copy of snapshot ${id}`, async () => {
    for (const table of ['snapshot_files', 'daily_sums'])
      await node.client.command({
        query: `ALTER TABLE ${config.database}.${table} DROP PARTITION ${sqlCount(id)}`,
      });
  });
  node.snapshots.delete(id);
}
