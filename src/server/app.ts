// The Fastify application: plugins, routes and the error contract (JSON everywhere, never a 500 for input).

import { randomUUID } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import {
  BackendUnavailable,
  SnapshotUnavailable,
  type SnapshotView,
  type TransactionStore,
} from '../backends/store.js';
import { LakeLayout } from '../lake/layout.js';
import type { AccessControl } from './access.js';
import { AccessLog, type LineSink } from './access-log.js';
import { AnswerCache } from './answer-cache.js';
import { v1Routes } from './api/v1/routes.js';
import { sendBackendUnavailable, sendProblem } from './api/v2/problems.js';
import { v2Routes } from './api/v2/routes.js';
import { answerExpectContinue } from './expect-continue.js';
import {
  capConnections,
  DEFAULT_MAX_CONNECTIONS,
  MAX_URL_BYTES,
  serverLimitOptions,
  URL_TOO_LONG_DETAIL,
  urlTooLong,
} from './limits.js';
import { UNMATCHED_ROUTE } from './metrics/request-durations.js';
import { ServerMetrics } from './metrics/server-metrics.js';
import { addAuthentication } from './plugins/auth.js';
import { methodNotAllowedPlugin } from './plugins/method-not-allowed.js';
import { logAccess, metricsPlugin, requestTimingPlugin, timedAsUnmatched } from './plugins/metrics.js';
import { openApiPlugin } from './plugins/openapi.js';
import { rateLimitPlugin } from './plugins/rate-limit.js';
import { explorerRoutes } from './routes/explorer.js';
import { healthRoutes } from './routes/health.js';
import { matchesIfNoneMatch, snapshotTag, unservedReason } from './snapshot-answers.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: TransactionStore;
    /** The API keys this server accepts; null when it was built without (tests of routes alone). */
    access: AccessControl | null;
    /** Recently sent answers of the snapshot being served. */
    answers: AnswerCache;
    /**
     * The view to answer this request from, with its caching headers set; null when the answer has been
     * sent already (503 before any snapshot, 304 when the client's copy is current).
     */
    snapshotView(request: FastifyRequest, reply: FastifyReply): SnapshotView | null;
    /** Set the headers that name the snapshot an answer came from. */
    labelAnswer(reply: FastifyReply, view: SnapshotView): void;
    /** One line per request (access-log.ts); null when the log level is above `info` or there is no log. */
    accessLog: AccessLog | null;
  }
  interface FastifyRequest {
    /** The name of the API key that authenticated this request; null while the server has no keys. */
    apiKeyName: string | null;
  }
}

export interface AppOptions {
  store: TransactionStore;
  version: string;
  logger?: FastifyServerOptions['logger'];
  /** Memory for cached answers (JSON text); 0 turns the cache off. */
  answerCacheBytes?: number;
  /** API keys (SPEC §5); without, every request is answered. */
  access?: AccessControl;
  /** The lake whose last-ingest record /metrics exposes (an embedded backend's); none by default. */
  lake?: string;
  /** prom-client's process metrics on /metrics (default true). */
  processMetrics?: boolean;
  /** Connections held at once (default DEFAULT_MAX_CONNECTIONS); more are closed as they arrive. */
  maxConnections?: number;
  /** Requests a second per API key (per client address without keys); absent: no limit, no hook. */
  rateLimit?: number;
  /** Proxies whose X-Forwarded-For names the client (Fastify's `trustProxy` list); absent: none. */
  trustProxy?: string;
  /** The web explorer at `/` (default true); the API alone without. */
  explorer?: boolean;
  /** Where the access log's lines go (the log's own destination); absent: no access log. */
  accessLog?: LineSink;
}

/** Default answer cache: enough for the hot users and every merchant code of a large lake. */
export const DEFAULT_ANSWER_CACHE_BYTES = 64 * 1024 * 1024;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** 414 in v2's words (a problem) on v2 paths, in v1's (`{error}`) elsewhere. */
function sendUrlTooLong(request: FastifyRequest, reply: FastifyReply): void {
  if (request.url.startsWith('/api/v2/')) sendProblem(reply, 414, URL_TOO_LONG_DETAIL);
  else reply.code(414).send({ error: URL_TOO_LONG_DETAIL });
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    // A caller's x-request-id is kept (when it is a sane token) so logs correlate across services.
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // One access-log line per request (plugins/metrics.ts) instead of Fastify's two.
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    return503OnClosing: true,
    ...serverLimitOptions(),
    trustProxy: options.trustProxy ?? false,
    // Ids of any length up to the URL limit reach the handler, which answers [] for digits beyond INT64
    // (SPEC §4); a longer URL is 414 (SPEC §5), whatever it holds.
    routerOptions: { maxParamLength: MAX_URL_BYTES },
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      // No request hook runs for these answers: the headers it sets are set here.
      reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
      if (error.code === 'FST_ERR_MAX_PARAM_LENGTH' || urlTooLong(request.url)) {
        sendUrlTooLong(request, reply);
        return;
      }
      // A path Fastify cannot even decode (`%zz`) is still a client error in v1's own words, or v2's.
      const v2 = /^\/api\/v2\/(users|merchant-types)\//.exec(request.url);
      if (v2) {
        const parameter = v2[1] === 'users' ? 'userId' : 'code';
        sendProblem(reply, 400, `${parameter} is not valid percent-encoding`, parameter);
        return;
      }
      const v1 = /^\/api\/v1\/data\/(transactions|netAmount)\//.exec(request.url);
      const param = v1 ? (v1[1] === 'transactions' ? 'userId' : 'merchantTypeCode') : null;
      reply.code(400).send({ error: param ? `${param} must be an integer` : error.message });
      // No hook runs for what the router refused: timed here, as a request no route matched.
      unmatched(request.method, reply.statusCode, reply.elapsedTime);
      logAccess(app, request, UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();
  answerExpectContinue(app.server);

  capConnections(app.server, options.maxConnections ?? DEFAULT_MAX_CONNECTIONS, app.log);
  app.decorate('store', options.store);
  const level = app.log as { isLevelEnabled?: (level: string) => boolean };
  const logsRequests = options.accessLog !== undefined && level.isLevelEnabled?.('info') === true;
  app.decorate('accessLog', logsRequests && options.accessLog ? new AccessLog(options.accessLog) : null);
  app.decorateRequest('apiKeyName', null);
  app.decorate('access', options.access ?? null);
  const answers = new AnswerCache(options.store, options.answerCacheBytes ?? DEFAULT_ANSWER_CACHE_BYTES);
  app.decorate('answers', answers);
  const metrics = new ServerMetrics(
    {
      store: options.store,
      answers,
      version: options.version,
      lake: options.lake === undefined ? null : new LakeLayout(options.lake),
      ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
    },
    (message) => app.log.warn(message),
  );
  app.decorate('metrics', metrics);
  const unmatched = metrics.requests.recorderFor(UNMATCHED_ROUTE);
  // `private`: personal financial data must not sit in shared caches; `no-cache`: revalidate every time.
  const etags = new WeakMap<SnapshotView, string>();
  const etagOf = (view: SnapshotView) => {
    let etag = etags.get(view);
    if (etag === undefined) {
      etag = `"${snapshotTag(view)}"`;
      etags.set(view, etag);
    }
    return etag;
  };
  const labelAnswer = (reply: FastifyReply, view: SnapshotView) => {
    reply
      .header('x-txlake-snapshot', String(view.id))
      .header('etag', etagOf(view))
      .header('cache-control', 'private, no-cache');
  };
  app.decorate('labelAnswer', labelAnswer);
  app.decorate('snapshotView', (request: FastifyRequest, reply: FastifyReply) => {
    const view = options.store.current();
    if (view === null) {
      reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: unservedReason(options.store) });
      return null;
    }
    labelAnswer(reply, view);
    if (matchesIfNoneMatch(request.headers['if-none-match'], etagOf(view))) {
      reply.code(304).send();
      return null;
    }
    return view;
  });
  // A plain (not async) hook: it runs on every request, and a promise per request is measurable.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
    // Every path, routed or not (SPEC §5); a reply sent here ends the request's hooks.
    if (urlTooLong(request.url)) {
      sendUrlTooLong(request, reply);
      return;
    }
    done();
  });
  // Next, before any other work (the rate limiter's count included), the caller's key is checked.
  if (options.access) addAuthentication(app, options.access);
  // After the API-key hook (it reads request.apiKeyName); absent without --rate-limit, so free then.
  if (options.rateLimit !== undefined) await app.register(rateLimitPlugin, { perSecond: options.rateLimit });

  app.setNotFoundHandler(timedAsUnmatched(app), (request, reply) => {
    reply.code(404).send({ error: `no route for ${request.method} ${request.url.split('?')[0]}` });
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof BackendUnavailable) return sendBackendUnavailable(request, reply, error);
    if (error instanceof SnapshotUnavailable) {
      // The served snapshot's files changed on disk: no answer rather than a wrong one (the log has why).
      request.log.error({ problem: error.message }, 'answer refused: the served snapshot is damaged on disk');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'the snapshot being served is damaged on disk; see /readyz' });
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(status).send({ error: 'internal error; see the server log', request_id: request.id });
    }
    // Client errors found by Fastify itself (malformed URL encoding, bad headers, body limits).
    return reply.code(status).send({ error: error.message });
  });

  // Every route answers the methods it lacks with 405 and `Allow` (OPTIONS with 200), as the old service did.
  await app.register(methodNotAllowedPlugin, {
    routes: async (guarded) => {
      await guarded.register(requestTimingPlugin); // first: it times the routes registered after it
      await guarded.register(openApiPlugin, { version: options.version });
      await guarded.register(healthRoutes);
      await guarded.register(metricsPlugin);
      await guarded.register(v1Routes, { prefix: '/api/v1' });
      await guarded.register(v2Routes, { prefix: '/api/v2' });
      if (options.explorer ?? true) await guarded.register(explorerRoutes, {});
    },
  });
  return app;
}
