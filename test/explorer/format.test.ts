// The explorer's rules for writing values (src/explorer/format.ts, exact-json.ts, route.ts): pure code,
// tested here in Node; the browser suite (test/browser/) tests the page that uses them.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { exactReviver, InexactNumber, parseExactJson } from '../../src/explorer/exact-json.js';
import {
  centsToDecimal,
  commitTimeLabel,
  counted,
  dayToUnixSeconds,
  instantLabel,
  moneyFormat,
  rowRangeLabel,
  transactionTypeLabel,
} from '../../src/explorer/format.js';
import { parseRoute, routeHash, withSnapshot } from '../../src/explorer/route.js';

describe('centsToDecimal and moneyFormat', () => {
  it.each([
    [74995n, '749.95', '$749.95'],
    [75000n, '750.00', '$750.00'],
    [5n, '0.05', '$0.05'],
    [0n, '0.00', '$0.00'],
    [-14399n, '-143.99', '-$143.99'],
    [123456789n, '1234567.89', '$1,234,567.89'],
  ])('%s cents → %s → %s', (cents, decimal, money) => {
    expect(centsToDecimal(cents)).toBe(decimal);
    expect(moneyFormat('en-US')(cents)).toBe(money);
  });

  it('is exact beyond 2^53 cents and beyond 64 bits (sums), where a double would round', () => {
    const format = moneyFormat('en-US');
    expect(format(9007199254740993n)).toBe('$90,071,992,547,409.93');
    expect(format(-(2n ** 64n) - 1n)).toBe('-$184,467,440,737,095,516.17');
  });

  it('round-trips every amount: the digits shown are the digits of the cents', () => {
    const format = moneyFormat('en-US');
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (cents) => {
        const shown = format(cents).replace(/[$,]/g, '');
        expect(BigInt(shown.replace('.', ''))).toBe(cents);
        expect(shown).toMatch(/^-?\d+\.\d{2}$/);
      }),
      { numRuns: 2000 },
    );
  });

  it("follows the reader's locale, still in US dollars", () => {
    expect(moneyFormat('de-DE')(-74995n)).toBe('-749,95\u00a0$');
  });
});

describe('labels', () => {
  it('writes v2 instants to the second, UTC, and leaves anything else as it is', () => {
    expect(instantLabel('2023-03-25T11:31:26.215181Z')).toBe('2023-03-25 11:31:26');
    expect(instantLabel('2023-03-25T11:31:26Z')).toBe('2023-03-25 11:31:26');
    expect(instantLabel('not an instant')).toBe('not an instant');
    expect(commitTimeLabel('2026-12-03T17:20:05.123Z')).toBe('2026-12-03 17:20 UTC');
  });

  it('names the transaction types and counts', () => {
    expect(transactionTypeLabel('PurchaseActivity')).toBe('Purchase');
    expect(transactionTypeLabel('ReturnActivity')).toBe('Return');
    expect(transactionTypeLabel('Other')).toBe('Other');
    expect(rowRangeLabel(0, 0)).toBe('No rows');
    expect(rowRangeLabel(50, 1)).toBe('Row 51');
    expect(rowRangeLabel(50, 50)).toBe('Rows 51–100');
    expect(counted(1, 'day', 'days')).toBe('1 day');
    expect(counted(2n, 'day', 'days')).toBe('2 days');
  });

  it('puts days at midnight UTC, whatever the zone of the machine', () => {
    expect(dayToUnixSeconds('2023-03-30')).toBe(Date.UTC(2023, 2, 30) / 1000);
    expect(dayToUnixSeconds('1970-01-01')).toBe(0);
    expect(dayToUnixSeconds('2023-3-30')).toBeNaN();
  });
});

describe('exact JSON', () => {
  it('reads cents and counts as bigint and leaves the rest as JSON.parse does', () => {
    const body = parseExactJson(
      '{"data":[{"user_id":31373,"datetime":"2023-03-25T11:31:26.215181Z","merchant_type_code":5310,"amount_cents":74995}],"snapshot":3}',
    ) as {
      data: { user_id: unknown; amount_cents: unknown; merchant_type_code: unknown }[];
      snapshot: unknown;
    };
    expect(body.data[0]?.user_id).toBe(31373n);
    expect(body.data[0]?.amount_cents).toBe(74995n);
    expect(body.data[0]?.merchant_type_code).toBe(5310);
    expect(body.snapshot).toBe(3);
  });

  it('takes the source text where the engine hands it over (beyond 2^53), and refuses to round without it', () => {
    expect(exactReviver('net_cents', 9007199254740992, { source: '9007199254740993' })).toBe(
      9007199254740993n,
    );
    expect(exactReviver('net_cents', 12, {})).toBe(12n);
    expect(() => exactReviver('net_cents', 9007199254740992)).toThrow(InexactNumber);
    expect(exactReviver('date', '2023-03-30')).toBe('2023-03-30');
    expect(exactReviver('snapshot', 9007199254740992)).toBe(9007199254740992);
  });
});

describe('routes in the fragment', () => {
  it('reads the view, the subject and the query', () => {
    const route = parseRoute('#/users/31373?from=2023-03-01&snapshot=2');
    expect(route.view).toBe('users');
    expect(route.subject).toBe('31373');
    expect(route.query.get('from')).toBe('2023-03-01');
    expect(parseRoute('#/merchant-types/5732').view).toBe('merchant-types');
    expect(parseRoute('#/merchant-types').subject).toBeNull();
  });

  it('keeps a broken escape as typed (the view then refuses it) rather than failing', () => {
    expect(parseRoute('#/users/%E0%A4%A').subject).toBe('%E0%A4%A');
    expect(parseRoute('#/merchant-types/%').subject).toBe('%');
  });

  it('starts on the user view for an empty or unknown fragment', () => {
    for (const hash of ['', '#', '#/', '#/nowhere/1', '#%%']) {
      const route = parseRoute(hash);
      expect(route.view, hash).toBe('users');
    }
  });

  it('writes what it reads, and drops empty parameters', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('users' as const, 'merchant-types' as const),
        fc.option(fc.stringMatching(/^[0-9]{1,19}$/), { nil: null }),
        fc.dictionary(
          fc.constantFrom('from', 'to', 'type', 'limit', 'snapshot'),
          fc.string({ maxLength: 12 }),
        ),
        (view, subject, params) => {
          const hash = routeHash({ view, subject, query: new URLSearchParams(params) });
          const back = parseRoute(hash);
          expect(back.view).toBe(view);
          expect(back.subject).toBe(subject);
          for (const [name, value] of Object.entries(params))
            expect(back.query.get(name)).toBe(value === '' ? null : value);
        },
      ),
    );
  });

  it('sets and clears the snapshot, keeping the rest', () => {
    const route = parseRoute('#/users/7?type=ReturnActivity');
    expect(routeHash(withSnapshot(route, '4'))).toBe('#/users/7?type=ReturnActivity&snapshot=4');
    expect(routeHash(withSnapshot(withSnapshot(route, '4'), null))).toBe('#/users/7?type=ReturnActivity');
  });
});
