// txlake's tables on every ClickHouse node (docs/scaling.md has the why of each). Without ZooKeeper a
// ClickHouse cannot run DDL `ON CLUSTER`, so a writer creates them on each node it is given.
//
// - transactions_local: this node's shard of the rows of every loaded lake file, ordered for user lookups,
//   one partition per lake file (file_key) so that a file is dropped, or a half-loaded one cleaned, at once.
// - transactions: the Distributed table over them, sharded by intHash64(user_id) (plain ids can all be odd,
//   as the sample's are: the hash spreads any id pattern); writers insert through it.
// - files: which lake files the cluster holds, on every node, each written after the cluster's count of the
//   file's rows matched its manifest.
// - snapshots, snapshot_files, daily_sums: a full copy per node of every retained snapshot: its file list
//   (a user query reads `file_key IN` the snapshot's files on each shard, locally) and its daily sums.
//   `snapshots.mode` is the ingest's manifest mode, '' for the other operations; daily_sums count the day's
//   purchases and returns besides summing them (API v2).
// - lake: whose copy this is (the sha256 of the lake's first committed manifest): one lake per database;
//   and the shard layout its rows were loaded under (a changed cluster is refused, not misread).
// - served: the switch. Readers serve the snapshot of its newest row; a writer appends one when a
//   snapshot is wholly in place on every node, so no reader ever sees a half-loaded snapshot.
//
// Datetimes are epoch microseconds (Int64): 18.16's DateTime is UInt32 seconds from 1970, which holds
// neither the lake's microseconds nor its years 0001–1969 and after 2106.

export function createStatements(database: string, cluster: string): string[] {
  const db = database;
  return [
    `CREATE DATABASE IF NOT EXISTS ${db}`,
    `CREATE TABLE IF NOT EXISTS ${db}.transactions_local (
       user_id Int64, epoch_us Int64, transaction_type UInt8, merchant_type_code UInt16,
       amount_cents Int64, file_key UInt64
     ) ENGINE = MergeTree PARTITION BY file_key ORDER BY (user_id, epoch_us)`,
    `CREATE TABLE IF NOT EXISTS ${db}.transactions AS ${db}.transactions_local
     ENGINE = Distributed(${cluster}, ${db}, transactions_local, intHash64(user_id))`,
    `CREATE TABLE IF NOT EXISTS ${db}.files (
       file_key UInt64, path String, sha256 String, rows UInt64, loaded DateTime
     ) ENGINE = MergeTree PARTITION BY file_key ORDER BY file_key`,
    `CREATE TABLE IF NOT EXISTS ${db}.snapshots (
       snapshot UInt64, manifest_sha256 String, created String, operation String, rows UInt64,
       published DateTime, mode String
     ) ENGINE = MergeTree PARTITION BY snapshot ORDER BY snapshot`,
    `CREATE TABLE IF NOT EXISTS ${db}.snapshot_files (snapshot UInt64, file_key UInt64)
     ENGINE = MergeTree PARTITION BY snapshot ORDER BY (snapshot, file_key)`,
    `CREATE TABLE IF NOT EXISTS ${db}.daily_sums (
       snapshot UInt64, merchant_type_code UInt16, day Int32,
       purchase_cents Decimal(38, 0), return_cents Decimal(38, 0), rows UInt64,
       purchases UInt64, returns UInt64
     ) ENGINE = MergeTree PARTITION BY snapshot ORDER BY (snapshot, merchant_type_code, day)`,
    `CREATE TABLE IF NOT EXISTS ${db}.lake (identity String, root String, layout String, claimed DateTime)
     ENGINE = MergeTree ORDER BY identity`,
    `CREATE TABLE IF NOT EXISTS ${db}.served (seq UInt64, snapshot UInt64, switched DateTime)
     ENGINE = MergeTree ORDER BY seq`,
  ];
}

/**
 * Columns added since the first release, last in their tables so that a table created by CREATE above and
 * one brought up to date by ALTER … ADD COLUMN (18.16 has no ADD COLUMN IF NOT EXISTS) are alike. A row
 * written before a column existed reads as the type's default (0, ''): the sync finds those snapshots and
 * publishes their catalog again (publish.ts, outdatedSnapshots).
 */
export const ADDED_COLUMNS = [
  { table: 'snapshots', column: 'mode', type: 'String' },
  { table: 'daily_sums', column: 'purchases', type: 'UInt64' },
  { table: 'daily_sums', column: 'returns', type: 'UInt64' },
] as const;

/** The columns of transactions_local in the order a writer's TabSeparated rows give them. */
export const TRANSACTION_COLUMNS = [
  'user_id',
  'epoch_us',
  'transaction_type',
  'merchant_type_code',
  'amount_cents',
  'file_key',
] as const;

export const DAILY_SUM_COLUMNS = [
  'snapshot',
  'merchant_type_code',
  'day',
  'purchase_cents',
  'return_cents',
  'rows',
  'purchases',
  'returns',
] as const;
