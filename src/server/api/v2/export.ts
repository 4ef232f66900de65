// A user's data as a download (data portability, beside `delete-user`): CSV and NDJSON are written as a
// stream of chunks of rows, so the answer costs a chunk of memory beyond the rows the store handed out,
// whatever the user's size; Parquet is written by DuckDB (the engine of the field) into a temporary file,
// streamed, then removed.

import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DuckDBTimestampValue } from '@duckdb/node-api';
import { TRANSACTION_TYPES } from '../../../domain/schema.js';
import type { TransactionBatch } from '../../../domain/transaction-batch.js';
import { CSV_HEADER, transactionCsv, transactionJson } from '../../../domain/v2.js';
import { type Engine, openEngine, sqlString } from '../../../lake/engine.js';

export const EXPORT_FORMATS = ['csv', 'ndjson', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const EXPORT_MEDIA_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

const ROWS_PER_CHUNK = 1000;

/** The rows of `batch` as text lines, a chunk of rows at a time. */
export function textExport(batch: TransactionBatch, format: 'csv' | 'ndjson'): Readable {
  return Readable.from(
    (function* chunks() {
      if (format === 'csv') yield CSV_HEADER;
      for (let start = batch.start; start < batch.end; start += ROWS_PER_CHUNK) {
        const end = Math.min(batch.end, start + ROWS_PER_CHUNK);
        let chunk = '';
        for (let i = start; i < end; i++) {
          chunk += format === 'csv' ? transactionCsv(batch, i) : `${transactionJson(batch, i)}\n`;
        }
        yield chunk;
      }
    })(),
  );
}

let engine: Promise<Engine> | null = null;

/** One in-memory DuckDB for the process's Parquet exports, opened on first use (one thread: exports are rare). */
function exportEngine(): Promise<Engine> {
  engine ??= openEngine({ threads: 1 }).catch((error: unknown) => {
    engine = null;
    throw error;
  });
  return engine;
}

/**
 * The rows of `batch` as a Parquet file with the lake's five columns and types (user_id BIGINT,
 * transaction_type VARCHAR, merchant_type_code INTEGER, amount_cents BIGINT, datetime TIMESTAMP), streamed
 * from a temporary file that is removed when the stream closes.
 */
export async function parquetExport(batch: TransactionBatch): Promise<Readable> {
  const duck = await exportEngine();
  const connection = await duck.connect();
  const table = `export_${randomUUID().replaceAll('-', '')}`;
  const file = path.join(os.tmpdir(), `txlake-${table}.parquet`);
  try {
    await connection.run(
      `CREATE TABLE ${table} (user_id BIGINT, transaction_type VARCHAR, merchant_type_code INTEGER,
         amount_cents BIGINT, datetime TIMESTAMP)`,
    );
    const appender = await connection.createAppender(table);
    for (let i = batch.start; i < batch.end; i++) {
      appender.appendBigInt(batch.userId);
      appender.appendVarchar(TRANSACTION_TYPES[batch.transactionType[i] as number] as string);
      appender.appendInteger(batch.merchantTypeCode[i] as number);
      appender.appendBigInt(batch.amountCents[i] as bigint);
      appender.appendTimestamp(new DuckDBTimestampValue(batch.epochMicros[i] as bigint));
      appender.endRow();
    }
    appender.closeSync();
    await connection.run(
      `COPY (SELECT * FROM ${table}) TO ${sqlString(file)} (FORMAT parquet, COMPRESSION zstd)`,
    );
  } catch (error) {
    fs.rmSync(file, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
    connection.closeSync();
  }
  const stream = fs.createReadStream(file);
  stream.once('close', () => fs.rm(file, { force: true }, () => {}));
  return stream;
}
