// The limits a server enforces, from `serve`'s flags and the environment (flags > environment > defaults):
// the rate limit, the proxies whose X-Forwarded-For is believed, the connection cap. A bad value is a usage
// error naming where it came from.

import net from 'node:net';
import { TxlakeError } from '../domain/errors.js';
import { parseIntegerFlag } from './flags.js';

export interface ServeLimitFlags {
  rateLimit?: string;
  /** `--trust-proxy` alone is `true`; with a value, the proxies' addresses. */
  trustProxy?: string | true;
  maxConnections?: string;
}

export interface ServeLimits {
  rateLimit?: number;
  trustProxy?: string;
  maxConnections?: number;
}

/** proxy-addr's names for address ranges (Fastify's trustProxy takes them as addresses). */
const RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);
/** `--trust-proxy` alone: a proxy on this host (deploy/nginx), whose address is a loopback one. */
const DEFAULT_PROXIES = 'loopback';
const OFF = new Set(['', '0', 'false', 'no', 'off']);
const ON = new Set(['1', 'true', 'yes', 'on']);

/** The text of an integer setting (flag, else environment, empty = unset) and where it came from. */
function integerSetting(
  flag: string | undefined,
  flagName: string,
  env: string | undefined,
  envName: string,
  max: number,
): number | undefined {
  if (flag !== undefined) return parseIntegerFlag(flagName, flag, 1, max);
  if (env === undefined || env.trim() === '') return undefined;
  return parseIntegerFlag(envName, env, 1, max);
}

function isProxyAddress(entry: string): boolean {
  if (RANGE_NAMES.has(entry) || net.isIP(entry) !== 0) return true;
  const slash = entry.indexOf('/');
  if (slash === -1) return false;
  const family = net.isIP(entry.slice(0, slash));
  const bits = entry.slice(slash + 1);
  return family !== 0 && /^[0-9]{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** A comma-separated list of proxies, checked entry by entry; the list as Fastify takes it. */
export function parseProxies(origin: string, text: string): string {
  const entries = text.split(',').map((entry) => entry.trim());
  const bad = entries.find((entry) => !isProxyAddress(entry));
  if (bad !== undefined) {
    throw new TxlakeError(
      'usage',
      `${origin} takes the proxies' addresses or ranges, comma-separated (127.0.0.1, 10.0.0.0/8, ::1, loopback, linklocal, uniquelocal), got "${bad}" in "${text}"`,
    );
  }
  return entries.join(',');
}

function trustProxyOf(flag: string | true | undefined, env: string | undefined): string | undefined {
  if (flag === true) return DEFAULT_PROXIES;
  if (flag !== undefined) return parseProxies('--trust-proxy', flag);
  if (env === undefined) return undefined;
  const word = env.trim().toLowerCase();
  if (OFF.has(word)) return undefined;
  if (ON.has(word)) return DEFAULT_PROXIES;
  return parseProxies('TXLAKE_TRUST_PROXY', env);
}

export function resolveServeLimits(
  flags: ServeLimitFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeLimits {
  const rateLimit = integerSetting(
    flags.rateLimit,
    '--rate-limit',
    env.TXLAKE_RATE_LIMIT,
    'TXLAKE_RATE_LIMIT',
    1_000_000,
  );
  const maxConnections = integerSetting(
    flags.maxConnections,
    '--max-connections',
    env.TXLAKE_MAX_CONNECTIONS,
    'TXLAKE_MAX_CONNECTIONS',
    1_000_000,
  );
  const trustProxy = trustProxyOf(flags.trustProxy, env.TXLAKE_TRUST_PROXY);
  return {
    ...(rateLimit === undefined ? {} : { rateLimit }),
    ...(maxConnections === undefined ? {} : { maxConnections }),
    ...(trustProxy === undefined ? {} : { trustProxy }),
  };
}
