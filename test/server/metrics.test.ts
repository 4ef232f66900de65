// GET /metrics of a real `txlake serve` over a real lake: every request counted once under its route pattern
// (never its raw path), answers attributed to the answer cache, the in-memory index or the Parquet files,
// the served snapshot's gauges following an append, the last ingest's record after each kind of outcome,
// and that record ignored by verify, repair and vacuum.

import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import {
  type Exposition,
  familiesWithSamples,
  parseExposition,
  samplesOf,
  sampleValue,
} from '../helpers/prometheus.js';
import { httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  describeRun,
  type IngestSummary,
  ingest,
  runExpecting,
  runTxlake,
  TempDirs,
} from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
const DURATION = 'txlake_http_request_duration_seconds';
const temp = new TempDirs();
let dir = '';
let lake = '';
let server: RunningServer;
let firstFile = '';
const rows = randomTransactions({ seed: 12, rows: 400, users: 40 });
/** Users and codes of the lake, each test using its own so the answer cache's state is known. */
const users = [...new Set(rows.map((r) => r.user_id))];
const codes = [...new Set(rows.map((r) => r.merchant_type_code))];

async function scrape(target: RunningServer = server): Promise<Exposition> {
  const response = await target.get('/metrics');
  expect(response.status, response.body).toBe(200);
  expect(response.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(response.body);
}

/** Request counts by `method route status`, from the histogram's `_count` series. */
function requestCounts(exposition: Exposition): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of samplesOf(exposition, `${DURATION}_count`))
    counts.set(`${s.labels.method} ${s.labels.route} ${s.labels.status}`, s.value);
  return counts;
}

function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [key, value] of after) {
    const d = value - (before.get(key) ?? 0);
    if (d !== 0) changed[key] = d;
  }
  return changed;
}

function answers(exposition: Exposition): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of samplesOf(exposition, 'txlake_answers_total'))
    out[`${s.labels.resource} ${s.labels.source}`] = s.value;
  return out;
}

function answerDelta(before: Exposition, after: Exposition): Record<string, number> {
  return delta(new Map(Object.entries(answers(before))), new Map(Object.entries(answers(after))));
}

async function request(target: RunningServer, method: string, rawPath: string): Promise<number> {
  return (await httpGet(target.port, rawPath, {}, method)).status;
}

async function waitForMetrics(what: string, ok: (e: Exposition) => boolean): Promise<Exposition> {
  const deadline = Date.now() + 2000; // the server follows a commit within 2 s (SPEC §4)
  for (;;) {
    const exposition = await scrape();
    if (ok(exposition)) return exposition;
    if (Date.now() > deadline) throw new Error(`/metrics did not show ${what} within 2 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ingestCsv(name: string, text: string, extra: string[] = [], expectedCode = 0) {
  const file = writeCsvFile(path.join(dir, name), text);
  return (await ingest([file], lake, extra, { expectedCode })).summary;
}

beforeAll(async () => {
  assertBuilt();
  dir = temp.make('txlake-metrics-');
  lake = path.join(dir, 'lake');
  firstFile = writeCsvFile(path.join(dir, 'first.csv'), csvText(rows));
  await ingest([firstFile], lake);
  server = await startServer(lake);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

describe('requests', () => {
  it('are counted exactly once each, by route pattern, method and status', async () => {
    const [u] = users as [string];
    const [c] = codes as [string];
    const before = requestCounts(await scrape());
    const made: (readonly [string, string, number])[] = [
      ...Array.from({ length: 4 }, () => ['GET', `/api/v1/data/transactions/${u}`, 200] as const),
      ...Array.from({ length: 3 }, () => ['GET', `/api/v1/data/netAmount/${c}`, 200] as const),
      ['GET', `/api/v2/users/${u}/transactions?limit=2`, 200],
      ['GET', `/api/v2/users/${u}/transactions`, 200],
      ['GET', `/api/v2/merchant-types/${c}/daily-net`, 200],
      ['GET', `/api/v2/users/${u}/export?format=csv`, 200],
      ['GET', '/api/v2/snapshots', 200],
      ['HEAD', '/healthz', 200],
      ['HEAD', '/healthz', 200],
      ['POST', '/readyz', 405],
      ['GET', '/api/v1/data/transactions/abc', 400],
      ['GET', '/api/v2/users/x/transactions', 400],
      ['GET', '/api/v1/data/transactions/%zz', 400], // refused by the router: no route matched
      ['GET', '/no/such/path', 404],
      ['DELETE', '/api/v2/nothing/here', 404],
    ];
    for (const [method, rawPath, status] of made)
      expect(await request(server, method, rawPath), `${method} ${rawPath}`).toBe(status);
    const after = requestCounts(await scrape());
    expect(delta(before, after)).toEqual({
      'GET /metrics 200': 1, // the scrape before
      'GET /api/v1/data/transactions/:userId 200': 4,
      'GET /api/v1/data/transactions/:userId 400': 1,
      'GET /api/v1/data/netAmount/:merchantTypeCode 200': 3,
      'GET /api/v2/users/:userId/transactions 200': 2,
      'GET /api/v2/users/:userId/transactions 400': 1,
      'GET /api/v2/merchant-types/:code/daily-net 200': 1,
      'GET /api/v2/users/:userId/export 200': 1,
      'GET /api/v2/snapshots 200': 1,
      'HEAD /healthz 200': 2,
      'POST /readyz 405': 1,
      'GET unmatched 400': 1,
      'GET unmatched 404': 1,
      'DELETE unmatched 404': 1,
    });
  });

  it('form histograms Prometheus can read: cumulative buckets, +Inf equal to the count, a sum of seconds', async () => {
    const exposition = await scrape();
    const counts = samplesOf(exposition, `${DURATION}_count`);
    expect(counts.length).toBeGreaterThan(5);
    expect(exposition.types.get(DURATION)).toBe('histogram');
    for (const count of counts) {
      const { route = '', method = '', status = '' } = count.labels;
      const buckets = samplesOf(exposition, `${DURATION}_bucket`, { route, method, status });
      const bounds = ['0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5'];
      expect(buckets.map((b) => b.labels.le)).toEqual([...bounds, '1', '2.5', '5', '10', '+Inf']);
      for (let i = 1; i < buckets.length; i++)
        expect(buckets[i]?.value).toBeGreaterThanOrEqual(buckets[i - 1]?.value as number);
      expect(buckets.at(-1)?.value, route).toBe(count.value);
      const sum = sampleValue(exposition, `${DURATION}_sum`, { route, method, status }) as number;
      expect(sum).toBeGreaterThanOrEqual(0);
      // Generous: no request of this test takes ten seconds, each at least a few microseconds.
      expect(sum).toBeLessThan(10 * count.value);
    }
    const v1 = sampleValue(exposition, `${DURATION}_sum`, {
      route: '/api/v1/data/transactions/:userId',
      method: 'GET',
      status: '200',
    });
    expect(v1).toBeGreaterThan(0);
  });

  it('make no series per raw path: 200 unknown paths and 200 users add no label values', async () => {
    const before = await scrape();
    const beforeCounts = requestCounts(before);
    for (let i = 0; i < 200; i++) {
      expect(await request(server, 'GET', `/nope/${i}/${'x'.repeat(i % 7)}`)).toBe(404);
      expect(await request(server, 'GET', `/api/v1/data/transactions/${900_000 + i}`)).toBe(200);
    }
    const after = await scrape();
    const changed = delta(beforeCounts, requestCounts(after));
    expect(changed).toEqual({
      'GET /metrics 200': 1,
      'GET unmatched 404': 200,
      'GET /api/v1/data/transactions/:userId 200': 200,
    });
    const routes = new Set(samplesOf(after, `${DURATION}_count`).map((s) => s.labels.route));
    for (const route of routes) expect(route === 'unmatched' || route?.startsWith('/'), route).toBe(true);
    expect([...routes].filter((r) => r?.split('/').some((segment) => /^[0-9]+$/.test(segment)))).toEqual([]);
    // Not one series more, whatever was asked.
    expect(samplesOf(after, `${DURATION}_bucket`)).toHaveLength(
      samplesOf(before, `${DURATION}_bucket`).length,
    );
  });
});

describe('answers by source', () => {
  it('count the answer cache and the in-memory index (a key is cached at its second request)', async () => {
    const u = users[1] as string;
    const c = codes[1] as string;
    const before = await scrape();
    for (let i = 0; i < 4; i++) await request(server, 'GET', `/api/v1/data/transactions/${u}`);
    for (let i = 0; i < 3; i++) await request(server, 'GET', `/api/v1/data/netAmount/${c}`);
    for (let i = 0; i < 2; i++) await request(server, 'GET', `/api/v2/users/${u}/transactions`);
    for (let i = 0; i < 3; i++) await request(server, 'GET', `/api/v2/merchant-types/${c}/daily-net`);
    await request(server, 'GET', `/api/v2/users/${u}/export?format=ndjson`);
    // No lookup at all: an id beyond INT64 is no user.
    await request(server, 'GET', '/api/v1/data/transactions/99999999999999999999999');
    const after = await scrape();
    expect(answerDelta(before, after)).toEqual({
      'transactions memory': 2 + 2 + 1, // v1's first two (a key is kept at its second miss), v2, export
      'transactions cache': 2,
      'daily_net memory': 2 + 2,
      'daily_net cache': 1 + 1,
    });
    expect(sampleValue(after, 'txlake_answer_cache_entries')).toBeGreaterThanOrEqual(3);
    expect(sampleValue(after, 'txlake_answer_cache_bytes')).toBeGreaterThan(0);
  });

  it('count Parquet lookups on a server whose users are looked up in the files', async () => {
    const parquet = await startServer(lake, {
      extraArgs: ['--user-lookup', 'parquet', '--answer-cache', '0'],
    });
    try {
      const before = await scrape(parquet);
      expect(sampleValue(before, 'txlake_snapshot_user_lookup', { kind: 'parquet' })).toBe(1);
      expect(sampleValue(before, 'txlake_snapshot_user_lookup', { kind: 'memory' })).toBe(0);
      expect(sampleValue(before, 'txlake_snapshot_index_bytes')).toBe(0);
      for (let i = 0; i < 3; i++) await request(parquet, 'GET', `/api/v1/data/transactions/${users[2]}`);
      await request(parquet, 'GET', `/api/v2/users/${users[2]}/transactions`);
      for (let i = 0; i < 2; i++) await request(parquet, 'GET', `/api/v1/data/netAmount/${codes[2]}`);
      expect(answerDelta(before, await scrape(parquet))).toEqual({
        'transactions parquet': 4,
        'daily_net memory': 2, // a snapshot's daily sums are held in memory by every view
      });
    } finally {
      await parquet.stop();
    }
  });
});

describe('the served snapshot', () => {
  it('is described (id, rows, age, index bytes, load times) and followed after an append', async () => {
    const before = await scrape();
    const id = sampleValue(before, 'txlake_snapshot_id') as number;
    expect(sampleValue(before, 'txlake_ready')).toBe(1);
    expect(sampleValue(before, 'txlake_snapshot_rows')).toBe(400);
    expect(sampleValue(before, 'txlake_snapshot_index_bytes')).toBeGreaterThan(0);
    expect(sampleValue(before, 'txlake_snapshot_user_lookup', { kind: 'memory' })).toBe(1);
    const age = sampleValue(before, 'txlake_snapshot_age_seconds') as number;
    expect(age).toBeGreaterThanOrEqual(0);
    expect(age).toBeLessThan(600);
    const loads = sampleValue(before, 'txlake_snapshot_load_duration_seconds_count') as number;
    expect(loads).toBe(1);
    expect(sampleValue(before, 'txlake_snapshot_verify_duration_seconds_count')).toBe(1);
    expect(samplesOf(before, 'txlake_build_info', { backend: 'embedded' })).toHaveLength(1);

    const more = randomTransactions({ seed: 13, rows: 50, users: 5, userOffset: 5_000_000n });
    const summary = await ingestCsv('more.csv', csvText(more));
    expect(summary.snapshot).toBe(id + 1);
    const after = await waitForMetrics(
      'the appended snapshot',
      (e) => sampleValue(e, 'txlake_snapshot_id') === id + 1,
    );
    expect(sampleValue(after, 'txlake_snapshot_rows')).toBe(450);
    expect(sampleValue(after, 'txlake_snapshot_age_seconds')).toBeLessThan(30);
    // At least the append's load (a busy machine has been seen to count one more: the follower's watch and
    // its poll fallback may both start a load of the same snapshot, the second finding it verified).
    expect(sampleValue(after, 'txlake_snapshot_load_duration_seconds_count')).toBeGreaterThanOrEqual(
      loads + 1,
    );
    expect(sampleValue(after, 'txlake_snapshot_verify_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    const loadSum = sampleValue(after, 'txlake_snapshot_load_duration_seconds_sum') as number;
    expect(loadSum).toBeGreaterThan(0);
    expect(loadSum).toBeLessThan(60);
  });
});

describe('the last ingest', () => {
  function lastIngest(e: Exposition) {
    const result = samplesOf(e, 'txlake_last_ingest_result').filter((s) => s.value === 1);
    return {
      result: result.map((s) => s.labels.result),
      read: sampleValue(e, 'txlake_last_ingest_read_rows'),
      committed: sampleValue(e, 'txlake_last_ingest_committed_rows'),
      rejected: sampleValue(e, 'txlake_last_ingest_rejected_rows'),
      finished: sampleValue(e, 'txlake_last_ingest_timestamp_seconds'),
      seconds: sampleValue(e, 'txlake_last_ingest_duration_seconds'),
    };
  }

  it('is the outcome and counts of each run: committed, unchanged, rejected, failed', async () => {
    const runs: [string, () => Promise<IngestSummary | null>, Partial<ReturnType<typeof lastIngest>>][] = [
      [
        'committed with rejects',
        () =>
          ingestCsv(
            'some-bad.csv',
            `${HEADER}\n${[1, 2, 3, 4, 5, 6, 7, 8].map((i) => `${7000 + i},PurchaseActivity,5411,${i}00,2023-05-01T10:00:00`).join('\n')}\n7100,Refund,5411,1,2023-05-01T10:00:00\n7101,PurchaseActivity,5411,-1,2023-05-01T10:00:00\n`,
            ['--max-reject-rate', '0.5'],
          ),
        { result: ['committed'], read: 10, committed: 8, rejected: 2 },
      ],
      [
        'unchanged (already committed)',
        () => ingest([firstFile], lake).then((r) => r.summary),
        { result: ['unchanged'], read: 0, committed: 0, rejected: 0 },
      ],
      [
        'rejected (too many rejects)',
        () =>
          ingestCsv(
            'mostly-bad.csv',
            `${HEADER}\n8001,PurchaseActivity,5411,100,2023-05-01T10:00:00\n8002,Refund,5411,1,2023-05-01T10:00:00\n8003,x,1,1,2023\n`,
            [],
            3,
          ),
        { result: ['rejected'], read: 3, committed: 0, rejected: 2 },
      ],
      [
        'failed (not a transactions file)',
        async () => {
          const file = writeCsvFile(path.join(dir, 'not-csv.csv'), 'name,age\nx,1\n');
          const result = await runTxlake(['ingest', file, '--lake', lake]);
          expect(result.code, describeRun(['ingest'], result)).toBe(2);
          return null;
        },
        { result: ['failed'], read: undefined, committed: 0, rejected: undefined },
      ],
    ];
    for (const [name, run, expected] of runs) {
      const started = Date.now() / 1000;
      const summary = await run();
      if (summary)
        expect(
          { read: summary.rows_read, committed: summary.rows_committed, rejected: summary.rows_rejected },
          name,
        ).toEqual({ read: expected.read, committed: expected.committed, rejected: expected.rejected });
      const seen = lastIngest(await scrape());
      expect(seen, name).toMatchObject(expected);
      expect(seen.finished, name).toBeGreaterThanOrEqual(Math.floor(started) - 1);
      expect(seen.finished, name).toBeLessThanOrEqual(Date.now() / 1000 + 1);
      expect(seen.seconds, name).toBeGreaterThanOrEqual(0);
    }
    // A usage error is no run: the record stays the failed one.
    const before = lastIngest(await scrape());
    const usage = await runTxlake([
      'ingest',
      firstFile,
      firstFile,
      '--lake',
      lake,
      '--rejects',
      path.join(dir, 'r.csv'),
    ]);
    expect(usage.code).toBe(2);
    expect(lastIngest(await scrape())).toEqual(before);
  });

  it('is ignored by verify, repair and vacuum; a damaged one is left out of /metrics, never a 5xx', async () => {
    const record = path.join(lake, '_txlake', 'last-ingest.json');
    const kept = await fs.readFile(record, 'utf8');
    expect(JSON.parse(kept)).toMatchObject({ format: 'txlake.last-ingest/1', result: 'failed' });
    await runExpecting(['verify', '--lake', lake], 0);
    const repair = await runExpecting(['repair', '--lake', lake], 0);
    expect(repair.stdout).not.toMatch(/last-ingest/);
    const vacuum = await runExpecting(['vacuum', '--retain', '0', '--lake', lake], 0);
    expect(`${vacuum.stdout}${vacuum.stderr}`).not.toMatch(/last-ingest/);
    expect(await fs.readFile(record, 'utf8')).toBe(kept);

    await fs.writeFile(record, '{"format":"txlake.last-ingest/1","result":"maybe"');
    const damaged = await scrape();
    expect(familiesWithSamples(damaged).has('txlake_last_ingest_result')).toBe(false);
    expect(familiesWithSamples(damaged).has('txlake_snapshot_id')).toBe(true);
    // The warning reaches the server's stdout through a pipe: allow it a moment.
    for (
      let waited = 0;
      waited < 2_000 && !server.stdout().includes('last-ingest.json is not a record');
      waited += 50
    )
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.stdout()).toContain('_txlake/last-ingest.json is not a record txlake wrote');
    await fs.rm(record);
    expect(familiesWithSamples(await scrape()).has('txlake_last_ingest_read_rows')).toBe(false);
    await fs.writeFile(record, kept);
    expect(sampleValue(await scrape(), 'txlake_last_ingest_result', { result: 'failed' })).toBe(1);
  });
});
