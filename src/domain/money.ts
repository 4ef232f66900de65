// Money: cents to whole dollars, rounded half to even exactly as the old design's pandas `round()` did.
// Works on bigint so that sums beyond 2^53 cents stay exact; `number` inputs take a fast path.

/** `cents / 100` rounded half to even: 75050 → 750, 75150 → 752, -75050 → -750, -75150 → -752. */
export function halfEvenDollars(cents: bigint): bigint;
export function halfEvenDollars(cents: number): number;
export function halfEvenDollars(cents: bigint | number): bigint | number {
  if (typeof cents === 'number') {
    if (!Number.isSafeInteger(cents)) throw new RangeError(`cents must be a safe integer, got ${cents}`);
    const quotient = Math.floor(cents / 100);
    const remainder = cents - quotient * 100; // 0..99 whatever the sign, because of floor
    if (remainder > 50 || (remainder === 50 && quotient % 2 !== 0)) return quotient + 1;
    return quotient === 0 ? 0 : quotient; // never answer -0
  }
  let quotient = cents / 100n;
  let remainder = cents % 100n;
  if (remainder < 0n) {
    // bigint division truncates toward zero; move to floor semantics so the tie rule is the same as above
    quotient -= 1n;
    remainder += 100n;
  }
  if (remainder > 50n || (remainder === 50n && quotient % 2n !== 0n)) return quotient + 1n;
  return quotient;
}
