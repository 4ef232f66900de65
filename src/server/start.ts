// Running the server: open the configured store, load its current snapshot, follow new ones (logging
// each), shut down gracefully. The server knows stores only through the contract in backends/store.ts.

import type { FastifyInstance } from 'fastify';
import { type BackendConfig, describeBackend, openStore } from '../backends/registry.js';
import type { StoreListener, TransactionStore } from '../backends/store.js';
import { writerStatus } from './api/v1/native-writer.js';
import { buildApp, DEFAULT_ANSWER_CACHE_BYTES } from './app.js';
import { DEFAULT_MAX_CONNECTIONS, openFilesLimit, openFilesWarning } from './limits.js';

export interface ServeOptions {
  backend: BackendConfig;
  host: string;
  port: number;
  version: string;
  logLevel?: string;
  answerCacheBytes?: number;
  /** Listen before the first snapshot is loaded (default); cluster workers load first. */
  listenFirst?: boolean;
  /** Connections held at once per process (default DEFAULT_MAX_CONNECTIONS). */
  maxConnections?: number;
  /** Requests a second per API key or client address; absent: no limit. */
  rateLimit?: number;
  /** Proxies whose X-Forwarded-For is believed; absent: none. */
  trustProxy?: string;
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
  const store = await openStore(options.backend);
  // The first snapshot starts loading now, while Fastify and its plugins are set up; the follower's
  // first check below shares this load (or retries it and logs why, should it have failed).
  void store.refresh().catch(() => false);
  const app = await buildApp({
    store,
    version: options.version,
    ...(options.answerCacheBytes === undefined ? {} : { answerCacheBytes: options.answerCacheBytes }),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.rateLimit === undefined ? {} : { rateLimit: options.rateLimit }),
    ...(options.trustProxy === undefined ? {} : { trustProxy: options.trustProxy }),
    logger: { level: options.logLevel ?? 'info', redact: ['req.headers.authorization'] },
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
        max_connections: maxConnections,
        rate_limit: options.rateLimit ?? null,
        trust_proxy: options.trustProxy ?? null,
      },
    },
    'starting txlake server',
  );
  const descriptors = openFilesWarning(maxConnections, openFilesLimit());
  if (descriptors) app.log.warn(descriptors);

  const writer = writerStatus();
  if (writer.reason) app.log.warn({ reason: writer.reason }, 'answers are written by the JavaScript writer');

  const listener = logListener(app.log);
  const listen = async () => {
    try {
      return await app.listen({ host: options.host, port: options.port });
    } catch (error) {
      await store.close(); // stops a load under way, and the following
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
    })();
    return stopping;
  };
  return { app, store, url: address, stop };
}
