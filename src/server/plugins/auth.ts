// Bearer authentication (SPEC §5): with keys, every request needs an active key except the probes, the
// API's own description (/healthz, /readyz, /openapi.json, /docs) and the web explorer's page and assets
// (/, /explorer/: they hold no data; the page asks for a key and sends it with every API request). Deny by default: the open paths are
// matched on the request's path exactly as sent, so a path Fastify decodes or normalises differently
// (`/%61pi/…`, `//api`, `/healthz/`) or one that matches no route at all needs a key like the rest. (The
// path as sent, not the route pattern: Fastify builds `request.routeOptions` anew on every access, which
// cost more than the rest of the check. No path under /docs reaches a data route: the router resolves no
// dot segments, /docs/static/* serves only Swagger UI's files and /explorer/* only the explorer's.)
//
// It is a plain hook, not a plugin: it must run on every request, before the rate limiter (which counts
// per key) and before any route's own work, and a promise per request would be measurable.

import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { bearerToken } from '../../domain/api-keys.js';
import type { AccessControl } from '../access.js';
import { sendProblem } from '../api/v2/problems.js';
import { EXPLORER_ASSET_PREFIX } from '../routes/explorer.js';

const OPEN_PATHS = new Set(['/', '/healthz', '/readyz', '/openapi.json', '/docs']);

function isOpenPath(url: string): boolean {
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return OPEN_PATHS.has(path) || path.startsWith('/docs/') || path.startsWith(EXPLORER_ASSET_PREFIX);
}

const REALM = 'Bearer realm="txlake"';

function unauthorized(reply: FastifyReply, detail: string, challenge: string): void {
  sendProblem(reply.header('www-authenticate', challenge), 401, detail);
}

export function addAuthentication(app: FastifyInstance, access: AccessControl): void {
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
    const ring = access.ring;
    if (ring === null && access.problem() === null) return done(); // no keys: open
    if (isOpenPath(request.url)) return done();
    if (ring === null) {
      sendProblem(
        reply.header('retry-after', '1'),
        503,
        'this server cannot read its API keys right now, so it answers nobody; try again shortly (see /readyz)',
      );
      return;
    }
    const presented = bearerToken(request.headers.authorization);
    if ('missing' in presented) {
      unauthorized(
        reply,
        presented.missing === 'not-bearer'
          ? 'this server takes API keys as `Authorization: Bearer KEY`'
          : 'this server needs an API key: send `Authorization: Bearer KEY` (`txlake keys create NAME` makes one)',
        REALM,
      );
      return;
    }
    const name = ring.authenticate(presented.token);
    if (name === null) {
      unauthorized(
        reply,
        'the API key is not valid: it is unknown or was revoked',
        `${REALM}, error="invalid_token"`,
      );
      return;
    }
    request.apiKeyName = name;
    done();
  });
}
