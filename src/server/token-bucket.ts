// Token buckets by key, for the rate limit (SPEC §5): each key holds up to `burst` tokens, gains `perSecond`
// a second, and each request takes one. No I/O and no clock of its own: the caller passes the time, so
// tests step it.

/** A key's bucket; mutated in place, so a request of a known key allocates nothing. */
interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, the caller's clock). */
  at: number;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #perMs: number;
  readonly #burst: number;

  /** `perSecond` tokens a second, at most `burst` kept (both ≥ 1). */
  constructor(perSecond: number, burst: number = perSecond) {
    if (!(perSecond > 0) || !(burst >= 1))
      throw new RangeError('a token bucket needs a rate > 0 and a burst ≥ 1');
    this.#perMs = perSecond / 1000;
    this.#burst = burst;
  }

  /**
   * Take a token of `key` at time `now` (ms): 0 when taken, else the milliseconds until one is there (a
   * refused request takes nothing, so a client that keeps asking is served at the rate, not shut out).
   */
  take(key: string, now: number): number {
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      this.#buckets.set(key, { tokens: this.#burst - 1, at: now });
      return 0;
    }
    // A clock that went back gives nothing and takes nothing.
    const elapsed = now > bucket.at ? now - bucket.at : 0;
    const tokens = Math.min(this.#burst, bucket.tokens + elapsed * this.#perMs);
    bucket.at = now;
    if (tokens >= 1) {
      bucket.tokens = tokens - 1;
      return 0;
    }
    bucket.tokens = tokens;
    return (1 - tokens) / this.#perMs;
  }

  /**
   * Forget the buckets that are full again at `now`: they hold no more than a new one would, so memory
   * stays with the keys seen in the last `burst / perSecond` seconds, however many clients came before.
   */
  sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      const elapsed = now > bucket.at ? now - bucket.at : 0;
      if (bucket.tokens + elapsed * this.#perMs >= this.#burst) this.#buckets.delete(key);
    }
  }

  /** Keys with a bucket. */
  get size(): number {
    return this.#buckets.size;
  }
}
