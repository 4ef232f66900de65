// Recently sent answers, kept as their JSON bytes for the snapshot being served. An answer is a function of
// the URL and the snapshot alone, so a cached body is exact until the next snapshot; the cache empties
// itself when the store swaps one in. Least recently used bodies go first once `maxBytes` is reached.
//
// An answer is kept only the second time it is asked for while its key is still remembered (a
// "doorkeeper" of recent keys): a stream of keys each asked once — a crawler, a batch export, a benchmark
// cycling over every user — would otherwise replace the whole cache all the time, and copying every
// answer into a cache that never hits halved the throughput measured on such a stream. Hot keys (asked
// again within the last few thousand misses) still get in at their second request.

import type { SnapshotView, TransactionStore } from '../backends/store.js';
import { type AnswerResource, AnswerSources } from './answer-sources.js';

export class AnswerCache {
  private view: SnapshotView | null = null;
  private readonly bodies = new Map<string, Buffer>();
  private bytes = 0;
  /** Keys missed once recently, oldest first. */
  private readonly seen = new Set<string>();
  private readonly seenLimit: number;
  hits = 0;
  misses = 0;
  /** Where answers came from (this cache or a lookup), also of those computed without it, for /metrics. */
  readonly sources = new AnswerSources();

  constructor(
    private readonly store: TransactionStore,
    private readonly maxBytes: number,
  ) {
    // About as many keys as 8 KiB answers would fill the cache, within sane bounds.
    this.seenLimit = Math.max(1024, Math.min(65_536, Math.floor(maxBytes / 8192)));
  }

  /**
   * The body of `key` on `view`: cached, or computed (and cached when `view` is the store's current one).
   * `resource` names what the answer is, for counting where it came from (uncounted without).
   */
  async answer(
    view: SnapshotView,
    key: string,
    compute: () => Promise<Buffer>,
    resource?: AnswerResource,
  ): Promise<Buffer> {
    if (this.maxBytes <= 0) return this.computed(view, resource, compute);
    if (view !== this.view) {
      // A request that began on an older view computes its answer without touching the newer cache.
      if (view !== this.store.current()) return this.computed(view, resource, compute);
      this.view = view;
      this.bodies.clear();
      this.seen.clear();
      this.bytes = 0;
    }
    const cached = this.bodies.get(key);
    if (cached !== undefined) {
      this.hits++;
      if (resource !== undefined) this.sources.cached(resource);
      // Re-inserted to mark it recently used: a Map iterates in insertion order, oldest first.
      this.bodies.delete(key);
      this.bodies.set(key, cached);
      return cached;
    }
    this.misses++;
    if (!this.seen.delete(key)) {
      this.seen.add(key);
      if (this.seen.size > this.seenLimit) this.seen.delete(this.seen.values().next().value as string);
      return this.computed(view, resource, compute);
    }
    const body = await this.computed(view, resource, compute);
    // Not kept: an answer of a view swapped out meanwhile, one computed twice concurrently, or a huge one.
    if (view !== this.view || this.bodies.has(key) || body.length > this.maxBytes / 8) return body;
    // A copy of its own: the body may be a window on a larger scratch buffer.
    this.bodies.set(key, Buffer.from(body));
    this.bytes += body.length;
    for (const [oldKey, oldBody] of this.bodies) {
      if (this.bytes <= this.maxBytes) break;
      this.bodies.delete(oldKey);
      this.bytes -= oldBody.length;
    }
    return body;
  }

  private computed(view: SnapshotView, resource: AnswerResource | undefined, compute: () => Promise<Buffer>) {
    if (resource !== undefined) this.sources.looked(resource, view);
    return compute();
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.bodies.size, bytes: this.bytes };
  }
}
