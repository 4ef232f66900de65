// The v1 wire bytes, written by hand from a store's exact batches: v1 rounds cents to dollars (half to
// even) and truncates microseconds to seconds here, as it writes. The answers are the hot path of the
// server, and writing their JSON bytes straight from columns is several times faster than materializing
// one object per row for a generic serializer (which then still has to be encoded). The bytes are exactly
// those of the route schemas' serializer (compact JSON, v1 key order); the tests compare the two on every
// shape. The native writer (native-writer.ts) writes the same bytes, faster still; this one is its fallback.

import { halfEvenDollars } from '../../../domain/money.js';
import type { DailyMerchantSums, TransactionBatch } from '../../../domain/transaction-batch.js';

const TWO_DIGITS = Array.from({ length: 100 }, (_, i) => (i < 10 ? `0${i}` : String(i)));

/** `YYYY-MM-DD` of a day number (days since 1970-01-01), by civil-from-days arithmetic (H. Hinnant). */
export function dayText(day: number): string {
  const z = day + 719_468;
  const era = Math.floor(z / 146_097);
  const dayOfEra = z - era * 146_097;
  const yearOfEra = Math.floor(
    (dayOfEra -
      Math.floor(dayOfEra / 1460) +
      Math.floor(dayOfEra / 36_524) -
      Math.floor(dayOfEra / 146_096)) /
      365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const dayOfMonth = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  const year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0);
  return `${TWO_DIGITS[Math.floor(year / 100)]}${TWO_DIGITS[year % 100]}-${TWO_DIGITS[month]}-${TWO_DIGITS[dayOfMonth]}`;
}

/** `HH:MM:SS` of every second of a day, 8 ASCII bytes each: the time part of a datetime is one copy. */
const TIMES_OF_DAY = (() => {
  const table = new Uint8Array(86_400 * 8);
  for (let second = 0; second < 86_400; second++) {
    const text = `${TWO_DIGITS[Math.floor(second / 3600)]}:${TWO_DIGITS[Math.floor(second / 60) % 60]}:${TWO_DIGITS[second % 60]}`;
    for (let i = 0; i < 8; i++) table[second * 8 + i] = text.charCodeAt(i);
  }
  return table;
})();

const ascii = (text: string): Buffer => Buffer.from(text, 'latin1');
const EMPTY_BYTES: Buffer = ascii('');
const USER_ID_KEY = ascii('{"user_id":');
const AMOUNT_KEY = ascii(',"amount_in_dollars":');
const DATETIME_KEY = ascii(',"datetime":"');
const MERCHANT_KEY = ascii('+00:00","merchant_type_code":');
/** Bytes of one element beyond the user id: keys, a 17-digit signed amount, the datetime, 4 digits, `},`. */
const ELEMENT_BYTES =
  USER_ID_KEY.length + AMOUNT_KEY.length + 18 + DATETIME_KEY.length + 20 + MERCHANT_KEY.length + 6;

/** `YYYY-MM-DDT` of recent day numbers: a lake's rows span few days, each formatted once. */
const DAY_BYTES = new Map<number, Buffer>();
function dayBytesOf(day: number): Buffer {
  let bytes = DAY_BYTES.get(day);
  if (bytes === undefined) {
    if (DAY_BYTES.size >= 100_000) DAY_BYTES.clear();
    bytes = ascii(`${dayText(day)}T`);
    DAY_BYTES.set(day, bytes);
  }
  return bytes;
}

/** Copy `bytes` to `at`; a plain loop beats `Buffer#copy` and `set` for the few bytes of a key. */
function put(out: Buffer, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) out[at + i] = bytes[i] as number;
  return at + bytes.length;
}

/** Write the decimal digits of a non-negative safe integer at `at`; returns the position after them. */
function writeDigits(out: Buffer, at: number, value: number): number {
  if (value < 10) {
    out[at] = 48 + value;
    return at + 1;
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  let position = at + digits;
  for (let rest = value; position > at; rest = Math.floor(rest / 10)) out[--position] = 48 + (rest % 10);
  return at + digits;
}

const TWO_POW_32 = 2 ** 32;
/** An int64 whose high word is within ±2^20 is within ±2^52: exact as a double (the fast path). */
const SMALL_HIGH_WORD = 2 ** 20;

/** Floored epoch seconds of epoch microseconds. */
function secondOfMicros(words: Int32Array, column: BigInt64Array, i: number): number {
  const high = words[2 * i + 1] as number;
  if (high > -SMALL_HIGH_WORD && high < SMALL_HIGH_WORD) {
    const micros = high * TWO_POW_32 + ((words[2 * i] as number) >>> 0);
    let second = Math.floor(micros / 1e6);
    // The division of a double may round across a whole second; the products here are exact.
    if (second * 1e6 > micros) second--;
    else if ((second + 1) * 1e6 <= micros) second++;
    return second;
  }
  const micros = column[i] as bigint;
  const seconds = micros / 1_000_000n;
  return Number(micros % 1_000_000n < 0n ? seconds - 1n : seconds);
}

/** Whole dollars of the cents at `i`, as a double when exact, else as a bigint. */
function dollarsOfCents(words: Int32Array, column: BigInt64Array, i: number): number | bigint {
  const high = words[2 * i + 1] as number;
  if (high > -SMALL_HIGH_WORD && high < SMALL_HIGH_WORD) {
    return halfEvenDollars(high * TWO_POW_32 + ((words[2 * i] as number) >>> 0));
  }
  return halfEvenDollars(column[i] as bigint);
}

/** The int64 column as 32-bit word pairs (little-endian, as every platform Node runs on here). */
function wordsOf(column: BigInt64Array): Int32Array {
  return new Int32Array(column.buffer, column.byteOffset, column.length * 2);
}

/**
 * The body of `GET /api/v1/data/transactions/{userId}`, as bytes: written straight from the batch into
 * one buffer, with no intermediate strings (a user of a thousand rows is ~110 KB).
 */
export function v1TransactionsJson(batch: TransactionBatch): Buffer {
  const count = batch.end - batch.start;
  if (count <= 0) return ascii('[]');
  const userId = ascii(String(batch.userId));
  const out = Buffer.allocUnsafe(2 + count * (ELEMENT_BYTES + userId.length));
  const { amountCents, epochMicros, merchantTypeCode } = batch;
  const centsWords = wordsOf(amountCents);
  const microsWords = wordsOf(epochMicros);
  // Rows of one user cluster in time: consecutive rows usually share their day, whose text is reused.
  let lastDay = Number.NaN;
  let dayBytes = EMPTY_BYTES;
  let at = 0;
  out[at++] = 0x5b; // [
  for (let i = batch.start; i < batch.end; i++) {
    if (i !== batch.start) out[at++] = 0x2c; // ,
    at = put(out, at, USER_ID_KEY);
    at = put(out, at, userId);
    at = put(out, at, AMOUNT_KEY);
    const amount = dollarsOfCents(centsWords, amountCents, i);
    if (typeof amount === 'bigint') {
      at += out.write(String(amount), at, 'latin1');
    } else if (amount < 0) {
      out[at++] = 0x2d; // -
      at = writeDigits(out, at, -amount);
    } else {
      at = writeDigits(out, at, amount);
    }
    at = put(out, at, DATETIME_KEY);
    const second = secondOfMicros(microsWords, epochMicros, i);
    const day = Math.floor(second / 86_400);
    if (day !== lastDay) {
      lastDay = day;
      dayBytes = dayBytesOf(day);
    }
    at = put(out, at, dayBytes);
    const timeAt = (second - day * 86_400) * 8;
    for (let k = 0; k < 8; k++) out[at + k] = TIMES_OF_DAY[timeAt + k] as number;
    at += 8;
    at = put(out, at, MERCHANT_KEY);
    at = writeDigits(out, at, merchantTypeCode[i] as number);
    out[at++] = 0x7d; // }
  }
  out[at++] = 0x5d; // ]
  return out.subarray(0, at);
}

/** The body of `GET /api/v1/data/netAmount/{merchantTypeCode}` (a few hundred days at most: text is fine). */
export function v1DailyNetJson(days: readonly DailyMerchantSums[]): Buffer {
  const elements = days.map(
    (d) =>
      `{"merchant_type_code":${d.merchantTypeCode},"net_amount_in_dollars":${halfEvenDollars(d.purchaseCents - d.returnCents)},"date":"${dayText(d.day)}"}`,
  );
  return ascii(`[${elements.join(',')}]`);
}
