// API v2 over the lake's edges: a retained snapshot whose file is damaged is never served by time travel
// (503 problem, the current snapshot unaffected, answered again once the file is restored), and daily sums
// written before they counted purchases and returns still answer exact counts.

import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dailySumsRelation } from '../../src/lake/daily-sums.js';
import { openEngine, sqlString } from '../../src/lake/engine.js';
import { LakeLayout } from '../../src/lake/layout.js';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { flipBytes } from '../helpers/damage.js';
import { oracleIngest, V2Oracle } from '../helpers/oracle.js';
import { httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, currentSnapshot, ingest, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let dir = '';
let lake = '';
let server: RunningServer;
let firstId = 0;
let firstFiles: string[] = [];
let secondText = '';

beforeAll(async () => {
  assertBuilt();
  dir = temp.make();
  lake = path.join(dir, 'lake');
  writeCsvFile(path.join(dir, 'first.csv'), csvText(randomTransactions({ seed: 41, rows: 600, users: 50 })));
  secondText = csvText(randomTransactions({ seed: 42, rows: 300, users: 40 }));
  writeCsvFile(path.join(dir, 'second.csv'), secondText);
  firstId = (await ingest([path.join(dir, 'first.csv')], lake)).summary.snapshot;
  firstFiles = (await currentSnapshot(lake))?.files ?? [];
  // A replace: the first snapshot's files are its own, retained for time travel.
  await ingest([path.join(dir, 'second.csv')], lake, ['--mode', 'replace']);
  server = await startServer(lake);
});

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

describe('API v2 and the lake', () => {
  it('a damaged retained snapshot is refused by time travel (503 problem) until its file is restored', async () => {
    const url = `/api/v2/merchant-types/5411/daily-net?snapshot=${firstId}`;
    const user = new V2Oracle(oracleIngest(secondText).rows).userIds()[0] as bigint;
    const before = await httpGet(server.port, url);
    expect(before.status).toBe(200);
    const file = path.join(lake, firstFiles[0] as string);
    copyFileSync(file, path.join(dir, 'backup.parquet'));
    await flipBytes(file);
    // A time-travel lookup reads the files: the changed one is hashed again and refused.
    const damaged = await httpGet(server.port, `/api/v2/users/${user}/transactions?snapshot=${firstId}`);
    expect(damaged.status).toBe(503);
    expect(damaged.headers['content-type']).toBe('application/problem+json');
    expect(damaged.headers['retry-after']).toBe('1');
    expect(JSON.parse(damaged.body)).toMatchObject({ status: 503, title: 'Service Unavailable' });
    expect(damaged.body).not.toContain(lake);
    // The current snapshot does not use the file and keeps answering.
    expect((await httpGet(server.port, `/api/v2/users/${user}/transactions`)).status).toBe(200);
    copyFileSync(path.join(dir, 'backup.parquet'), file);
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a damaged view verifies again at most once a second
    const restored = await httpGet(server.port, `/api/v2/users/${user}/transactions?snapshot=${firstId}`);
    expect(restored.status, restored.body).toBe(200);
  });

  it('daily sums written before the counts answer the counts of the rows themselves', async () => {
    const layout = new LakeLayout(lake);
    const engine = await openEngine();
    try {
      const snapshot = await currentSnapshot(lake);
      if (!snapshot) throw new Error('no snapshot');
      const manifest = JSON.parse(
        (await import('node:fs')).readFileSync(layout.manifestPath(snapshot.id), 'utf8'),
      ) as import('../../src/lake/manifest.js').SnapshotManifest;
      // The first format: the same sums, and only the total of rows.
      const legacy = path.join(dir, 'legacy-daily-sums.parquet');
      await engine.run(
        `COPY (SELECT merchant_type_code, day, purchase_cents, return_cents, rows
           FROM read_parquet(${sqlString(layout.resolve(manifest.daily_sums.path))}))
         TO ${sqlString(legacy)} (FORMAT parquet)`,
      );
      const read = async (dailySums: typeof manifest.daily_sums) =>
        engine.rows<{ code: number; day: string; p: string; r: string; np: string; nr: string }>(
          `SELECT merchant_type_code AS code, day::VARCHAR AS day, purchase_cents::VARCHAR AS p,
             return_cents::VARCHAR AS r, purchases::VARCHAR AS np, returns::VARCHAR AS nr
           FROM ${await dailySumsRelation(engine, layout, { ...manifest, daily_sums: dailySums })} ORDER BY ALL`,
        );
      const current = await read(manifest.daily_sums);
      const fromLegacy = await read({ ...manifest.daily_sums, path: path.relative(lake, legacy) });
      expect(fromLegacy).toEqual(current);
      const oracle = new V2Oracle(oracleIngest(secondText).rows);
      const expected = oracle.codes().flatMap((code) =>
        oracle.dailyNet(code).map((entry) => {
          const e = JSON.parse(entry) as Record<string, number | string>;
          return {
            code,
            day: e.date,
            p: String(e.purchases_cents),
            r: String(e.returns_cents),
            np: String(e.purchases),
            nr: String(e.returns),
          };
        }),
      );
      expect(current).toEqual(expected);
    } finally {
      engine.close();
    }
  });
});
