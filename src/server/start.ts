// Running the server: open the store, load the current snapshot, follow new ones, shut down gracefully.

import type { FastifyInstance } from 'fastify';
import {
  defaultIndexMemoryBytes,
  EmbeddedStore,
  type UserLookupKind,
} from '../backends/embedded/embedded-store.js';
import type { TransactionStore } from '../backends/store.js';
import { LakeLayout } from '../lake/layout.js';
import { lakeRootExists } from '../lake/snapshots.js';
import { writerStatus } from '../native/v1-writer.js';
import { buildApp, DEFAULT_ANSWER_CACHE_BYTES } from './app.js';
import { LakeFollower } from './lake-follower.js';

export interface ServeOptions {
  lake: string;
  host: string;
  port: number;
  version: string;
  /** How often to look for a new snapshot, in ms. */
  pollIntervalMs?: number;
  logLevel?: string;
  /** How user lookups are answered (see EmbeddedStoreOptions). */
  userLookup?: UserLookupKind;
  indexMemoryBytes?: number;
  answerCacheBytes?: number;
  /** Listen before the first snapshot is loaded (default); cluster workers load first. */
  listenFirst?: boolean;
}

export interface RunningServer {
  app: FastifyInstance;
  store: TransactionStore;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  await lakeRootExists(new LakeLayout(options.lake)); // a --lake that names a file is refused in words
  const store = await EmbeddedStore.open({
    lake: options.lake,
    ...(options.userLookup ? { userLookup: options.userLookup } : {}),
    ...(options.indexMemoryBytes === undefined ? {} : { indexMemoryBytes: options.indexMemoryBytes }),
  });
  // The first snapshot starts loading now, while Fastify and its plugins are set up; the follower's
  // first check below shares this load (or retries it and logs why, should it have failed).
  void store.refresh().catch(() => false);
  const app = await buildApp({
    store,
    version: options.version,
    ...(options.answerCacheBytes === undefined ? {} : { answerCacheBytes: options.answerCacheBytes }),
    logger: { level: options.logLevel ?? 'info', redact: ['req.headers.authorization'] },
  });
  app.log.info(
    {
      config: {
        lake: options.lake,
        host: options.host,
        port: options.port,
        backend: store.kind,
        user_lookup: options.userLookup ?? 'memory',
        index_memory_bytes: options.indexMemoryBytes ?? defaultIndexMemoryBytes(),
        answer_cache_bytes: options.answerCacheBytes ?? DEFAULT_ANSWER_CACHE_BYTES,
        answer_writer: writerStatus().writer,
      },
    },
    'starting txlake server',
  );

  const writer = writerStatus();
  if (writer.reason) app.log.warn({ reason: writer.reason }, 'answers are written by the JavaScript writer');

  const follower = new LakeFollower(
    store,
    new LakeLayout(options.lake),
    app.log,
    options.pollIntervalMs ?? 1000,
  );
  const listen = async () => {
    try {
      return await app.listen({ host: options.host, port: options.port });
    } catch (error) {
      follower.stop();
      await store.close(); // stops a load under way
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
    await follower.start();
  } else {
    await follower.start();
    address = await listen();
  }
  if (store.current() === null && store.problem() === null) {
    // (A lake that cannot be served has been logged by the follower, with the reason.)
    app.log.warn(
      { lake: options.lake },
      'the lake has no snapshot yet; /readyz answers 503 until one is committed',
    );
  }

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      follower.stop();
      await app.close(); // stops accepting, lets in-flight requests finish
      await store.close();
    })();
    return stopping;
  };
  return { app, store, url: address, stop };
}
