// `txlake serve`: the HTTP API over the lake, following new snapshots; SIGTERM finishes in-flight requests.
// With `--workers N` the process becomes a supervisor of N serving processes sharing the port.

import os from 'node:os';
import type { Command } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import type { ServeOptions } from '../../server/start.js';
import { DEFAULTS, resolveHost, resolveLakeDir, resolvePort } from '../config.js';
import { parseByteSize, parseIntegerFlag } from '../flags.js';
import { resolveServeLimits, type ServeLimitFlags } from '../serve-limits.js';
import { packageVersion } from '../version.js';
import { addClickHouseOptions, type ClickHouseFlags, clickHouseConfigOf } from './clickhouse.js';

interface ServeFlags extends ClickHouseFlags, ServeLimitFlags {
  backend?: string;
  lake?: string;
  host?: string;
  port?: string;
  logLevel: string;
  workers?: string;
  userLookup?: string;
  indexMemory?: string;
  answerCache?: string;
  allowAnonymous?: boolean;
  /** false with --no-explorer. */
  explorer: boolean;
}

/** Serve until SIGTERM or SIGINT, then close gracefully. */
export async function serveUntilSignalled(options: ServeOptions): Promise<void> {
  // Loaded on use, so that `--help` and other commands do not pay for Fastify and the engine.
  const { startServer } = await import('../../server/start.js');
  const server = await startServer(options);
  await new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
      server.stop().then(resolve, resolve);
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  });
}

function parseUserLookup(text: string): 'memory' | 'parquet' {
  if (text === 'memory' || text === 'parquet') return text;
  throw new TxlakeError('usage', `--user-lookup must be memory or parquet, got "${text}"`);
}

/** The backend to serve from: the lake on this host, or the ClickHouse copy of it (no lake needed). */
async function backendOf(flags: ServeFlags): Promise<ServeOptions['backend']> {
  const env = process.env;
  const kind = flags.backend ?? env.TXLAKE_BACKEND ?? 'embedded';
  if (kind === 'clickhouse') {
    if (flags.lake !== undefined || flags.userLookup !== undefined || flags.indexMemory !== undefined)
      throw new TxlakeError(
        'usage',
        '--backend clickhouse reads no lake: --lake, --user-lookup and --index-memory are for the embedded backend',
      );
    const clickhouse = await clickHouseConfigOf(flags);
    if (clickhouse === null)
      throw new TxlakeError(
        'usage',
        '--backend clickhouse needs TXLAKE_CLICKHOUSE_URL and TXLAKE_CLICKHOUSE_CLUSTER (or --clickhouse-url and --clickhouse-cluster)',
      );
    return { kind: 'clickhouse', clickhouse };
  }
  if (kind !== 'embedded')
    throw new TxlakeError('usage', `--backend must be embedded or clickhouse, got "${kind}"`);
  const lookupText = flags.userLookup ?? env.TXLAKE_USER_LOOKUP;
  const indexText = flags.indexMemory ?? env.TXLAKE_INDEX_MEMORY;
  return {
    kind: 'embedded',
    lake: resolveLakeDir(flags.lake),
    ...(lookupText === undefined ? {} : { userLookup: parseUserLookup(lookupText) }),
    ...(indexText === undefined ? {} : { indexMemoryBytes: parseByteSize('--index-memory', indexText) }),
  };
}

export function registerServe(program: Command): void {
  const serve = program
    .command('serve')
    .description(
      'serve the lake over HTTP (API v1 and v2, the web explorer at /, OpenAPI at /openapi.json, docs at /docs)',
    )
    .option(
      '--backend <kind>',
      'embedded: the lake on this host; clickhouse: the ClickHouse copy of it, no lake needed (env TXLAKE_BACKEND, default embedded)',
    )
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .option('--host <host>', `address to listen on (env TXLAKE_HOST, default ${DEFAULTS.host})`)
    .option('--port <port>', `port to listen on (env TXLAKE_PORT, default ${DEFAULTS.port})`)
    .option(
      '--workers <n>',
      'serving processes sharing the port; 0 = one per core (env TXLAKE_WORKERS, default 1)',
    )
    .option(
      '--user-lookup <how>',
      'memory: index each snapshot in memory; parquet: query the files per request (env TXLAKE_USER_LOOKUP, default memory)',
    )
    .option(
      '--index-memory <size>',
      'largest in-memory index per process; bigger snapshots use parquet lookups (env TXLAKE_INDEX_MEMORY, default 1/4 of RAM)',
    )
    .option(
      '--answer-cache <size>',
      'memory for recent answers of the current snapshot, 0 = off (env TXLAKE_ANSWER_CACHE, default 64MB)',
    )
    .option(
      '--allow-anonymous',
      'listen on a non-loopback address although no API key exists (anyone who reaches it reads every user)',
    )
    .option(
      '--rate-limit <n>',
      'requests a second per API key (per client address without keys), bursts of n; beyond: 429 (env TXLAKE_RATE_LIMIT, default none)',
    )
    .option(
      '--trust-proxy [proxies]',
      'take the client address from X-Forwarded-For when the request comes from these proxies (comma-separated addresses or ranges; alone: loopback) (env TXLAKE_TRUST_PROXY)',
    )
    .option(
      '--max-connections <n>',
      'connections held at once per serving process; more are closed (env TXLAKE_MAX_CONNECTIONS, default 1024)',
    )
    .option('--no-explorer', 'do not serve the web explorer at / (the API and its docs only)')
    .option('--log-level <level>', 'pino log level: fatal, error, warn, info, debug', 'info');
  addClickHouseOptions(serve).action(async (flags: ServeFlags) => {
    const env = process.env;
    const workersText = flags.workers ?? env.TXLAKE_WORKERS ?? '1';
    const requested = parseIntegerFlag('--workers', workersText, 0, 256);
    const workers = requested === 0 ? os.availableParallelism() : requested;
    const cacheText = flags.answerCache ?? env.TXLAKE_ANSWER_CACHE;
    const backend = await backendOf(flags);
    const host = resolveHost(flags.host);
    const { assertSafeExposure } = await import('../../server/exposure.js');
    const requireKeys = await assertSafeExposure(host, backend, flags.allowAnonymous ?? false);
    const options: ServeOptions = {
      backend,
      requireKeys,
      host,
      port: resolvePort(flags.port),
      version: packageVersion(),
      logLevel: flags.logLevel,
      ...(flags.explorer ? {} : { explorer: false }),
      ...(cacheText === undefined ? {} : { answerCacheBytes: parseByteSize('--answer-cache', cacheText) }),
      // Each worker parses the same flags and environment: the limits hold per serving process.
      ...resolveServeLimits(flags),
    };
    const { assertPortFree, isClusterWorker, leaveCluster, runClusterPrimary } = await import(
      '../../server/cluster.js'
    );
    if (!isClusterWorker()) {
      if (workers > 1) {
        await assertPortFree(options.host, options.port); // before N workers each load the lake
        process.exitCode = await runClusterPrimary({ workers, logLevel: flags.logLevel });
      } else {
        await serveUntilSignalled(options);
      }
      return;
    }
    // A worker's channel to the primary keeps it alive: once it has stopped serving (or failed to
    // start), it leaves the cluster so that it exits and the primary sees how.
    try {
      await serveUntilSignalled({ ...options, listenFirst: false });
    } finally {
      leaveCluster();
    }
  });
}
