// API v2's domain (SPEC §4 "v2"): parsing its parameters, filtering and paging a user's transactions, its
// cursors, and writing its exact answers (cents, six-digit UTC timestamps, all 64 bits of every integer:
// bigints become their digits, never a double). No I/O: the HTTP layer (server/api/v2/) calls these.

import { INT64_MAX, MERCHANT_CODE_MAX, TRANSACTION_TYPES, type TransactionType } from './schema.js';
import { formatUtcDay, formatUtcSecond, splitEpochMicros } from './time.js';
import type { DailyMerchantSums, TransactionBatch } from './transaction-batch.js';
import { parseV1Id } from './v1.js';

/** A parameter the client got wrong: a 400 problem naming it, as the OpenAPI document spells it. */
export class ParameterProblem extends Error {
  override readonly name = 'ParameterProblem';
  constructor(
    readonly parameter: string,
    detail: string,
  ) {
    super(detail);
  }
}

export const LIMIT_DEFAULT = 100;
export const LIMIT_MAX = 1000;

const MICROS_PER_SECOND = 1_000_000n;
const MICROS_PER_DAY = 86_400n * MICROS_PER_SECOND;

/** Which transactions of a user an answer holds. Bounds are epoch microseconds, `to` exclusive. */
export interface TransactionFilter {
  from: bigint | null;
  to: bigint | null;
  /** 0 = PurchaseActivity, 1 = ReturnActivity (the batch's codes), or null for both. */
  type: number | null;
  /** A merchant code, or null for all; -1 for digits beyond any code (matches nothing). */
  merchantTypeCode: number | null;
}

export const NO_FILTER: TransactionFilter = { from: null, to: null, type: null, merchantTypeCode: null };

/** A path id: digits (leading zeros allowed); beyond `max` it names nothing ('absent'); else a 400. */
export function parsePathId(text: string, max: bigint, parameter: string): bigint | 'absent' {
  const id = parseV1Id(text, max);
  if (id === null)
    throw new ParameterProblem(parameter, `${parameter} must be ASCII digits, not "${shown(text)}"`);
  return id;
}

export function parseUserId(text: string): bigint | 'absent' {
  return parsePathId(text, INT64_MAX, 'userId');
}

export function parseMerchantCode(text: string, parameter = 'code'): number | 'absent' {
  const code = parsePathId(text, BigInt(MERCHANT_CODE_MAX), parameter);
  return code === 'absent' ? 'absent' : Number(code);
}

/** A value quoted in a problem's detail: short, and without control characters. */
function shown(text: string): string {
  const cut = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(cut).slice(1, -1);
}

export function parseLimit(text: string | undefined): number {
  if (text === undefined) return LIMIT_DEFAULT;
  const limit = /^[0-9]{1,4}$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= LIMIT_MAX)) {
    throw new ParameterProblem(
      'limit',
      `limit must be an integer from 1 to ${LIMIT_MAX}, not "${shown(text)}"`,
    );
  }
  return limit;
}

/** A snapshot id: digits; 0 and ids beyond any number name no snapshot (NaN → 404 by the caller). */
export function parseSnapshotId(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^[0-9]+$/.test(text)) {
    throw new ParameterProblem(
      'snapshot',
      `snapshot must be a snapshot id (ASCII digits), not "${shown(text)}"`,
    );
  }
  const id = text.length > 16 ? Number.POSITIVE_INFINITY : Number(text);
  return Number.isSafeInteger(id) ? id : Number.POSITIVE_INFINITY;
}

export function parseTransactionType(text: string | undefined): number | null {
  if (text === undefined) return null;
  const index = (TRANSACTION_TYPES as readonly string[]).indexOf(text);
  if (index < 0) {
    throw new ParameterProblem(
      'type',
      `type must be ${TRANSACTION_TYPES.join(' or ')} (case-sensitive), not "${shown(text)}"`,
    );
  }
  return index;
}

export function parseMerchantFilter(text: string | undefined): number | null {
  if (text === undefined) return null;
  const code = parseMerchantCode(text, 'merchant_type_code');
  return code === 'absent' ? -1 : code;
}

const DATE = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;
const TIMESTAMP =
  /^([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})?$/;

/** Days since 1970-01-01 of a valid proleptic Gregorian date in years 0001–9999, else null. */
function dayNumber(year: number, month: number, day: number): number | null {
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return Math.round(date.getTime() / 86_400_000);
}

/** `YYYY-MM-DD` as a day number, or a 400 naming `parameter`. */
export function parseDate(text: string, parameter: string): number {
  const m = DATE.exec(text);
  const day = m ? dayNumber(Number(m[1]), Number(m[2]), Number(m[3])) : null;
  if (day === null)
    throw new ParameterProblem(parameter, `${parameter} must be a date, YYYY-MM-DD, not "${shown(text)}"`);
  return day;
}

/**
 * An RFC 3339 timestamp (a zone-less one is UTC, as in the CSV; up to six fractional digits) or a date
 * (midnight UTC), as epoch microseconds.
 */
export function parseInstant(text: string, parameter: string): bigint {
  if (DATE.test(text)) return BigInt(parseDate(text, parameter)) * MICROS_PER_DAY;
  const m = TIMESTAMP.exec(text);
  const wrong = (why: string) =>
    new ParameterProblem(
      parameter,
      `${parameter} must be an RFC 3339 timestamp or a date (${why}), not "${shown(text)}"`,
    );
  if (!m) throw wrong('for example 2023-03-25T11:31:26Z or 2023-03-25');
  const day = dayNumber(Number(m[1]), Number(m[2]), Number(m[3]));
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (day === null || hour > 23 || minute > 59 || second > 59) throw wrong('no such date or time');
  const fraction = m[7] ?? '';
  if (fraction.length > 6) throw wrong('at most six fractional digits');
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone !== undefined && zone !== 'Z') {
    const [h, mm] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
    if (h > 23 || mm > 59) throw wrong('no such zone offset');
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (h * 60 + mm);
  }
  const seconds = BigInt(day) * 86_400n + BigInt(hour * 3600 + minute * 60 + second - offsetMinutes * 60);
  return seconds * MICROS_PER_SECOND + BigInt(fraction.padEnd(6, '0') || '0');
}

/** A transactions answer's position: the rows matching `filter` of a user in a snapshot, from `offset`. */
export interface TransactionsCursor {
  snapshot: number;
  userId: bigint;
  filter: TransactionFilter;
  /** Index of the next row to consider, counted from the user's first row in the snapshot. */
  offset: number;
}

/**
 * Cursors are base64url JSON: opaque to clients, readable in a log. Nothing in one is secret (it names what
 * the same client could ask directly), so it needs no signature; decoding checks every member.
 */
export function encodeCursor(cursor: TransactionsCursor): string {
  const f = cursor.filter;
  const body = {
    v: 1,
    s: cursor.snapshot,
    u: String(cursor.userId),
    f: f.from === null ? null : String(f.from),
    t: f.to === null ? null : String(f.to),
    y: f.type,
    m: f.merchantTypeCode,
    o: cursor.offset,
  };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

const BIGINT_TEXT = /^-?[0-9]{1,19}$/;

export function decodeCursor(text: string): TransactionsCursor {
  const wrong = () =>
    new ParameterProblem('cursor', 'cursor is not one this server gave out (use next_cursor as it is)');
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(text)) throw wrong();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw wrong();
  }
  const bound = (value: unknown): bigint | null => {
    if (value === null) return null;
    if (typeof value !== 'string' || !BIGINT_TEXT.test(value)) throw wrong();
    return BigInt(value);
  };
  if (
    typeof body !== 'object' ||
    body === null ||
    body.v !== 1 ||
    !Number.isSafeInteger(body.s) ||
    (body.s as number) < 1 ||
    typeof body.u !== 'string' ||
    !/^[0-9]{1,19}$/.test(body.u) ||
    BigInt(body.u) > INT64_MAX ||
    !(body.y === null || body.y === 0 || body.y === 1) ||
    !(
      body.m === null ||
      (Number.isInteger(body.m) && (body.m as number) >= -1 && (body.m as number) <= MERCHANT_CODE_MAX)
    ) ||
    !Number.isSafeInteger(body.o) ||
    (body.o as number) < 0
  ) {
    throw wrong();
  }
  return {
    snapshot: body.s as number,
    userId: BigInt(body.u),
    filter: {
      from: bound(body.f),
      to: bound(body.t),
      type: body.y as number | null,
      merchantTypeCode: body.m as number | null,
    },
    offset: body.o as number,
  };
}

/** One page: indices into the batch's columns, and the offset of the next matching row (or null). */
export interface TransactionsPage {
  rows: number[];
  nextOffset: number | null;
}

/** First index in [lo, hi) whose epochMicros is ≥ `at` (the batch is ordered by datetime first). */
function lowerBound(batch: TransactionBatch, lo: number, hi: number, at: bigint): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((batch.epochMicros[mid] as bigint) < at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rows of a page: up to `limit` rows matching `filter`, from `offset` (relative to batch.start). */
export function pageOf(
  batch: TransactionBatch,
  filter: TransactionFilter,
  offset: number,
  limit: number,
): TransactionsPage {
  let lo = batch.start + offset;
  let hi = batch.end;
  if (filter.from !== null) lo = Math.max(lo, lowerBound(batch, batch.start, batch.end, filter.from));
  if (filter.to !== null) hi = Math.min(hi, lowerBound(batch, batch.start, batch.end, filter.to));
  const rows: number[] = [];
  const { type, merchantTypeCode: code } = filter;
  for (let i = lo; i < hi; i++) {
    if (type !== null && batch.transactionType[i] !== type) continue;
    if (code !== null && batch.merchantTypeCode[i] !== code) continue;
    if (rows.length === limit) return { rows, nextOffset: i - batch.start };
    rows.push(i);
  }
  return { rows, nextOffset: null };
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exact to the microsecond. */
export function formatV2Datetime(epochMicros: bigint): string {
  const { epochSecond, microsecond } = splitEpochMicros(epochMicros);
  return `${formatUtcSecond(epochSecond).slice(0, 19)}.${String(microsecond).padStart(6, '0')}Z`;
}

const TYPE_NAMES: readonly TransactionType[] = TRANSACTION_TYPES;

/** One transaction as v2's JSON object, in the SPEC's key order. */
export function transactionJson(batch: TransactionBatch, i: number): string {
  return (
    `{"user_id":${batch.userId},"datetime":"${formatV2Datetime(batch.epochMicros[i] as bigint)}",` +
    `"transaction_type":"${TYPE_NAMES[batch.transactionType[i] as number]}",` +
    `"merchant_type_code":${batch.merchantTypeCode[i]},"amount_cents":${batch.amountCents[i]}}`
  );
}

/** The transactions page as v2's JSON body. */
export function transactionsPageJson(
  batch: TransactionBatch,
  rows: readonly number[],
  nextCursor: string | null,
  snapshot: number,
): string {
  const data = rows.map((i) => transactionJson(batch, i)).join(',');
  return `{"data":[${data}],"next_cursor":${nextCursor === null ? 'null' : JSON.stringify(nextCursor)},"snapshot":${snapshot}}`;
}

export const CSV_HEADER = 'user_id,datetime,transaction_type,merchant_type_code,amount_cents\n';

/** One transaction as a CSV line (no field needs quoting: digits, a timestamp, a type name). */
export function transactionCsv(batch: TransactionBatch, i: number): string {
  return (
    `${batch.userId},${formatV2Datetime(batch.epochMicros[i] as bigint)},${TYPE_NAMES[batch.transactionType[i] as number]},` +
    `${batch.merchantTypeCode[i]},${batch.amountCents[i]}\n`
  );
}

export function transactionsPageCsv(batch: TransactionBatch, rows: readonly number[]): string {
  return CSV_HEADER + rows.map((i) => transactionCsv(batch, i)).join('');
}

/** The daily-net entries of days in [from, to) (day numbers; null = unbounded), as v2's JSON body. */
export function dailyNetJson(
  sums: readonly DailyMerchantSums[],
  from: number | null,
  to: number | null,
  snapshot: number,
): string {
  const data: string[] = [];
  for (const s of sums) {
    if ((from !== null && s.day < from) || (to !== null && s.day >= to)) continue;
    data.push(
      `{"date":"${formatUtcDay(s.day)}","merchant_type_code":${s.merchantTypeCode},` +
        `"purchases_cents":${s.purchaseCents},"returns_cents":${s.returnCents},` +
        `"net_cents":${s.purchaseCents - s.returnCents},"purchases":${s.purchases},"returns":${s.returns}}`,
    );
  }
  return `{"data":[${data.join(',')}],"snapshot":${snapshot}}`;
}
