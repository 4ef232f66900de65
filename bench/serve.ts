// The serve benchmark (the performance issue): v1 requests/s and latency of `txlake serve` on a generated
// lake, next to the floor measured in the same run — a bare node:http server answering every request with
// one fixed body as large as that endpoint's typical answer — under the same load generator (autocannon,
// on 127.0.0.1 only). Also the server's ready time and memory. Numbers are printed, never asserted.

import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { sqlString, withEngine } from '../src/lake/engine.js';
import { LakeLayout } from '../src/lake/layout.js';
import { readCurrentSnapshot } from '../src/lake/snapshots.js';
import { defaultUsers, generateTransactionsFile } from '../src/sample/generator.js';
import { formatBytes, measureChild, packageRoot, withWorkDirectory } from './measure.js';

export const SERVE_TARGET_RATIO = 0.5;

export interface ServeBenchOptions {
  rows: number;
  seed: number;
  /** Seconds of load per measurement. */
  seconds: number;
  connections: number;
  dir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export interface LoadResult {
  requests_per_second: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  non_2xx: number;
}

export interface EndpointResult {
  endpoint: 'transactions' | 'netAmount';
  typical_body_bytes: number;
  floor: LoadResult;
  txlake: LoadResult;
  ratio: number;
}

export interface ServeBenchResult {
  bench: 'serve';
  rows: number;
  connections: number;
  seconds_per_run: number;
  ingest_seconds: number;
  ready_seconds: number;
  rss_bytes: number | null;
  endpoints: EndpointResult[];
  target_ratio: number;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitFor(url: string, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${deadlineMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function rssBytes(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  try {
    const status = await fs.readFile(`/proc/${pid}/status`, 'latin1');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The floor: node:http answering one fixed JSON body of `bytes` bytes, in a child process of its own. */
function startFloor(port: number, bytes: number): ChildProcess {
  const script = `
    const body = Buffer.from('[' + '"x",'.repeat(Math.max(0, Math.floor((${bytes} - 2) / 4) - 1)) + '"x"]');
    require('node:http').createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
      res.end(body);
    }).listen(${port}, '127.0.0.1');`;
  return spawn(process.execPath, ['-e', script], { stdio: 'ignore' });
}

async function load(
  port: number,
  paths: string[],
  seconds: number,
  connections: number,
): Promise<LoadResult> {
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    requests: [
      {
        setupRequest: (request) => {
          request.path = paths[next++ % paths.length] as string;
          return request;
        },
      },
    ],
  });
  return {
    requests_per_second: Math.round(result.requests.average),
    p50_ms: result.latency.p50,
    p99_ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non_2xx: result.non2xx,
  };
}

/** User ids and merchant codes present in the lake, in a shuffled order (mostly cold keys for users). */
async function sampleKeys(lake: string): Promise<{ users: string[]; codes: string[] }> {
  const layout = new LakeLayout(lake);
  const manifest = await readCurrentSnapshot(layout);
  const files = (manifest?.files ?? []).map((f) => sqlString(layout.resolve(f.path))).join(', ');
  return withEngine(async (engine) => {
    const users = await engine.rows<{ id: bigint }>(
      `SELECT DISTINCT user_id AS id FROM read_parquet([${files}], hive_partitioning = false) ORDER BY hash(user_id) LIMIT 100000`,
    );
    const codes = await engine.rows<{ code: number }>(
      `SELECT DISTINCT merchant_type_code AS code FROM read_parquet([${files}], hive_partitioning = false) ORDER BY hash(code)`,
    );
    return { users: users.map((u) => String(u.id)), codes: codes.map((c) => String(c.code)) };
  });
}

async function typicalBytes(port: number, paths: string[]): Promise<number> {
  const sample = paths.slice(0, 50);
  let total = 0;
  for (const p of sample)
    total += (await (await fetch(`http://127.0.0.1:${port}${p}`)).arrayBuffer()).byteLength;
  return Math.max(2, Math.round(total / Math.max(1, sample.length)));
}

export async function runServeBench(options: ServeBenchOptions): Promise<ServeBenchResult> {
  const log = options.log ?? (() => {});
  const root = packageRoot();
  return withWorkDirectory('txlake-bench-serve-', options, async (work) => {
    const children: ChildProcess[] = [];
    try {
      const csv = path.join(work, 'transactions.csv');
      const lake = path.join(work, 'lake');
      log(`generating ${options.rows.toLocaleString('en-US')} rows`);
      await generateTransactionsFile(
        { rows: options.rows, seed: options.seed, users: defaultUsers(options.rows) },
        csv,
      );
      log('ingesting');
      const ingest = await measureChild(path.join(root, 'bin', 'txlake'), ['ingest', csv, '--lake', lake], {
        cwd: root,
      });
      if (ingest.exitCode !== 0)
        throw new Error(`txlake ingest failed: ${ingest.stderrTail.trim().split('\n').at(-1)}`);
      await fs.rm(csv, { force: true });
      const keys = await sampleKeys(lake);
      const userPaths = keys.users.map((u) => `/api/v1/data/transactions/${u}`);
      const netPaths = keys.codes.map((c) => `/api/v1/data/netAmount/${c}`);

      const port = await freePort();
      const started = performance.now();
      const server = spawn(
        path.join(root, 'bin', 'txlake'),
        ['serve', '--lake', lake, '--port', String(port), '--log-level', 'warn'],
        { cwd: root, stdio: 'ignore' },
      );
      children.push(server);
      await waitFor(`http://127.0.0.1:${port}/readyz`, 600_000);
      const readySeconds = (performance.now() - started) / 1000;
      log(`txlake ready in ${readySeconds.toFixed(2)} s`);

      const endpoints: EndpointResult[] = [];
      for (const [endpoint, paths] of [
        ['transactions', userPaths],
        ['netAmount', netPaths],
      ] as const) {
        const bytes = await typicalBytes(port, paths);
        const floorPort = await freePort();
        const floor = startFloor(floorPort, bytes);
        children.push(floor);
        await waitFor(`http://127.0.0.1:${floorPort}/`, 10_000);
        log(`${endpoint}: floor (${bytes} B bodies), ${options.seconds} s`);
        const floorResult = await load(floorPort, ['/'], options.seconds, options.connections);
        floor.kill('SIGTERM');
        log(`${endpoint}: txlake, ${options.seconds} s`);
        const txlakeResult = await load(port, paths, options.seconds, options.connections);
        endpoints.push({
          endpoint,
          typical_body_bytes: bytes,
          floor: floorResult,
          txlake: txlakeResult,
          ratio:
            Math.round(
              (1000 * txlakeResult.requests_per_second) / Math.max(1, floorResult.requests_per_second),
            ) / 1000,
        });
      }
      return {
        bench: 'serve',
        rows: options.rows,
        connections: options.connections,
        seconds_per_run: options.seconds,
        ingest_seconds: Math.round(ingest.seconds * 1000) / 1000,
        ready_seconds: Math.round(readySeconds * 1000) / 1000,
        rss_bytes: await rssBytes(server.pid),
        endpoints,
        target_ratio: SERVE_TARGET_RATIO,
      };
    } finally {
      for (const child of children) child.kill('SIGTERM');
    }
  });
}

export function formatServeReport(result: ServeBenchResult): string {
  const lines = [
    `serve benchmark: ${result.rows.toLocaleString('en-US')} rows, ${result.connections} connections, ` +
      `${result.seconds_per_run} s per run; ready in ${result.ready_seconds} s, RSS ${formatBytes(result.rss_bytes)}`,
    '  endpoint        server       req/s     p50 ms   p99 ms   errors  non-2xx',
  ];
  for (const e of result.endpoints) {
    for (const [name, r] of [
      [`floor (${e.typical_body_bytes} B)`, e.floor],
      ['txlake', e.txlake],
    ] as const) {
      lines.push(
        `  ${e.endpoint.padEnd(14)}  ${name.padEnd(11)}  ${String(r.requests_per_second).padStart(9)}  ` +
          `${String(r.p50_ms).padStart(7)}  ${String(r.p99_ms).padStart(7)}  ${String(r.errors).padStart(7)}  ${String(r.non_2xx).padStart(7)}`,
      );
    }
    lines.push(`  ${e.endpoint.padEnd(14)}  ratio txlake/floor ${e.ratio} (target ≥ ${result.target_ratio})`);
  }
  return `${lines.join('\n')}\n`;
}
