// RFC 9457 problem documents: every error of API v2 (and the 503 of any route when the backend does not
// answer). `type` is about:blank throughout, so `title` is the status's phrase (RFC 9457 §4.2.1); `detail`
// says what went wrong in words a client can act on, never a stack trace or a path on the server.

import http from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const PROBLEM_TYPE = 'application/problem+json';

export interface Problem {
  type: 'about:blank';
  title: string;
  status: number;
  detail: string;
  /** On a 400: the parameter at fault, as the OpenAPI document names it. */
  parameter?: string;
}

export function problemOf(status: number, detail: string, parameter?: string): Problem {
  return {
    type: 'about:blank',
    title: http.STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    ...(parameter === undefined ? {} : { parameter }),
  };
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  detail: string,
  parameter?: string,
): FastifyReply {
  return reply
    .code(status)
    .type(PROBLEM_TYPE)
    .serializer(JSON.stringify)
    .send(problemOf(status, detail, parameter));
}

/**
 * The engine behind the store (a ClickHouse node) is down or hung: a problem on every route, v1's too
 * (SPEC §7), and the next request tries again. The node's address stays in the log.
 */
export function sendBackendUnavailable(
  request: FastifyRequest,
  reply: FastifyReply,
  error: Error,
): FastifyReply {
  request.log.warn({ problem: error.message }, 'answer refused: the backend did not answer in time');
  request.server.metrics.backendUnavailable++;
  return sendProblem(
    reply.header('retry-after', '1'),
    503,
    'the database behind this server did not answer in time; try again shortly',
  );
}
