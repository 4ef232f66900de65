// The lake as other engines see it: Hive directories, files sorted by (user_id, datetime), every row in
// the directory of its type, for each partition scheme.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../../src/etl/ingest.js';
import { type Engine, openEngine, sqlString } from '../../src/lake/engine.js';
import { readCurrentSnapshot } from '../../src/lake/lake-state.js';
import { LakeLayout } from '../../src/lake/layout.js';
import { generateTransactionsFile } from '../../src/sample/generator.js';

let dir: string;
let csv: string;
let engine: Engine;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-layout-'));
  csv = path.join(dir, 'sample.csv');
  await generateTransactionsFile({ rows: 20_000, seed: 7, users: 300 }, csv);
  engine = await openEngine({ threads: 2 });
});
afterAll(async () => {
  engine.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe.each([
  ['transaction_type', /^transaction_type=(PurchaseActivity|ReturnActivity)\/part-[^/]+\.parquet$/],
  [
    'transaction_type,month',
    /^transaction_type=(PurchaseActivity|ReturnActivity)\/month=\d{4}-\d{2}\/part-[^/]+\.parquet$/,
  ],
  [
    'transaction_type,day',
    /^transaction_type=(PurchaseActivity|ReturnActivity)\/day=\d{4}-\d{2}-\d{2}\/part-[^/]+\.parquet$/,
  ],
] as const)('partitioned by %s', (scheme, pathPattern) => {
  it('lays files out as Hive directories, sorted, holding every row', async () => {
    const lake = path.join(dir, scheme.replace(',', '-'));
    const result = await ingest({
      lake,
      files: [csv],
      mode: 'append',
      maxRejectRate: 0,
      partitionBy: scheme,
      force: false,
    });
    expect(result.rows_committed).toBe(20_000);
    const manifest = await readCurrentSnapshot(new LakeLayout(lake));
    expect(manifest?.partition_by).toBe(scheme);
    for (const file of manifest?.files ?? []) expect(file.path).toMatch(pathPattern);
    const list = (manifest?.files ?? []).map((f) => sqlString(path.join(lake, f.path))).join(', ');
    const [check] = await engine.rows<{ n: bigint; unsorted: bigint; mislaid: bigint }>(
      `WITH x AS (
         SELECT *, lag(user_id) OVER w AS pu, lag(datetime) OVER w AS pd
         FROM read_parquet([${list}], hive_partitioning = true, filename = true, file_row_number = true)
         WINDOW w AS (PARTITION BY filename ORDER BY file_row_number))
       SELECT count(*) AS n,
         count(*) FILTER (WHERE pu > user_id OR (pu = user_id AND pd > datetime)) AS unsorted,
         count(*) FILTER (WHERE NOT contains(filename, 'transaction_type=' || transaction_type)) AS mislaid
       FROM x`,
    );
    expect(check).toMatchObject({ n: 20_000n, unsorted: 0n, mislaid: 0n });
  });
});
