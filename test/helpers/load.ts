// Steady keep-alive load for the load-balancer suites: a few clients asking in a loop, each answer judged
// the moment it arrives, so a failure is caught with the request that had it (its id finds it in nginx's
// access log and in the server's log) rather than inferred from counts afterwards.

import type { AccessLogLine, RunningNginx } from './nginx.js';
import type { HttpResponse, RunningServer } from './server.js';

/** Poll `condition` (every 50 ms) until it holds; fail naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll `probe` (every 100 ms) until it gives a value other than null, and return it. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | null>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface LoadRequest {
  /** Its X-Request-Id: `${tag}-${n}`. */
  id: string;
  target: string;
  /** Date.now() when it was sent. */
  sentAt: number;
}

export interface LoadOptions {
  tag: string;
  /** Asked in turn, round and round. */
  paths: readonly string[];
  /** Send one request (to nginx, in these suites). */
  get: (rawPath: string, headers: Record<string, string>) => Promise<HttpResponse>;
  /** Why the answer is wrong, or null when it is right. */
  judge: (response: HttpResponse, request: LoadRequest) => string | null;
  clients?: number;
  /** A test that forgets to stop its load still ends. */
  maxRequests?: number;
}

export interface LoadReport {
  ok: number;
  failures: string[];
}

export interface Load {
  /** Requests sent so far; their ids are `${tag}-1` … `${tag}-${issued()}`. */
  issued: () => number;
  ok: () => number;
  /** Resolve once `more` further requests have succeeded (fails after `timeoutMs`). */
  succeed: (more: number, timeoutMs?: number) => Promise<void>;
  stop: () => Promise<LoadReport>;
}

/** `clients` keep-alive clients asking in a loop, every answer judged, until stopped or `maxRequests`. */
export function startLoad(options: LoadOptions): Load {
  const { tag, paths, clients = 4, maxRequests = 100_000 } = options;
  const report: LoadReport = { ok: 0, failures: [] };
  let issued = 0;
  let stopped = false;
  const client = async () => {
    while (!stopped && issued < maxRequests) {
      const request: LoadRequest = {
        id: `${tag}-${++issued}`,
        target: paths[issued % paths.length] as string,
        sentAt: Date.now(),
      };
      let why: string | null;
      try {
        why = options.judge(await options.get(request.target, { 'x-request-id': request.id }), request);
      } catch (error) {
        why = String(error);
      }
      if (why === null) report.ok++;
      else report.failures.push(`${request.id} ${request.target} → ${why}`);
    }
  };
  const done = Promise.all(Array.from({ length: clients }, client)).then(() => report);
  return {
    issued: () => issued,
    ok: () => report.ok,
    succeed: (more, timeoutMs = 15_000) => {
      const target = report.ok + more;
      return waitFor(`${more} more answers of load ${tag}`, () => report.ok >= target || stopped, timeoutMs);
    },
    stop: () => {
      stopped = true;
      return done;
    },
  };
}

/** The access-log lines of load `tag`'s requests. */
export function loadLines(nginx: RunningNginx, tag: string): AccessLogLine[] {
  return nginx.accessLog().filter((line) => line.request_id.startsWith(`${tag}-`));
}

/**
 * Resolve once `server` has answered a request of load `tag`: pino logs every request with its id, so a
 * (re)started process answering the load's ids is nginx using it (again, after fail_timeout at most).
 */
export function waitUntilServing(server: RunningServer, tag: string, timeoutMs = 20_000): Promise<void> {
  return waitFor(
    `server :${server.port} to answer load ${tag}`,
    () => server.stdout().includes(`"request_id":"${tag}-`),
    timeoutMs,
  );
}
