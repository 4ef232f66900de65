// The neutral shapes in which every backend answers: a user's transactions as exact columns (cents, epoch
// microseconds, the type, the merchant code), in the canonical order, and a merchant's daily sums in
// cents. Rounding, truncation and encoding
// belong to the API version that writes an answer, not to the store (ROAPI's record batches, likewise).

import { TRANSACTION_TYPES, type TransactionType } from './schema.js';
import { splitEpochMicros } from './time.js';
import { compareV1Order, type StoredTransaction } from './v1.js';

/** The purchase and return sums of one merchant code on one UTC day (kept at commit time). */
export interface DailyMerchantSums {
  merchantTypeCode: number;
  /** Days since 1970-01-01, UTC. */
  day: number;
  purchaseCents: bigint;
  returnCents: bigint;
  /** How many purchases and returns the sums add up. */
  purchases: number;
  returns: number;
}

/** Daily sums by merchant code, each list in the order given (a query's ORDER BY merchant, day). */
export function dailySumsByMerchant(sums: Iterable<DailyMerchantSums>): Map<number, DailyMerchantSums[]> {
  const byMerchant = new Map<number, DailyMerchantSums[]>();
  for (const sum of sums) {
    const list = byMerchant.get(sum.merchantTypeCode);
    if (list) list.push(sum);
    else byMerchant.set(sum.merchantTypeCode, [sum]);
  }
  return byMerchant;
}

/**
 * A user's transactions, rows `[start, end)` of the columns, ordered by (datetime, transaction_type,
 * merchant_type_code, amount_cents). The arrays may be a whole snapshot's (an in-memory index hands out a
 * window on them, nothing copied) or one answer's own; they are never written to once handed out.
 */
export interface TransactionBatch {
  readonly userId: bigint;
  readonly start: number;
  readonly end: number;
  /** Index into TRANSACTION_TYPES: 0 = PurchaseActivity, 1 = ReturnActivity. */
  readonly transactionType: Uint8Array;
  readonly merchantTypeCode: Uint16Array;
  readonly amountCents: BigInt64Array;
  /** Microseconds since the Unix epoch, UTC. */
  readonly epochMicros: BigInt64Array;
}

/** The code of a transaction type in a batch's `transactionType` column. */
export function transactionTypeCode(type: TransactionType): number {
  return type === 'ReturnActivity' ? 1 : 0;
}

/** The batch of a few transactions given in any order (a query's rows), sorted into the canonical order. */
export function batchOfTransactions(userId: bigint, rows: readonly StoredTransaction[]): TransactionBatch {
  const sorted = [...rows].sort(compareV1Order);
  const batch = {
    userId,
    start: 0,
    end: sorted.length,
    transactionType: new Uint8Array(sorted.length),
    merchantTypeCode: new Uint16Array(sorted.length),
    amountCents: new BigInt64Array(sorted.length),
    epochMicros: new BigInt64Array(sorted.length),
  };
  sorted.forEach((row, i) => {
    batch.transactionType[i] = transactionTypeCode(row.transactionType);
    batch.merchantTypeCode[i] = row.merchantTypeCode;
    batch.amountCents[i] = row.amountCents;
    batch.epochMicros[i] = BigInt(row.epochSecond) * 1_000_000n + BigInt(row.microsecond);
  });
  return batch;
}

/** The rows of a batch as transactions (for exact answers and tests; the hot paths read the columns). */
export function transactionsOfBatch(batch: TransactionBatch): StoredTransaction[] {
  const rows: StoredTransaction[] = [];
  for (let i = batch.start; i < batch.end; i++) {
    rows.push({
      userId: batch.userId,
      transactionType: TRANSACTION_TYPES[batch.transactionType[i] as number] as TransactionType,
      merchantTypeCode: batch.merchantTypeCode[i] as number,
      amountCents: batch.amountCents[i] as bigint,
      ...splitEpochMicros(batch.epochMicros[i] as bigint),
    });
  }
  return rows;
}
