// Talking to a ClickHouse cluster: its configuration, one official client per node, the SQL literals txlake
// builds (ClickHouse 18.16 has no query parameters, so every value in a statement is a validated integer or
// an escaped string made here), and which failures mean "ClickHouse is unavailable" rather than a bug.

import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from '@clickhouse/client';
import { TxlakeError } from '../../domain/errors.js';
import { INT64_MAX } from '../../domain/schema.js';
import { BackendUnavailable } from '../store.js';

export interface ClickHouseConfig {
  /** Every node's HTTP endpoint for writers; readers need any one (they use the first that answers). */
  urls: string[];
  /** A cluster of the servers' `remote_servers`, over which the rows are sharded. */
  cluster: string;
  /** The database txlake's tables live in on every node. */
  database: string;
  /** ClickHouse's user and password (TXLAKE_CLICKHOUSE_USER, _PASSWORD); the server's default user without. */
  username?: string;
  password?: string;
}

export const DEFAULT_CLICKHOUSE_DATABASE = 'txlake';

/** A ClickHouse identifier txlake accepts for a cluster or database name: no quoting needed anywhere. */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The ClickHouse configuration from flags or the environment (TXLAKE_CLICKHOUSE_URL, _CLUSTER, _DATABASE),
 * or null when none is given. Half a configuration is a usage error: a writer given only a URL would not
 * know how the rows are sharded.
 */
export function resolveClickHouseConfig(
  flags: { clickhouseUrl?: string; clickhouseCluster?: string; clickhouseDatabase?: string },
  env: NodeJS.ProcessEnv = process.env,
): ClickHouseConfig | null {
  const urlText = flags.clickhouseUrl ?? env.TXLAKE_CLICKHOUSE_URL;
  const cluster = flags.clickhouseCluster ?? env.TXLAKE_CLICKHOUSE_CLUSTER;
  const database = flags.clickhouseDatabase ?? env.TXLAKE_CLICKHOUSE_DATABASE ?? DEFAULT_CLICKHOUSE_DATABASE;
  const urlOrigin = flags.clickhouseUrl !== undefined ? '--clickhouse-url' : 'TXLAKE_CLICKHOUSE_URL';
  const clusterOrigin =
    flags.clickhouseCluster !== undefined ? '--clickhouse-cluster' : 'TXLAKE_CLICKHOUSE_CLUSTER';
  const hasUrl = urlText !== undefined && urlText.trim() !== '';
  const hasCluster = cluster !== undefined && cluster.trim() !== '';
  if (!hasUrl && !hasCluster) return null;
  if (!hasUrl)
    throw new TxlakeError(
      'usage',
      `${clusterOrigin} is set but no ClickHouse endpoint is: set TXLAKE_CLICKHOUSE_URL (or --clickhouse-url) to http://host:8123,…`,
    );
  if (!hasCluster)
    throw new TxlakeError(
      'usage',
      `${urlOrigin} is set but no cluster is: set TXLAKE_CLICKHOUSE_CLUSTER (or --clickhouse-cluster) to a cluster of the servers' remote_servers`,
    );
  const urls = (urlText as string).split(',').map((part) => parseEndpoint(urlOrigin, part.trim()));
  if (!IDENTIFIER.test(cluster as string))
    throw new TxlakeError(
      'usage',
      `${clusterOrigin} must be a plain name (letters, digits, _), got "${cluster}"`,
    );
  if (!IDENTIFIER.test(database))
    throw new TxlakeError(
      'usage',
      `${flags.clickhouseDatabase !== undefined ? '--clickhouse-database' : 'TXLAKE_CLICKHOUSE_DATABASE'} must be a plain name (letters, digits, _), got "${database}"`,
    );
  if (new Set(urls).size !== urls.length)
    throw new TxlakeError('usage', `${urlOrigin} names the same endpoint twice: ${urlText}`);
  const username = env.TXLAKE_CLICKHOUSE_USER;
  const password = env.TXLAKE_CLICKHOUSE_PASSWORD;
  return {
    urls,
    cluster: cluster as string,
    database,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

function parseEndpoint(origin: string, text: string): string {
  let url: URL | null = null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.search || url.hash)
    throw new TxlakeError(
      'usage',
      `${origin} must list HTTP endpoints such as http://127.0.0.1:8123, comma-separated; got "${text}"`,
    );
  if (url.username || url.password)
    throw new TxlakeError(
      'usage',
      `${origin}: give ClickHouse credentials in TXLAKE_CLICKHOUSE_USER and TXLAKE_CLICKHOUSE_PASSWORD, not in the URL (URLs are logged)`,
    );
  return url.origin;
}

/** How long a reader waits for ClickHouse before answering 503 (SPEC §7: within 2 s, never a hang). */
export const READ_TIMEOUT_MS = 1_500;
/**
 * How long a writer waits between dropping a snapshot's `snapshots` row (on every node) and its file lists
 * and sums. Readers follow `served` within 500 ms and give up a query after 1.5 s: 4 s covers both, twice
 * over; and a reader that saw the row at time t may read the lists until t + 4 s (a time-travel view's
 * lease, clickhouse-store.ts).
 */
export const READER_GRACE_MS = 4_000;
/** How long a writer waits for one statement (a file's rows are one insert). */
export const WRITE_TIMEOUT_MS = 300_000;

export function clientFor(
  url: string,
  requestTimeoutMs: number,
  credentials: Pick<ClickHouseConfig, 'username' | 'password'> = {},
): ClickHouseClient {
  return createClient({
    url,
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(credentials.password ? { password: credentials.password } : {}),
    request_timeout: requestTimeoutMs,
    max_open_connections: 32,
    // Compression costs more CPU than it saves on loopback and small answers; a WAN deployment may turn it on.
    compression: { request: false, response: false },
    // 18.16 knows none of the newer settings the client could send; send none by default.
    clickhouse_settings: {},
    // Failures reach txlake as errors, and txlake says them in one line (or logs them): no second report.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/** An INT64 value as a SQL literal: only ever from a bigint in range, never from text. */
export function sqlInt64(value: bigint): string {
  if (typeof value !== 'bigint' || value < -INT64_MAX - 1n || value > INT64_MAX)
    throw new RangeError(`not an INT64: ${String(value)}`);
  return value.toString();
}

/** A non-negative safe integer (a snapshot id, a merchant code) as a SQL literal. */
export function sqlCount(value: number): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a count: ${String(value)}`);
  return String(value);
}

/** A string as a ClickHouse literal: backslashes and quotes escaped, as ClickHouse reads them. */
export function sqlText(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

/**
 * ClickHouse error codes that mean a node or the network, not the statement: a shard that refuses or drops
 * connections, a timeout, too many queries. 209 SOCKET_TIMEOUT, 210 NETWORK_ERROR, 159 TIMEOUT_EXCEEDED,
 * 202 TOO_MANY_SIMULTANEOUS_QUERIES, 279 ALL_CONNECTION_TRIES_FAILED, 394 QUERY_WAS_CANCELLED.
 */
const UNAVAILABLE_CODES = new Set(['159', '202', '209', '210', '279', '394']);

/** The ClickHouse error code of `error`, if it is an error ClickHouse answered (18.16's "Code: 279, e.displayText()"). */
export function clickHouseCode(error: unknown): string | null {
  if (error instanceof ClickHouseError) return error.code;
  if (!(error instanceof Error)) return null;
  return /^Code: ([0-9]+)[,.]/.exec(error.message)?.[1] ?? null;
}

/** Whether `error` says ClickHouse could not be reached or did not answer in time (not a bad statement). */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = clickHouseCode(error);
  if (code !== null) return UNAVAILABLE_CODES.has(code);
  // The connection's own errors: refused, reset, unreachable, or the client's request timeout.
  const errno = (error as NodeJS.ErrnoException).code;
  return (
    (typeof errno === 'string' && /^E[A-Z_]+$/.test(errno)) || /timeout|socket hang up/i.test(error.message)
  );
}

/**
 * `text` with every node's address replaced by its place in TXLAKE_CLICKHOUSE_URL ("node 2"): what reaches
 * /readyz, which anyone may read, names no address (the log has them). The URL first, then its host:port,
 * as a connection error writes it ("connect ECONNREFUSED host:port").
 */
export function withNodesNamed(text: string, urls: readonly string[]): string {
  return urls.reduce(
    (named, url, index) =>
      named.replaceAll(url, `node ${index + 1}`).replaceAll(new URL(url).host, `node ${index + 1}`),
    text,
  );
}

/** The first line of a ClickHouse error, without the server's stack. */
export function describeClickHouseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  // 18.16 says "Code: 60, e.displayText() = DB::Exception: Table txlake.x doesn't exist., e.what() = …".
  const line = (message.split('\n')[0] ?? '')
    .replace(/, e\.what\(\) = .*$/, '')
    .replace(/e\.displayText\(\) = (DB::)?/, '')
    .trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || 'no answer';
}

/** Run a read; a failure of the node or the network becomes BackendUnavailable (503 with Retry-After). */
export async function readOrUnavailable<T>(url: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isUnavailable(error))
      throw new BackendUnavailable(`ClickHouse at ${url} did not answer: ${describeClickHouseError(error)}`, {
        cause: error,
      });
    throw error;
  }
}

const UINT64 = (1n << 64n) - 1n;

/**
 * ClickHouse's `intHash64` (its IntHash64Impl: CityHash's 64-bit mix of x ^ 0x4CF2D2BAAE6DA887), the
 * Distributed table's sharding key: a reader that computes it sends a user's lookup to that user's shard
 * alone instead of to every shard.
 */
export function intHash64(value: bigint): bigint {
  let x = (value & UINT64) ^ 0x4cf2d2baae6da887n;
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & UINT64;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & UINT64;
  x ^= x >> 33n;
  return x;
}

/** A cluster's shards and weights as ClickHouse routes by them, in shard order. */
export interface ShardWeight {
  shard: number;
  weight: number;
}

export async function readShardWeights(client: ClickHouseClient, cluster: string): Promise<ShardWeight[]> {
  const result = await client.query({
    query: `SELECT shard_num, any(shard_weight) AS weight FROM system.clusters
            WHERE cluster = ${sqlText(cluster)} GROUP BY shard_num ORDER BY shard_num`,
    format: 'JSONEachRow',
  });
  return (await result.json<{ shard_num: number; weight: number }>()).map((row) => ({
    shard: Number(row.shard_num),
    weight: Number(row.weight),
  }));
}

/**
 * The layout rows were sharded under ("1:1,2:1": shard:weight): recorded when a lake first publishes, so
 * that a cluster whose shards changed since is noticed (its rows would sit on the shards of the old layout).
 */
export function layoutText(shards: readonly ShardWeight[]): string {
  return shards.map((s) => `${s.shard}:${s.weight}`).join(',');
}
