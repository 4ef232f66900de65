// A method a route does not take answers 405 with `Allow`, and OPTIONS answers 200 with it, as the old Flask
// service did; Fastify alone answers 404, as if the resource did not exist. Each answer is a route of its
// own, hidden from OpenAPI, so the router finds it like any other: GET requests pay nothing for it.

import http from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from '../api/v2/problems.js';

export interface MethodNotAllowedOptions {
  /** Registers the routes to guard: every URL a route is registered on, by the time it resolves. */
  routes: (app: FastifyInstance) => Promise<void>;
}

/** Every method Node's parser hands to a server; CONNECT never reaches a route (Node gives it the socket). */
const PARSED_METHODS = http.METHODS.filter((method) => method !== 'CONNECT');

/** Methods that come with every resource: a 405 message names the others (`use GET`). */
const AUXILIARY = new Set(['HEAD', 'OPTIONS']);

type Answer = (request: FastifyRequest, reply: FastifyReply) => void;

/** v1 answers an empty id (`/transactions/`) 404, as Flask did where no rule matched: so must other methods. */
function namesNothing(params: unknown): boolean {
  return Object.values(params as Record<string, string>).some((value) => value === '');
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

function refuseMethod(allow: string, use: string): Answer {
  return (request, reply) => {
    if (namesNothing(request.params)) {
      reply.callNotFound();
      return;
    }
    const detail = `method ${request.method} is not allowed on ${pathOf(request)}; use ${use}`;
    // v2 speaks RFC 9457 problems; v1 and the rest keep the old service's {error} body.
    if (pathOf(request).startsWith('/api/v2/')) sendProblem(reply.header('allow', allow), 405, detail);
    else reply.code(405).header('allow', allow).send({ error: detail });
  };
}

function answerOptions(allow: string): Answer {
  return (request, reply) => {
    if (namesNothing(request.params)) {
      reply.callNotFound();
      return;
    }
    reply.code(200).header('allow', allow).send();
  };
}

/**
 * Answer in onRequest, before Fastify reads a body: a form post (`curl -d`), broken JSON or one over the body
 * limit is still 405, not 415, 400 or 413. The handler is never reached but a route needs one.
 */
function answerRoute(app: FastifyInstance, url: string, method: string[], answer: Answer): void {
  const onRequest: onRequestHookHandler = (request, reply) => answer(request, reply);
  app.route({ method, url, schema: { hide: true }, onRequest, handler: answer });
}

/** Give `url` a route for every method it lacks: OPTIONS (unless it has one) and 405 for the rest. */
function guard(app: FastifyInstance, url: string): void {
  const methods = app.supportedMethods;
  const taken = methods.filter((method) => app.hasRoute({ url, method }));
  const allow = [...new Set([...taken, 'OPTIONS'])].sort().join(', ');
  const primary = taken.filter((method) => !AUXILIARY.has(method));
  const use = (primary.length > 0 ? primary : taken).join(' or ');
  if (!taken.includes('OPTIONS')) answerRoute(app, url, ['OPTIONS'], answerOptions(allow));
  const refused = methods.filter((method) => method !== 'OPTIONS' && !taken.includes(method));
  if (refused.length > 0) answerRoute(app, url, refused, refuseMethod(allow, use));
}

export const methodNotAllowedPlugin = fp<MethodNotAllowedOptions>(async (app, { routes }) => {
  // Fastify 5 routes the standard methods only; without this, WebDAV's PROPFIND and the like answer 404.
  for (const method of PARSED_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method);
  }
  const urls = new Set<string>();
  // Routes registered once `routes` has resolved (this plugin's own among them) are not learned.
  let learning = true;
  app.addHook('onRoute', (route) => {
    if (learning) urls.add(route.url);
  });
  await routes(app);
  // Only now, with every route registered: `Allow` names all of a URL's methods, and a route registered
  // for a method after its URL's GET is not taken for a 405 (which would be a duplicate route).
  learning = false;
  for (const url of urls) guard(app, url);
});
