// The transaction schema of SPEC §1: column names, value rules and the lake types they become.
// Everything here is data, so the SQL validator (etl) and the docs read the same rules.

/** The five required CSV columns, in the order the lake and the rejects file list them. */
export const REQUIRED_COLUMNS = [
  'user_id',
  'transaction_type',
  'merchant_type_code',
  'amount_cents',
  'datetime',
] as const;
export type RequiredColumn = (typeof REQUIRED_COLUMNS)[number];

export const TRANSACTION_TYPES = ['PurchaseActivity', 'ReturnActivity'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Inclusive bounds of the integer columns (INT64 for ids and cents, ISO 18245 codes for merchants). */
export const INT64_MAX = 9_223_372_036_854_775_807n;
export const MERCHANT_CODE_MAX = 9999;

/**
 * The accepted `datetime` shape: ISO 8601 date, `T` or space, time with 0–6 fractional digits, and an
 * optional zone (`Z`, `±HH`, `±HHMM`, `±HH:MM`, offsets up to ±23:59). Calendar validity (no 30 February,
 * no 25th hour) is checked when the value is converted, not by this pattern.
 */
export const DATETIME_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?$';

/** The same shape without a zone: most real files, and the common fast path of validation. */
export const DATETIME_WITHOUT_ZONE_PATTERN =
  '^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?$';

/** The instants a datetime may name, in UTC: years 0001–9999, as four digits can write them. */
export const TIMESTAMP_MIN = '0001-01-01 00:00:00';
export const TIMESTAMP_LIMIT = '9999-12-31 23:59:59.999999';

/** Partition keys a lake may be laid out by, below the mandatory `transaction_type` level. */
export const PARTITION_SCHEMES = [
  'transaction_type',
  'transaction_type,month',
  'transaction_type,day',
] as const;
export type PartitionScheme = (typeof PARTITION_SCHEMES)[number];
