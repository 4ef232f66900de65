// API v2's answer writers (domain/v2.ts) against straightforward references: the timestamp formatter
// (integer arithmetic, no Date) against a Date of each instant's BigInt-floored second, and the byte writers
// of the transactions page and the daily nets against the strings the SPEC's shapes spell, row by row.

import { describe, expect, it } from 'vitest';
import { INT64_MAX, TRANSACTION_TYPES } from '../../src/domain/schema.js';
import type { DailyMerchantSums, TransactionBatch } from '../../src/domain/transaction-batch.js';
import { dailyNetJson, formatV2Datetime, transactionsPageJson } from '../../src/domain/v2.js';
import { daysFromCivil } from '../helpers/oracle.js';
import { prng } from '../helpers/synthetic.js';

const INT64_MIN = -INT64_MAX - 1n;
const MICROS_PER_DAY = 86_400_000_000n;
const FIRST = daysFromCivil(1, 1, 1) * MICROS_PER_DAY;
const LAST = (daysFromCivil(9999, 12, 31) + 1n) * MICROS_PER_DAY - 1n;

/** The reference: BigInt floor division, then Date's own calendar and zero padding. */
function referenceDatetime(micros: bigint): string {
  let second = micros / 1_000_000n;
  let micro = micros % 1_000_000n;
  if (micro < 0n) {
    second -= 1n;
    micro += 1_000_000n;
  }
  const date = new Date(Number(second) * 1000);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return (
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}` +
    `.${pad(Number(micro), 6)}Z`
  );
}

function referenceDay(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
}

function randomBigInt(random: () => number, min: bigint, max: bigint): bigint {
  const span = max - min + 1n;
  let value = 0n;
  for (let i = 0; i < 5; i++) value = (value << 16n) | BigInt(Math.floor(random() * 65_536));
  return min + (((value << 64n) | BigInt(Math.floor(random() * 2 ** 32))) % span);
}

/** Instants of years 0001–9999: uniform, near 1970 and 2^53 µs (where the double path ends), and edges. */
function randomMicros(random: () => number): bigint {
  const kind = random();
  if (kind < 0.4) return randomBigInt(random, FIRST, LAST);
  if (kind < 0.6) return randomBigInt(random, -400n * MICROS_PER_DAY, 400n * MICROS_PER_DAY);
  if (kind < 0.8) {
    const edge = (random() < 0.5 ? -1n : 1n) * 2n ** 53n;
    return edge + randomBigInt(random, -3n * MICROS_PER_DAY, 3n * MICROS_PER_DAY);
  }
  return randomBigInt(random, 1_500_000_000_000_000n, 1_800_000_000_000_000n); // 2017–2027
}

describe('formatV2Datetime', () => {
  it('is the reference on every instant tried: years 0001 and 9999, before 1970, around ±2^53 µs', () => {
    const random = prng(20);
    const edges = [
      FIRST,
      FIRST + 1n,
      LAST,
      LAST - 1n,
      0n,
      -1n,
      1n,
      -1_000_000n,
      -999_999n,
      -MICROS_PER_DAY,
      -MICROS_PER_DAY - 1n,
      2n ** 53n - 1n,
      2n ** 53n,
      -(2n ** 53n) + 1n,
      -(2n ** 53n),
      951_782_400_000_000n, // 2000-02-29
      daysFromCivil(1900, 3, 1) * MICROS_PER_DAY - 1n,
      daysFromCivil(1600, 2, 29) * MICROS_PER_DAY,
    ];
    for (let i = 0; i < 200_000; i++) {
      const micros = i < edges.length ? (edges[i] as bigint) : randomMicros(random);
      const text = formatV2Datetime(micros);
      if (text !== referenceDatetime(micros))
        expect(`${micros}: ${text}`).toBe(`${micros}: ${referenceDatetime(micros)}`);
    }
  });

  it('writes every day of years 0001–9999 (its date part), the first second of each', () => {
    for (let day = daysFromCivil(1, 1, 1); day <= daysFromCivil(9999, 12, 31); day += 1n) {
      const micros = day * MICROS_PER_DAY;
      const text = formatV2Datetime(micros);
      if (text !== referenceDatetime(micros))
        expect(`${day}: ${text}`).toBe(`${day}: ${referenceDatetime(micros)}`);
    }
  });
});

/** The transactions page as the SPEC spells it, a string per row (the writer's first version). */
function referencePage(
  batch: TransactionBatch,
  rows: number[],
  cursor: string | null,
  snapshot: number,
): string {
  const data = rows.map(
    (i) =>
      `{"user_id":${batch.userId},"datetime":"${referenceDatetime(batch.epochMicros[i] as bigint)}",` +
      `"transaction_type":"${TRANSACTION_TYPES[batch.transactionType[i] as number]}",` +
      `"merchant_type_code":${batch.merchantTypeCode[i]},"amount_cents":${batch.amountCents[i]}}`,
  );
  return `{"data":[${data.join(',')}],"next_cursor":${cursor === null ? 'null' : JSON.stringify(cursor)},"snapshot":${snapshot}}`;
}

function randomAmount(random: () => number): bigint {
  const kind = random();
  if (kind < 0.05) return random() < 0.5 ? INT64_MIN : INT64_MAX;
  if (kind < 0.3) return randomBigInt(random, INT64_MIN, INT64_MAX);
  if (kind < 0.45) return randomBigInt(random, -(2n ** 53n) - 5n, 2n ** 53n + 5n);
  if (kind < 0.6) return randomBigInt(random, -(2n ** 31n) - 5n, 2n ** 31n + 5n);
  return randomBigInt(random, -100_000n, 10_000_000n);
}

describe('transactionsPageJson', () => {
  it('is the reference body, byte for byte, on random batches (int64 extremes, any instant, empty pages)', () => {
    const random = prng(21);
    for (let n = 0; n < 2000; n++) {
      const size = n % 50 === 0 ? 0 : Math.floor(random() * 150);
      const offset = Math.floor(random() * 3);
      const length = offset + size;
      const batch: TransactionBatch = {
        userId: n % 7 === 0 ? INT64_MAX : randomBigInt(random, 0n, INT64_MAX),
        start: offset,
        end: length,
        transactionType: new Uint8Array(length),
        merchantTypeCode: new Uint16Array(length),
        amountCents: new BigInt64Array(length),
        epochMicros: new BigInt64Array(length),
      };
      for (let i = 0; i < length; i++) {
        batch.transactionType[i] = random() < 0.5 ? 1 : 0;
        batch.merchantTypeCode[i] = random() < 0.1 ? 65_535 : Math.floor(random() * 10_000);
        batch.amountCents[i] = randomAmount(random);
        batch.epochMicros[i] = randomMicros(random);
      }
      const rows: number[] = [];
      for (let i = offset; i < length; i++) if (random() < 0.8) rows.push(i);
      const cursor =
        random() < 0.5 ? null : Buffer.from(`cursor ${n} ${'x'.repeat(n % 300)}`).toString('base64url');
      const body = transactionsPageJson(batch, rows, cursor, n + 1);
      expect(body.toString('utf8')).toBe(referencePage(batch, rows, cursor, n + 1));
    }
  });
});

function referenceDailyNet(
  sums: DailyMerchantSums[],
  from: number | null,
  to: number | null,
  snapshot: number,
): string {
  const data = sums
    .filter((s) => !((from !== null && s.day < from) || (to !== null && s.day >= to)))
    .map(
      (s) =>
        `{"date":"${referenceDay(s.day)}","merchant_type_code":${s.merchantTypeCode},` +
        `"purchases_cents":${s.purchaseCents},"returns_cents":${s.returnCents},` +
        `"net_cents":${s.purchaseCents - s.returnCents},"purchases":${s.purchases},"returns":${s.returns}}`,
    );
  return `{"data":[${data.join(',')}],"snapshot":${snapshot}}`;
}

describe('dailyNetJson', () => {
  it('is the reference body, byte for byte: any day of 0001–9999, sums beyond int64, filters', () => {
    const random = prng(22);
    const firstDay = Number(daysFromCivil(1, 1, 1));
    const lastDay = Number(daysFromCivil(9999, 12, 31));
    for (let n = 0; n < 1000; n++) {
      const code = Math.floor(random() * 10_000);
      let day = firstDay + Math.floor(random() * (lastDay - firstDay - 2000));
      const sums: DailyMerchantSums[] = [];
      const count = n % 40 === 0 ? 0 : Math.floor(random() * 400);
      for (let i = 0; i < count; i++) {
        day += 1 + Math.floor(random() * 3);
        const huge = random() < 0.1;
        sums.push({
          merchantTypeCode: code,
          day: i === 0 && n % 5 === 0 ? (n % 10 === 0 ? firstDay : lastDay - 2000) : day,
          purchaseCents: huge
            ? INT64_MAX * BigInt(1 + Math.floor(random() * 1000))
            : randomBigInt(random, 0n, 10n ** 12n),
          returnCents: huge ? randomBigInt(random, 0n, INT64_MAX) : randomBigInt(random, 0n, 10n ** 9n),
          purchases: Math.floor(random() * (huge ? 2 ** 40 : 5000)),
          returns: Math.floor(random() * 300),
        });
      }
      const from = random() < 0.5 ? null : day - Math.floor(random() * 800);
      const to = random() < 0.5 ? null : day - Math.floor(random() * 400);
      expect(dailyNetJson(sums, from, to, n + 1).toString('utf8')).toBe(
        referenceDailyNet(sums, from, to, n + 1),
      );
    }
  });
});
