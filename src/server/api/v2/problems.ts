// RFC 9457 problem documents: every error of API v2 (and the 503 of any route when the backend does not
// answer). `type` is about:blank throughout, so `title` is the status's phrase (RFC 9457 §4.2.1); `detail`
// says what went wrong in words a client can act on, never a stack trace or a path on the server.

import http from 'node:http';
import type { FastifyReply } from 'fastify';

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
