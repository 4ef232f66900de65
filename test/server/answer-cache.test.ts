// The per-snapshot answer cache on its own: an answer is kept only at its second request while the key is
// still remembered (the doorkeeper), then hit; least-recently-used eviction by bytes; a new snapshot empties it
// and forgets the remembered keys; a request still on an older snapshot never reads or fills it; 0 turns it
// off; a body too large to be worth keeping is not kept. The store and views are bare stand-ins (inputs only).

import { describe, expect, it } from 'vitest';
import type { SnapshotView, TransactionStore } from '../../src/backends/store.js';
import { batchOfTransactions } from '../../src/domain/transaction-batch.js';
import { AnswerCache } from '../../src/server/answer-cache.js';

function view(id: number): SnapshotView {
  return {
    id,
    created: '2026-01-01T00:00:00.000Z',
    rows: 0,
    lookup: { kind: 'memory', indexBytes: 0, loadMs: 0 },
    impaired: null,
    transactionsOfUser: async (userId) => batchOfTransactions(userId, []),
    dailySumsOfMerchant: async () => [],
  };
}

/** A store whose current view the test sets. */
class FakeStore implements TransactionStore {
  readonly kind = 'embedded' as const;
  constructor(public view: SnapshotView | null) {}
  current(): SnapshotView | null {
    return this.view;
  }
  problem(): string | null {
    return null;
  }
  async refresh(): Promise<boolean> {
    return false;
  }
  async viewOf(): Promise<SnapshotView> {
    throw new Error('not used by the answer cache');
  }
  async snapshots(): Promise<never[]> {
    return [];
  }
  async follow(): Promise<void> {}
  async close(): Promise<void> {}
}

/** A compute function that counts its calls and answers `text` (padded to `bytes` when given). */
function counted(text: string, bytes?: number) {
  const body = Buffer.from(bytes === undefined ? text : text.padEnd(bytes, '.'));
  const compute = async () => {
    compute.calls++;
    return body;
  };
  compute.calls = 0;
  return compute;
}

/** How many recently missed keys a cache of `maxBytes` remembers (the source's rule, restated). */
function seenLimitOf(maxBytes: number): number {
  return Math.max(1024, Math.min(65_536, Math.floor(maxBytes / 8192)));
}

/** Asks for `count` distinct keys once each (`prefix0`, `prefix1`, ...), each answering a small body. */
async function askDistinct(cache: AnswerCache, v: SnapshotView, prefix: string, count: number) {
  const compute = counted('[]');
  for (let i = 0; i < count; i++) await cache.answer(v, `${prefix}${i}`, compute);
  return compute;
}

describe('AnswerCache', () => {
  it('computes a key until it is kept, then answers it from memory with the same bytes', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const a = counted('[{"a":1}]');
    for (let i = 0; i < 4; i++) expect((await cache.answer(v1, 'u1', a)).toString()).toBe('[{"a":1}]');
    // Computed at the first request (remembered) and at the second (kept); the last two are hits.
    expect(a.calls).toBe(2);
    expect([cache.hits, cache.misses]).toEqual([2, 2]);
    const b = counted('[]');
    expect((await cache.answer(v1, 'u2', b)).toString()).toBe('[]');
    expect((await cache.answer(v1, 'u2', b)).toString()).toBe('[]');
    expect(b.calls).toBe(2);
    expect(cache.size).toEqual({ entries: 2, bytes: '[{"a":1}]'.length + 2 });
    expect((await cache.answer(v1, 'u2', b)).toString()).toBe('[]');
    expect(b.calls).toBe(2);
    expect([cache.hits, cache.misses]).toEqual([3, 4]);
  });

  it('keeps its own copy: a body that is a window on a reused scratch buffer stays intact', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const scratch = Buffer.from('xx[1,2,3]yy');
    await cache.answer(v1, 'k', async () => scratch.subarray(2, 9));
    await cache.answer(v1, 'k', async () => scratch.subarray(2, 9)); // the second request keeps it
    expect(cache.size).toEqual({ entries: 1, bytes: 7 });
    scratch.fill(0x30);
    const again = await cache.answer(v1, 'k', async () => Buffer.from('recomputed'));
    expect(again.toString()).toBe('[1,2,3]');
    expect(cache.hits).toBe(1);
  });

  it('evicts the least recently used bodies once the bytes exceed the limit', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 800);
    const computes = new Map<string, ReturnType<typeof counted>>();
    const ask = (key: string) => {
      let compute = computes.get(key);
      if (!compute) {
        compute = counted(`[${key}]`, 100);
        computes.set(key, compute);
      }
      return cache.answer(v1, key, compute);
    };
    const calls = (key: string) => computes.get(key)?.calls;
    // Each key asked twice: remembered at the first request, kept at the second.
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      await ask(key);
      await ask(key);
    }
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('a'); // a hit: 'a' becomes the most recently used, 'b' the least
    expect(calls('a')).toBe(2);
    await ask('i'); // remembered only: nothing evicted yet
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('i'); // kept, 900 bytes: the oldest, 'b', goes
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('a');
    await ask('c'); // still there
    expect(calls('a')).toBe(2);
    expect(calls('c')).toBe(2);
    const hits = cache.hits;
    await ask('b'); // evicted: computed again (and remembered anew), nothing else goes yet
    expect(calls('b')).toBe(3);
    expect(cache.hits).toBe(hits);
    await ask('b'); // kept again, and now 'd' (least recently used) goes
    expect(calls('b')).toBe(4);
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('d');
    expect(calls('d')).toBe(3);
    await ask('b'); // a hit
    expect(calls('b')).toBe(4);
    expect(cache.hits).toBe(hits + 1);
    expect(cache.size.bytes).toBeLessThanOrEqual(800);
  });

  it('empties itself when the store serves a new snapshot', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    for (let i = 0; i < 2; i++) {
      await cache.answer(v1, 'u1', async () => Buffer.from('old'));
      await cache.answer(v1, 'u2', async () => Buffer.from('old2'));
    }
    expect(cache.size).toEqual({ entries: 2, bytes: 7 });
    store.view = v2;
    const fresh = counted('new');
    expect((await cache.answer(v2, 'u1', fresh)).toString()).toBe('new');
    expect(fresh.calls).toBe(1);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    expect((await cache.answer(v2, 'u1', fresh)).toString()).toBe('new');
    expect(fresh.calls).toBe(2);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v2, 'u1', fresh)).toString()).toBe('new');
    expect(fresh.calls).toBe(2);
    expect((await cache.answer(v2, 'u2', async () => Buffer.from('wrong'))).toString()).toBe('wrong');
  });

  it('never answers a request on an older snapshot from the newer cache, nor fills it', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    await cache.answer(v1, 'u1', async () => Buffer.from('one'));
    await cache.answer(v1, 'u1', async () => Buffer.from('one'));
    store.view = v2;
    await cache.answer(v2, 'u1', async () => Buffer.from('two'));
    await cache.answer(v2, 'u1', async () => Buffer.from('two'));
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    const counts = [cache.hits, cache.misses];
    const older = counted('one again');
    expect((await cache.answer(v1, 'u1', older)).toString()).toBe('one again');
    expect((await cache.answer(v1, 'u1', older)).toString()).toBe('one again');
    expect(older.calls).toBe(2);
    const onlyOld = counted('x');
    for (let i = 0; i < 3; i++) expect((await cache.answer(v1, 'only-old', onlyOld)).toString()).toBe('x');
    expect(onlyOld.calls).toBe(3);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect([cache.hits, cache.misses]).toEqual(counts);
    // The older requests were not remembered either: one request on v2 is a first miss, not kept.
    const current = counted('y');
    expect((await cache.answer(v2, 'only-old', current)).toString()).toBe('y');
    expect(current.calls).toBe(1);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v2, 'u1', async () => Buffer.from('wrong'))).toString()).toBe('two');
  });

  it('does not cache for a view the store has not made current', async () => {
    const v1 = view(1);
    const stale = view(0);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const compute = counted('stale');
    for (let i = 0; i < 3; i++) expect((await cache.answer(stale, 'k', compute)).toString()).toBe('stale');
    expect(compute.calls).toBe(3);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    expect([cache.hits, cache.misses]).toEqual([0, 0]);
    const current = counted('current');
    expect((await cache.answer(v1, 'k', current)).toString()).toBe('current');
    expect(current.calls).toBe(1);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('does not keep an answer whose snapshot was swapped out while it was computed', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    await cache.answer(v1, 'k', async () => Buffer.from('first')); // remembered: the next request keeps
    let finish: (body: Buffer) => void = () => {};
    const slow = cache.answer(v1, 'k', () => new Promise<Buffer>((resolve) => (finish = resolve)));
    store.view = v2;
    await cache.answer(v2, 'other', async () => Buffer.from('o'));
    finish(Buffer.from('from-v1'));
    expect((await slow).toString()).toBe('from-v1');
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    const compute = counted('from-v2');
    expect((await cache.answer(v2, 'k', compute)).toString()).toBe('from-v2');
    expect(compute.calls).toBe(1);
    expect(cache.hits).toBe(0);
  });

  it('counts a body computed twice concurrently once', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const compute = counted('[1]');
    // Requests 2 and 4 both find the key remembered (1 and 3 remember it) and both compute to keep it.
    const bodies = await Promise.all([1, 2, 3, 4].map(() => cache.answer(v1, 'k', compute)));
    expect(bodies.map(String)).toEqual(['[1]', '[1]', '[1]', '[1]']);
    expect(compute.calls).toBe(4);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v1, 'k', compute)).toString()).toBe('[1]');
    expect(compute.calls).toBe(4);
  });

  it('is off at 0 bytes: every answer is computed, nothing is kept', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 0);
    const compute = counted('[]');
    for (let i = 0; i < 3; i++) expect((await cache.answer(v1, 'k', compute)).toString()).toBe('[]');
    expect(compute.calls).toBe(3);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('does not keep a huge body, nor evict others for it', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1000);
    await cache.answer(v1, 'small', async () => Buffer.from('[1]'));
    await cache.answer(v1, 'small', async () => Buffer.from('[1]'));
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    const huge = counted('[', 5000);
    const larger = counted('[', 1001);
    // Four requests each: the 2nd and 4th find the key remembered and would keep a body of a normal size.
    for (let i = 0; i < 4; i++) {
      expect((await cache.answer(v1, 'huge', huge)).length).toBe(5000);
      expect((await cache.answer(v1, 'larger', larger)).length).toBe(1001);
    }
    expect(huge.calls).toBe(4);
    expect(larger.calls).toBe(4);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v1, 'small', async () => Buffer.from('x'))).toString()).toBe('[1]');
  });

  describe('doorkeeper', () => {
    it('computes and forgets a key asked once, keeps it at the second request, hits at the third', async () => {
      const v1 = view(1);
      const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
      const compute = counted('[{"k":1}]');
      expect((await cache.answer(v1, 'k', compute)).toString()).toBe('[{"k":1}]');
      expect(compute.calls).toBe(1);
      expect([cache.hits, cache.misses]).toEqual([0, 1]);
      expect(cache.size).toEqual({ entries: 0, bytes: 0 });
      expect((await cache.answer(v1, 'k', compute)).toString()).toBe('[{"k":1}]');
      expect(compute.calls).toBe(2);
      expect([cache.hits, cache.misses]).toEqual([0, 2]);
      expect(cache.size).toEqual({ entries: 1, bytes: 9 });
      expect((await cache.answer(v1, 'k', compute)).toString()).toBe('[{"k":1}]');
      expect(compute.calls).toBe(2);
      expect([cache.hits, cache.misses]).toEqual([1, 2]);
      expect(cache.size).toEqual({ entries: 1, bytes: 9 });
    });

    it('never fills the cache from a stream of distinct keys each asked once', async () => {
      const v1 = view(1);
      const maxBytes = 1 << 20;
      expect(seenLimitOf(maxBytes)).toBe(1024);
      const cache = new AnswerCache(new FakeStore(v1), maxBytes);
      const compute = counted('[]');
      const n = 3 * 1024 + 7;
      for (let i = 0; i < n; i++) {
        expect((await cache.answer(v1, `user${i}`, compute)).toString()).toBe('[]');
        expect(cache.size.entries).toBe(0);
      }
      expect(compute.calls).toBe(n);
      expect([cache.hits, cache.misses]).toEqual([0, n]);
      expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    });

    it('does not admit a key whose first request was pushed out by seenLimit other misses', async () => {
      const v1 = view(1);
      const cache = new AnswerCache(new FakeStore(v1), 1 << 20); // remembers 1024 keys
      const k = counted('[k]');
      await cache.answer(v1, 'k', k);
      await askDistinct(cache, v1, 'other', 1024);
      expect((await cache.answer(v1, 'k', k)).toString()).toBe('[k]'); // forgotten: a first miss again
      expect(k.calls).toBe(2);
      expect(cache.size).toEqual({ entries: 0, bytes: 0 });
      await askDistinct(cache, v1, 'more', 2000);
      expect((await cache.answer(v1, 'k', k)).toString()).toBe('[k]'); // pushed out again, by more
      expect(k.calls).toBe(3);
      expect(cache.size).toEqual({ entries: 0, bytes: 0 });
      expect((await cache.answer(v1, 'k', k)).toString()).toBe('[k]'); // remembered from the last one: kept
      expect(k.calls).toBe(4);
      expect(cache.size).toEqual({ entries: 1, bytes: 3 });
      expect(cache.hits).toBe(0);
    });

    it('still admits a key asked again within seenLimit - 1 other misses', async () => {
      const v1 = view(1);
      const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
      const k = counted('[k]');
      await cache.answer(v1, 'k', k);
      await askDistinct(cache, v1, 'other', 1023);
      expect(cache.size.entries).toBe(0);
      await cache.answer(v1, 'k', k);
      expect(cache.size).toEqual({ entries: 1, bytes: 3 });
      expect((await cache.answer(v1, 'k', k)).toString()).toBe('[k]');
      expect(k.calls).toBe(2);
      expect(cache.hits).toBe(1);
    });

    it('remembers more keys for a larger cache, up to 65536', async () => {
      const v1 = view(1);
      for (const maxBytes of [3000 * 8192, 2 ** 40]) {
        const limit = seenLimitOf(maxBytes);
        expect(limit).toBe(maxBytes === 2 ** 40 ? 65_536 : 3000);
        const remembered = new AnswerCache(new FakeStore(v1), maxBytes);
        await remembered.answer(v1, 'k', counted('[k]'));
        await askDistinct(remembered, v1, 'other', limit - 1);
        await remembered.answer(v1, 'k', counted('[k]'));
        expect(remembered.size).toEqual({ entries: 1, bytes: 3 });
        const forgotten = new AnswerCache(new FakeStore(v1), maxBytes);
        await forgotten.answer(v1, 'k', counted('[k]'));
        await askDistinct(forgotten, v1, 'other', limit);
        await forgotten.answer(v1, 'k', counted('[k]'));
        expect(forgotten.size).toEqual({ entries: 0, bytes: 0 });
      }
    });

    it('does not count hits as misses that push remembered keys out', async () => {
      const v1 = view(1);
      const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
      const hot = counted('[hot]');
      await cache.answer(v1, 'hot', hot);
      await cache.answer(v1, 'hot', hot);
      const k = counted('[k]');
      await cache.answer(v1, 'k', k);
      for (let i = 0; i < 3000; i++) await cache.answer(v1, 'hot', hot);
      expect(hot.calls).toBe(2);
      await cache.answer(v1, 'k', k);
      expect(k.calls).toBe(2);
      expect(cache.size).toEqual({ entries: 2, bytes: 8 });
    });

    it('forgets the remembered keys when the store serves a new snapshot', async () => {
      const v1 = view(1);
      const v2 = view(2);
      const store = new FakeStore(v1);
      const cache = new AnswerCache(store, 1 << 20);
      await cache.answer(v1, 'k', async () => Buffer.from('old'));
      store.view = v2;
      const fresh = counted('new');
      expect((await cache.answer(v2, 'k', fresh)).toString()).toBe('new'); // a first miss on v2: not kept
      expect(fresh.calls).toBe(1);
      expect(cache.size).toEqual({ entries: 0, bytes: 0 });
      expect((await cache.answer(v2, 'k', fresh)).toString()).toBe('new'); // the second on v2: kept
      expect(fresh.calls).toBe(2);
      expect(cache.size).toEqual({ entries: 1, bytes: 3 });
      expect((await cache.answer(v2, 'k', fresh)).toString()).toBe('new');
      expect(fresh.calls).toBe(2);
      expect([cache.hits, cache.misses]).toEqual([1, 3]);
    });
  });
});
