// The v1 answers (SPEC §4), wire-compatible with the old design: shapes, key order, rounding, ordering.

import { INT64_MAX, type TransactionType } from './schema.js';

/** A transaction as the lake stores it. Integers that may exceed 2^53 are bigint. */
export interface StoredTransaction {
  userId: bigint;
  transactionType: TransactionType;
  merchantTypeCode: number;
  amountCents: bigint;
  /** Whole seconds since the Unix epoch, UTC, floored. */
  epochSecond: number;
  /** Microseconds within that second, 0–999999. */
  microsecond: number;
}

/** v1's order: (datetime, transaction_type, merchant_type_code, amount_cents) ascending. */
export function compareV1Order(a: StoredTransaction, b: StoredTransaction): number {
  if (a.epochSecond !== b.epochSecond) return a.epochSecond - b.epochSecond;
  if (a.microsecond !== b.microsecond) return a.microsecond - b.microsecond;
  if (a.transactionType !== b.transactionType) return a.transactionType < b.transactionType ? -1 : 1;
  if (a.merchantTypeCode !== b.merchantTypeCode) return a.merchantTypeCode - b.merchantTypeCode;
  return a.amountCents === b.amountCents ? 0 : a.amountCents < b.amountCents ? -1 : 1;
}

/** Digits of the largest INT64 (19): BigInt reads that many about as cheaply as one. */
const INT64_DIGITS = INT64_MAX.toString().length;

/**
 * Parse a path id as v1 does: all ASCII digits or it is a client error (null); digits beyond `max`
 * name no existing row ('absent'), which answers `[]`, never an error. Leading zeros do not count (the
 * old design's `int("007")` is 7), however many there are.
 */
export function parseV1Id(text: string, max: bigint): bigint | 'absent' | null {
  // A pattern with no alternatives to backtrack into: one pass over the text, at any length.
  if (!/^[0-9]+$/.test(text)) return null;
  let start = 0;
  while (start < text.length - 1 && text.charCodeAt(start) === 48) start++;
  const digits = text.length - start;
  // More significant digits than `max` has is a larger number. Deciding that by length keeps BigInt, whose
  // cost grows faster than its text, to a few digits: a request line can carry an id of 16,000. (Ids that
  // fit 64 bits skip the check, which costs more than reading them: the common case stays as fast.)
  if (digits > INT64_DIGITS && digits > max.toString().length) return 'absent';
  const value = BigInt(start === 0 ? text : text.slice(start));
  return value > max ? 'absent' : value;
}
