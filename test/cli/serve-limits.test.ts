// `serve`'s limit settings: --rate-limit, --max-connections and --trust-proxy over their environment
// variables, and a usage error naming the flag or variable for each bad value. (The exit code 2 of a bad
// value, and each setting reaching a real server: test/e2e/limits.test.ts.)

import { describe, expect, it } from 'vitest';
import { resolveServeLimits, type ServeLimitFlags } from '../../src/cli/serve-limits.js';
import { isTxlakeError } from '../../src/domain/errors.js';

function usageError(flags: ServeLimitFlags, env: NodeJS.ProcessEnv): string {
  try {
    resolveServeLimits(flags, env);
  } catch (error) {
    expect(isTxlakeError(error) && error.kind).toBe('usage');
    return (error as Error).message;
  }
  throw new Error('no usage error');
}

describe('resolveServeLimits', () => {
  it('is empty without flags or environment (no rate limit, no proxy, the default cap)', () => {
    expect(resolveServeLimits({}, {})).toEqual({});
    expect(
      resolveServeLimits({}, { TXLAKE_RATE_LIMIT: '', TXLAKE_MAX_CONNECTIONS: ' ', TXLAKE_TRUST_PROXY: '' }),
    ).toEqual({});
  });

  it('takes flags over the environment', () => {
    const env = { TXLAKE_RATE_LIMIT: '7', TXLAKE_MAX_CONNECTIONS: '99', TXLAKE_TRUST_PROXY: '10.0.0.1' };
    expect(resolveServeLimits({}, env)).toEqual({ rateLimit: 7, maxConnections: 99, trustProxy: '10.0.0.1' });
    expect(
      resolveServeLimits({ rateLimit: '100', maxConnections: '5000', trustProxy: '192.168.1.0/24' }, env),
    ).toEqual({ rateLimit: 100, maxConnections: 5000, trustProxy: '192.168.1.0/24' });
    expect(resolveServeLimits({ rateLimit: '1_000' }, {})).toEqual({ rateLimit: 1000 });
  });

  it('--trust-proxy alone (or a yes in the environment) trusts a proxy on this host', () => {
    expect(resolveServeLimits({ trustProxy: true }, {})).toEqual({ trustProxy: 'loopback' });
    for (const yes of ['1', 'true', 'TRUE', 'yes', 'on'])
      expect(resolveServeLimits({}, { TXLAKE_TRUST_PROXY: yes }), yes).toEqual({ trustProxy: 'loopback' });
    for (const no of ['0', 'false', 'no', 'off', ''])
      expect(resolveServeLimits({}, { TXLAKE_TRUST_PROXY: no }), no).toEqual({});
  });

  it('takes a list of addresses, ranges and range names', () => {
    expect(
      resolveServeLimits({ trustProxy: ' 127.0.0.1, ::1,10.0.0.0/8 ,fd00::/8,uniquelocal,linklocal' }, {}),
    ).toEqual({ trustProxy: '127.0.0.1,::1,10.0.0.0/8,fd00::/8,uniquelocal,linklocal' });
  });

  it.each([
    [{ rateLimit: '0' }, {}, '--rate-limit must be a whole number from 1 to 1000000, got "0"'],
    [{ rateLimit: '-5' }, {}, '--rate-limit must be a whole number from 1 to 1000000, got "-5"'],
    [{ rateLimit: '2.5' }, {}, '--rate-limit must be a whole number from 1 to 1000000, got "2.5"'],
    [{ rateLimit: 'lots' }, {}, '--rate-limit must be a whole number from 1 to 1000000, got "lots"'],
    [
      {},
      { TXLAKE_RATE_LIMIT: 'ten' },
      'TXLAKE_RATE_LIMIT must be a whole number from 1 to 1000000, got "ten"',
    ],
    [{ maxConnections: '0' }, {}, '--max-connections must be a whole number from 1 to 1000000, got "0"'],
    [
      {},
      { TXLAKE_MAX_CONNECTIONS: '1e4' },
      'TXLAKE_MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "1e4"',
    ],
    [
      { trustProxy: 'nginx.local' },
      {},
      `--trust-proxy takes the proxies' addresses or ranges, comma-separated (127.0.0.1, 10.0.0.0/8, ::1, loopback, linklocal, uniquelocal), got "nginx.local" in "nginx.local"`,
    ],
    [
      { trustProxy: '10.0.0.1,,10.0.0.2' },
      {},
      `--trust-proxy takes the proxies' addresses or ranges, comma-separated (127.0.0.1, 10.0.0.0/8, ::1, loopback, linklocal, uniquelocal), got "" in "10.0.0.1,,10.0.0.2"`,
    ],
    [
      {},
      { TXLAKE_TRUST_PROXY: '10.0.0.0/33' },
      `TXLAKE_TRUST_PROXY takes the proxies' addresses or ranges, comma-separated (127.0.0.1, 10.0.0.0/8, ::1, loopback, linklocal, uniquelocal), got "10.0.0.0/33" in "10.0.0.0/33"`,
    ],
  ] as const)('%j %j is a usage error', (flags, env, message) => {
    expect(usageError(flags, env)).toBe(message);
  });

  it.each(['300.1.1.1', '10.0.0.0/', '10.0.0.0/x', '::1/129', '::1/-1', 'loopback/8', '/8', 'Loopback'])(
    '--trust-proxy %s is refused',
    (text) => {
      expect(usageError({ trustProxy: text }, {})).toMatch(/^--trust-proxy takes/);
    },
  );
});
