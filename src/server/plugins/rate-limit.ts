// `serve --rate-limit N` (SPEC §5): N requests a second per API key, or per client address while the server
// has no keys, as token buckets with a burst of N; beyond that a 429 problem with Retry-After, on every
// path (v1's too: a v1 client gets the problem document). The probes are never limited. Registered only
// with the flag, after the API-key hook, whose `request.apiKeyName` it reads.
//
// Not @fastify/rate-limit: its hook is async (promises, a result object and a store callback per request)
// and counts fixed windows; this one is a plain synchronous hook that allocates nothing for a known key.
// docs/operations.md ("Limits and security headers") has the measurement.

import { performance } from 'node:perf_hooks';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { sendProblem } from '../api/v2/problems.js';
import { TokenBuckets } from '../token-bucket.js';

export interface RateLimitOptions {
  /** Requests a second per key, and the burst a full bucket allows. */
  perSecond: number;
}

/** Load balancers and Prometheus poll these; a limit on them would only take a healthy server out. */
const PROBES = ['/healthz', '/readyz', '/metrics'] as const;

/** A probe's path, with or without a query string (no allocation: it runs on every request). */
export function isProbe(url: string): boolean {
  for (const probe of PROBES) {
    if (url.startsWith(probe) && (url.length === probe.length || url.charCodeAt(probe.length) === 63))
      return true;
  }
  return false;
}

/**
 * The bucket a client address counts against: an IPv4 address (also one mapped into IPv6) as it is, an
 * IPv6 address by its /64 prefix, since one host or home network is routinely given a whole /64.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(':')) return ip;
  const zone = ip.indexOf('%');
  const address = (zone === -1 ? ip : ip.slice(0, zone)).toLowerCase();
  if (address.includes('.')) {
    return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
  }
  const split = address.indexOf('::');
  const head = split === -1 ? address.split(':') : address.slice(0, split).split(':').filter(Boolean);
  const tail =
    split === -1
      ? []
      : address
          .slice(split + 2)
          .split(':')
          .filter(Boolean);
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  const prefix = groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16));
  return `${prefix.join(':')}::/64`;
}

/** Full buckets are forgotten this often (they count for nothing), so memory follows the recent clients. */
const SWEEP_INTERVAL_MS = 5_000;

export const rateLimitPlugin = fp<RateLimitOptions>(
  async (app: FastifyInstance, { perSecond }) => {
    // Two sets of buckets, so that a key named like an address never shares one with that address.
    const byKey = new TokenBuckets(perSecond);
    const byAddress = new TokenBuckets(perSecond);
    const sweeper = setInterval(() => {
      const now = performance.now();
      byKey.sweep(now);
      byAddress.sweep(now);
    }, SWEEP_INTERVAL_MS).unref();
    app.addHook('onClose', (_app, done) => {
      clearInterval(sweeper);
      done();
    });

    const overKey = `more than ${perSecond} requests a second with this API key; try again in `;
    const overAddress = `more than ${perSecond} requests a second from this address; try again in `;
    // Plain, not async: it runs on every request. The key is read now, after the API-key hook has run.
    app.addHook('onRequest', (request, reply, done) => {
      if (isProbe(request.url)) {
        done();
        return;
      }
      const name = request.apiKeyName;
      const now = performance.now();
      const wait = name === null ? byAddress.take(addressKey(request.ip ?? ''), now) : byKey.take(name, now);
      if (wait === 0) {
        done();
        return;
      }
      // A bucket of N a second has a token again within 1/N s: Retry-After is whole seconds, so at least 1.
      const retryAfter = String(Math.max(1, Math.ceil(wait / 1000)));
      const detail = `${name === null ? overAddress : overKey}${retryAfter} s`;
      sendProblem(reply.header('retry-after', retryAfter), 429, detail);
    });
  },
  { name: 'txlake-rate-limit' },
);
