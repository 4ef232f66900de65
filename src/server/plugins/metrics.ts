// GET /metrics (Prometheus text format) and the timing of every request by its route pattern. The timing is
// registered before the routes it times: each route registered after it gets an onResponse hook of its own,
// bound to its pattern's recorder, so a request pays one plain synchronous hook and no lookup of its route
// (Fastify's `request.routeOptions` builds an object per call). Requests no route matched are timed by the
// not-found handlers, as route `unmatched` (`timedAsUnmatched`). The route itself comes after the OpenAPI
// plugin, which documents only the routes registered after it.

import type { FastifyInstance, FastifyRequest, onResponseHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { AccessLog } from '../access-log.js';
import { isClusterWorker } from '../cluster.js';
import { WorkerMetrics } from '../metrics/cluster-metrics.js';
import { type RouteRecorder, UNMATCHED_ROUTE } from '../metrics/request-durations.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The server's metrics: its registry, the request recorders, the counters routes bump. */
    metrics: ServerMetrics;
  }
}

/** The access log of `app` (docs/operations.md "Logs"), null at `warn` and above: then requests pay nothing. */
function accessLogOf(app: FastifyInstance): AccessLog | null {
  return app.accessLog;
}

/** The access-log line of a request no route took (the router's refusals, the not-found handlers). */
export function logAccess(
  app: FastifyInstance,
  request: FastifyRequest,
  route: string,
  status: number,
  ms: number,
): void {
  app.accessLog?.write(request.id, request.method, AccessLog.routeField(route), status, ms);
}

function timingHook(
  record: RouteRecorder,
  route: string,
  accessLog: AccessLog | null,
): onResponseHookHandler {
  if (accessLog === null) {
    return (request, reply, done) => {
      record(request.method, reply.statusCode, reply.elapsedTime);
      done();
    };
  }
  const routeField = AccessLog.routeField(route);
  return (request, reply, done) => {
    const ms = reply.elapsedTime;
    record(request.method, reply.statusCode, ms);
    accessLog.write(request.id, request.method, routeField, reply.statusCode, ms);
    done();
  };
}

/**
 * Options for `setNotFoundHandler` that time and log its answers (404s, and a 401 or 429 sent before it) as
 * route `unmatched`. Fastify runs every lifecycle hook given there (lib/four-oh-four.js), though its types
 * name only preValidation and preHandler; test/server/metrics.test.ts checks that it does.
 */
export function timedAsUnmatched(app: FastifyInstance): { preHandler?: undefined } {
  const hook = timingHook(
    app.metrics.requests.recorderFor(UNMATCHED_ROUTE),
    UNMATCHED_ROUTE,
    accessLogOf(app),
  );
  return { onResponse: hook } as { preHandler?: undefined };
}

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

/** Times every route registered after it (and itself registers none). */
export const requestTimingPlugin = fp(async (app: FastifyInstance) => {
  const requests = app.metrics.requests;
  const accessLog = accessLogOf(app);
  app.addHook('onRoute', (route) => {
    const hook = timingHook(requests.recorderFor(route.url), route.url, accessLog);
    const existing = route.onResponse;
    route.onResponse =
      existing === undefined ? hook : [...(Array.isArray(existing) ? existing : [existing]), hook];
  });
});

/** GET /metrics. */
export const metricsPlugin = fp(async (app: FastifyInstance) => {
  const metrics = app.metrics;

  // A worker's scrape speaks for the whole server: its primary adds up every worker's series.
  const worker = isClusterWorker() ? new WorkerMetrics(metrics.registry) : null;
  if (worker) app.addHook('onClose', async () => worker.close());

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format 0.0.4)',
        description:
          'Request durations by route, answers by source, the served snapshot, snapshot loads, ClickHouse ' +
          'errors, the last ingest, process metrics. With `serve --workers N`, the sum of every worker. ' +
          'docs/operations.md lists every series.',
        response: {
          200: {
            description: 'The series',
            content: { [PROMETHEUS_TEXT]: { schema: { type: 'string' } } },
          },
          503: {
            description: 'The workers’ series could not be collected (serve --workers)',
            content: { 'application/json': { schema: Type.Object({ error: Type.String() }) } },
          },
        },
      },
      logLevel: 'warn',
    },
    async (request, reply) => {
      let text: string;
      try {
        text = worker ? await worker.scrape() : await metrics.text();
      } catch (error) {
        request.log.error({ err: error }, 'metrics could not be collected');
        return reply
          .code(503)
          .header('retry-after', '1')
          .send({ error: 'the metrics of the server’s workers could not be collected; see the server log' });
      }
      return reply.type(PROMETHEUS_TEXT).send(text);
    },
  );
});
