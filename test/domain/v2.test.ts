// API v2's domain against straightforward references: timestamps both ways, cursors, paging, and content
// negotiation.

import { describe, expect, it } from 'vitest';
import { batchOfTransactions } from '../../src/domain/transaction-batch.js';
import {
  decodeCursor,
  encodeCursor,
  formatV2Datetime,
  ParameterProblem,
  pageOf,
  parseDate,
  parseInstant,
  parseLimit,
  parseSnapshotId,
  type TransactionFilter,
} from '../../src/domain/v2.js';
import { negotiate } from '../../src/server/api/v2/negotiation.js';
import { daysFromCivil, formatMicros } from '../helpers/oracle.js';
import { prng } from '../helpers/synthetic.js';

const FIRST = daysFromCivil(1, 1, 1) * 86_400_000_000n;
const LAST = (daysFromCivil(9999, 12, 31) + 1n) * 86_400_000_000n - 1n;

function randomMicros(random: () => number): bigint {
  const span = LAST - FIRST;
  return (
    FIRST + (BigInt(Math.floor(random() * 2 ** 26)) * span) / 2n ** 26n + BigInt(Math.floor(random() * 1e6))
  );
}

function problemOf(work: () => unknown): ParameterProblem {
  try {
    work();
  } catch (error) {
    if (error instanceof ParameterProblem) return error;
    throw error;
  }
  throw new Error('no problem raised');
}

describe('v2 timestamps', () => {
  it('formats every instant of years 0001–9999 to the microsecond, as the oracle does', () => {
    const random = prng(2);
    const edges = [FIRST, LAST, 0n, -1n, 1n, -86_400_000_000n, 951_782_400_000_000n];
    for (let i = 0; i < 20_000; i++) {
      const micros = i < edges.length ? (edges[i] as bigint) : randomMicros(random);
      expect(formatV2Datetime(micros)).toBe(formatMicros(micros));
    }
  });

  it('parses what it formats, zones and dates included', () => {
    const random = prng(3);
    for (let i = 0; i < 5000; i++) {
      const micros = randomMicros(random);
      const text = formatMicros(micros);
      expect(parseInstant(text, 'from')).toBe(micros);
      expect(parseInstant(text.replace('Z', ''), 'from')).toBe(micros); // no zone: UTC
      expect(parseInstant(text.replace('T', ' '), 'from')).toBe(micros);
    }
    expect(parseInstant('2023-03-25T13:31:26.215181+02:00', 'from')).toBe(
      parseInstant('2023-03-25T11:31:26.215181Z', 'from'),
    );
    expect(parseInstant('2023-03-25T06:01:26-05:30', 'from')).toBe(
      parseInstant('2023-03-25T11:31:26Z', 'from'),
    );
    expect(parseInstant('2023-03-25', 'to')).toBe(daysFromCivil(2023, 3, 25) * 86_400_000_000n);
    expect(parseInstant('2023-03-25T11:31:26.5Z', 'to')).toBe(
      parseInstant('2023-03-25T11:31:26.500000Z', 'to'),
    );
    expect(parseDate('2024-02-29', 'from')).toBe(Number(daysFromCivil(2024, 2, 29)));
  });

  it('refuses what is not a timestamp, naming the parameter', () => {
    for (const text of [
      '',
      'today',
      '2023-02-29',
      '2023-13-01',
      '0000-01-01',
      '2023-03-25T24:00:00',
      '2023-03-25T11:60:00',
      '2023-03-25T11:31:60',
      '2023-03-25T11:31:26.1234567',
      '2023-03-25T11:31',
      '2023-03-25T11:31:26+24:00',
      '2023-03-25T11:31:26+0200',
      '2023-3-25',
      '２０２３-03-25',
      '2023-03-25t11:31:26z',
    ]) {
      expect(problemOf(() => parseInstant(text, 'from')).parameter, text).toBe('from');
    }
    expect(problemOf(() => parseDate('2023-03-25T00:00:00Z', 'to')).parameter).toBe('to');
  });
});

describe('v2 parameters', () => {
  it('limit is 1–1000, default 100; snapshot ids beyond any number name no snapshot', () => {
    expect(parseLimit(undefined)).toBe(100);
    expect(parseLimit('1')).toBe(1);
    expect(parseLimit('1000')).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1e2', ' 5', '', '99999'])
      expect(problemOf(() => parseLimit(bad)).parameter).toBe('limit');
    expect(parseSnapshotId('12')).toBe(12);
    expect(parseSnapshotId('9'.repeat(30))).toBe(Number.POSITIVE_INFINITY);
    expect(problemOf(() => parseSnapshotId('-3')).parameter).toBe('snapshot');
  });
});

describe('v2 cursors', () => {
  const filter: TransactionFilter = {
    from: -62135596800000000n,
    to: 253402300799999999n,
    type: 1,
    merchantTypeCode: 5411,
  };

  it('round-trip every member exactly', () => {
    const cursor = { snapshot: 42, userId: 9223372036854775807n, filter, offset: 12345 };
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
    const plain = {
      snapshot: 1,
      userId: 0n,
      filter: { from: null, to: null, type: null, merchantTypeCode: null },
      offset: 0,
    };
    expect(decodeCursor(encodeCursor(plain))).toEqual(plain);
  });

  it('any altered cursor is a 400 naming cursor, or another valid cursor — never anything else', () => {
    const text = encodeCursor({ snapshot: 7, userId: 31373n, filter, offset: 100 });
    const random = prng(9);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!';
    for (let i = 0; i < 5000; i++) {
      const at = Math.floor(random() * text.length);
      const altered =
        text.slice(0, at) + alphabet[Math.floor(random() * alphabet.length)] + text.slice(at + 1);
      try {
        const decoded = decodeCursor(altered);
        expect(decoded.offset).toBeGreaterThanOrEqual(0);
        expect(decoded.snapshot).toBeGreaterThanOrEqual(1);
      } catch (error) {
        expect(error).toBeInstanceOf(ParameterProblem);
        expect((error as ParameterProblem).parameter).toBe('cursor');
      }
    }
    for (const forged of [
      Buffer.from(
        '{"v":1,"s":1,"u":"99999999999999999999","f":null,"t":null,"y":null,"m":null,"o":0}',
      ).toString('base64url'),
      Buffer.from('{"v":1,"s":1,"u":"1","f":null,"t":null,"y":2,"m":null,"o":0}').toString('base64url'),
      Buffer.from('{"v":1,"s":1,"u":"1","f":"1e3","t":null,"y":null,"m":null,"o":0}').toString('base64url'),
      Buffer.from('{"v":1,"s":1,"u":"1","f":null,"t":null,"y":null,"m":10000,"o":0}').toString('base64url'),
      Buffer.from('{"v":1,"s":0,"u":"1","f":null,"t":null,"y":null,"m":null,"o":0}').toString('base64url'),
      Buffer.from('{"v":1,"s":1,"u":"1","f":null,"t":null,"y":null,"m":null,"o":-1}').toString('base64url'),
      Buffer.from('null').toString('base64url'),
      'A'.repeat(600),
    ]) {
      expect(problemOf(() => decodeCursor(forged)).parameter).toBe('cursor');
    }
  });
});

describe('v2 paging', () => {
  it('pages through exactly the rows a plain filter keeps, in order, whatever the limit', () => {
    const random = prng(11);
    for (let round = 0; round < 300; round++) {
      const count = Math.floor(random() * 60);
      const rows = Array.from({ length: count }, () => ({
        userId: 5n,
        transactionType: random() < 0.4 ? ('ReturnActivity' as const) : ('PurchaseActivity' as const),
        merchantTypeCode: [1, 2, 3][Math.floor(random() * 3)] as number,
        amountCents: BigInt(Math.floor(random() * 1000)),
        epochSecond: Math.floor(random() * 50),
        microsecond: Math.floor(random() * 3),
      }));
      const batch = batchOfTransactions(5n, rows);
      const micros = (i: number) => batch.epochMicros[i] as bigint;
      const filter: TransactionFilter = {
        from: random() < 0.5 ? BigInt(Math.floor(random() * 50)) * 1_000_000n : null,
        to: random() < 0.5 ? BigInt(Math.floor(random() * 50)) * 1_000_000n : null,
        type: random() < 0.3 ? 1 : random() < 0.3 ? 0 : null,
        merchantTypeCode: random() < 0.3 ? 2 : null,
      };
      const expected = [...Array(count).keys()].filter(
        (i) =>
          (filter.from === null || micros(i) >= filter.from) &&
          (filter.to === null || micros(i) < filter.to) &&
          (filter.type === null || batch.transactionType[i] === filter.type) &&
          (filter.merchantTypeCode === null || batch.merchantTypeCode[i] === filter.merchantTypeCode),
      );
      const limit = 1 + Math.floor(random() * 7);
      const seen: number[] = [];
      let offset: number | null = 0;
      while (offset !== null) {
        const page = pageOf(batch, filter, offset, limit);
        expect(page.rows.length).toBeLessThanOrEqual(limit);
        if (page.nextOffset !== null) expect(page.rows.length).toBe(limit);
        seen.push(...page.rows);
        offset = page.nextOffset;
      }
      expect(seen).toEqual(expected);
    }
  });
});

describe('content negotiation', () => {
  const offered = ['application/json', 'text/csv'] as const;
  it('picks the preferred representation among those offered, or none', () => {
    expect(negotiate(undefined, offered)).toBe('application/json');
    expect(negotiate('', offered)).toBe('application/json');
    expect(negotiate('*/*', offered)).toBe('application/json');
    expect(negotiate('text/csv', offered)).toBe('text/csv');
    expect(negotiate('text/*', offered)).toBe('text/csv');
    expect(negotiate('Text/CSV', offered)).toBe('text/csv');
    expect(negotiate('application/json;q=0.5, text/csv', offered)).toBe('text/csv');
    expect(negotiate('text/csv;q=0.2, */*;q=0.1', offered)).toBe('text/csv');
    expect(negotiate('text/html, application/xhtml+xml, */*;q=0.8', offered)).toBe('application/json');
    expect(negotiate('application/xml', offered)).toBeNull();
    expect(negotiate('text/csv;q=0, application/json;q=0', offered)).toBeNull();
    expect(negotiate('*/*, application/json;q=0', offered)).toBe('text/csv');
    expect(negotiate('garbage', offered)).toBeNull();
  });
});
