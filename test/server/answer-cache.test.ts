// The per-snapshot answer cache on its own: hits and misses, least-recently-used eviction by bytes, a new
// snapshot empties it, a request still on an older snapshot never reads or fills it, 0 turns it off, and a
// body too large to be worth keeping is not kept. The store and views are bare stand-ins (inputs only).

import { describe, expect, it } from 'vitest';
import type { SnapshotView, TransactionStore } from '../../src/backends/store.js';
import { toTransactionColumns } from '../../src/domain/v1-json.js';
import { AnswerCache } from '../../src/server/answer-cache.js';

function view(id: number): SnapshotView {
  return {
    id,
    created: '2026-01-01T00:00:00.000Z',
    rows: 0,
    lookup: { kind: 'memory', indexBytes: 0, loadMs: 0 },
    transactionsOfUser: async (userId) => toTransactionColumns(userId, []),
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
  async refresh(): Promise<boolean> {
    return false;
  }
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

describe('AnswerCache', () => {
  it('computes a key once, then answers it from memory with the same bytes', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const a = counted('[{"a":1}]');
    expect((await cache.answer(v1, 'u1', a)).toString()).toBe('[{"a":1}]');
    expect((await cache.answer(v1, 'u1', a)).toString()).toBe('[{"a":1}]');
    expect((await cache.answer(v1, 'u1', a)).toString()).toBe('[{"a":1}]');
    expect(a.calls).toBe(1);
    expect([cache.hits, cache.misses]).toEqual([2, 1]);
    const b = counted('[]');
    expect((await cache.answer(v1, 'u2', b)).toString()).toBe('[]');
    expect(b.calls).toBe(1);
    expect(cache.size).toEqual({ entries: 2, bytes: '[{"a":1}]'.length + 2 });
  });

  it('keeps its own copy: a body that is a window on a reused scratch buffer stays intact', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const scratch = Buffer.from('xx[1,2,3]yy');
    await cache.answer(v1, 'k', async () => scratch.subarray(2, 9));
    scratch.fill(0x30);
    const again = await cache.answer(v1, 'k', async () => Buffer.from('recomputed'));
    expect(again.toString()).toBe('[1,2,3]');
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
    for (const key of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) await ask(key);
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('a'); // a hit: 'a' becomes the most recently used, 'b' the least
    await ask('i'); // 900 bytes: the oldest, 'b', goes
    expect(cache.size).toEqual({ entries: 8, bytes: 800 });
    await ask('a');
    await ask('c'); // still there
    expect(computes.get('a')?.calls).toBe(1);
    expect(computes.get('c')?.calls).toBe(1);
    await ask('b'); // evicted: computed again, and now 'd' (least recently used) goes
    expect(computes.get('b')?.calls).toBe(2);
    await ask('d');
    expect(computes.get('d')?.calls).toBe(2);
    expect(cache.size.bytes).toBeLessThanOrEqual(800);
  });

  it('empties itself when the store serves a new snapshot', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    await cache.answer(v1, 'u1', async () => Buffer.from('old'));
    await cache.answer(v1, 'u2', async () => Buffer.from('old2'));
    store.view = v2;
    const fresh = counted('new');
    expect((await cache.answer(v2, 'u1', fresh)).toString()).toBe('new');
    expect(fresh.calls).toBe(1);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v2, 'u1', fresh)).toString()).toBe('new');
    expect(fresh.calls).toBe(1);
  });

  it('never answers a request on an older snapshot from the newer cache, nor fills it', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    await cache.answer(v1, 'u1', async () => Buffer.from('one'));
    store.view = v2;
    await cache.answer(v2, 'u1', async () => Buffer.from('two'));
    const older = counted('one again');
    expect((await cache.answer(v1, 'u1', older)).toString()).toBe('one again');
    expect((await cache.answer(v1, 'u1', older)).toString()).toBe('one again');
    expect(older.calls).toBe(2);
    expect((await cache.answer(v1, 'only-old', async () => Buffer.from('x'))).toString()).toBe('x');
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v2, 'u1', async () => Buffer.from('wrong'))).toString()).toBe('two');
  });

  it('does not cache for a view the store has not made current', async () => {
    const v1 = view(1);
    const stale = view(0);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const compute = counted('stale');
    await cache.answer(stale, 'k', compute);
    await cache.answer(stale, 'k', compute);
    expect(compute.calls).toBe(2);
    expect((await cache.answer(v1, 'k', async () => Buffer.from('current'))).toString()).toBe('current');
  });

  it('does not keep an answer whose snapshot was swapped out while it was computed', async () => {
    const v1 = view(1);
    const v2 = view(2);
    const store = new FakeStore(v1);
    const cache = new AnswerCache(store, 1 << 20);
    let finish: (body: Buffer) => void = () => {};
    const slow = cache.answer(v1, 'k', () => new Promise<Buffer>((resolve) => (finish = resolve)));
    store.view = v2;
    await cache.answer(v2, 'other', async () => Buffer.from('o'));
    finish(Buffer.from('from-v1'));
    expect((await slow).toString()).toBe('from-v1');
    const compute = counted('from-v2');
    expect((await cache.answer(v2, 'k', compute)).toString()).toBe('from-v2');
    expect(compute.calls).toBe(1);
  });

  it('counts a body computed twice concurrently once', async () => {
    const v1 = view(1);
    const cache = new AnswerCache(new FakeStore(v1), 1 << 20);
    const compute = counted('[1]');
    await Promise.all([cache.answer(v1, 'k', compute), cache.answer(v1, 'k', compute)]);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
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
    const huge = counted('[', 5000);
    const larger = counted('[', 1001);
    for (let i = 0; i < 2; i++) {
      expect((await cache.answer(v1, 'huge', huge)).length).toBe(5000);
      expect((await cache.answer(v1, 'larger', larger)).length).toBe(1001);
    }
    expect(huge.calls).toBe(2);
    expect(larger.calls).toBe(2);
    expect(cache.size).toEqual({ entries: 1, bytes: 3 });
    expect((await cache.answer(v1, 'small', async () => Buffer.from('x'))).toString()).toBe('[1]');
  });
});
