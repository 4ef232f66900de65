// Liveness and readiness: /healthz answers while the process runs; /readyz once a snapshot is loaded, and
// says why when the lake's current snapshot is not the one served (or none can be).

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Health = Type.Object({
  status: Type.String({ description: 'ok (healthz); ready, loading or unavailable (readyz)' }),
  snapshot: Type.Union([Type.Integer(), Type.Null()]),
  rows: Type.Optional(Type.Integer()),
  user_lookup: Type.Optional(
    Type.Union([Type.Literal('memory'), Type.Literal('parquet'), Type.Literal('clickhouse')], {
      description:
        'memory: answered from an in-memory index; parquet: the index did not fit its budget; clickhouse: queries to the ClickHouse cluster',
    }),
  ),
  problem: Type.Optional(
    Type.String({
      description:
        "why the lake's current snapshot is not the one served, or the served one is impaired (a damaged file, a lost pointer)",
    }),
  ),
});

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'Liveness', response: { 200: Health } }, logLevel: 'warn' },
    async () => ({ status: 'ok', snapshot: app.store.current()?.id ?? null }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: a snapshot is loaded',
        response: { 200: Health, 503: Health },
      },
      logLevel: 'warn',
    },
    async (_request, reply) => {
      const view = app.store.current();
      // Unknown API keys refuse every API request: not ready, whatever the snapshot.
      const keysProblem = app.access?.problem() ?? null;
      const storeProblem = app.store.problem();
      const problem =
        keysProblem === null
          ? storeProblem
          : storeProblem === null
            ? keysProblem
            : `${storeProblem}; ${keysProblem}`;
      const why = problem === null ? {} : { problem };
      if (view === null) {
        return reply.code(503).send({ status: problem ? 'unavailable' : 'loading', snapshot: null, ...why });
      }
      // A view that refuses lookups (it reads files that changed on disk) is not ready, whatever else holds.
      const ready = view.impaired === null && keysProblem === null;
      const body = {
        status: ready ? 'ready' : 'unavailable',
        snapshot: view.id,
        rows: view.rows,
        user_lookup: view.lookup.kind,
        ...why,
      };
      return ready ? body : reply.code(503).send(body);
    },
  );
};
