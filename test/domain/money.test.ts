import { describe, expect, it } from 'vitest';
import { halfEvenDollars } from '../../src/domain/money.js';

describe('halfEvenDollars', () => {
  it.each([
    [75050, 750],
    [75150, 752],
    [75049, 750],
    [75051, 751],
    [50, 0],
    [150, 2],
    [250, 2],
    [49, 0],
    [51, 1],
    [0, 0],
    [100, 1],
    [-75050, -750],
    [-75150, -752],
    [-50, 0],
    [-150, -2],
    [-51, -1],
    [-49, 0],
  ])('rounds %i cents to %i dollars (number)', (cents, dollars) => {
    expect(halfEvenDollars(cents)).toBe(dollars);
    expect(Object.is(halfEvenDollars(cents), -0)).toBe(false);
  });

  it('gives the same answers on bigint, including beyond 2^53', () => {
    for (const cents of [75050, 75150, -75050, -75150, 50, -50, 12345678, -1]) {
      expect(halfEvenDollars(BigInt(cents))).toBe(BigInt(halfEvenDollars(cents)));
    }
    expect(halfEvenDollars(9_223_372_036_854_775_807n)).toBe(92_233_720_368_547_758n);
    expect(halfEvenDollars(900_719_925_474_099_250n)).toBe(9_007_199_254_740_992n); // .50, even stays
    expect(halfEvenDollars(900_719_925_474_099_350n)).toBe(9_007_199_254_740_994n); // .50, odd goes up
    expect(halfEvenDollars(-900_719_925_474_099_350n)).toBe(-9_007_199_254_740_994n);
  });

  it('refuses an unsafe number instead of rounding it wrongly', () => {
    expect(() => halfEvenDollars(2 ** 60)).toThrow(RangeError);
  });
});
