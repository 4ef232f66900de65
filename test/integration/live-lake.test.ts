// The server follows the lake under continuous load: append, erase, roll back, replace and a crashed writer
// happen while clients keep asking. Zero requests may fail, every answer must come from exactly one
// snapshot (a batch of N rows for one user shows 0 or N of them, never part), and a commit must be visible
// within 2 s.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTransactionsFile } from '../../src/sample/generator.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
const BATCH_USER = 777_777;
const BATCH_ROWS = 25;
let dir: string;
let lake: string;
let baseCsv: string;
let batchCsv: string;
let server: RunningServer;

interface LoadReport {
  requests: number;
  failures: string[];
  batchCounts: Set<number>;
}

/** Clients asking without pause until `stop` resolves; bounded by the test's own duration. */
function runLoad(stop: Promise<void>, clients = 4): Promise<LoadReport> {
  const report: LoadReport = { requests: 0, failures: [], batchCounts: new Set() };
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const paths = [
    `/api/v1/data/transactions/${BATCH_USER}`,
    '/api/v1/data/netAmount/5411',
    '/api/v1/data/netAmount/5732',
  ];
  const client = async (offset: number) => {
    for (let i = offset; !stopped && report.requests < 200_000; i++) {
      const target = paths[i % paths.length] as string;
      try {
        const response = await server.get(target);
        report.requests++;
        if (response.status !== 200)
          report.failures.push(`${target} → ${response.status} ${response.body.slice(0, 100)}`);
        const body = JSON.parse(response.body) as unknown[];
        if (target.includes('transactions')) report.batchCounts.add(body.length);
      } catch (error) {
        report.failures.push(`${target} → ${String(error)}`);
      }
    }
  };
  return Promise.all(Array.from({ length: clients }, (_, k) => client(k))).then(() => report);
}

/** Milliseconds until the batch user's answer has `rows` rows (fails after 5 s). */
async function visibleAfter(rows: number, since: number): Promise<number> {
  for (;;) {
    const response = await server.get(`/api/v1/data/transactions/${BATCH_USER}`);
    if ((JSON.parse(response.body) as unknown[]).length === rows) return Date.now() - since;
    if (Date.now() - since > 5000) throw new Error(`the batch user never showed ${rows} rows`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function txlake(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = await runTxlake([...args, '--lake', lake], { env });
  return result;
}

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-live-'));
  lake = path.join(dir, 'lake');
  baseCsv = path.join(dir, 'base.csv');
  await generateTransactionsFile({ rows: 20_000, seed: 21, users: 400 }, baseCsv);
  batchCsv = path.join(dir, 'batch.csv');
  const rows = Array.from(
    { length: BATCH_ROWS },
    (_, i) =>
      `${BATCH_USER},PurchaseActivity,5411,${100 + i},2023-02-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00`,
  );
  await fs.writeFile(batchCsv, `${HEADER}\n${rows.join('\n')}\n`);
  const init = await txlake(['ingest', baseCsv]);
  expect(init.code, describeRun(['ingest'], init)).toBe(0);
  server = await startServer(lake);
});
afterAll(async () => {
  await server?.stop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('under continuous load', () => {
  it('append, erase, roll back, replace and a crashed writer: no failed request, no partial answer', async () => {
    let finish: () => void = () => {};
    const load = runLoad(
      new Promise<void>((resolve) => {
        finish = resolve;
      }),
    );
    const latencies: Record<string, number> = {};
    try {
      // Latency counts from the moment the writer has committed (its command returned).
      expect((await txlake(['ingest', batchCsv])).code).toBe(0); // snapshot 2
      latencies.append = await visibleAfter(BATCH_ROWS, Date.now());

      expect((await txlake(['delete-user', String(BATCH_USER)])).code).toBe(0); // snapshot 3
      latencies.erase = await visibleAfter(0, Date.now());

      expect((await txlake(['rollback', '2'])).code).toBe(0); // snapshot 4
      latencies.rollback = await visibleAfter(BATCH_ROWS, Date.now());

      const crashed = await txlake(['ingest', batchCsv, '--force'], {
        TXLAKE_FAULT_INJECTION: 'manifest-written',
      });
      expect(crashed.signal).toBe('SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await server.get(`/api/v1/data/transactions/${BATCH_USER}`)).body).toContain(
        `"user_id":${BATCH_USER}`,
      );

      const replace = await txlake(['ingest', baseCsv, '--mode', 'replace']); // snapshot 6 (5 was the crash's)
      expect(replace.code, describeRun(['ingest', '--mode', 'replace'], replace)).toBe(0);
      latencies.replace = await visibleAfter(0, Date.now());
    } finally {
      finish();
    }
    const report = await load;
    expect(report.failures, report.failures.slice(0, 5).join('\n')).toEqual([]);
    expect(report.requests).toBeGreaterThan(100);
    expect([...report.batchCounts].sort((a, b) => a - b)).toEqual([0, BATCH_ROWS]);
    for (const [what, ms] of Object.entries(latencies))
      expect(ms, `${what} visible after ${ms} ms`).toBeLessThanOrEqual(2000);
    expect((await txlake(['verify'])).code).toBe(0);
  });
});

describe('several servers and a bad snapshot', () => {
  it('every server process on the lake follows it; a snapshot that fails to load is logged and the last good one keeps serving', async () => {
    const second = await startServer(lake);
    try {
      const same = async () => {
        const [a, b] = await Promise.all([server.get('/readyz'), second.get('/readyz')]);
        return [JSON.parse(a.body).snapshot, JSON.parse(b.body).snapshot];
      };
      expect((await txlake(['ingest', batchCsv, '--force'])).code).toBe(0);
      const committed = Number(await fs.readFile(path.join(lake, '_txlake', 'CURRENT'), 'utf8'));
      const deadline = Date.now() + 3000;
      let snapshots = await same();
      while ((snapshots[0] !== committed || snapshots[1] !== committed) && Date.now() < deadline)
        snapshots = await same();
      expect(snapshots).toEqual([committed, committed]);
      const good = committed;

      // A damaged commit: CURRENT names a manifest that is not valid JSON.
      const metadata = path.join(lake, '_txlake');
      await fs.writeFile(
        path.join(metadata, 'snapshots', `${String(good + 1).padStart(8, '0')}.json`),
        '{ not json',
      );
      await fs.writeFile(path.join(metadata, 'CURRENT'), `${good + 1}\n`);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      for (const s of [server, second]) {
        const answer = await s.get(`/api/v1/data/transactions/${BATCH_USER}`);
        expect(answer.status).toBe(200);
        expect(answer.headers['x-txlake-snapshot']).toBe(String(good));
        expect(s.stdout()).toContain(
          `"msg":"not serving the current snapshot; still serving snapshot ${good}"`,
        );
        expect(s.stdout()).toContain(
          `names snapshot ${good + 1}, which the commit log does not list and whose manifest is damaged`,
        );
        const ready = JSON.parse((await s.get('/readyz')).body);
        expect(ready).toMatchObject({ status: 'ready', snapshot: good });
        expect(ready.problem).toMatch(
          /^_txlake\/CURRENT of the lake <lake> names snapshot [0-9]+, which the commit log does not list and whose manifest is damaged/,
        );
      }
      await fs.writeFile(path.join(metadata, 'CURRENT'), `${good}\n`); // repaired by hand: back to the good one
    } finally {
      await second.stop();
    }
  });
});
