// The ClickHouse serve benchmark (issue 10 §4): `txlake serve --backend clickhouse` against ClickHouse's own
// HTTP interface answering the equivalent queries, on the same cluster, same keys, same load generator, in
// the same run. The cluster is a local one started for the run (two clickhouse-server shards on
// 127.0.0.1, bench/clickhouse-cluster.ts), or the one TXLAKE_CLICKHOUSE_URL/_CLUSTER name.
//
//   clickhouse-direct  GET http://node:8123/?query=… (the user lookup txlake sends, as JSONEachRow)
//   txlake-cold        serve --backend clickhouse --answer-cache 0 (every request a ClickHouse query)
//   txlake             serve --backend clickhouse (answer cache per snapshot; hot keys: 100 users)

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { ClickHouseCluster } from './clickhouse-cluster.js';
import { packageRoot, withWorkDirectory } from './measure.js';
import {
  freePort,
  generateAndIngest,
  type LoadResult,
  load,
  sampleKeys,
  stopServer,
  waitFor,
} from './serve.js';

export interface ClickHouseServeBenchOptions {
  rows: number;
  seed: number;
  seconds: number;
  connections: number;
  dir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface ClickHouseRun {
  name: string;
  keys: 'cold' | 'hot';
  load: LoadResult;
  /** requests/s over clickhouse-direct's on the same keys. */
  ratio: number;
}

export interface ClickHouseServeBenchResult {
  bench: 'serve-clickhouse';
  rows: number;
  shards: number;
  connections: number;
  seconds_per_run: number;
  /** Seconds of `txlake ingest` with ClickHouse configured: the lake commit and the copy to the cluster. */
  ingest_and_sync_seconds: number;
  /** ClickHouse's bytes on disk for the rows (every node's active parts of transactions_local), per row. */
  clickhouse_bytes_per_row: number | null;
  runs: ClickHouseRun[];
}

function startTxlake(root: string, port: number, env: NodeJS.ProcessEnv, args: string[]): ChildProcess {
  return spawn(
    path.join(root, 'bin', 'txlake'),
    ['serve', '--backend', 'clickhouse', '--port', String(port), '--log-level', 'warn', ...args],
    { cwd: root, stdio: 'ignore', env: { ...process.env, ...env } },
  );
}

export async function runClickHouseServeBench(
  options: ClickHouseServeBenchOptions,
): Promise<ClickHouseServeBenchResult> {
  const log = options.log ?? (() => {});
  const root = packageRoot();
  return withWorkDirectory('txlake-bench-clickhouse-', options, async (work) => {
    const given = process.env.TXLAKE_CLICKHOUSE_URL && process.env.TXLAKE_CLICKHOUSE_CLUSTER;
    log(given ? 'using the cluster of TXLAKE_CLICKHOUSE_URL' : 'starting a local 2-shard ClickHouse cluster');
    const cluster = given ? null : await ClickHouseCluster.start({ shards: 2 });
    const env: NodeJS.ProcessEnv = cluster
      ? { ...cluster.env, TXLAKE_CLICKHOUSE_DATABASE: 'txlake_bench' }
      : { TXLAKE_CLICKHOUSE_DATABASE: process.env.TXLAKE_CLICKHOUSE_DATABASE ?? 'txlake_bench' };
    const entry = (cluster?.urls[0] ?? process.env.TXLAKE_CLICKHOUSE_URL?.split(',')[0]) as string;
    const children: ChildProcess[] = [];
    try {
      const { lake, ingest } = await generateAndIngest(work, options, log, env);
      const keys = await sampleKeys(lake);
      const hotUsers = keys.users.slice(0, 100);
      const db = env.TXLAKE_CLICKHOUSE_DATABASE as string;
      const served = await (
        await fetch(
          `${entry}/?query=${encodeURIComponent(`SELECT snapshot FROM ${db}.served ORDER BY seq DESC LIMIT 1`)}`,
        )
      ).text();
      const snapshot = Number(served.trim());
      // The same statement txlake's reader sends, answered as JSON rows a client can read.
      const directPath = (user: string) =>
        `/?query=${encodeURIComponent(
          `SELECT transaction_type, merchant_type_code, amount_cents, epoch_us FROM ${db}.transactions
           WHERE user_id = ${user} AND file_key IN (SELECT file_key FROM ${db}.snapshot_files WHERE snapshot = ${snapshot})
           ORDER BY epoch_us, transaction_type, merchant_type_code, amount_cents FORMAT JSONEachRow`,
        )}`;
      const entryPort = Number(new URL(entry).port);
      let diskBytes = 0;
      for (const url of cluster?.urls ?? (process.env.TXLAKE_CLICKHOUSE_URL ?? '').split(',')) {
        const sql = `SELECT sum(bytes_on_disk) FROM system.parts WHERE database = '${db}' AND table = 'transactions_local' AND active`;
        diskBytes += Number((await (await fetch(`${url}/?query=${encodeURIComponent(sql)}`)).text()).trim());
      }
      const runs: ClickHouseRun[] = [];
      const direct: Record<'cold' | 'hot', LoadResult> = {
        cold: { requests_per_second: 0, p50_ms: 0, p99_ms: 0, errors: 0, non_2xx: 0 },
        hot: { requests_per_second: 0, p50_ms: 0, p99_ms: 0, errors: 0, non_2xx: 0 },
      };
      // ClickHouse's own caches (marks, pages) warm on the first queries after a load: a discarded run
      // first, so that whichever is measured first is not measured cold.
      log('warming ClickHouse up, 3 s (not reported)');
      await load(entryPort, keys.users.slice(-1000).map(directPath), 3, options.connections);
      for (const kind of ['cold', 'hot'] as const) {
        const users = kind === 'cold' ? keys.users : hotUsers;
        log(`clickhouse-direct, ${kind} keys, ${options.seconds} s`);
        direct[kind] = await load(entryPort, users.map(directPath), options.seconds, options.connections);
        runs.push({ name: 'clickhouse-direct', keys: kind, load: direct[kind], ratio: 1 });
      }
      for (const variant of [
        { name: 'txlake-cold-cache-off', args: ['--answer-cache', '0'] },
        { name: 'txlake', args: [] },
      ]) {
        const port = await freePort();
        const server = startTxlake(root, port, env, variant.args);
        children.push(server);
        await waitFor(`http://127.0.0.1:${port}/readyz`, 60_000);
        for (const kind of ['cold', 'hot'] as const) {
          const users = kind === 'cold' ? keys.users : hotUsers;
          log(`${variant.name}, ${kind} keys, ${options.seconds} s`);
          const result = await load(
            port,
            users.map((u) => `/api/v1/data/transactions/${u}`),
            options.seconds,
            options.connections,
          );
          runs.push({
            name: variant.name,
            keys: kind,
            load: result,
            ratio:
              Math.round(
                (1000 * result.requests_per_second) / Math.max(1, direct[kind].requests_per_second),
              ) / 1000,
          });
        }
        await stopServer(server);
      }
      return {
        bench: 'serve-clickhouse',
        rows: options.rows,
        shards: cluster?.nodes.length ?? (process.env.TXLAKE_CLICKHOUSE_URL?.split(',').length as number),
        connections: options.connections,
        seconds_per_run: options.seconds,
        ingest_and_sync_seconds: Math.round(ingest.seconds * 1000) / 1000,
        clickhouse_bytes_per_row: Number.isFinite(diskBytes)
          ? Math.round((10 * diskBytes) / options.rows) / 10
          : null,
        runs,
      };
    } finally {
      for (const child of children) child.kill('SIGTERM');
      await cluster?.stop();
    }
  });
}

export function formatClickHouseServeReport(result: ClickHouseServeBenchResult): string {
  const lines = [
    `serve benchmark on ClickHouse: ${result.rows.toLocaleString('en-US')} rows on ${result.shards} shards, ` +
      `${result.connections} connections, ${result.seconds_per_run} s per run, autocannon on 127.0.0.1`,
    `  ingest + copy to ClickHouse: ${result.ingest_and_sync_seconds} s; ClickHouse disk: ${result.clickhouse_bytes_per_row ?? 'n/a'} bytes/row`,
    `  ${'server, keys'.padEnd(34)}  ${'req/s'.padStart(8)}  ${'p50 ms'.padStart(6)}  ${'p99 ms'.padStart(6)}  ${'errors'.padStart(6)}  ratio to clickhouse-direct`,
  ];
  for (const run of result.runs)
    lines.push(
      `  ${`${run.name}, ${run.keys}`.padEnd(34)}  ${String(run.load.requests_per_second).padStart(8)}  ` +
        `${String(run.load.p50_ms).padStart(6)}  ${String(run.load.p99_ms).padStart(6)}  ` +
        `${String(run.load.errors + run.load.non_2xx).padStart(6)}  ${run.ratio.toFixed(3)}`,
    );
  lines.push('  target: txlake ≥ 1.0× clickhouse-direct on cold keys; hot keys much faster (answer cache)');
  return `${lines.join('\n')}\n`;
}
