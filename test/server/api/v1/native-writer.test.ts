// The native answer writer (native/v1_writer.c) against the JavaScript one it stands in for: the same
// bytes on random and edge-case batches (any int64 of cents and microseconds, rounded and floored in C),
// and answers that stay intact while later ones fill the same slab. The native writer must be built: a
// missing one fails here with the command that builds it, rather than silently testing the fallback.

import { describe, expect, it } from 'vitest';
import type { TransactionBatch } from '../../../../src/domain/transaction-batch.js';
import { v1TransactionsJson } from '../../../../src/server/api/v1/json.js';
import {
  releaseBody,
  v1TransactionsBody,
  writerStatus,
} from '../../../../src/server/api/v1/native-writer.js';
import { daysFromCivil } from '../../../helpers/oracle.js';
import { prng } from '../../../helpers/synthetic.js';

const FIRST_SECOND = Number(daysFromCivil(1, 1, 1)) * 86_400;
const LAST_SECOND = Number(daysFromCivil(9999, 12, 31)) * 86_400 + 86_399;
const SAFE = 2 ** 53;

function int(random: () => number, lo: number, hi: number): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

const INT64_MAX = 2n ** 63n - 1n;

/** 64 random bits as an int64. */
function randomInt64(random: () => number): bigint {
  const high = BigInt(Math.floor(random() * 2 ** 32));
  const low = BigInt(Math.floor(random() * 2 ** 32));
  return BigInt.asIntN(64, (high << 32n) | low);
}

/** A batch of `rows` random transactions of one user: cents of every kind up to INT64, seconds 0001–9999. */
function randomColumns(random: () => number, rows: number, userId: bigint): TransactionBatch {
  const amountCents = new BigInt64Array(rows);
  const epochMicros = new BigInt64Array(rows);
  const merchantTypeCode = new Uint16Array(rows);
  for (let i = 0; i < rows; i++) {
    const r = random();
    amountCents[i] =
      r < 0.4
        ? BigInt(int(random, -10_000_000, 10_000_000))
        : r < 0.5
          ? BigInt(int(random, -1000, 1000)) * 100n + (random() < 0.5 ? 50n : -50n) // ties
          : r < 0.6
            ? BigInt(int(random, -150, 150))
            : r < 0.7
              ? (random() < 0.5 ? -1n : 1n) * (BigInt(SAFE) * 100n + BigInt(int(random, -300, 300)))
              : r < 0.75
                ? random() < 0.5
                  ? INT64_MAX - BigInt(int(random, 0, 99))
                  : -INT64_MAX - 1n + BigInt(int(random, 0, 99))
                : randomInt64(random);
    const s = random();
    const second =
      s < 0.3
        ? int(random, -86_400 * 3, 86_400 * 3)
        : s < 0.4
          ? int(random, FIRST_SECOND, FIRST_SECOND + 86_400 * 400)
          : s < 0.5
            ? int(random, LAST_SECOND - 86_400 * 400, LAST_SECOND)
            : int(random, FIRST_SECOND, LAST_SECOND);
    epochMicros[i] = BigInt(second) * 1_000_000n + BigInt(int(random, 0, 999_999));
    merchantTypeCode[i] = random() < 0.1 ? (random() < 0.5 ? 0 : 9999) : int(random, 0, 9999);
  }
  return {
    userId,
    start: 0,
    end: rows,
    transactionType: new Uint8Array(rows),
    merchantTypeCode,
    amountCents,
    epochMicros,
  };
}

const USERS = [0n, 7n, 31_373n, 9_223_372_036_854_775_807n, 4_611_686_018_427_387_904n];

describe('the native answer writer', () => {
  it('is built and loaded (else: npm run build:native)', () => {
    expect(writerStatus()).toEqual({ writer: 'native' });
  });

  it('writes the bytes of the JavaScript writer on random columns and windows', () => {
    const random = prng(2026);
    for (let round = 0; round < 300; round++) {
      const userId = USERS[round % USERS.length] as bigint;
      const columns = randomColumns(random, int(random, 0, 400), userId);
      const start = int(random, 0, columns.end);
      const window = { ...columns, start, end: int(random, start, columns.end) };
      const expected = v1TransactionsJson(window).toString('latin1');
      expect(v1TransactionsBody(window).toString('latin1'), `round ${round}`).toBe(expected);
    }
  });

  it('keeps every answer intact while later answers fill the same slab, and serves huge answers', () => {
    const random = prng(7);
    const answers = Array.from({ length: 400 }, (_, i) =>
      randomColumns(random, int(random, 1, 300), BigInt(i)),
    );
    const huge = randomColumns(random, 20_000, 42n); // ~2.6 MB worst case: beyond one slab
    const bodies = [...answers, huge, ...answers].map((c) => v1TransactionsBody(c));
    const expected = [...answers, huge, ...answers].map((c) => v1TransactionsJson(c));
    bodies.forEach((body, i) => {
      expect(body.equals(expected[i] as Buffer), `answer ${i}`).toBe(true);
    });
  });

  it('writes over a slab only once every body in it has been released, and never over a body still held', () => {
    const random = prng(99);
    const columns = Array.from({ length: 600 }, (_, i) =>
      randomColumns(random, int(random, 20, 120), BigInt(i)),
    );
    // Fill several slabs; keep one body unreleased, release all the others.
    const first = columns.map((c) => v1TransactionsBody(c));
    const held = first[5] as Buffer;
    const heldBytes = Buffer.from(held);
    for (const body of first) if (body !== held) releaseBody(body);
    // The next answers reuse released slabs (same memory), but not the one holding `held`.
    const second = columns.map((c) => v1TransactionsBody(c));
    const reused = second.filter((b) => first.some((f) => f !== held && f.buffer === b.buffer));
    expect(reused.length, 'no released slab was written again').toBeGreaterThan(0);
    expect(second.some((b) => b.buffer === held.buffer)).toBe(false);
    expect(held.equals(heldBytes)).toBe(true);
    second.forEach((body, i) => {
      expect(body.equals(v1TransactionsJson(columns[i] as TransactionBatch)), `answer ${i}`).toBe(true);
    });
    releaseBody(held);
    for (const body of second) releaseBody(body);
    releaseBody(held); // a second release, or one of a body that is not the writer's, changes nothing
    releaseBody(Buffer.from('[]'));
  });

  it('writes dollars beyond 2^53 and the INT64 edges exactly, as the JavaScript writer does', () => {
    const columns = randomColumns(prng(11), 50, 5n);
    columns.amountCents[17] = INT64_MAX;
    columns.amountCents[18] = -INT64_MAX - 1n;
    columns.epochMicros[18] = -1n; // 1969-12-31T23:59:59.999999
    const body = v1TransactionsBody(columns).toString('latin1');
    expect(body).toBe(v1TransactionsJson(columns).toString('latin1'));
    expect(body).toContain('"amount_in_dollars":92233720368547758,');
    expect(body).toContain('"amount_in_dollars":-92233720368547758,"datetime":"1969-12-31T23:59:59+00:00"');
  });

  it('answers [] for an empty window', () => {
    const columns = randomColumns(prng(3), 10, 1n);
    expect(v1TransactionsBody({ ...columns, start: 4, end: 4 }).toString()).toBe('[]');
  });
});
