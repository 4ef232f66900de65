// /metrics of `serve --workers 2`: whichever worker a scrape reaches (the primary hands each connection to
// the next), it answers for the whole server, every worker's requests added up; a killed worker is left out
// (and counted as such) while the port keeps answering, and its replacement is added once it runs.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { waitFor } from '../helpers/load.js';
import { type Exposition, parseExposition, sampleValue } from '../helpers/prometheus.js';
import {
  alive,
  childrenOf,
  httpGetOnNewConnection,
  type RunningServer,
  startServer,
} from '../helpers/server.js';
import { randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, ingest, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
const spawned = new Set<number>();
let lake = '';
let server: RunningServer | undefined;
const rows = randomTransactions({ seed: 21, rows: 300, users: 30 });
const USER = rows[0]?.user_id as string;
const ROUTE = { route: '/api/v1/data/transactions/:userId', method: 'GET', status: '200' };
const SCRAPES = { route: '/metrics', method: 'GET', status: '200' };

async function scrape(live: RunningServer): Promise<Exposition> {
  const response = await httpGetOnNewConnection(live.port, '/metrics');
  expect(response.status, response.body).toBe(200);
  return parseExposition(response.body);
}

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make('txlake-metrics-workers-');
  lake = path.join(dir, 'lake');
  await ingest([writeCsvFile(path.join(dir, 'data.csv'), csvText(rows))], lake);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  for (const pid of spawned) if (alive(pid)) process.kill(pid, 'SIGKILL');
  temp.cleanup();
});

describe('serve --workers 2', () => {
  it('answers /metrics for both workers, whichever gets the scrape', async () => {
    server = await startServer(lake, { extraArgs: ['--workers', '2'], readyTimeoutMs: 60_000 });
    const live = server;
    spawned.add(live.process.pid as number);
    await waitFor('two workers', () => childrenOf(live.process.pid as number).length === 2, 60_000);
    for (const pid of childrenOf(live.process.pid as number)) spawned.add(pid);
    // Both loaded the snapshot: until then a worker is not listening, and its series are not all there.
    await waitFor(
      'both workers to serve the snapshot',
      async () => sampleValue(await scrape(live), 'txlake_snapshot_load_duration_seconds_count') === 2,
      60_000,
    );

    const single = await startServer(lake); // the same lake in one process: what one worker holds
    let oneIndex: number;
    try {
      oneIndex = sampleValue(await scrape(single), 'txlake_snapshot_index_bytes') as number;
    } finally {
      await single.stop();
    }

    const before = await scrape(live);
    const requestsBefore = sampleValue(before, 'txlake_http_request_duration_seconds_count', ROUTE) ?? 0;
    const scrapesBefore = sampleValue(before, 'txlake_http_request_duration_seconds_count', SCRAPES) ?? 0;
    for (let i = 0; i < 20; i++)
      expect((await httpGetOnNewConnection(live.port, `/api/v1/data/transactions/${USER}`)).status).toBe(200);
    // Several scrapes, each on its own connection, so both workers answer some: each tells the same total.
    for (let i = 0; i < 4; i++) {
      const after = await scrape(live);
      expect(sampleValue(after, 'txlake_workers')).toBe(2);
      expect(sampleValue(after, 'txlake_workers_scraped')).toBe(2);
      expect(sampleValue(after, 'txlake_http_request_duration_seconds_count', ROUTE)).toBe(
        requestsBefore + 20,
      );
      expect(sampleValue(after, 'txlake_http_request_duration_seconds_count', SCRAPES)).toBe(
        scrapesBefore + 1 + i,
      );
      // The answer cache of each worker: of 20 requests, each worker computed its first two.
      expect(sampleValue(after, 'txlake_answers_total', { resource: 'transactions', source: 'memory' })).toBe(
        4,
      );
      expect(sampleValue(after, 'txlake_answers_total', { resource: 'transactions', source: 'cache' })).toBe(
        16,
      );
      expect(sampleValue(after, 'txlake_snapshot_id')).toBe(1);
      expect(sampleValue(after, 'txlake_snapshot_rows')).toBe(300);
      expect(sampleValue(after, 'txlake_ready')).toBe(1);
      expect(sampleValue(after, 'txlake_snapshot_index_bytes')).toBe(2 * oneIndex);
      expect(sampleValue(after, 'txlake_last_ingest_result', { result: 'committed' })).toBe(1);
      expect(sampleValue(after, 'txlake_last_ingest_read_rows')).toBe(300);
      // Process metrics add up too; the start time of a process is no sum, and is left out.
      expect(sampleValue(after, 'txlake_process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(sampleValue(after, 'txlake_process_start_time_seconds')).toBeUndefined();
    }
  });

  it('leaves a killed worker out while the port answers, and adds its replacement once it runs', async () => {
    if (!server) throw new Error('the server did not start');
    const live = server;
    const primary = live.process.pid as number;
    const [victim] = childrenOf(primary) as [number];
    process.kill(victim, 'SIGKILL');
    await waitFor('the primary to notice', () => live.stdout().includes('a worker exited'), 15_000);
    const started = Date.now();
    const during = await scrape(live);
    // Generous: a scrape never waits for a worker that cannot answer longer than the primary's 2 s.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sampleValue(during, 'txlake_workers_scraped')).toBeLessThanOrEqual(
      sampleValue(during, 'txlake_workers') as number,
    );
    expect(sampleValue(during, 'txlake_workers_scraped')).toBeGreaterThanOrEqual(1);
    await waitFor(
      'the replacement to serve',
      async () => {
        const e = await scrape(live);
        return (
          sampleValue(e, 'txlake_workers_scraped') === 2 &&
          sampleValue(e, 'txlake_snapshot_load_duration_seconds_count') === 2
        );
      },
      60_000,
    );
    for (const pid of childrenOf(primary)) spawned.add(pid);
  });
});
