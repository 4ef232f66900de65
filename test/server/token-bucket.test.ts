// Token buckets of the rate limit, on a clock the test steps: a burst of N, then a token every 1/N s,
// refusals that take nothing, keys apart, and full buckets forgotten. (Times are chosen off the instants a
// token completes, where floating-point rounding could fall either way.)

import { describe, expect, it } from 'vitest';
import { TokenBuckets } from '../../src/server/token-bucket.js';

/** Take `count` tokens of `key` at `now`; how many were granted. */
function granted(buckets: TokenBuckets, key: string, now: number, count: number): number {
  let ok = 0;
  for (let i = 0; i < count; i++) if (buckets.take(key, now) === 0) ok++;
  return ok;
}

describe('TokenBuckets', () => {
  it('grants a burst of N at once, then refuses with the wait for the next token', () => {
    const buckets = new TokenBuckets(5);
    expect(granted(buckets, 'a', 1000, 5)).toBe(5);
    // Empty: the next token is 1/5 s away.
    expect(buckets.take('a', 1000)).toBeCloseTo(200, 6);
    expect(buckets.take('a', 1100)).toBeCloseTo(100, 6);
  });

  it('refills N a second, never beyond the burst', () => {
    const buckets = new TokenBuckets(5);
    granted(buckets, 'a', 0, 5);
    expect(granted(buckets, 'a', 210, 10)).toBe(1);
    expect(granted(buckets, 'a', 610, 10)).toBe(2);
    // A long pause fills the bucket to N, not to the 10 s × 5 tokens it would have earned.
    expect(granted(buckets, 'a', 10_610, 100)).toBe(5);
  });

  it('a client that keeps asking while refused is still served at the rate', () => {
    const buckets = new TokenBuckets(500); // half a token a millisecond, exact in binary
    granted(buckets, 'a', 0, 500);
    // 3,000 requests a second for 3 s: each refusal takes nothing, so 500 a second get through.
    let ok = 0;
    for (let t = 1; t <= 3000; t++) ok += granted(buckets, 'a', t, 3);
    expect(ok).toBe(1500);
  });

  it('keeps keys apart', () => {
    const buckets = new TokenBuckets(2);
    expect(granted(buckets, 'a', 0, 5)).toBe(2);
    expect(granted(buckets, 'b', 0, 5)).toBe(2);
    expect(buckets.take('a', 0)).toBeGreaterThan(0);
  });

  it('a burst other than the rate', () => {
    const buckets = new TokenBuckets(1, 3);
    expect(granted(buckets, 'a', 0, 10)).toBe(3);
    expect(buckets.take('a', 0)).toBeCloseTo(1000, 6);
    expect(granted(buckets, 'a', 1010, 10)).toBe(1);
  });

  it('a clock that goes back grants nothing extra', () => {
    const buckets = new TokenBuckets(2);
    granted(buckets, 'a', 5000, 2);
    expect(granted(buckets, 'a', 1000, 5)).toBe(0);
    // Time is counted again from the earlier reading (1 s later: 2 tokens).
    expect(granted(buckets, 'a', 2010, 5)).toBe(2);
  });

  it('sweep forgets full buckets only', () => {
    const buckets = new TokenBuckets(4);
    granted(buckets, 'drained', 0, 4);
    granted(buckets, 'touched', 900, 1);
    expect(buckets.size).toBe(2);
    buckets.sweep(999); // drained has 3.996 tokens, touched 3.4: both kept
    expect(buckets.size).toBe(2);
    buckets.sweep(1001); // drained is full again
    expect(buckets.size).toBe(1);
    // A forgotten key starts again with a full bucket, which is what it had.
    expect(granted(buckets, 'drained', 1001, 10)).toBe(4);
    buckets.sweep(100_000);
    expect(buckets.size).toBe(0);
  });

  it('refuses a rate or burst it cannot keep', () => {
    expect(() => new TokenBuckets(0)).toThrow(RangeError);
    expect(() => new TokenBuckets(5, 0.5)).toThrow(RangeError);
    expect(() => new TokenBuckets(Number.NaN)).toThrow(RangeError);
  });
});
