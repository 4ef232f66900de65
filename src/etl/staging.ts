// Reading and validating a source inside DuckDB: every field is read as text, trimmed, checked against the
// rules of domain/schema.ts and converted, in one parallel scan. A row's first failing column (in schema
// order) becomes its rejection; the engine's own CSV errors (field count, quotes, UTF-8) are kept too.

import { DATETIME_PATTERN, MERCHANT_CODE_MAX, REQUIRED_COLUMNS, type RequiredColumn } from '../domain/schema.js';
import { sqlString } from '../lake/engine.js';
import type { Source } from './source.js';

export const STAGED_TABLE = 'staged';

/** Names of the engine's tables holding its CSV errors for source number `index`. */
export function engineRejectTables(index: number): { errors: string; scans: string } {
  return { errors: `csv_errors_${index}`, scans: `csv_scans_${index}` };
}

function readCsvCall(source: Source, index: number): string {
  const columns = Array.from({ length: source.header.fieldCount }, (_, i) => `'c${i}': 'VARCHAR'`).join(', ');
  const rejects = engineRejectTables(index);
  return `read_csv(${sqlString(source.path)},
    columns = {${columns}}, header = false, skip = ${source.headerLine}, auto_detect = false,
    delim = ',', quote = '"', escape = '"', compression = '${source.compression === 'gzip' ? 'gzip' : 'none'}',
    store_rejects = true, rejects_table = '${rejects.errors}', rejects_scan = '${rejects.scans}',
    max_line_size = 1048576)`;
}

const DIGITS = "'0123456789'";

function isEmpty(v: string): string {
  return `(${v} IS NULL OR ${v} = '')`;
}

function isNotDigits(v: string): string {
  return `ltrim(${v}, ${DIGITS}) <> ''`;
}

/** [condition, reason] pairs for one column, checked in order; the first that holds rejects the row. */
function columnChecks(column: RequiredColumn, v: string): Array<[string, string]> {
  switch (column) {
    case 'user_id':
    case 'amount_cents':
      return [
        [isEmpty(v), 'empty'],
        [isNotDigits(v), 'not_an_integer'],
        [`TRY_CAST(${v} AS BIGINT) IS NULL`, 'out_of_range'],
      ];
    case 'merchant_type_code':
      return [
        [isEmpty(v), 'empty'],
        [isNotDigits(v), 'not_an_integer'],
        [`coalesce(TRY_CAST(${v} AS BIGINT) > ${MERCHANT_CODE_MAX}, true)`, 'out_of_range'],
      ];
    case 'transaction_type':
      return [
        [isEmpty(v), 'empty'],
        [`${v} NOT IN ('PurchaseActivity', 'ReturnActivity')`, 'unknown_transaction_type'],
      ];
    case 'datetime':
      return [
        [isEmpty(v), 'empty'],
        [`NOT regexp_full_match(${v}, ${sqlString(DATETIME_PATTERN)})`, 'unparsable_datetime'],
        [`TRY_CAST(${v} AS TIMESTAMPTZ) IS NULL`, 'impossible_datetime'],
      ];
  }
}

/**
 * SQL that appends source number `index` to the staged table. The table's rowid follows the order of the
 * accepted records of the file (insertion order is preserved), which is how a rejected row finds its line.
 */
export function stageSourceSql(source: Source, index: number, createTable: boolean): string {
  const v = (column: RequiredColumn) => `v_${column}`;
  const trimmed = REQUIRED_COLUMNS.map((column) => `trim(c${source.header.positions[column]}) AS ${v(column)}`);
  const cases = REQUIRED_COLUMNS.flatMap((column) =>
    columnChecks(column, v(column)).map(([condition, reason]) => ({ column, condition, reason })),
  );
  // One CASE evaluates each check once and stops at the first failure; good rows pay every check once.
  const reject = `CASE ${cases.map((c) => `WHEN ${c.condition} THEN '${c.column}/${c.reason}'`).join(' ')} END`;
  const select = `
    SELECT
      ${index}::UTINYINT AS source_index,
      split_part(reject, '/', 1) AS reject_column,
      split_part(reject, '/', 2) AS reject_reason,
      CASE split_part(reject, '/', 1) ${REQUIRED_COLUMNS.map((c) => `WHEN '${c}' THEN ${v(c)}`).join(' ')} END AS reject_value,
      CASE WHEN reject IS NULL THEN TRY_CAST(${v('user_id')} AS BIGINT) END AS user_id,
      CASE WHEN reject IS NULL THEN ${v('transaction_type')} END AS transaction_type,
      CASE WHEN reject IS NULL THEN TRY_CAST(${v('merchant_type_code')} AS INTEGER) END AS merchant_type_code,
      CASE WHEN reject IS NULL THEN TRY_CAST(${v('amount_cents')} AS BIGINT) END AS amount_cents,
      CASE WHEN reject IS NULL THEN TRY_CAST(${v('datetime')} AS TIMESTAMPTZ) END AS datetime
    FROM (
      SELECT *, ${reject} AS reject
      FROM (SELECT ${trimmed.join(', ')} FROM ${readCsvCall(source, index)})
    )`;
  return createTable
    ? `CREATE OR REPLACE TEMP TABLE ${STAGED_TABLE} AS ${select}`
    : `INSERT INTO ${STAGED_TABLE} ${select}`;
}
