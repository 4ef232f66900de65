// What a request pays for the request hooks of the limits and security headers, measured on a small JSON
// route (the shape of a v1 answer) over real sockets: `node dist/bench/hook-costs.js [seconds] [rounds]`.
// Each variant serves the same route with one addition; autocannon runs in a child process and the variants
// take turns in each round. What is reported is the server's CPU time per request (this process's, read
// with process.cpuUsage), the median over the rounds: unlike requests a second it hardly moves when other
// work shares the machine. The last columns are each addition's cost against the bare route. It justified the choices in docs/operations.md ("Limits and
// security headers"): nosniff in the app's own hook, txlake's synchronous rate-limit hook rather than
// @fastify/rate-limit, and helmet on HTML pages only.

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyInstance } from 'fastify';
import { keyDigest, newApiKey } from '../src/domain/api-keys.js';
import { AccessControl } from '../src/server/access.js';
import { addAuthentication } from '../src/server/plugins/auth.js';
import { rateLimitPlugin } from '../src/server/plugins/rate-limit.js';
import { TokenBuckets } from '../src/server/token-bucket.js';

const BODY = JSON.stringify([
  { user_id: 31373, amount_in_dollars: 750, datetime: '2023-03-25T11:31:26+00:00', merchant_type_code: 5310 },
]);

/** @fastify/rate-limit's store contract, answered from token buckets (what SPEC §5 asks of it). */
class TokenBucketStore {
  readonly #buckets: TokenBuckets;
  constructor(options: { max: number }) {
    this.#buckets = new TokenBuckets(options.max);
  }
  incr(
    key: string,
    callback: (error: Error | null, result: { current: number; ttl: number }) => void,
    _window: number,
    max: number,
  ) {
    const wait = this.#buckets.take(key, performance.now());
    callback(null, wait === 0 ? { current: 1, ttl: 1000 } : { current: max + 1, ttl: wait });
  }
  child() {
    return this;
  }
}

type Variant = {
  name: string;
  setup: (app: FastifyInstance) => Promise<void>;
  /** Headers every request of the variant sends. */
  headers?: Record<string, string>;
};

/** One active key among five, as a server reading a key file would hold them (SPEC §5). */
const KEY = newApiKey();
const keyFile = {
  format: 1 as const,
  generation: 1,
  keys: [KEY, ...Array.from({ length: 4 }, () => newApiKey())].map((key, i) => ({
    name: `k${i}`,
    sha256: keyDigest(key).toString('hex'),
    created: new Date().toISOString(),
    created_by: { user: 'bench', host: 'bench' },
    revoked: null,
    revoked_by: null,
  })),
};

const VARIANTS: Variant[] = [
  { name: 'bare route (x-request-id in a plain hook)', setup: async () => {} },
  {
    name: '+ nosniff in that hook',
    setup: async (app) => {
      app.decorate('nosniff', true);
    },
  },
  {
    name: '+ txlake rate limit (sync hook, token buckets)',
    setup: async (app) => {
      app.decorateRequest('apiKeyName', null);
      await app.register(rateLimitPlugin, { perSecond: 1_000_000_000 });
    },
  },
  {
    name: '+ @fastify/rate-limit with a token-bucket store',
    setup: async (app) => {
      await app.register(rateLimit, {
        max: 1_000_000_000,
        timeWindow: 1000,
        store: TokenBucketStore as never,
      });
    },
  },
  {
    name: '+ API key check (Bearer, 5 keys)',
    headers: { authorization: `Bearer ${KEY}` },
    setup: async (app) => {
      app.decorateRequest('apiKeyName', null);
      const access = new AccessControl({
        read: async () => keyFile,
        describe: () => 'bench',
        close: async () => {},
      });
      await access.refresh();
      addAuthentication(app, access);
    },
  },
  {
    name: '+ the same header, no key check (what the client sends)',
    headers: { authorization: `Bearer ${KEY}` },
    setup: async () => {},
  },
  {
    name: '+ @fastify/helmet on every route',
    setup: async (app) => {
      await app.register(helmet, {
        contentSecurityPolicy: { useDefaults: false, directives: { 'default-src': ["'none'"] } },
      });
    },
  },
];

async function serve(variant: Variant): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  const nosniff = variant.name.includes('nosniff');
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    if (nosniff) reply.header('x-content-type-options', 'nosniff');
    done();
  });
  await variant.setup(app);
  app.get('/api/v1/data/transactions/:userId', (_request, reply) => {
    reply.type('application/json').send(BODY);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  return app;
}

/** Requests answered in a run of `seconds`. */
function autocannon(port: number, seconds: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        'node_modules/autocannon/autocannon.js',
        '--json',
        '-c',
        '16',
        '-d',
        String(seconds),
        ...Object.entries(headers).flatMap(([name, value]) => ['-H', `${name}=${value}`]),
        `http://127.0.0.1:${port}/api/v1/data/transactions/31373`,
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', () => {
      try {
        const result = JSON.parse(out) as { requests: { total: number }; non2xx: number };
        if (result.non2xx > 0) reject(new Error(`${result.non2xx} answers were not 2xx`));
        else resolve(result.requests.total);
      } catch (error) {
        reject(error);
      }
    });
  });
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const rounds = Number(process.argv[3] ?? 2);
  const cpuUs = VARIANTS.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, variant] of VARIANTS.entries()) {
      const app = await serve(variant);
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const before = process.cpuUsage();
      const requests = await autocannon(port, seconds, variant.headers);
      const used = process.cpuUsage(before);
      cpuUs[i]?.push((used.user + used.system) / requests);
      await app.close();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const base = median(cpuUs[0] ?? []);
  console.log(`${'variant'.padEnd(50)} CPU µs/request  extra µs  share of a v1 request at 15k req/s`);
  for (const [i, variant] of VARIANTS.entries()) {
    const cost = median(cpuUs[i] ?? []);
    const extra = cost - base;
    // v1 answers 13–16k req/s on this 2-core machine: about 67 µs of CPU a request at 15k on one core.
    const share = `${((extra / (1e6 / 15_000)) * 100).toFixed(1)}%`;
    console.log(
      `${variant.name.padEnd(50)} ${cost.toFixed(1).padStart(14)}  ${extra.toFixed(1).padStart(8)}  ${share.padStart(6)}`,
    );
  }
}

await main();
