// Reading and validating a source inside DuckDB, in one scan (parallel unless the file needs otherwise). Every field is read as text and
// checked against the rules of domain/schema.ts before it is converted: DuckDB's own casts are lenient
// ("12.5" becomes 13, "0x10" 16, "2023-3-5" a date) and would let bad values in silently.
//
// Two paths keep this fast. The fast path tests the raw fields with a few cheap, strict checks; nearly every
// row of a real file passes it. Only the rows that fail (a padded field, a time zone, a bad value) take the
// slow path, which trims, re-checks each column in order and names the first failing column and reason.

import { MAX_ROW_BYTES, type RejectionReason } from '../domain/rejection.js';
import {
  DATETIME_PATTERN,
  DATETIME_WITHOUT_ZONE_PATTERN,
  MERCHANT_CODE_MAX,
  REQUIRED_COLUMNS,
  type RequiredColumn,
  TIMESTAMP_LIMIT,
  TIMESTAMP_MIN,
  TRANSACTION_TYPES,
} from '../domain/schema.js';
import { sqlString } from '../lake/engine.js';
import type { Source } from './source.js';

export const STAGED_TABLE = 'staged';

/** Names of the engine's tables holding its CSV errors for source number `index`. */
export function engineRejectTables(index: number): { errors: string; scans: string } {
  return { errors: `csv_errors_${index}`, scans: `csv_scans_${index}` };
}

/**
 * A null marker no real field holds, so that an empty field reads as '' and NULL means "no such field".
 * With one sentinel column beyond the header and null padding, a row's field count is then visible:
 * a NULL last column means too few fields, a non-NULL sentinel too many. (DuckDB on its own silently
 * accepts a trailing empty field, and we promise to reject every row whose field count is wrong.)
 */
const ABSENT_FIELD = '\u0001txlake-absent\u0001';

/** How the engine scans: in parallel (the default), or sequentially when a file needs it. */
export interface ScanOptions {
  parallel: boolean;
}

/**
 * The engine's parallel scanner refuses null padding when a quoted field spans lines; such a file is
 * staged again with a sequential scan (correct, slower), recognised by this message.
 */
export function needsSequentialScan(error: unknown): boolean {
  return String((error as Error)?.message).includes('null_padding in conjunction with quoted new lines');
}

/** The engine's error for a file that mixes CRLF with bare LF line ends. */
export function hasMixedLineEndsError(error: unknown): boolean {
  return String((error as Error)?.message).includes('state machine reached an invalid state');
}

function readCsvCall(source: Source, index: number, scan: ScanOptions): string {
  const columns = Array.from({ length: source.header.fieldCount + 1 }, (_, i) => `'c${i}': 'VARCHAR'`).join(
    ', ',
  );
  const rejects = engineRejectTables(index);
  return `read_csv(${sqlString(source.path)},
    columns = {${columns}}, header = false, skip = ${source.headerLine}, auto_detect = false,
    delim = ',', quote = '"', escape = '"', compression = '${source.compression === 'gzip' ? 'gzip' : 'none'}',
    null_padding = true, nullstr = ${sqlString(ABSENT_FIELD)}, parallel = ${scan.parallel},
    store_rejects = true, rejects_table = '${rejects.errors}', rejects_scan = '${rejects.scans}',
    max_line_size = ${MAX_ROW_BYTES})`;
}

const TRANSACTION_TYPE_LIST = `(${TRANSACTION_TYPES.map(sqlString).join(', ')})`;
/** Stored as an enum (one byte) rather than text: the staged table stays small and filters on it are cheap. */
const TRANSACTION_TYPE_ENUM = `ENUM${TRANSACTION_TYPE_LIST}`;

function isEmpty(v: string): string {
  return `(${v} IS NULL OR ${v} = '')`;
}

function isNotDigits(v: string): string {
  return `NOT regexp_full_match(${v}, '[0-9]+')`;
}

/** `-` then digits: an integer, just not an allowed one, so the user reads "out of range", not "not an integer". */
function isNegativeInteger(v: string): string {
  return `regexp_full_match(${v}, '-[0-9]+')`;
}

// The fast path's checks. Each accepts only values the slow path accepts too, with the same result, so a
// value's verdict never depends on the path it took; they are chosen for cost (measured in
// docs/performance.md): no regular expressions, which cost more than the CSV parsing itself.

const CANONICAL_INTEGERS: Array<[RequiredColumn, string, number | null]> = [
  ['user_id', 'fast_user_id', null],
  ['merchant_type_code', 'fast_merchant_type_code', MERCHANT_CODE_MAX],
  ['amount_cents', 'fast_amount_cents', null],
];

/**
 * Digits in canonical form: the cast value printed back equals the text. That refuses every form the
 * lenient cast accepts (`+5`, ` 5`, `1_000`, `1e3`, `0x10`, `12.0`) and leading zeros, which the slow path
 * then accepts; the sign and bound checks refuse negatives and large codes.
 */
function isCanonicalInteger(rawValue: string, typed: string, max: number | null): string {
  const bound = max === null ? `${typed} >= 0` : `${typed} BETWEEN 0 AND ${max}`;
  return `(${bound} AND ${typed}::VARCHAR = ${rawValue})`;
}

/**
 * `YYYY-MM-DDTHH:MM:SS` with 0–6 fractional digits, checked with LIKE and `contains` instead of a regular
 * expression. What LIKE's `_` lets through is refused by the cast (which must succeed too), except what the
 * cast reads leniently: a signed or space-padded year, and a zone after the seconds (` UTC`, `+02`, `-05`).
 * No space, no `+` and no third `-` exclude those; they take the slow path, which converts zones properly.
 * (`Z` passes and means UTC on both paths.)
 */
function isPlainUtcDatetime(v: string): string {
  return `((${v} LIKE '____-__-__T__:__:__' OR (${v} LIKE '____-__-__T__:__:__.%' AND length(${v}) BETWEEN 21 AND 26))
    AND NOT contains(${v}, ' ') AND NOT contains(${v}, '+') AND ${v} NOT LIKE '%-%-%-%')`;
}

/** Years 0001–9999 in UTC: a zone can push a valid local time out of them, and the format has 4 digits. */
const IN_TIMESTAMP_RANGE = `BETWEEN TIMESTAMP '${TIMESTAMP_MIN}' AND TIMESTAMP '${TIMESTAMP_LIMIT}'`;

/** UTC wall time of a checked datetime: a zone-less value is UTC already; a zoned one is converted. */
function datetimeValue(v: string): string {
  return `CASE WHEN regexp_full_match(${v}, ${sqlString(DATETIME_WITHOUT_ZONE_PATTERN)})
    THEN TRY_CAST(${v} AS TIMESTAMP) ELSE TRY_CAST(TRY_CAST(${v} AS TIMESTAMPTZ) AS TIMESTAMP) END`;
}

/** [condition, reason] pairs for one column, checked in order; the first that holds rejects the row. */
function columnChecks(column: RequiredColumn, v: string): Array<[string, RejectionReason]> {
  switch (column) {
    case 'user_id':
    case 'amount_cents':
      return [
        [isEmpty(v), 'empty'],
        [isNegativeInteger(v), 'out_of_range'],
        [isNotDigits(v), 'not_an_integer'],
        [`TRY_CAST(${v} AS BIGINT) IS NULL`, 'out_of_range'],
      ];
    case 'merchant_type_code':
      return [
        [isEmpty(v), 'empty'],
        [isNegativeInteger(v), 'out_of_range'],
        [isNotDigits(v), 'not_an_integer'],
        [`coalesce(TRY_CAST(${v} AS BIGINT) > ${MERCHANT_CODE_MAX}, true)`, 'out_of_range'],
      ];
    case 'transaction_type':
      return [
        [isEmpty(v), 'empty'],
        [`${v} NOT IN ${TRANSACTION_TYPE_LIST}`, 'unknown_transaction_type'],
      ];
    case 'datetime':
      return [
        [isEmpty(v), 'empty'],
        [`NOT regexp_full_match(${v}, ${sqlString(DATETIME_PATTERN)})`, 'unparsable_datetime'],
        [`coalesce(NOT (${datetimeValue(v)}) ${IN_TIMESTAMP_RANGE}, true)`, 'impossible_datetime'],
      ];
  }
}

/**
 * Where the staged table lives. `memory`: a temporary table, the fastest, about 100 bytes a row (DuckDB keeps
 * in-memory tables uncompressed). `disk`: a table of the staging database file, which the ingest attaches and
 * makes the current catalog (`USE`) before staging; DuckDB compresses it as it writes (about 13 bytes a
 * row), so a file far larger than memory stages without spilling gigabytes of raw rows.
 */
export type StagedStorage = 'memory' | 'disk';

/**
 * SQL that appends source number `index` to the staged table: the five typed columns (the transaction type
 * as an enum), and for rejected rows the column, reason and value.
 * The table's rowid follows the order of the records of the file (insertion order is preserved), which is
 * how a rejected row finds its line.
 */
export function stageSourceSql(
  source: Source,
  index: number,
  createTable: boolean,
  scan: ScanOptions = { parallel: true },
  storage: StagedStorage = 'memory',
): string {
  const raw = (column: RequiredColumn) => `c${source.header.positions[column]}`;
  const trimmed = (column: RequiredColumn) => `trim(${raw(column)})`;
  const lastField = `c${source.header.fieldCount - 1}`;
  const sentinel = `c${source.header.fieldCount}`;
  const fieldCountOk = `(${lastField} IS NOT NULL AND ${sentinel} IS NULL)`;
  const allFields = Array.from({ length: source.header.fieldCount + 1 }, (_, i) => `c${i}`).join(', ');
  const fastOk = [
    fieldCountOk,
    ...CANONICAL_INTEGERS.map(([column, typed, max]) => isCanonicalInteger(raw(column), typed, max)),
    'fast_transaction_type IS NOT NULL',
    isPlainUtcDatetime(raw('datetime')),
    `fast_datetime ${IN_TIMESTAMP_RANGE}`,
  ].join(' AND ');
  const checks = REQUIRED_COLUMNS.flatMap((column) =>
    columnChecks(column, trimmed(column)).map(([condition, reason]) => ({ column, condition, reason })),
  );
  const slowReject = `CASE WHEN NOT ${fieldCountOk} THEN '/wrong_field_count'
    ${checks.map((c) => `WHEN ${c.condition} THEN '${c.column}/${c.reason}'`).join(' ')} END`;
  const select = `
    SELECT
      ${index}::UTINYINT AS source_index,
      CASE WHEN reject IS NOT NULL THEN nullif(split_part(reject, '/', 1), '') END AS reject_column,
      CASE WHEN reject IS NOT NULL THEN split_part(reject, '/', 2) END AS reject_reason,
      CASE WHEN reject IS NOT NULL THEN
        CASE split_part(reject, '/', 1) ${REQUIRED_COLUMNS.map((c) => `WHEN '${c}' THEN ${trimmed(c)}`).join(' ')}
          ELSE concat_ws(',', ${allFields}) END
      END AS reject_value,
      CASE WHEN fast_ok THEN fast_user_id ELSE TRY_CAST(${trimmed('user_id')} AS BIGINT) END AS user_id,
      CASE WHEN fast_ok THEN fast_transaction_type
        ELSE TRY_CAST(${trimmed('transaction_type')} AS ${TRANSACTION_TYPE_ENUM}) END AS transaction_type,
      CASE WHEN fast_ok THEN fast_merchant_type_code
        ELSE TRY_CAST(${trimmed('merchant_type_code')} AS INTEGER) END AS merchant_type_code,
      CASE WHEN fast_ok THEN fast_amount_cents ELSE TRY_CAST(${trimmed('amount_cents')} AS BIGINT) END AS amount_cents,
      CASE WHEN fast_ok THEN fast_datetime ELSE ${datetimeValue(trimmed('datetime'))} END AS datetime
    FROM (
      SELECT *, CASE WHEN fast_ok THEN NULL ELSE ${slowReject} END AS reject
      FROM (
        SELECT *, (${fastOk}) AS fast_ok
        FROM (
          SELECT *,
            TRY_CAST(${raw('user_id')} AS BIGINT) AS fast_user_id,
            TRY_CAST(${raw('transaction_type')} AS ${TRANSACTION_TYPE_ENUM}) AS fast_transaction_type,
            TRY_CAST(${raw('merchant_type_code')} AS INTEGER) AS fast_merchant_type_code,
            TRY_CAST(${raw('amount_cents')} AS BIGINT) AS fast_amount_cents,
            TRY_CAST(${raw('datetime')} AS TIMESTAMP) AS fast_datetime
          FROM ${readCsvCall(source, index, scan)}
        )
      )
    )`;
  return createTable
    ? `CREATE OR REPLACE ${storage === 'memory' ? 'TEMP ' : ''}TABLE ${STAGED_TABLE} AS ${select}`
    : `INSERT INTO ${STAGED_TABLE} ${select}`;
}

/** The validated rows of the staged table, with the lake's column names. */
export const VALID_ROWS = `(SELECT user_id, transaction_type, merchant_type_code, amount_cents, datetime
  FROM ${STAGED_TABLE} WHERE reject_reason IS NULL)`;
