import { describe, expect, it } from 'vitest';
import { INT64_MAX } from '../../src/domain/schema.js';
import { compareV1Order, parseV1Id, type StoredTransaction } from '../../src/domain/v1.js';
import { toV1DailyNet, toV1Transaction } from '../helpers/v1-shapes.js';

const tx = (over: Partial<StoredTransaction>): StoredTransaction => ({
  userId: 1n,
  transactionType: 'PurchaseActivity',
  merchantTypeCode: 5411,
  amountCents: 100n,
  epochSecond: 0,
  microsecond: 0,
  ...over,
});

describe('v1 answers', () => {
  it('shape a transaction with the wire key order', () => {
    const answer = toV1Transaction(
      tx({
        userId: 31373n,
        amountCents: 75050n,
        merchantTypeCode: 5310,
        epochSecond: Date.parse('2023-03-25T11:31:26Z') / 1000,
        microsecond: 900_000,
      }),
    );
    expect(Object.keys(answer)).toEqual(['user_id', 'amount_in_dollars', 'datetime', 'merchant_type_code']);
    expect(answer).toEqual({
      user_id: 31373n,
      amount_in_dollars: 750n,
      datetime: '2023-03-25T11:31:26+00:00',
      merchant_type_code: 5310,
    });
  });

  it('shape a daily net: purchases minus returns, half to even, negative allowed', () => {
    const day = Math.floor(Date.parse('2023-03-30T00:00:00Z') / 86_400_000);
    const answer = toV1DailyNet({
      merchantTypeCode: 5732,
      day,
      purchaseCents: 104_700n,
      returnCents: 0n,
      purchases: 1,
      returns: 1,
    });
    expect(Object.keys(answer)).toEqual(['merchant_type_code', 'net_amount_in_dollars', 'date']);
    expect(answer).toEqual({ merchant_type_code: 5732, net_amount_in_dollars: 1047n, date: '2023-03-30' });
    expect(
      toV1DailyNet({
        merchantTypeCode: 1,
        day,
        purchaseCents: 0n,
        returnCents: 75_150n,
        purchases: 1,
        returns: 1,
      }).net_amount_in_dollars,
    ).toBe(-752n);
    expect(
      toV1DailyNet({
        merchantTypeCode: 1,
        day,
        purchaseCents: 100n,
        returnCents: 75_150n,
        purchases: 1,
        returns: 1,
      }).net_amount_in_dollars,
    ).toBe(-750n);
  });

  it('orders by datetime, then type, merchant code and amount', () => {
    const rows = [
      tx({ epochSecond: 2, transactionType: 'ReturnActivity' }),
      tx({ epochSecond: 2, transactionType: 'PurchaseActivity', merchantTypeCode: 9000 }),
      tx({ epochSecond: 2, transactionType: 'PurchaseActivity', merchantTypeCode: 10, amountCents: 5n }),
      tx({ epochSecond: 2, transactionType: 'PurchaseActivity', merchantTypeCode: 10, amountCents: 3n }),
      tx({ epochSecond: 1, microsecond: 999_999 }),
      tx({ epochSecond: 1, microsecond: 5 }),
    ];
    const sorted = [...rows].sort(compareV1Order);
    expect(sorted).toEqual([rows[5], rows[4], rows[3], rows[2], rows[1], rows[0]]);
  });
});

describe('parseV1Id', () => {
  it.each(['abc', '', '-5', '+5', '1.5', '1e3', ' 5', '٣', '0x10'])('refuses %j', (text) => {
    expect(parseV1Id(text, INT64_MAX)).toBeNull();
  });

  it('reads digits, leading zeros included', () => {
    expect(parseV1Id('31373', INT64_MAX)).toBe(31373n);
    expect(parseV1Id('007', INT64_MAX)).toBe(7n);
    expect(parseV1Id('9223372036854775807', INT64_MAX)).toBe(INT64_MAX);
  });

  it('calls digits beyond the range absent, not an error', () => {
    expect(parseV1Id('9223372036854775808', INT64_MAX)).toBe('absent');
    expect(parseV1Id('99999999999999999999999', INT64_MAX)).toBe('absent');
    expect(parseV1Id('10000', 9999n)).toBe('absent');
  });

  // Ids as long as a request line can carry (Node takes 16 KiB of it), where the router used to refuse them.
  it.each([4_097, 8_000, 15_000])(
    'calls %i digits beyond the range absent, whatever the length',
    (length) => {
      expect(parseV1Id('9'.repeat(length), INT64_MAX)).toBe('absent');
      expect(parseV1Id(`1${'0'.repeat(length - 1)}`, 9999n)).toBe('absent');
    },
  );

  it.each([4_097, 8_000, 15_000])('refuses %i characters that are not all digits', (length) => {
    expect(parseV1Id(`${'9'.repeat(length - 1)}x`, INT64_MAX)).toBeNull();
    expect(parseV1Id(`x${'9'.repeat(length - 1)}`, INT64_MAX)).toBeNull();
    expect(parseV1Id('0'.repeat(length).replace(/0$/, '-'), INT64_MAX)).toBeNull();
  });

  // The value decides, not the length: int() in the old design read `000…31373` as 31373.
  it('reads an id in range after any number of leading zeros', () => {
    expect(parseV1Id(`${'0'.repeat(5_000)}31373`, INT64_MAX)).toBe(31373n);
    expect(parseV1Id(`${'0'.repeat(5_000)}9223372036854775807`, INT64_MAX)).toBe(INT64_MAX);
    expect(parseV1Id(`${'0'.repeat(5_000)}9223372036854775808`, INT64_MAX)).toBe('absent');
    expect(parseV1Id(`${'0'.repeat(5_000)}5411`, 9999n)).toBe(5411n);
    expect(parseV1Id('0'.repeat(5_000), INT64_MAX)).toBe(0n);
  });

  // BigInt's cost grows faster than the length of its text, and a backtracking pattern can be quadratic:
  // parsing must stay about one pass over the id. Measured against such a pass in the same run (a ratio,
  // not a time, on a noisy machine); at a million characters BigInt alone took some 60 passes.
  it.each([
    ['digits beyond the range', '9'.repeat(1_000_000)],
    ['leading zeros', `${'0'.repeat(1_000_000)}31373`],
    ['zeros, then a non-digit', `${'0'.repeat(1_000_000)}x`],
    ['digits, then a non-digit', `${'9'.repeat(1_000_000)}x`],
  ])('costs about one pass over the text: %s', (_what, text) => {
    const pass = () => {
      let digits = 0;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c >= 48 && c <= 57) digits++;
      }
      return digits;
    };
    const fastest = (fn: () => unknown) => {
      let best = Number.POSITIVE_INFINITY;
      for (let round = 0; round < 7; round++) {
        const start = process.hrtime.bigint();
        fn();
        best = Math.min(best, Number(process.hrtime.bigint() - start));
      }
      return best;
    };
    const baseline = fastest(pass);
    const parse = fastest(() => parseV1Id(text, INT64_MAX));
    expect(parse / baseline, `parse ${parse} ns, one pass ${baseline} ns`).toBeLessThan(10);
  });
});
