// The HTTP server's limits against abusive clients (SPEC §5 "Abuse"): how large a request head and a URL
// may be, how long a client may take to send its request or stay silent, how many connections one process
// holds, and the answers Node's parser gives before Fastify sees a request.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { ConnectionError, FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import { PROBLEM_TYPE, problemOf } from './api/v2/problems.js';

/**
 * The request's headers: Node counts the request target and every header's name and value (not the method,
 * the version, the `: ` and line ends). Its default, stated so that `--max-http-header-size` cannot widen it.
 */
export const MAX_HEAD_BYTES = 16 * 1024;
/** The request target (path and query); a longer one is 414 on every path. */
export const MAX_URL_BYTES = 8 * 1024;
/** From a connection's first byte (or a keep-alive request's) to the end of its headers: slowloris ends here. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A socket with no traffic either way for this long is closed: a client that connects and sends nothing. */
export const IDLE_TIMEOUT_MS = 10_000;
/** The whole request, body included (txlake's routes take none; a body trickled in is cut here). */
export const REQUEST_TIMEOUT_MS = 30_000;
/**
 * How often Node looks for connections past the headers and request timeouts (its default, 30 s, would let
 * a slowloris client hold a connection up to 40 s); a pass over 1,000 connections costs microseconds.
 */
const TIMEOUT_CHECK_INTERVAL_MS = 1_000;
/** Connections one serving process holds at once (SPEC §5: at least 1,000), beyond a few for probes. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** Descriptors a serving process needs beyond its connections: the lake's files, DuckDB, logs, ClickHouse. */
const DESCRIPTORS_BESIDES_CONNECTIONS = 128;

/** The Fastify (and Node http) options that enforce the limits above. */
export function serverLimitOptions(): Pick<
  FastifyServerOptions,
  'connectionTimeout' | 'requestTimeout' | 'clientErrorHandler'
> & { http: http.ServerOptions } {
  return {
    // keepAliveTimeout stays Fastify's 72 s: an idle keep-alive connection is a proxy's pool (deploy/nginx
    // closes its idle ones after 60 s), and it replaces this idle timeout once a request has been answered.
    connectionTimeout: IDLE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    http: {
      // Node refuses a head whose count reaches its limit; SPEC §5 refuses one over 16 KiB.
      maxHeaderSize: MAX_HEAD_BYTES + 1,
      headersTimeout: HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS,
    },
    clientErrorHandler: answerClientError,
  };
}

/** A problem document as a whole HTTP/1.1 answer, written to the socket itself (there is no reply yet). */
function rawProblem(status: number, detail: string): string {
  const body = JSON.stringify(problemOf(status, detail));
  return (
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
    `Content-Type: ${PROBLEM_TYPE}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'X-Content-Type-Options: nosniff\r\n' +
    'Connection: close\r\n\r\n' +
    body
  );
}

const HEAD_TOO_LARGE = rawProblem(
  431,
  `the request's headers (with its URL) are larger than ${MAX_HEAD_BYTES} bytes`,
);
const TOO_SLOW = rawProblem(
  408,
  `the request did not arrive in time: its headers must arrive within ${HEADERS_TIMEOUT_MS / 1000} s, the whole request within ${REQUEST_TIMEOUT_MS / 1000} s`,
);
const UNKNOWN_METHOD = rawProblem(501, 'the request method is not one this server knows');

/** Node's parser names what it refused (`Invalid header value char`); anything else is not repeated. */
const PARSER_REASON = /^[A-Za-z0-9 ,.'()_-]{1,100}$/;

/**
 * Node's `clientError`: a request its parser refused (a head over the limit, a malformed line, an unknown
 * method) or one that timed out. The answer is a problem document, the connection is closed.
 */
function answerClientError(this: { log: FastifyBaseLogger }, error: ConnectionError, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  let answer: string;
  if (error.code === 'HPE_HEADER_OVERFLOW') answer = HEAD_TOO_LARGE;
  else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer = TOO_SLOW;
  else if (error.code === 'HPE_INVALID_METHOD') answer = UNKNOWN_METHOD;
  else {
    const reason = (error as { reason?: unknown }).reason;
    const why = typeof reason === 'string' && PARSER_REASON.test(reason) ? ` (${reason.toLowerCase()})` : '';
    answer = rawProblem(400, `the request is not valid HTTP/1.1${why}`);
  }
  // Debug only: a client can cause any number of these, and each says nothing about the server.
  this.log.debug({ code: error.code }, 'refused a request the HTTP parser could not take');
  // As Node itself does: no answer in the middle of an answer already under way on this connection.
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(answer);
  socket.destroy();
}

/** Whether a request target is over the URL limit (checked on every request: one comparison). */
export function urlTooLong(url: string): boolean {
  return url.length > MAX_URL_BYTES;
}

export const URL_TOO_LONG_DETAIL = `the URL is longer than ${MAX_URL_BYTES} bytes`;

/**
 * Hold at most `max` connections at once: Node closes the ones beyond it as they arrive (a load balancer
 * tries another server). Refusals are logged, at most once per 10 s, with their count.
 */
export function capConnections(server: http.Server, max: number, log: FastifyBaseLogger): void {
  server.maxConnections = max;
  let refused = 0;
  let timer: NodeJS.Timeout | null = null;
  const report = () => {
    log.warn(
      { refused_connections: refused, max_connections: max },
      'refused connections: the server holds its maximum (--max-connections)',
    );
    refused = 0;
  };
  server.on('drop', () => {
    refused++;
    if (timer !== null) return;
    report(); // the first at once, then a count every 10 s while refusals go on
    timer = setTimeout(function flush() {
      if (refused === 0) {
        timer = null;
        return;
      }
      report();
      timer = setTimeout(flush, 10_000).unref();
    }, 10_000).unref();
  });
  server.once('close', () => {
    if (timer !== null) clearTimeout(timer);
  });
}

/** This process's limit on open files (Node raises the soft limit to the hard one at start); null if unknown. */
export function openFilesLimit(): number | null {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match) return null;
    return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
  } catch {
    return null; // not Linux: nothing to say
  }
}

/** A warning when the open-files limit cannot hold `maxConnections` connections besides the process's own files. */
export function openFilesWarning(maxConnections: number, limit: number | null): string | null {
  if (limit === null) return null;
  const needed = maxConnections + DESCRIPTORS_BESIDES_CONNECTIONS;
  if (limit >= needed) return null;
  return (
    `the open files limit (ulimit -n) is ${limit}, too low for --max-connections ${maxConnections} ` +
    `(${needed} descriptors with the server's own): connections beyond about ` +
    `${Math.max(0, limit - DESCRIPTORS_BESIDES_CONNECTIONS)} will fail; raise the limit ` +
    '(ulimit -n, or LimitNOFILE= in a systemd unit) or lower --max-connections'
  );
}
