// Running the server: open the configured store, load its current snapshot, follow new ones (logging
// each), shut down gracefully. The server knows stores only through the contract in backends/store.ts.

import type { FastifyInstance } from 'fastify';
import { type BackendConfig, describeBackend, openKeySource, openStore } from '../backends/registry.js';
import type { StoreListener, TransactionStore } from '../backends/store.js';
import { AccessControl } from './access.js';
import { writerStatus } from './api/v1/native-writer.js';
import { buildApp, DEFAULT_ANSWER_CACHE_BYTES } from './app.js';
import { DEFAULT_MAX_CONNECTIONS, openFilesLimit, openFilesWarning } from './limits.js';
import { logDestination } from './log-destination.js';

export interface ServeOptions {
  backend: BackendConfig;
  host: string;
  port: number;
  version: string;
  logLevel?: string;
  answerCacheBytes?: number;
  /** Listen before the first snapshot is loaded (default); cluster workers load first. */
  listenFirst?: boolean;
  /** Require an API key even while none exists (a server listening beyond loopback: SPEC §5). */
  requireKeys?: boolean;
  /** Connections held at once per process (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Requests a second per API key or client address; absent: no limit. */
  rateLimit?: number;
  /** Proxies whose X-Forwarded-For is believed; absent: none. */
  trustProxy?: string;
  /** The web explorer at `/` (default true). */
  explorer?: boolean;
}

export interface RunningServer {
  app: FastifyInstance;
  store: TransactionStore;
  url: string;
  stop(): Promise<void>;
}

/** The log lines of a store's changes: each snapshot served, and each problem when it appears and ends. */
function logListener(log: FastifyInstance['log']): StoreListener {
  return {
    snapshot(view) {
      log.info(
        {
          snapshot: view.id,
          rows: view.rows,
          user_lookup: view.lookup.kind,
          ...(view.lookup.routing ? { routing: view.lookup.routing } : {}),
          index_bytes: view.lookup.indexBytes,
          load_ms: view.lookup.loadMs,
          verify_ms: view.lookup.verifyMs,
        },
        'serving snapshot',
      );
      if (view.lookup.fallback) {
        log.warn({ snapshot: view.id, reason: view.lookup.fallback }, 'user lookups query Parquet files');
      }
    },
    problem(problem, view, failure) {
      if (problem === null) {
        log.info({ snapshot: view?.id ?? null }, 'the lake can be served again');
        return;
      }
      log.error(
        { problem, serving: view?.id ?? null, ...(failure === null ? {} : { err: failure }) },
        view
          ? `not serving the current snapshot; still serving snapshot ${view.id}`
          : 'no snapshot can be served; /readyz answers 503 until the cause is repaired',
      );
    },
  };
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  // The keys are read before anything listens: a damaged key file refuses the start, in one line.
  // (ClickHouse down at start is not refused: the server starts answering 503s, as it does for data.)
  const keySource = await openKeySource(options.backend);
  if (options.backend.kind === 'embedded') await keySource.read();
  const access = new AccessControl(keySource, { requireKeys: options.requireKeys ?? false });
  await access.refresh();
  const keysProblem = access.problem();
  const store = await openStore(options.backend);
  const logs = logDestination();
  // The first snapshot starts loading now, while Fastify and its plugins are set up; the follower's
  // first check below shares this load (or retries it and logs why, should it have failed).
  void store.refresh().catch(() => false);
  const app = await buildApp({
    store,
    access,
    version: options.version,
    ...(options.answerCacheBytes === undefined ? {} : { answerCacheBytes: options.answerCacheBytes }),
    ...(options.backend.kind === 'embedded' ? { lake: options.backend.lake } : {}),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    ...(options.explorer === undefined ? {} : { explorer: options.explorer }),
    accessLog: logs,
    logger: { level: options.logLevel ?? 'info', redact: ['req.headers.authorization'], stream: logs },
  });
  const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  app.log.info(
    {
      config: {
        ...describeBackend(options.backend),
        host: options.host,
        port: options.port,
        answer_cache_bytes: options.answerCacheBytes ?? DEFAULT_ANSWER_CACHE_BYTES,
        answer_writer: writerStatus().writer,
        api_keys:
          keysProblem ?? (access.ring === null ? 'none: the API is open' : `${access.ring.size} active`),
        max_connections: maxConnections,
        rate_limit: options.rateLimit ?? null,
        trust_proxy: options.trustProxy ?? null,
        explorer: options.explorer ?? true,
      },
    },
    'starting txlake server',
  );
  access.follow(app.log);
  const descriptors = openFilesWarning(maxConnections, openFilesLimit());
  if (descriptors) app.log.warn(descriptors);

  const writer = writerStatus();
  if (writer.reason) app.log.warn({ reason: writer.reason }, 'answers are written by the JavaScript writer');

  const logged = logListener(app.log);
  const listener: StoreListener = {
    snapshot(view) {
      app.metrics.snapshotLoaded(view);
      logged.snapshot(view);
    },
    problem: logged.problem,
  };
  const listen = async () => {
    try {
      return await app.listen({ host: options.host, port: options.port });
    } catch (error) {
      await store.close(); // stops a load under way, and the following
      await access.stop();
      throw error;
    }
  };
  // A single server listens before its first snapshot is loaded (it loads meanwhile): a taken port fails at
  // once, and probes get /healthz 200 and /readyz 503 while a large snapshot loads. A cluster worker loads
  // first, as its primary hands connections to every listening worker, ready or not (the primary checks
  // the port before it forks).
  let address: string;
  if (options.listenFirst ?? true) {
    address = await listen();
    await store.follow(listener);
  } else {
    await store.follow(listener);
    address = await listen();
  }
  if (store.current() === null && store.problem() === null) {
    // (A source that cannot be served has been logged by the listener, with the reason.)
    app.log.warn('there is no snapshot yet; /readyz answers 503 until one is committed');
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      await app.close(); // stops accepting, lets in-flight requests finish
      await store.close();
      await access.stop();
      app.accessLog?.close();
      await logs.close();
    })();
    return stopping;
  };
  return { app, store, url: address, stop };
}
