// OpenAPI 3.1 at /openapi.json and interactive docs at /docs, generated from the route schemas.

import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { SHARED_PROBLEM_RESPONSES } from '../api/v2/schemas.js';
import { DOCS_CSP, registerHtmlPageHeaders } from './security-headers.js';

export const openApiPlugin = fp(async (app: FastifyInstance, options: { version: string }) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'txlake',
        version: options.version,
        description:
          'Card transactions from a snapshotted Parquet lake. API v1 is wire-compatible with the earlier ' +
          'Flask service: same paths, shapes, key order and half-to-even rounding. API v2 answers exact values ' +
          '(cents, microseconds, all 64 bits), filters, pages with cursors, travels in time over the retained ' +
          'snapshots (?snapshot=) and exports a user’s data; its errors are RFC 9457 problem documents.',
      },
      tags: [
        {
          name: 'v2',
          description: 'Exact, filterable, pageable answers; time travel; export; RFC 9457 problems',
        },
        { name: 'v1', description: 'Wire-compatible with the old design' },
        { name: 'operations', description: 'Health and readiness' },
      ],
      components: { responses: SHARED_PROBLEM_RESPONSES },
    },
  });
  // Swagger UI in a scope of its own, so that helmet's headers (and its cost) are on its pages alone.
  await app.register(async (docs) => {
    await registerHtmlPageHeaders(docs, DOCS_CSP);
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
});
