// Right to erasure: after delete-user, every v1 answer equals the oracle's over the CSV without that user,
// only the files holding the user were rewritten, and the rows leave the disk once older snapshots go.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedStore } from '../../src/backends/embedded/embedded-store.js';
import { ingest } from '../../src/etl/ingest.js';
import { type Engine, openEngine, sqlString } from '../../src/lake/engine.js';
import { deleteUser } from '../../src/lake/erasure.js';
import { readCurrentSnapshot } from '../../src/lake/lake-state.js';
import { LakeLayout } from '../../src/lake/layout.js';
import { vacuum } from '../../src/lake/vacuum.js';
import { generateTransactionsFile, heaviestUserId } from '../../src/sample/generator.js';
import { buildApp } from '../../src/server/app.js';
import { type OracleRow, oracleIngest, V1Oracle } from '../helpers/oracle.js';

let dir: string;
let layout: LakeLayout;
let rows: OracleRow[];
let engine: Engine;
let store: EmbeddedStore;
let app: FastifyInstance;
const sample = { rows: 3000, seed: 11, users: 60 };
const victim = BigInt(heaviestUserId(sample));

async function userRowsOnDisk(): Promise<number> {
  const files = (await fs.readdir(layout.root, { recursive: true })).filter(
    (f) => String(f).endsWith('.parquet') && String(f).startsWith('transaction_type='),
  );
  const list = files.map((f) => sqlString(path.join(layout.root, String(f)))).join(', ');
  const [row] = await engine.rows<{ n: bigint }>(
    `SELECT count(*) AS n FROM read_parquet([${list}], hive_partitioning = false) WHERE user_id = ${victim}`,
  );
  return Number(row?.n);
}

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-erasure-'));
  layout = new LakeLayout(path.join(dir, 'lake'));
  const csv = path.join(dir, 'sample.csv');
  await generateTransactionsFile(sample, csv);
  rows = oracleIngest(await fs.readFile(csv, 'utf8')).rows;
  await ingest({
    lake: layout.root,
    files: [csv],
    mode: 'append',
    maxRejectRate: 0,
    partitionBy: 'transaction_type,month',
    force: false,
  });
  engine = await openEngine({ threads: 2 });
  store = await EmbeddedStore.open({ lake: layout.root });
  app = await buildApp({ store, version: 'test' });
});
afterAll(async () => {
  await app.close();
  await store.close();
  engine.close();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('delete-user', () => {
  it('erases every row of the user in a new snapshot, rewriting only the files that held them', async () => {
    const before = await readCurrentSnapshot(layout);
    const expectedErased = rows.filter((r) => r.userId === victim).length;
    expect(expectedErased).toBeGreaterThan(10);
    const result = await deleteUser(layout, victim, engine);
    expect(result.rowsErased).toBe(expectedErased);
    const after = await readCurrentSnapshot(layout);
    expect(after).toMatchObject({
      id: 2,
      parent: 1,
      operation: 'delete-user',
      erased_user: String(victim),
      rows: 3000 - expectedErased,
    });
    const kept = (after?.files ?? []).filter((f) => before?.files.some((b) => b.path === f.path));
    expect(kept.length).toBe((before?.files.length ?? 0) - result.filesRewritten);
    expect(result.filesRewritten).toBeLessThan(before?.files.length ?? 0);
  });

  it('answers every user and every code like the oracle without that user', async () => {
    expect(await store.refresh()).toBe(true);
    const oracle = new V1Oracle(rows.filter((r) => r.userId !== victim));
    const everyone = new V1Oracle(rows);
    for (const user of everyone.userIds()) {
      const answer = await app.inject(`/api/v1/data/transactions/${user}`);
      expect(answer.body, `user ${user}`).toBe(oracle.transactionsBody(user));
    }
    for (const code of everyone.codes()) {
      const answer = await app.inject(`/api/v1/data/netAmount/${code}`);
      expect(answer.body, `code ${code}`).toBe(oracle.netAmountBody(code));
    }
    expect((await app.inject(`/api/v1/data/transactions/${victim}`)).body).toBe('[]');
  });

  it('leaves the rows in older snapshots until they are vacuumed', async () => {
    expect(await userRowsOnDisk()).toBeGreaterThan(0);
    await vacuum(layout, 0);
    expect(await userRowsOnDisk()).toBe(0);
  });

  it('does nothing for a user without rows', async () => {
    const result = await deleteUser(layout, 424242n, engine);
    expect(result).toMatchObject({ rowsErased: 0, snapshot: null });
  });
});
