// The hand-written v1 writers against the object shapes they replace: the bytes of v1TransactionsJson and
// v1DailyNetJson must be exactly the compact JSON of toV1Transaction / toV1DailyNet (key order, digits of
// bigints, rounding of any int64 of cents, signs, dates before 1970 and at the ends of years 0001–9999),
// and dayText must be formatUtcDay. batchOfTransactions (the store's exact batch) sorts and keeps every
// value exactly.

import { describe, expect, it } from 'vitest';
import { formatUtcDay } from '../../../../src/domain/time.js';
import {
  batchOfTransactions,
  type DailyMerchantSums,
  type TransactionBatch,
  transactionsOfBatch,
  transactionTypeCode,
} from '../../../../src/domain/transaction-batch.js';
import { compareV1Order, type StoredTransaction } from '../../../../src/domain/v1.js';
import { dayText, v1DailyNetJson, v1TransactionsJson } from '../../../../src/server/api/v1/json.js';
import { daysFromCivil, formatDay } from '../../../helpers/oracle.js';
import { prng } from '../../../helpers/synthetic.js';
import { toV1DailyNet, toV1Transaction } from '../../../helpers/v1-shapes.js';

const FIRST_DAY = Number(daysFromCivil(1, 1, 1)); // 0001-01-01
const LAST_DAY = Number(daysFromCivil(9999, 12, 31)); // 9999-12-31
const FIRST_SECOND = FIRST_DAY * 86_400;
const LAST_SECOND = LAST_DAY * 86_400 + 86_399;
const TWO_POW_53 = 2n ** 53n;
const INT64_MAX = 2n ** 63n - 1n;

/** Compact JSON of `value` with every bigint written as its plain digits (what the route serializer does). */
function jsonWithBigints(value: unknown): string {
  const text = JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `@big:${v}@` : v));
  return text.replace(/"@big:(-?[0-9]+)@"/g, '$1');
}

function expectedTransactions(rows: readonly StoredTransaction[]): string {
  return jsonWithBigints(rows.map(toV1Transaction));
}

function int(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

function bigIntBelow(random: () => number, limit: bigint): bigint {
  // 64 random bits reduced modulo `limit`: enough spread for test data
  const high = BigInt(Math.floor(random() * 2 ** 32));
  const low = BigInt(Math.floor(random() * 2 ** 32));
  return ((high << 32n) | low) % limit;
}

/** Cents of every kind the writer treats differently: small, .50 ties, negative, around 2^53 dollars, INT64. */
function randomCents(random: () => number): bigint {
  const r = random();
  if (r < 0.25) return BigInt(int(random, 0, 10_000_000));
  if (r < 0.35) return BigInt(int(random, 0, 100_000)) * 100n + 50n;
  if (r < 0.5) return -BigInt(int(random, 0, 10_000_000));
  if (r < 0.55) return -(BigInt(int(random, 0, 100_000)) * 100n + 50n);
  if (r < 0.65) return TWO_POW_53 * 100n + BigInt(int(random, -300, 300)); // 2^53 dollars ± a few
  if (r < 0.7) return -(TWO_POW_53 * 100n + BigInt(int(random, -300, 300)));
  if (r < 0.8) return bigIntBelow(random, INT64_MAX) + 1n; // mostly far beyond 2^53 dollars
  if (r < 0.85) return -bigIntBelow(random, INT64_MAX);
  if (r < 0.9) return INT64_MAX - BigInt(int(random, 0, 200));
  return BigInt(int(random, 0, 2 ** 31)) * 1000n + BigInt(int(random, 0, 999));
}

function randomSecond(random: () => number): number {
  const r = random();
  if (r < 0.3) return int(random, -86_400 * 3, 86_400 * 3); // around the epoch, both sides
  if (r < 0.4) return int(random, FIRST_SECOND, FIRST_SECOND + 86_400 * 400);
  if (r < 0.5) return int(random, LAST_SECOND - 86_400 * 400, LAST_SECOND);
  if (r < 0.6) return int(random, FIRST_SECOND, 0); // anywhere before 1970
  return int(random, FIRST_SECOND, LAST_SECOND);
}

function randomUserId(random: () => number): bigint {
  const r = random();
  if (r < 0.3) return BigInt(int(random, 0, 99_999));
  if (r < 0.5) return INT64_MAX - BigInt(int(random, 0, 10));
  if (r < 0.6) return 0n;
  return bigIntBelow(random, INT64_MAX);
}

function randomTransaction(random: () => number, userId: bigint): StoredTransaction {
  return {
    userId,
    transactionType: random() < 0.3 ? 'ReturnActivity' : 'PurchaseActivity',
    merchantTypeCode: random() < 0.1 ? (random() < 0.5 ? 0 : 9999) : int(random, 0, 9999),
    amountCents: randomCents(random),
    epochSecond: randomSecond(random),
    microsecond: int(random, 0, 999_999),
  };
}

/** A batch filled by hand (independently of batchOfTransactions), rows kept in the order given. */
function handBatch(userId: bigint, rows: readonly StoredTransaction[]): TransactionBatch {
  return {
    userId,
    start: 0,
    end: rows.length,
    transactionType: Uint8Array.from(rows, (r) => transactionTypeCode(r.transactionType)),
    merchantTypeCode: Uint16Array.from(rows, (r) => r.merchantTypeCode),
    amountCents: BigInt64Array.from(rows, (r) => r.amountCents),
    epochMicros: BigInt64Array.from(rows, (r) => BigInt(r.epochSecond) * 1_000_000n + BigInt(r.microsecond)),
  };
}

describe('dayText', () => {
  it('is formatUtcDay (and the oracle) on every day of 1890–2110 and around each century', () => {
    const ranges: [number, number][] = [
      [Number(daysFromCivil(1890, 1, 1)), Number(daysFromCivil(2110, 12, 31))],
    ];
    for (let year = 100; year <= 9900; year += 100) {
      ranges.push([Number(daysFromCivil(year - 1, 12, 1)), Number(daysFromCivil(year, 3, 31))]);
    }
    let checked = 0;
    for (const [from, to] of ranges) {
      for (let day = from; day <= to; day++) {
        const text = dayText(day);
        if (text !== formatUtcDay(day) || text !== formatDay(BigInt(day))) {
          expect(`${day}: ${text}`).toBe(`${day}: ${formatUtcDay(day)} / ${formatDay(BigInt(day))}`);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(90_000);
  });

  it('is formatUtcDay on random days over the whole range 0001-01-01 … 9999-12-31', () => {
    const random = prng(7);
    for (let i = 0; i < 50_000; i++) {
      const day = int(random, FIRST_DAY, LAST_DAY);
      if (dayText(day) !== formatUtcDay(day))
        expect(`${day}: ${dayText(day)}`).toBe(`${day}: ${formatUtcDay(day)}`);
    }
  });

  it.each([
    [FIRST_DAY, '0001-01-01'],
    [FIRST_DAY + 58, '0001-02-28'],
    [FIRST_DAY + 59, '0001-03-01'],
    [Number(daysFromCivil(4, 2, 29)), '0004-02-29'],
    [Number(daysFromCivil(400, 2, 29)), '0400-02-29'],
    [Number(daysFromCivil(1900, 2, 28)) + 1, '1900-03-01'],
    [Number(daysFromCivil(2000, 2, 28)) + 1, '2000-02-29'],
    [Number(daysFromCivil(2024, 2, 29)), '2024-02-29'],
    [-1, '1969-12-31'],
    [0, '1970-01-01'],
    [-719_162, '0001-01-01'],
    [19_441, '2023-03-25'],
    [LAST_DAY, '9999-12-31'],
  ])('day %i is %s', (day, text) => {
    expect(dayText(day)).toBe(text);
    expect(formatUtcDay(day)).toBe(text);
  });
});

describe('v1TransactionsJson', () => {
  it('writes the JSON of toV1Transaction for random users (sorted by batchOfTransactions)', () => {
    const random = prng(20_240_229);
    let largeSeen = 0;
    let negativeSeen = 0;
    let before1970 = 0;
    for (let user = 0; user < 300; user++) {
      const userId = randomUserId(random);
      const count = user % 10 === 0 ? int(random, 0, 3) : int(random, 1, 120);
      const rows = Array.from({ length: count }, () => randomTransaction(random, userId));
      const columns = batchOfTransactions(userId, rows);
      largeSeen += rows.filter(
        (r) => r.amountCents >= TWO_POW_53 * 100n || r.amountCents <= -TWO_POW_53 * 100n,
      ).length;
      negativeSeen += rows.filter((r) => r.amountCents <= -100n).length;
      before1970 += rows.filter((r) => r.epochSecond < 0).length;
      const sorted = [...rows].sort(compareV1Order);
      const got = v1TransactionsJson(columns).toString('latin1');
      expect(got).toBe(expectedTransactions(sorted));
      expect(JSON.parse(got)).toHaveLength(count);
    }
    // guards against a generator change that would make the comparison vacuous
    expect(largeSeen).toBeGreaterThan(100);
    expect(negativeSeen).toBeGreaterThan(100);
    expect(before1970).toBeGreaterThan(100);
  });

  it('writes exactly the rows [start, end) of shared columns, whatever precedes or follows them', () => {
    const random = prng(99);
    const userId = 9_007_199_254_740_993n;
    const rows = Array.from({ length: 500 }, () => randomTransaction(random, userId));
    const columns = handBatch(userId, rows);
    for (const [start, end] of [
      [0, 500],
      [1, 2],
      [17, 18],
      [250, 400],
      [499, 500],
      [3, 497],
    ] as const) {
      const body = v1TransactionsJson({ ...columns, start, end }).toString('latin1');
      expect(body, `window [${start}, ${end})`).toBe(expectedTransactions(rows.slice(start, end)));
    }
  });

  it('an empty window answers [] wherever it lies', () => {
    const random = prng(3);
    const rows = Array.from({ length: 10 }, () => randomTransaction(random, 5n));
    const columns = handBatch(5n, rows);
    for (const at of [0, 4, 10]) {
      expect(v1TransactionsJson({ ...columns, start: at, end: at }).toString()).toBe('[]');
    }
    expect(v1TransactionsJson(batchOfTransactions(42n, [])).toString()).toBe('[]');
  });

  it('writes the edges exactly: seconds of 0001-01-01 and 9999-12-31, -1 s, huge and negative amounts', () => {
    const base: StoredTransaction = {
      userId: INT64_MAX,
      transactionType: 'PurchaseActivity',
      merchantTypeCode: 0,
      amountCents: 0n,
      epochSecond: 0,
      microsecond: 0,
    };
    const rows: StoredTransaction[] = [
      { ...base, epochSecond: FIRST_SECOND, amountCents: INT64_MAX },
      { ...base, epochSecond: -1, microsecond: 999_999, amountCents: -75_150n, merchantTypeCode: 9999 },
      { ...base, epochSecond: -86_401, amountCents: -(2n ** 63n) },
      { ...base, epochSecond: 0, amountCents: 49n },
      { ...base, epochSecond: 59, amountCents: 150n },
      { ...base, epochSecond: LAST_SECOND, microsecond: 999_999, amountCents: TWO_POW_53 * 100n - 51n },
    ];
    const body = v1TransactionsJson(handBatch(INT64_MAX, rows)).toString('latin1');
    expect(body).toBe(expectedTransactions(rows));
    expect(body).toBe(
      '[' +
        [
          '{"user_id":9223372036854775807,"amount_in_dollars":92233720368547758,"datetime":"0001-01-01T00:00:00+00:00","merchant_type_code":0}',
          '{"user_id":9223372036854775807,"amount_in_dollars":-752,"datetime":"1969-12-31T23:59:59+00:00","merchant_type_code":9999}',
          '{"user_id":9223372036854775807,"amount_in_dollars":-92233720368547758,"datetime":"1969-12-30T23:59:59+00:00","merchant_type_code":0}',
          '{"user_id":9223372036854775807,"amount_in_dollars":0,"datetime":"1970-01-01T00:00:00+00:00","merchant_type_code":0}',
          '{"user_id":9223372036854775807,"amount_in_dollars":2,"datetime":"1970-01-01T00:00:59+00:00","merchant_type_code":0}',
          '{"user_id":9223372036854775807,"amount_in_dollars":9007199254740991,"datetime":"9999-12-31T23:59:59+00:00","merchant_type_code":0}',
        ].join(',') +
        ']',
    );
  });

  it('is the same when the same columns are written again (no state leaks between calls)', () => {
    const random = prng(12);
    const a = Array.from({ length: 50 }, () => randomTransaction(random, 1n));
    const b = Array.from({ length: 50 }, () => randomTransaction(random, 2n));
    const first = v1TransactionsJson(batchOfTransactions(1n, a)).toString('latin1');
    v1TransactionsJson(batchOfTransactions(2n, b));
    expect(v1TransactionsJson(batchOfTransactions(1n, a)).toString('latin1')).toBe(first);
  });
});

describe('batchOfTransactions', () => {
  it('sorts into v1 order: ties in the second broken by microsecond, type, merchant code, cents', () => {
    const base: StoredTransaction = {
      userId: 7n,
      transactionType: 'PurchaseActivity',
      merchantTypeCode: 5310,
      amountCents: 100n,
      epochSecond: 1_680_000_000,
      microsecond: 0,
    };
    const rows: StoredTransaction[] = [
      { ...base, transactionType: 'ReturnActivity', merchantTypeCode: 1, amountCents: 100n },
      { ...base, merchantTypeCode: 9999, amountCents: 200n },
      { ...base, merchantTypeCode: 742, amountCents: 30_000n },
      { ...base, merchantTypeCode: 742, amountCents: 20_000n },
      { ...base, microsecond: 1, merchantTypeCode: 1, amountCents: 400n },
      { ...base, epochSecond: base.epochSecond - 1, microsecond: 999_999, amountCents: 500n },
    ];
    const batch = batchOfTransactions(7n, rows);
    expect(Array.from(batch.merchantTypeCode)).toEqual([5310, 742, 742, 9999, 1, 1]);
    expect(Array.from(batch.amountCents)).toEqual([500n, 20_000n, 30_000n, 200n, 100n, 400n]);
    expect(Array.from(batch.transactionType)).toEqual([0, 0, 0, 0, 1, 0]);
    expect([batch.start, batch.end]).toEqual([0, 6]);
  });

  it('keeps every value exactly: the batch reads back as the sorted rows, INT64 edges and all', () => {
    const random = prng(404);
    for (let round = 0; round < 50; round++) {
      const userId = randomUserId(random);
      const rows = Array.from({ length: int(random, 0, 80) }, () => randomTransaction(random, userId));
      const back = transactionsOfBatch(batchOfTransactions(userId, rows));
      expect(back).toEqual([...rows].sort(compareV1Order));
    }
    const edge: StoredTransaction = {
      userId: INT64_MAX,
      transactionType: 'ReturnActivity',
      merchantTypeCode: 9999,
      amountCents: -(2n ** 63n),
      epochSecond: FIRST_SECOND,
      microsecond: 999_999,
    };
    expect(transactionsOfBatch(batchOfTransactions(INT64_MAX, [edge]))).toEqual([edge]);
  });
});

describe('v1DailyNetJson', () => {
  it('writes the JSON of toV1DailyNet for random days, nets of both signs and beyond INT64', () => {
    const random = prng(5411);
    for (let round = 0; round < 200; round++) {
      const code = round % 7 === 0 ? 0 : int(random, 0, 9999);
      const count = round % 20 === 0 ? 0 : int(random, 1, 60);
      const days: DailyMerchantSums[] = Array.from({ length: count }, () => {
        const huge = random() < 0.2;
        const cents = () =>
          huge ? bigIntBelow(random, INT64_MAX) * BigInt(int(random, 1, 1000)) : randomCents(random);
        const purchase = cents();
        const returned = cents();
        return {
          merchantTypeCode: code,
          day: random() < 0.3 ? int(random, -800, 800) : int(random, FIRST_DAY, LAST_DAY),
          purchaseCents: purchase < 0n ? -purchase : purchase,
          returnCents: returned < 0n ? -returned : returned,
          purchases: 1,
          returns: 1,
        };
      });
      days.sort((a, b) => a.day - b.day);
      const got = v1DailyNetJson(days).toString('latin1');
      expect(got).toBe(jsonWithBigints(days.map(toV1DailyNet)));
    }
  });

  it('writes an empty list as [] and the exact edges', () => {
    expect(v1DailyNetJson([]).toString()).toBe('[]');
    const days: DailyMerchantSums[] = [
      {
        merchantTypeCode: 0,
        day: FIRST_DAY,
        purchaseCents: 0n,
        returnCents: 75_050n,
        purchases: 1,
        returns: 1,
      },
      { merchantTypeCode: 0, day: -1, purchaseCents: 2n ** 64n, returnCents: 50n, purchases: 1, returns: 1 },
      { merchantTypeCode: 0, day: LAST_DAY, purchaseCents: 150n, returnCents: 0n, purchases: 1, returns: 1 },
    ];
    expect(v1DailyNetJson(days).toString()).toBe(
      '[{"merchant_type_code":0,"net_amount_in_dollars":-750,"date":"0001-01-01"},' +
        '{"merchant_type_code":0,"net_amount_in_dollars":184467440737095516,"date":"1969-12-31"},' +
        '{"merchant_type_code":0,"net_amount_in_dollars":2,"date":"9999-12-31"}]',
    );
    expect(v1DailyNetJson(days).toString()).toBe(jsonWithBigints(days.map(toV1DailyNet)));
  });
});
