// Deterministic synthetic transactions for the integration tests: realistic volume plus the corner cases
// v1 must get right (heavy users, same-second ties, zones across midnight, .50 ties, negative and
// return-only days, ids beyond 2^53). Independent of `txlake generate`, so a bug there cannot hide one here.

import type { TxRow } from './csv-file.js';

/** mulberry32: a tiny seeded PRNG, good enough to spread test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function int(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

const two = (n: number) => String(n).padStart(2, '0');

export const MERCHANT_CODES = [
  0, 742, 763, 780, 1520, 1711, 4111, 4121, 4511, 4812, 4814, 4829, 4900, 5045, 5111, 5200, 5251, 5300, 5310,
  5311, 5331, 5399, 5411, 5499, 5541, 5542, 5651, 5691, 5699, 5712, 5732, 5734, 5812, 5813, 5814, 5912, 5942,
  5944, 5999, 6011, 6300, 7011, 7230, 7298, 7372, 7523, 7832, 8011, 8062, 8099, 8398, 9399, 9999,
];

const ZONES = [
  '',
  '',
  '',
  '',
  '',
  'Z',
  'Z',
  '+00:00',
  '+02:00',
  '-05:00',
  '+0530',
  '-0330',
  '+14:00',
  '-11',
  '+09',
];

/** A SPEC datetime string with random format knobs, in 2023-03-14 … 2023-06-01 local time. */
export function randomDatetime(random: () => number): string {
  const month = int(random, 3, 6);
  const day = month === 3 ? int(random, 14, 31) : month === 6 ? 1 : int(random, 1, month === 4 ? 30 : 31);
  const sep = random() < 0.2 ? ' ' : 'T';
  const digits = int(random, 0, 6);
  const fraction = digits === 0 ? '' : `.${String(int(random, 0, 10 ** digits - 1)).padStart(digits, '0')}`;
  const time = `${two(int(random, 0, 23))}:${two(int(random, 0, 59))}:${two(int(random, 0, 59))}`;
  return `2023-${two(month)}-${two(day)}${sep}${time}${fraction}${pick(random, ZONES)}`;
}

function randomCents(random: () => number): string {
  const r = random();
  if (r < 0.2) return String(int(random, 0, 3000) * 100 + 50); // exact .50 ties, both parities
  if (r < 0.25) return String(int(random, 0, 300));
  if (r < 0.26) return `${int(random, 1, 99999)}${String(int(random, 0, 9999999999)).padStart(10, '0')}`;
  return String(int(random, 1, 300000));
}

/** User ids over the whole INT64 range, including beyond 2^53 where a double loses digits. */
export function userPool(random: () => number, size: number, offset = 0n): bigint[] {
  const ids = new Set<bigint>([0n, 1n, 9007199254740993n, 9223372036854775807n, 9223372036854775806n]);
  while (ids.size < size) {
    const r = random();
    if (r < 0.6) ids.add(BigInt(int(random, 1, 99999)) + offset);
    else if (r < 0.8) ids.add(BigInt(int(random, 1, 2 ** 31)) * 1000n + offset);
    else ids.add(9000000000000000000n + BigInt(int(random, 0, 2 ** 30)) * 7919n + offset);
  }
  return [...ids];
}

export interface SyntheticOptions {
  seed: number;
  rows: number;
  users?: number;
  /** Added to generated user ids so two files can have partly different users. */
  userOffset?: bigint;
}

/** `rows` random transactions (plus nothing else); heavy users take a quarter of them. */
export function randomTransactions(options: SyntheticOptions): TxRow[] {
  const random = prng(options.seed);
  const users = userPool(random, options.users ?? 300, options.userOffset ?? 0n);
  const heavy = users.slice(0, 4);
  const rows: TxRow[] = [];
  for (let i = 0; i < options.rows; i++) {
    const user = random() < 0.25 ? pick(random, heavy) : pick(random, users);
    rows.push({
      user_id: String(user),
      transaction_type: random() < 0.12 ? 'ReturnActivity' : 'PurchaseActivity',
      merchant_type_code: String(pick(random, MERCHANT_CODES)),
      amount_cents: randomCents(random),
      datetime: randomDatetime(random),
    });
  }
  return rows;
}

const P = 'PurchaseActivity';
const R = 'ReturnActivity';

function tx(
  user: bigint | number,
  type: string,
  code: number,
  cents: number | string,
  datetime: string,
): TxRow {
  return {
    user_id: String(user),
    transaction_type: type,
    merchant_type_code: String(code),
    amount_cents: String(cents),
    datetime,
  };
}

/**
 * Hand-made corner cases, each a reason v1 can go wrong: ordering within a second and across zones,
 * ties in every sort key, truncation (never rounding) of fractions, days across zones and before 1970,
 * return-only and negative days, .50 ties of both parities.
 */
export function cornerCaseTransactions(): TxRow[] {
  const u = 424242n; // heavy: many transactions in one second
  const rows: TxRow[] = [
    // one second, fractions that sort differently as text and as numbers
    tx(u, P, 5310, 100, '2023-04-15T12:04:02.9'),
    tx(u, P, 5310, 200, '2023-04-15T12:04:02.10'),
    tx(u, P, 5310, 300, '2023-04-15T12:04:02.100001'),
    tx(u, P, 5310, 400, '2023-04-15T12:04:02'),
    tx(u, P, 5310, 500, '2023-04-15T12:04:02.05'),
    tx(u, P, 5310, 600, '2023-04-15T12:04:02.000001'),
    tx(u, P, 5310, 700, '2023-04-15T12:04:02.999999'),
    // the same instants written in other zones, other separators
    tx(u, P, 5310, 800, '2023-04-15 14:04:02.5+02:00'),
    tx(u, P, 5310, 900, '2023-04-15T07:04:02.25-05'),
    tx(u, P, 5310, 1000, '2023-04-15T17:34:02.75+0530'),
    // exact ties on the instant: then type, then code, then cents decide
    tx(u, R, 1000, 1, '2023-04-15T12:04:03Z'),
    tx(u, P, 9999, 1, '2023-04-15T12:04:03Z'),
    tx(u, P, 5310, 250, '2023-04-15T12:04:03+00:00'),
    tx(u, P, 5310, 150, '2023-04-15T13:04:03+01:00'),
    tx(u, P, 742, 999999, '2023-04-15T12:04:03.000000'),
    tx(u, R, 742, 5, '2023-04-15T11:04:03-01:00'),
    // a later local time that is an earlier instant
    tx(u, P, 5411, 12345, '2023-04-15T23:00:00+14:00'),
    tx(u, P, 5411, 12355, '2023-04-15T00:00:00-11:00'),
    // fractions truncate: 59.999999 stays in the same second, minute, day
    tx(u, P, 5411, 50, '2023-04-30T23:59:59.999999'),
    tx(u, P, 5411, 150, '2023-05-01T00:00:00.000000'),
    // .50 ties: 75050 → 750, 75150 → 752 (the SPEC's examples), 50 → 0, 150 → 2, 250 → 2
    tx(31373, P, 5310, 75050, '2023-03-25T11:31:26.61636'),
    tx(31373, P, 5310, 75150, '2023-03-25T11:31:27'),
    tx(31373, P, 5310, 50, '2023-03-25T11:31:28'),
    tx(31373, R, 5310, 150, '2023-03-25T11:31:29'),
    tx(31373, P, 5310, 250, '2023-03-25T11:31:30'),
    tx(31373, P, 5310, 0, '2023-03-25T11:31:31'),
  ];
  // merchant 6011: purchases on one day, only returns on another, a negative day, a net .50 tie
  rows.push(
    tx(1001, P, 6011, 10000, '2023-05-19T10:00:00'),
    tx(1002, R, 6011, 2550, '2023-05-20T10:00:00'),
    tx(1003, R, 6011, 100, '2023-05-20T11:00:00'),
    tx(1001, P, 6011, 1000, '2023-05-21T09:00:00'),
    tx(1002, R, 6011, 250050, '2023-05-21T09:30:00'),
    tx(1003, P, 6011, 350, '2023-05-22T09:30:00'),
    tx(1003, R, 6011, 100, '2023-05-22T09:31:00'),
  );
  // merchant 4829: days decided by zones, across midnight, month, year, leap day and the epoch
  rows.push(
    tx(2001, P, 4829, 1111, '2023-03-31T23:30:00-02:00'), // 2023-04-01 UTC
    tx(2001, P, 4829, 2222, '2023-04-01T00:30:00+02:00'), // 2023-03-31 UTC
    tx(2002, R, 4829, 3333, '2023-12-31T23:30:00-01:00'), // 2024-01-01 UTC, return only
    tx(2002, P, 4829, 4444, '2024-02-29T12:00:00Z'),
    tx(2003, P, 4829, 5555, '1969-12-31T23:59:59.5'), // truncates to 23:59:59, not 00:00:00
    tx(2003, P, 4829, 6666, '1970-01-01T00:30:00+01:00'), // 1969-12-31T23:30:00 UTC
    tx(2003, R, 4829, 7777, '1970-01-01T00:00:00'),
  );
  // big ids and big amounts, exact in JSON
  rows.push(
    tx(9223372036854775807n, P, 5732, '922337203685477580', '2023-05-01T08:00:00'),
    tx(9223372036854775807n, P, 5732, 104750, '2023-05-01T08:00:01'),
    tx(9007199254740993n, P, 5732, 100, '2023-05-01T08:00:02'),
    tx(9007199254740992n, R, 5732, 300, '2023-05-01T08:00:03'),
  );
  return rows;
}
