// Liveness and readiness: /healthz answers while the process runs; /readyz once a snapshot is loaded.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

const Health = Type.Object({
  status: Type.String(),
  snapshot: Type.Union([Type.Integer(), Type.Null()]),
  rows: Type.Optional(Type.Integer()),
  user_lookup: Type.Optional(
    Type.Union([Type.Literal('memory'), Type.Literal('parquet')], {
      description: 'memory: answered from an in-memory index; parquet: the index did not fit its budget',
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
      if (view === null) return reply.code(503).send({ status: 'loading', snapshot: null });
      return { status: 'ready', snapshot: view.id, rows: view.rows, user_lookup: view.lookup.kind };
    },
  );
};
