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

/** `00`…`99` and `000`…`999`: a timestamp is written from these, without a Date or a padStart per row. */
const DIGITS2: readonly string[] = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));
const DIGITS3: readonly string[] = Array.from({ length: 1000 }, (_, n) => String(n).padStart(3, '0'));

/** Day numbers of 0001-01-01 and 9999-12-31. */
const FIRST_DAY = -719_162;
const LAST_DAY = 2_932_896;

/**
 * The civil date of a day number (days since 1970-01-01, proleptic Gregorian, as Date counts) packed as
 * year·10⁴ + month·100 + day, or -1 beyond years 0001–9999. Howard Hinnant's civil_from_days; within those
 * years every quantity is a non-negative int32, so `| 0` is the floor (and V8 keeps to integer arithmetic).
 */
function civilDate(day: number): number {
  if (!(day >= FIRST_DAY && day <= LAST_DAY)) return -1;
  const z = (day + 719_468) | 0;
  const era = (z / 146_097) | 0;
  const doe = (z - era * 146_097) | 0;
  const yoe = ((doe - ((doe / 1460) | 0) + ((doe / 36_524) | 0) - ((doe / 146_096) | 0)) / 365) | 0;
  const doy = (doe - (365 * yoe + ((yoe / 4) | 0) - ((yoe / 100) | 0))) | 0;
  const mp = ((5 * doy + 2) / 153) | 0;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 10_000 + month * 100 + (doy - (((153 * mp + 2) / 5) | 0) + 1);
}

/**
 * Epoch microseconds as floored epoch seconds, the microsecond within it, the day number and the second
 * within the day, into `split` (no allocation). Every step is exact: the quotients are corrected by one.
 */
const split = { epochSecond: 0, microsecond: 0, day: 0, secondOfDay: 0 };
function splitInto(epochMicros: bigint): void {
  // Within ±2^53 (years 1685–2254) the microseconds are exact as a double: no BigInt arithmetic.
  const asDouble = Number(epochMicros);
  let epochSecond: number;
  let microsecond: number;
  if (Number.isSafeInteger(asDouble)) {
    epochSecond = Math.floor(asDouble / 1_000_000);
    microsecond = asDouble - epochSecond * 1_000_000;
    if (microsecond < 0) {
      epochSecond -= 1;
      microsecond += 1_000_000;
    } else if (microsecond >= 1_000_000) {
      epochSecond += 1;
      microsecond -= 1_000_000;
    }
  } else {
    ({ epochSecond, microsecond } = splitEpochMicros(epochMicros));
  }
  let day = Math.floor(epochSecond / 86_400);
  let secondOfDay = epochSecond - day * 86_400;
  if (secondOfDay < 0) {
    day -= 1;
    secondOfDay += 86_400;
  } else if (secondOfDay >= 86_400) {
    day += 1;
    secondOfDay -= 86_400;
  }
  split.epochSecond = epochSecond;
  split.microsecond = microsecond;
  split.day = day;
  split.secondOfDay = secondOfDay;
}

/** `YYYY-MM-DDTHH:MM:SS.ffffffZ`, exact to the microsecond. */
export function formatV2Datetime(epochMicros: bigint): string {
  splitInto(epochMicros);
  const { epochSecond, microsecond, secondOfDay } = split;
  const date = civilDate(split.day);
  // Beyond years 0001–9999 (never in a lake): as formatUtcSecond writes them.
  if (date < 0)
    return `${formatUtcSecond(epochSecond).slice(0, 19)}.${String(microsecond).padStart(6, '0')}Z`;
  const milli = Math.floor(microsecond / 1000);
  return (
    `${DIGITS2[Math.floor(date / 1_000_000)]}${DIGITS2[Math.floor(date / 10_000) % 100]}-` +
    `${DIGITS2[Math.floor(date / 100) % 100]}-${DIGITS2[date % 100]}T` +
    `${DIGITS2[Math.floor(secondOfDay / 3600)]}:${DIGITS2[Math.floor(secondOfDay / 60) % 60]}:` +
    `${DIGITS2[secondOfDay % 60]}.${DIGITS3[milli]}${DIGITS3[microsecond - milli * 1000]}Z`
  );
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

// The page is written as bytes: a string built row by row is a rope that Node flattens and encodes again
// on the way out (a profile of the server under load: two thirds of its time). Every byte is ASCII.
const ZERO = 0x30;
const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const AFTER_DATETIME = TYPE_NAMES.map((name) =>
  latin1(`","transaction_type":"${name}","merchant_type_code":`),
);
const AMOUNT_KEY = latin1(',"amount_cents":');
const DATA_KEY = latin1('{"data":[');
/**
 * Bytes a row takes beyond its user's head, at most: the datetime (27; a few more beyond years 0001–9999),
 * the type's part, the code (a uint16), the amount's key and an int64's 20 characters, `}` and `,`.
 */
const ROW_BYTES_MAX =
  27 + 16 + Math.max(...AFTER_DATETIME.map((b) => b.length)) + 5 + AMOUNT_KEY.length + 20 + 2;
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

function putBytes(buf: Buffer, at: number, bytes: Uint8Array): number {
  buf.set(bytes, at); // a copy; a loop of stores is 3× slower beyond a few bytes
  return at + bytes.length;
}

/** The digits of a non-negative safe integer (in int32 arithmetic below 2^31: a double's % is slow). */
function putDigits(buf: Buffer, at: number, n: number): number {
  if (n > 0x7fff_ffff) {
    let end = at + 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) end++;
    let rest = n;
    for (let k = end - 1; k >= at; k--) {
      const quotient = Math.floor(rest / 10);
      buf[k] = ZERO + (rest - quotient * 10);
      rest = quotient;
    }
    return end;
  }
  let rest = n | 0;
  const end =
    at +
    (rest < 100_000
      ? rest < 100
        ? rest < 10
          ? 1
          : 2
        : rest < 1000
          ? 3
          : rest < 10_000
            ? 4
            : 5
      : rest < 10_000_000
        ? rest < 1_000_000
          ? 6
          : 7
        : rest < 100_000_000
          ? 8
          : rest < 1_000_000_000
            ? 9
            : 10);
  for (let k = end - 1; k >= at; k--) {
    buf[k] = ZERO + (rest % 10);
    rest = (rest / 10) | 0;
  }
  return end;
}

/** `n` (0 ≤ n < 10^width < 2^31) zero-padded to `width` digits. */
function putPadded(buf: Buffer, at: number, n: number, width: number): number {
  let rest = n | 0;
  for (let k = at + width - 1; k >= at; k--) {
    buf[k] = ZERO + (rest % 10);
    rest = (rest / 10) | 0;
  }
  return at + width;
}

/** A BigInt as its digits (an int64, or a sum of fewer than 2^53 of them: at most 36 characters). */
function putBigInt(buf: Buffer, at: number, value: bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) return at + buf.write(String(value), at, 'latin1');
  if (n < 0) {
    buf[at] = 0x2d; // -
    return putDigits(buf, at + 1, -n);
  }
  return putDigits(buf, at, n);
}

/** formatV2Datetime's 27 bytes. */
function putDatetime(buf: Buffer, at: number, epochMicros: bigint): number {
  splitInto(epochMicros);
  const date = civilDate(split.day);
  if (date < 0) return at + buf.write(formatV2Datetime(epochMicros), at, 'latin1');
  // Small non-negative integers, as int32: a double's % is a call to fmod.
  const ymd = date | 0;
  const second = split.secondOfDay | 0;
  const minutes = (second / 60) | 0;
  putPadded(buf, at, (ymd / 10_000) | 0, 4);
  buf[at + 4] = 0x2d; // -
  putPadded(buf, at + 5, ((ymd / 100) | 0) % 100, 2);
  buf[at + 7] = 0x2d;
  putPadded(buf, at + 8, ymd % 100, 2);
  buf[at + 10] = 0x54; // T
  putPadded(buf, at + 11, (minutes / 60) | 0, 2);
  buf[at + 13] = 0x3a; // :
  putPadded(buf, at + 14, minutes % 60, 2);
  buf[at + 16] = 0x3a;
  putPadded(buf, at + 17, second - minutes * 60, 2);
  buf[at + 19] = 0x2e; // .
  putPadded(buf, at + 20, split.microsecond, 6);
  buf[at + 26] = 0x5a; // Z
  return at + 27;
}

/**
 * The transactions page as v2's JSON body, as the bytes of
 * `{"data":[transactionJson(row),…],"next_cursor":…,"snapshot":…}` (UTF-8; all ASCII but the cursor's JSON).
 */
export function transactionsPageJson(
  batch: TransactionBatch,
  rows: readonly number[],
  nextCursor: string | null,
  snapshot: number,
): Buffer {
  // Every row but the first begins with the previous one's end: `},` and the user's head.
  const head = Buffer.from(`},{"user_id":${batch.userId},"datetime":"`, 'latin1');
  const tail = `],"next_cursor":${nextCursor === null ? 'null' : JSON.stringify(nextCursor)},"snapshot":${snapshot}}`;
  const most = DATA_KEY.length + rows.length * (head.length + ROW_BYTES_MAX) + Buffer.byteLength(tail);
  if (scratch.length < most) scratch = Buffer.allocUnsafeSlow(Math.max(most, 2 * scratch.length));
  const buf = scratch;
  let at = putBytes(buf, 0, DATA_KEY);
  const first = head.subarray(2);
  for (let k = 0; k < rows.length; k++) {
    const i = rows[k] as number;
    at = putBytes(buf, at, k === 0 ? first : head);
    at = putDatetime(buf, at, batch.epochMicros[i] as bigint);
    at = putBytes(buf, at, AFTER_DATETIME[batch.transactionType[i] as number] as Uint8Array);
    at = putDigits(buf, at, batch.merchantTypeCode[i] as number);
    at = putBytes(buf, at, AMOUNT_KEY);
    at = putBigInt(buf, at, batch.amountCents[i] as bigint);
  }
  if (rows.length > 0) buf[at++] = 0x7d; // }
  at += buf.write(tail, at, 'utf8');
  const body = Buffer.allocUnsafe(at);
  buf.copy(body, 0, 0, at);
  return body;
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

const DATE_KEY = latin1('{"date":"');
const SUMS_KEYS = [
  '","merchant_type_code":',
  ',"purchases_cents":',
  ',"returns_cents":',
  ',"net_cents":',
  ',"purchases":',
  ',"returns":',
].map(latin1);
/** Bytes an entry takes at most: its keys, a date, a code, three sums of int64s, two counts, `},`. */
const ENTRY_BYTES_MAX =
  DATE_KEY.length + SUMS_KEYS.reduce((n, key) => n + key.length, 0) + 20 + 5 + 3 * 40 + 2 * 24 + 4;

/** An answer's `","merchant_type_code":…,"purchases_cents":` (a code is a number: at most 24 characters). */
const codePart = Buffer.alloc(SUMS_KEYS.reduce((n, key) => n + key.length, 0) + 24);

/** A count as `${count}` writes it: digits for a non-negative safe integer (the only kind there is). */
function putCount(buf: Buffer, at: number, count: number): number {
  if (Number.isSafeInteger(count) && count >= 0) return putDigits(buf, at, count);
  return at + buf.write(String(count), at, 'latin1');
}

/** `YYYY-MM-DD` of a day number, as formatUtcDay writes it. */
function putDay(buf: Buffer, at: number, day: number): number {
  const date = Number.isInteger(day) ? civilDate(day) : -1;
  if (date < 0) return at + buf.write(formatUtcDay(day), at, 'latin1');
  const ymd = date | 0;
  putPadded(buf, at, (ymd / 10_000) | 0, 4);
  buf[at + 4] = 0x2d; // -
  putPadded(buf, at + 5, ((ymd / 100) | 0) % 100, 2);
  buf[at + 7] = 0x2d;
  putPadded(buf, at + 8, ymd % 100, 2);
  return at + 10;
}

/**
 * The daily-net entries of days in [from, to) (day numbers; null = unbounded), as the bytes of v2's JSON
 * body `{"data":[{"date":…,"merchant_type_code":…,…},…],"snapshot":…}` (ASCII).
 */
export function dailyNetJson(
  sums: readonly DailyMerchantSums[],
  from: number | null,
  to: number | null,
  snapshot: number,
): Buffer {
  const tail = `],"snapshot":${snapshot}}`;
  const most = DATA_KEY.length + sums.length * ENTRY_BYTES_MAX + tail.length;
  if (scratch.length < most) scratch = Buffer.allocUnsafeSlow(Math.max(most, 2 * scratch.length));
  const buf = scratch;
  const [codeKey, purchasesCentsKey, returnsCentsKey, netKey, purchasesKey, returnsKey] = SUMS_KEYS as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  let at = putBytes(buf, 0, DATA_KEY);
  let first = true;
  let code = Number.NaN;
  let codeBytes: Uint8Array = codePart;
  for (const s of sums) {
    if ((from !== null && s.day < from) || (to !== null && s.day >= to)) continue;
    if (!first) buf[at++] = 0x2c; // ,
    first = false;
    at = putBytes(buf, at, DATE_KEY);
    at = putDay(buf, at, s.day);
    // Every entry of an answer has the same code: its part of the entry is written once per answer.
    if (s.merchantTypeCode !== code) {
      code = s.merchantTypeCode;
      let end = putBytes(codePart, 0, codeKey);
      end = putCount(codePart, end, code);
      end = putBytes(codePart, end, purchasesCentsKey);
      codeBytes = codePart.subarray(0, end);
    }
    at = putBytes(buf, at, codeBytes);
    at = putBigInt(buf, at, s.purchaseCents);
    at = putBytes(buf, at, returnsCentsKey);
    at = putBigInt(buf, at, s.returnCents);
    at = putBytes(buf, at, netKey);
    at = putBigInt(buf, at, s.purchaseCents - s.returnCents);
    at = putBytes(buf, at, purchasesKey);
    at = putCount(buf, at, s.purchases);
    at = putBytes(buf, at, returnsKey);
    at = putCount(buf, at, s.returns);
    buf[at++] = 0x7d; // }
  }
  at += buf.write(tail, at, 'latin1');
  const body = Buffer.allocUnsafe(at);
  buf.copy(body, 0, 0, at);
  return body;
}
