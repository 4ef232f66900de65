// A snapshot's per-(merchant_type_code, day) sums as one SQL relation, whatever version of txlake wrote
// them. Since API v2 the file also counts the day's purchases and returns (`purchases`, `returns`); a file
// written before has only the total (`rows`), and its counts are taken from the snapshot's data files, once,
// wherever the sums are read (a server's load, an append's merge, a ClickHouse sync).

import type { TransactionType } from '../domain/schema.js';
import { type Engine, sqlString } from './engine.js';
import type { LakeLayout } from './layout.js';
import type { DataFile, SnapshotManifest } from './manifest.js';

export const PURCHASE_SQL = sqlString('PurchaseActivity' satisfies TransactionType);
export const RETURN_SQL = sqlString('ReturnActivity' satisfies TransactionType);

/** The rows of `files` with the lake's five columns (transaction_type from the partition path). */
export function dataFilesSql(layout: LakeLayout, files: readonly DataFile[]): string {
  const paths = files.map((f) => sqlString(layout.resolve(f.path)));
  return `read_parquet([${paths.join(', ')}], hive_partitioning = true, hive_types = {'transaction_type': VARCHAR})`;
}

/** Per (merchant_type_code, day) of a relation of rows: sums and counts (negated for an erasure). */
export function dailySumsOfRowsSql(rows: string, sign: '' | '-' = ''): string {
  return `SELECT merchant_type_code, CAST(datetime AS DATE) AS day,
      ${sign}sum(CASE WHEN transaction_type = ${PURCHASE_SQL} THEN amount_cents ELSE 0 END)::DECIMAL(38,0) AS purchase_cents,
      ${sign}sum(CASE WHEN transaction_type = ${RETURN_SQL} THEN amount_cents ELSE 0 END)::DECIMAL(38,0) AS return_cents,
      ${sign}count(*) FILTER (WHERE transaction_type = ${PURCHASE_SQL})::BIGINT AS purchases,
      ${sign}count(*) FILTER (WHERE transaction_type = ${RETURN_SQL})::BIGINT AS returns
    FROM ${rows} GROUP BY ALL`;
}

/**
 * The snapshot's daily sums with the columns merchant_type_code, day (DATE), purchase_cents, return_cents
 * (DECIMAL(38,0)), purchases, returns (BIGINT), as a parenthesized query for DuckDB.
 */
export async function dailySumsRelation(
  engine: Engine,
  layout: LakeLayout,
  manifest: Pick<SnapshotManifest, 'daily_sums' | 'files'>,
): Promise<string> {
  const file = sqlString(layout.resolve(manifest.daily_sums.path));
  const columns = await engine.rows<{ name: string }>(`SELECT name FROM parquet_schema(${file})`);
  if (columns.some((c) => c.name === 'purchases')) {
    return `(SELECT merchant_type_code, day, purchase_cents, return_cents, purchases, returns FROM read_parquet(${file}))`;
  }
  if (manifest.files.length === 0) {
    return `(SELECT merchant_type_code, day, purchase_cents, return_cents, 0::BIGINT AS purchases, 0::BIGINT AS returns FROM read_parquet(${file}))`;
  }
  // Written before the counts: the sums stay the file's (they were checked at commit), the counts come
  // from the rows themselves.
  return `(SELECT s.merchant_type_code, s.day, s.purchase_cents, s.return_cents,
       coalesce(c.purchases, 0)::BIGINT AS purchases, coalesce(c.returns, 0)::BIGINT AS returns
     FROM read_parquet(${file}) s
     LEFT JOIN (${dailySumsOfRowsSql(dataFilesSql(layout, manifest.files))}) c
       ON c.merchant_type_code = s.merchant_type_code AND c.day = s.day)`;
}
