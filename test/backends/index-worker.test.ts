// The index built in a worker thread (what large snapshots get) answers exactly what the Parquet lookups
// and the in-thread build answer, and a later load (a swap, one DuckDB thread) does too.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import type { SnapshotView } from '../../src/backends/store.js';
import { v1TransactionsJson } from '../../src/server/api/v1/json.js';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { oracleIngest } from '../helpers/oracle.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, ingest, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let lake = '';
let userIds: bigint[] = [];

async function bodies(store: EmbeddedStore): Promise<{ view: SnapshotView; bodies: string[] }> {
  await store.refresh();
  const view = store.current();
  if (view === null) throw new Error('no snapshot loaded');
  const out: string[] = [];
  for (const id of userIds)
    out.push(v1TransactionsJson(await view.transactionsOfUser(id)).toString('latin1'));
  return { view, bodies: out };
}

beforeAll(async () => {
  assertBuilt(); // the worker runs the compiled script under dist/
  const dir = temp.make();
  lake = path.join(dir, 'lake');
  const text = csvText([
    ...randomTransactions({ seed: 5, rows: 4000, users: 300 }),
    ...cornerCaseTransactions(),
  ]);
  writeCsvFile(path.join(dir, 'a.csv'), text);
  await ingest([path.join(dir, 'a.csv')], lake);
  userIds = [...new Set(oracleIngest(text).rows.map((r) => r.userId)), 2n, 9_223_372_036_854_775_807n];
});

afterAll(() => temp.cleanup());

/** The pid of a process that has just exited (so no process runs under it, barring reuse). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('the index built in a worker thread', () => {
  it('removes the spill directories left by processes that no longer run, and only those', async () => {
    const dead = path.join(os.tmpdir(), `txlake-index-${deadPid()}-left`);
    const live = path.join(os.tmpdir(), `txlake-index-${process.pid}-inuse`);
    mkdirSync(path.join(dead, 'spill'), { recursive: true });
    mkdirSync(live, { recursive: true });
    const store = await EmbeddedStore.open({ lake, indexInWorkerFromRows: 1 });
    try {
      await store.refresh();
      expect(store.current()?.lookup.kind).toBe('memory');
      expect(existsSync(dead)).toBe(false);
      expect(existsSync(live)).toBe(true);
    } finally {
      await store.close();
      rmSync(live, { recursive: true, force: true });
      rmSync(dead, { recursive: true, force: true });
    }
  });

  it('answers every user exactly as Parquet lookups and the in-thread build do, first load and swap', async () => {
    const inWorker = await EmbeddedStore.open({ lake, indexInWorkerFromRows: 1 });
    const inThread = await EmbeddedStore.open({ lake });
    const parquet = await EmbeddedStore.open({ lake, userLookup: 'parquet' });
    try {
      const worker = await bodies(inWorker);
      const thread = await bodies(inThread);
      const reference = await bodies(parquet);
      expect(worker.view.lookup.kind).toBe('memory');
      expect(worker.view.lookup.indexBytes).toBeGreaterThan(0);
      expect(reference.view.lookup.kind).toBe('parquet');
      expect(worker.bodies).toEqual(reference.bodies);
      expect(thread.bodies).toEqual(reference.bodies);
      expect(worker.bodies.filter((b) => b !== '[]').length).toBeGreaterThan(300);

      // A second snapshot: the worker store's next load is a swap (one DuckDB thread).
      const dir = path.dirname(lake);
      writeCsvFile(path.join(dir, 'b.csv'), csvText(randomTransactions({ seed: 6, rows: 500, users: 300 })));
      await ingest([path.join(dir, 'b.csv')], lake);
      const swapped = await bodies(inWorker);
      const after = await bodies(parquet);
      expect(swapped.view.id).toBe(worker.view.id + 1);
      expect(swapped.bodies).toEqual(after.bodies);
      expect(swapped.bodies).not.toEqual(worker.bodies);
    } finally {
      await Promise.all([inWorker.close(), inThread.close(), parquet.close()]);
    }
  });
});
