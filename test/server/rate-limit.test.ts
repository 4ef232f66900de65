// The rate-limit plugin in a Fastify app of its own (inject, no sockets), behind a hook that stands in for
// the API-key hook: buckets per key name and per address, read at request time; probes exempt; 404s
// limited; the 429 problem. The client address's bucket (IPv6 by /64) and the probe paths, unit by unit.
// Real servers: test/e2e/limits.test.ts.

import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addressKey, isProbe, rateLimitPlugin } from '../../src/server/plugins/rate-limit.js';

describe('addressKey', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['::FFFF:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('%s counts as %s', (ip, key) => {
    expect(addressKey(ip)).toBe(key);
  });

  it('two hosts of one /64 share a bucket, of two /64s do not', () => {
    expect(addressKey('2001:db8:a:b:1::1')).toBe(addressKey('2001:db8:a:b:ffff::2'));
    expect(addressKey('2001:db8:a:b::1')).not.toBe(addressKey('2001:db8:a:c::1'));
  });
});

describe('isProbe', () => {
  it.each(['/healthz', '/readyz', '/metrics', '/healthz?verbose=1', '/metrics?name[]=x'])('%s is', (url) => {
    expect(isProbe(url)).toBe(true);
  });
  it.each(['/', '/healthzz', '/healthz/', '/api/v1/healthz', '/readyz#', '/metricsx?', '/HEALTHZ'])(
    '%s is not',
    (url) => {
      expect(isProbe(url)).toBe(false);
    },
  );
});

const RATE = 2;
let app: FastifyInstance;

beforeAll(async () => {
  app = Fastify();
  app.decorateRequest('apiKeyName', null);
  // Stands in for the API-key hook, which runs before the rate limit and names the request's key.
  app.addHook('onRequest', (request, _reply, done) => {
    const key = request.headers['x-test-key'];
    request.apiKeyName = typeof key === 'string' ? key : null;
    done();
  });
  await app.register(rateLimitPlugin, { perSecond: RATE });
  app.get('/api/v1/data/transactions/:userId', async () => []);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
});

afterAll(async () => {
  await app.close();
});

async function statuses(count: number, url: string, from: string, key?: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const headers = key === undefined ? {} : { 'x-test-key': key };
    out.push((await app.inject({ url, remoteAddress: from, headers })).statusCode);
  }
  return out;
}

// A bucket of 2 a second gains a token every 500 ms: these requests take a few milliseconds.
describe('the plugin', () => {
  it('answers 429 with a problem and Retry-After once an address has used its burst', async () => {
    expect(await statuses(RATE, '/api/v1/data/transactions/1', '10.0.0.1')).toEqual([200, 200]);
    const refused = await app.inject({ url: '/api/v1/data/transactions/1', remoteAddress: '10.0.0.1' });
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.headers['content-type']).toBe('application/problem+json');
    expect(refused.json()).toEqual({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      detail: 'more than 2 requests a second from this address; try again in 1 s',
    });
  });

  it('keeps a bucket per key name, read when the request comes (after the key hook)', async () => {
    const url = '/api/v1/data/transactions/2';
    // One address, three keys: each key has its own bucket, and the address's own is not touched.
    expect(await statuses(3, url, '10.0.0.2', 'alice')).toEqual([200, 200, 429]);
    expect(await statuses(3, url, '10.0.0.2', 'bob')).toEqual([200, 200, 429]);
    expect(await statuses(1, url, '10.0.0.3', 'alice')).toEqual([429]); // alice from anywhere
    expect(await statuses(3, url, '10.0.0.2')).toEqual([200, 200, 429]);
    const refused = await app.inject({ url, remoteAddress: '10.0.0.2', headers: { 'x-test-key': 'alice' } });
    expect(refused.json().detail).toBe('more than 2 requests a second with this API key; try again in 1 s');
  });

  it('a key named like an address does not share that address’s bucket', async () => {
    const url = '/api/v1/data/transactions/3';
    expect(await statuses(3, url, '10.0.0.4', '10.0.0.5')).toEqual([200, 200, 429]);
    expect(await statuses(2, url, '10.0.0.5')).toEqual([200, 200]);
  });

  it('limits paths that match no route too', async () => {
    expect(await statuses(3, '/nope', '10.0.0.6')).toEqual([404, 404, 429]);
  });

  it('never limits the probes, also for a client over its limit', async () => {
    await statuses(3, '/api/v1/data/transactions/4', '10.0.0.7');
    for (const url of ['/healthz', '/readyz', '/healthz?x=1']) {
      expect(new Set(await statuses(10, url, '10.0.0.7')), url).toEqual(new Set([200]));
    }
    expect(await statuses(1, '/api/v1/data/transactions/4', '10.0.0.7')).toEqual([429]);
  });

  it('serves an address again once a token has come back', async () => {
    expect(await statuses(3, '/api/v1/data/transactions/5', '10.0.0.8')).toEqual([200, 200, 429]);
    await new Promise((resolve) => setTimeout(resolve, 1000 / RATE + 50));
    // (How many come back in how long is the buckets' own test, on a clock it steps.)
    expect(await statuses(1, '/api/v1/data/transactions/5', '10.0.0.8')).toEqual([200]);
  });
});
