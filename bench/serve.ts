// The serve benchmark (the performance issue): v1 and v2 requests/s and latency of `txlake serve` on a generated
// lake, next to the floor measured in the same run — a bare node:http server answering every request with
// one fixed body as large as that endpoint's typical answer — under the same load generator (autocannon,
// on 127.0.0.1 only). Also the server's ready time and memory. Numbers are printed, never asserted.

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import autocannon from 'autocannon';
import { sqlString, withEngine } from '../src/lake/engine.js';
import { readCurrentSnapshot } from '../src/lake/lake-state.js';
import { LakeLayout } from '../src/lake/layout.js';
import { defaultUsers, generateTransactionsFile } from '../src/sample/generator.js';
import {
  formatBytes,
  freePort,
  type MeasuredRun,
  measureChild,
  packageRoot,
  treeRssBytes,
  withWorkDirectory,
} from './measure.js';
import { chosenLoadGenerator, type LoadResult, wrkLoad } from './wrk.js';

export { freePort };

export const SERVE_TARGET_RATIO = 0.5;

/** The servers a run compares; `naive` is the baseline the performance issue names. */
export const SERVE_VARIANTS = {
  /** One DuckDB query per user request over the snapshot's Parquet files, no answer cache. */
  naive: ['--user-lookup', 'parquet', '--answer-cache', '0'],
  /** The default: in-memory index and answer cache, one process. */
  txlake: [],
  /** The default on every core (`--workers 0`). */
  workers: ['--workers', '0'],
  /** The default with an API key in the lake, every request carrying it: what authentication costs. */
  keys: [],
} as const satisfies Record<string, readonly string[]>;
export type ServeVariant = keyof typeof SERVE_VARIANTS;

export interface ServeBenchOptions {
  rows: number;
  seed: number;
  /** Seconds of load per measurement. */
  seconds: number;
  connections: number;
  variants?: ServeVariant[];
  dir?: string;
  keep?: boolean;
  log?: (line: string) => void;
}

export type { LoadResult };

/**
 * The endpoints loaded: v1's two, and v2's (SPEC §4 "v2") over the same keys: a user's first page of 100
 * transactions (mostly cold users, as v1's) and a merchant code's daily net.
 */
export const SERVE_ENDPOINTS = ['transactions', 'netAmount', 'v2Transactions', 'v2DailyNet'] as const;
export type ServeEndpoint = (typeof SERVE_ENDPOINTS)[number];

/** The request paths of each endpoint, rotating over the sampled keys. */
export function endpointPaths(keys: { users: string[]; codes: string[] }): Record<ServeEndpoint, string[]> {
  return {
    transactions: keys.users.map((u) => `/api/v1/data/transactions/${u}`),
    netAmount: keys.codes.map((c) => `/api/v1/data/netAmount/${c}`),
    v2Transactions: keys.users.map((u) => `/api/v2/users/${u}/transactions?limit=100`),
    v2DailyNet: keys.codes.map((c) => `/api/v2/merchant-types/${c}/daily-net`),
  };
}

export interface EndpointResult {
  endpoint: ServeEndpoint;
  load: LoadResult;
  /** requests/s over the floor's for the same endpoint in this run. */
  ratio: number;
}

/** Load on the transactions endpoint while a commit makes the server load and swap in a new snapshot. */
export interface SwapResult {
  load: LoadResult;
  /** Seconds from the commit's end to the server answering from the new snapshot (null: not within the run). */
  visible_after_seconds: number | null;
}

export interface VariantResult {
  variant: ServeVariant;
  args: readonly string[];
  ready_seconds: number;
  /** Resident memory of the server's processes after the load (all workers summed). */
  rss_bytes: number | null;
  rss_bytes_per_row: number | null;
  endpoints: EndpointResult[];
  swap: SwapResult | null;
}

export interface ServeBenchResult {
  bench: 'serve';
  rows: number;
  connections: number;
  seconds_per_run: number;
  ingest_seconds: number;
  floors: Array<{ endpoint: ServeEndpoint; typical_body_bytes: number; load: LoadResult }>;
  variants: VariantResult[];
  target_ratio: number;
}

export async function waitFor(url: string, deadlineMs: number): Promise<void> {
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

export async function load(
  port: number,
  paths: string[],
  seconds: number,
  connections: number,
  headers: Record<string, string> = {},
): Promise<LoadResult> {
  if (chosenLoadGenerator() === 'wrk') return wrkLoad(port, paths, seconds, connections, headers);
  let next = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration: seconds,
    headers,
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
export async function sampleKeys(lake: string): Promise<{ users: string[]; codes: string[] }> {
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
  for (const p of sample) {
    const response = await fetch(`http://127.0.0.1:${port}${p}`);
    if (response.status !== 200) throw new Error(`${p} answered ${response.status}, not 200`);
    total += (await response.arrayBuffer()).byteLength;
  }
  return Math.max(2, Math.round(total / Math.max(1, sample.length)));
}

/** The snapshot id a server answers from (null before it has one or when it does not answer). */
async function servedSnapshot(port: number): Promise<number | null> {
  try {
    const body = (await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()) as {
      snapshot?: number | null;
    };
    return body.snapshot ?? null;
  } catch {
    return null;
  }
}

/**
 * Load the transactions endpoint for `seconds` while, one second in, `commit` makes a new snapshot; the
 * server has to load and swap it in under that load.
 */
async function loadDuringSwap(
  port: number,
  paths: string[],
  seconds: number,
  connections: number,
  commit: () => Promise<number>,
): Promise<SwapResult> {
  const before = await servedSnapshot(port);
  const loading = load(port, paths, seconds, connections);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const committed = await commit();
  const committedAt = performance.now();
  let visibleAfter: number | null = null;
  const deadline = committedAt + (seconds - 1) * 1000;
  while (performance.now() < deadline) {
    const served = await servedSnapshot(port);
    if (served !== null && served !== before && served >= committed) {
      visibleAfter = (performance.now() - committedAt) / 1000;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    load: await loading,
    visible_after_seconds: visibleAfter === null ? null : Math.round(visibleAfter * 1000) / 1000,
  };
}

/**
 * A server at the defaults a user runs, logging included (the access log at `info`), its log going to a
 * file beside the lake as a user's would go to a file or journald; not thrown away, which costs nothing.
 */
function startServer(root: string, lake: string, port: number, args: readonly string[]): ChildProcess {
  const log = openSync(path.join(path.dirname(lake), 'serve.log'), 'a');
  try {
    return spawn(
      path.join(root, 'bin', 'txlake'),
      ['serve', '--lake', lake, '--port', String(port), ...args],
      {
        cwd: root,
        stdio: ['ignore', log, 'ignore'],
      },
    );
  } finally {
    closeSync(log);
  }
}

/** Stop a server and wait for its exit (workers included), so the next one has the machine to itself. */
export function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.kill('SIGKILL'), 15_000);
    server.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    server.kill('SIGTERM');
  });
}

/**
 * Generate `rows` rows into `work` and ingest them as a new lake there (with `env`: ClickHouse's, say),
 * timing the ingest as a user meets it; the CSV is removed afterwards.
 */
export async function generateAndIngest(
  work: string,
  options: { rows: number; seed: number },
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<{ lake: string; ingest: MeasuredRun }> {
  const root = packageRoot();
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
    env: { ...process.env, ...env },
  });
  if (ingest.exitCode !== 0)
    throw new Error(`txlake ingest failed: ${ingest.stderrTail.trim().split('\n').at(-1)}`);
  await fs.rm(csv, { force: true });
  return { lake, ingest };
}

export async function runServeBench(options: ServeBenchOptions): Promise<ServeBenchResult> {
  const log = options.log ?? (() => {});
  const root = packageRoot();
  const variants = options.variants ?? (Object.keys(SERVE_VARIANTS) as ServeVariant[]);
  const txlake = path.join(root, 'bin', 'txlake');
  return withWorkDirectory('txlake-bench-serve-', options, async (work) => {
    const children: ChildProcess[] = [];
    try {
      const appendCsv = path.join(work, 'append.csv');
      const { lake, ingest } = await generateAndIngest(work, options, log);
      const keys = await sampleKeys(lake);
      const paths = endpointPaths(keys);

      // The floors first, each alone on the machine, with bodies as large as the typical answers (every
      // variant answers the same bytes; a default server is started once to measure them).
      const floors: ServeBenchResult['floors'] = [];
      {
        const port = await freePort();
        const server = startServer(root, lake, port, []);
        children.push(server);
        await waitFor(`http://127.0.0.1:${port}/readyz`, 1_800_000);
        const sizes = {} as Record<ServeEndpoint, number>;
        for (const endpoint of SERVE_ENDPOINTS) sizes[endpoint] = await typicalBytes(port, paths[endpoint]);
        await stopServer(server);
        for (const endpoint of SERVE_ENDPOINTS) {
          const floorPort = await freePort();
          const floor = startFloor(floorPort, sizes[endpoint]);
          children.push(floor);
          await waitFor(`http://127.0.0.1:${floorPort}/`, 10_000);
          log(`${endpoint}: floor (${sizes[endpoint]} B bodies), ${options.seconds} s`);
          floors.push({
            endpoint,
            typical_body_bytes: sizes[endpoint],
            load: await load(floorPort, ['/'], options.seconds, options.connections),
          });
          await stopServer(floor);
        }
      }

      const results: VariantResult[] = [];
      let appended = 0;
      for (const variant of variants) {
        const args = SERVE_VARIANTS[variant];
        // `keys`: the lake gets a key for this server alone (removed after it), and every request sends it.
        let headers: Record<string, string> = {};
        if (variant === 'keys') {
          const created = await measureChild(txlake, ['keys', 'create', 'bench', '--lake', lake], {
            cwd: root,
          });
          if (created.exitCode !== 0) throw new Error(`keys create failed: ${created.stderrTail.trim()}`);
          headers = { authorization: `Bearer ${created.stdout.trim()}` };
        }
        const port = await freePort();
        const started = performance.now();
        const server = startServer(root, lake, port, args);
        children.push(server);
        await waitFor(`http://127.0.0.1:${port}/readyz`, 1_800_000);
        const readySeconds = (performance.now() - started) / 1000;
        log(`${variant}: ready in ${readySeconds.toFixed(2)} s`);
        const endpoints: EndpointResult[] = [];
        for (const floor of floors) {
          log(`${variant}: ${floor.endpoint}, ${options.seconds} s`);
          const result = await load(
            port,
            paths[floor.endpoint],
            options.seconds,
            options.connections,
            headers,
          );
          endpoints.push({
            endpoint: floor.endpoint,
            load: result,
            ratio:
              Math.round((1000 * result.requests_per_second) / Math.max(1, floor.load.requests_per_second)) /
              1000,
          });
        }
        const rss = await treeRssBytes(server.pid);
        let swap: SwapResult | null = null;
        if (variant !== 'naive' && variant !== 'keys') {
          // A real commit under load: a small append, which the server must index anew (all rows).
          appended++;
          await generateTransactionsFile(
            { rows: 10_000, seed: options.seed + appended, users: 100 },
            appendCsv,
          );
          const seconds = Math.ceil(options.seconds + 1 + readySeconds * 1.5);
          log(`${variant}: transactions during a snapshot swap, ${seconds} s`);
          swap = await loadDuringSwap(port, paths.transactions, seconds, options.connections, async () => {
            const run = await measureChild(txlake, ['ingest', appendCsv, '--lake', lake, '--json'], {
              cwd: root,
            });
            if (run.exitCode !== 0) throw new Error(`append failed: ${run.stderrTail.trim()}`);
            return (JSON.parse(run.stdout) as { snapshot: number }).snapshot;
          });
        }
        await stopServer(server);
        if (variant === 'keys') await fs.rm(path.join(lake, '_txlake', 'keys.json'));
        results.push({
          variant,
          args,
          ready_seconds: Math.round(readySeconds * 1000) / 1000,
          rss_bytes: rss,
          rss_bytes_per_row: rss === null ? null : Math.round(rss / options.rows),
          endpoints,
          swap,
        });
      }
      return {
        bench: 'serve',
        rows: options.rows,
        connections: options.connections,
        seconds_per_run: options.seconds,
        ingest_seconds: Math.round(ingest.seconds * 1000) / 1000,
        floors,
        variants: results,
        target_ratio: SERVE_TARGET_RATIO,
      };
    } finally {
      for (const child of children) child.kill('SIGTERM');
    }
  });
}

function loadColumns(name: string, r: LoadResult, extra = ''): string {
  return (
    `  ${name.padEnd(30)}  ${String(r.requests_per_second).padStart(8)}  ${String(r.p50_ms).padStart(6)}  ` +
    `${String(r.p99_ms).padStart(6)}  ${String(r.errors + r.non_2xx).padStart(6)}${extra}`
  );
}

export function formatServeReport(result: ServeBenchResult): string {
  const lines = [
    `serve benchmark: ${result.rows.toLocaleString('en-US')} rows, ${result.connections} connections, ` +
      `${result.seconds_per_run} s per run, ${chosenLoadGenerator()} on 127.0.0.1`,
    `  ${'endpoint / server'.padEnd(30)}  ${'req/s'.padStart(8)}  ${'p50 ms'.padStart(6)}  ${'p99 ms'.padStart(6)}  ${'errors'.padStart(6)}  ratio to floor`,
  ];
  for (const floor of result.floors) {
    lines.push(loadColumns(`${floor.endpoint}: node:http floor (${floor.typical_body_bytes} B)`, floor.load));
    for (const v of result.variants) {
      const e = v.endpoints.find((x) => x.endpoint === floor.endpoint);
      if (e) lines.push(loadColumns(`${floor.endpoint}: ${v.variant}`, e.load, `  ${e.ratio.toFixed(3)}`));
    }
  }
  for (const v of result.variants) {
    if (v.swap)
      lines.push(
        loadColumns(
          `transactions during swap: ${v.variant}`,
          v.swap.load,
          v.swap.visible_after_seconds === null
            ? '  new snapshot not served within the run'
            : `  visible ${v.swap.visible_after_seconds} s after the commit`,
        ),
      );
  }
  const plain = result.variants.find((v) => v.variant === 'txlake');
  const keyed = result.variants.find((v) => v.variant === 'keys');
  if (plain && keyed) {
    const costs = keyed.endpoints.map((e) => {
      const base = plain.endpoints.find((x) => x.endpoint === e.endpoint);
      const ratio = base ? e.load.requests_per_second / Math.max(1, base.load.requests_per_second) : 0;
      return `${e.endpoint} ${ratio.toFixed(3)}`;
    });
    lines.push(`  with an API key / without (target ≥ 0.95): ${costs.join(', ')}`);
  }
  lines.push('  server     ready s     RSS        bytes/row   flags');
  for (const v of result.variants) {
    lines.push(
      `  ${v.variant.padEnd(9)}  ${String(v.ready_seconds).padStart(8)}  ${formatBytes(v.rss_bytes).padStart(10)}  ` +
        `${String(v.rss_bytes_per_row ?? 'n/a').padStart(9)}   ${v.args.join(' ') || '(defaults)'}`,
    );
  }
  lines.push(`  target: ratio ≥ ${result.target_ratio} on each endpoint, zero errors`);
  return `${lines.join('\n')}\n`;
}
