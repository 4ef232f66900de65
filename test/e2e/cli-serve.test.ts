// End to end as a user runs it: `./bin/txlake ingest` then `./bin/txlake serve` on a real port, every
// HTTP path around v1 (errors included), the service endpoints, logs, request ids, help and SIGTERM.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvText, writeCsvFile } from '../helpers/csv-file.js';
import { oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { type HttpResponse, httpGet, mapLimit, type RunningServer, startServer } from '../helpers/server.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, describeRun, runTxlake, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let lake = '';
let oracle: V1Oracle;
let server: RunningServer | undefined;

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make();
  lake = path.join(dir, 'lake');
  const text = csvText([
    ...randomTransactions({ seed: 61, rows: 200, users: 30 }),
    ...cornerCaseTransactions(),
  ]);
  oracle = new V1Oracle(oracleIngest(text).rows);
  const file = writeCsvFile(path.join(dir, 'transactions.csv'), text);
  const args = ['ingest', file, '--lake', lake];
  const result = await runTxlake(args);
  if (result.code !== 0) throw new Error(describeRun(args, result));
  server = await startServer(lake);
});

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

function live(): RunningServer {
  if (!server) throw new Error('the server did not start');
  return server;
}

function expectJson(response: HttpResponse, what: string): unknown {
  expect(String(response.headers['content-type']), what).toMatch(/^application\/json/);
  try {
    return JSON.parse(response.body);
  } catch {
    throw new Error(`${what}: body is not JSON: ${response.body.slice(0, 300)}`);
  }
}

async function getFollowingRedirects(rawPath: string): Promise<HttpResponse> {
  let response = await live().get(rawPath);
  for (let hops = 0; hops < 3 && response.status >= 300 && response.status < 400; hops++) {
    const location = String(response.headers.location ?? '');
    const next = new URL(location, `http://127.0.0.1:${live().port}${rawPath}`);
    response = await live().get(`${next.pathname}${next.search}`);
  }
  return response;
}

describe('help', () => {
  it('txlake --help and every command --help exit 0', async () => {
    const top = await runTxlake(['--help']);
    expect(top.code, describeRun(['--help'], top)).toBe(0);
    const section = top.stdout.split(/^Commands:/m)[1] ?? '';
    const commands = [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)]
      .map((m) => m[1] as string)
      .filter((c) => c !== 'help');
    for (const required of ['ingest', 'serve', 'snapshot']) expect(commands).toContain(required);
    const results = await mapLimit(commands, 3, (command) => runTxlake([command, '--help']));
    results.forEach((result, i) => {
      const args = [commands[i] as string, '--help'];
      expect(result.code, describeRun(args, result)).toBe(0);
      expect(result.stdout, args.join(' ')).toMatch(/usage/i);
    });
  });

  it('an unknown command fails with a message naming it', async () => {
    const result = await runTxlake(['frobnicate']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('frobnicate');
  });
});

describe('serve', () => {
  it('GET /healthz and /readyz answer 200', async () => {
    expect((await live().get('/healthz')).status).toBe(200);
    expect((await live().get('/readyz')).status).toBe(200);
  });

  it('answers the SPEC seed example byte for byte, as JSON', async () => {
    const response = await live().get('/api/v1/data/transactions/31373');
    expect(response.status).toBe(200);
    expectJson(response, 'transactions');
    expect(response.body).toBe(oracle.transactionsBody(31373n));
    expect(response.body).toContain(
      '{"user_id":31373,"amount_in_dollars":750,"datetime":"2023-03-25T11:31:26+00:00","merchant_type_code":5310}',
    );
    const net = await live().get('/api/v1/data/netAmount/6011');
    expect(net.status).toBe(200);
    expect(net.body).toBe(oracle.netAmountBody(6011));
  });

  it('ids with leading zeros are the same integers; a query string changes nothing', async () => {
    expect((await live().get('/api/v1/data/transactions/0031373')).body).toBe(
      oracle.transactionsBody(31373n),
    );
    expect((await live().get('/api/v1/data/netAmount/06011')).body).toBe(oracle.netAmountBody(6011));
    expect((await live().get('/api/v1/data/transactions/31373?x=1&userId=5')).body).toBe(
      oracle.transactionsBody(31373n),
    );
  });

  const NOT_INTEGERS = [
    'abc',
    '-5',
    '1.5',
    '%D9%A1',
    '%EF%BC%91',
    '+5',
    '%2B5',
    '1e3',
    '%205',
    '5%20',
    '0x10',
    '12a',
    '1_000',
    '%2D5',
  ];

  it.each(NOT_INTEGERS)('a userId that is not ASCII digits (%s) → 400 with the exact v1 body', async (id) => {
    const response = await live().get(`/api/v1/data/transactions/${id}`);
    expect(`${response.status} ${response.body}`).toBe('400 {"error":"userId must be an integer"}');
    expectJson(response, id);
  });

  it.each(NOT_INTEGERS)(
    'a merchantTypeCode that is not ASCII digits (%s) → 400 with the exact v1 body',
    async (id) => {
      const response = await live().get(`/api/v1/data/netAmount/${id}`);
      expect(`${response.status} ${response.body}`).toBe(
        '400 {"error":"merchantTypeCode must be an integer"}',
      );
      expectJson(response, id);
    },
  );

  it.each([
    '/api/v1/data/transactions/9223372036854775808',
    '/api/v1/data/transactions/18446744073709551616',
    `/api/v1/data/transactions/${'9'.repeat(60)}`,
    '/api/v1/data/netAmount/10000',
    '/api/v1/data/netAmount/9223372036854775808',
    `/api/v1/data/netAmount/1${'0'.repeat(40)}`,
    '/api/v1/data/transactions/424243',
    '/api/v1/data/netAmount/1',
  ])('an id with no data, even beyond INT64 (%s) → 200 []', async (p) => {
    const response = await live().get(p);
    expect(`${response.status} ${response.body}`).toBe('200 []');
  });

  it.each([
    '/api/v1/data/transactions/',
    '/api/v1/data/netAmount/',
    '/nope',
    '/api/v1/data/transactions/5/extra',
    '/api/v1/data/other/5',
    '/api/v1/data',
    '/api/v9/data/transactions/5',
  ])('an unknown route (%s) → 404 with a JSON body', async (p) => {
    const response = await live().get(p);
    expect(response.status, `${p}: ${response.body}`).toBe(404);
    expectJson(response, p);
  });

  it('GET /openapi.json is an OpenAPI 3.1 document with both v1 paths', async () => {
    const response = await live().get('/openapi.json');
    expect(response.status).toBe(200);
    const doc = expectJson(response, 'openapi') as { openapi?: string; paths?: Record<string, unknown> };
    expect(String(doc.openapi)).toMatch(/^3\.1/);
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining([
        '/api/v1/data/transactions/{userId}',
        '/api/v1/data/netAmount/{merchantTypeCode}',
      ]),
    );
  });

  it('GET /docs serves HTML', async () => {
    const response = await getFollowingRedirects('/docs');
    expect(response.status).toBe(200);
    expect(String(response.headers['content-type'])).toMatch(/^text\/html/);
    expect(response.body).toMatch(/<html/i);
  });

  it('echoes x-request-id, or generates one', async () => {
    const echoed = await live().get('/api/v1/data/transactions/31373', { 'x-request-id': 'e2e-req-4242' });
    expect(echoed.headers['x-request-id']).toBe('e2e-req-4242');
    const generated = await live().get('/healthz');
    expect(String(generated.headers['x-request-id'] ?? '')).not.toBe('');
    const other = await live().get('/healthz');
    expect(other.headers['x-request-id']).not.toBe(generated.headers['x-request-id']);
  });

  it('logs JSON lines on stdout, with the request id', async () => {
    await live().get('/api/v1/data/transactions/5', { 'x-request-id': 'e2e-log-7777' });
    const deadline = Date.now() + 5_000;
    while (!live().stdout().includes('e2e-log-7777') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const lines = live()
      .stdout()
      .split('\n')
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line), `not JSON: ${line}`).not.toThrow();
    expect(lines.some((l) => l.includes('e2e-log-7777'))).toBe(true);
  });

  // Over a real socket, where Node's 16 KiB limit on the request head applies (the request line included).
  it.each([4_097, 8_000])('an id of %i digits beyond the range → 200 [] on both routes', async (length) => {
    for (const route of ['transactions', 'netAmount']) {
      const response = await live().get(`/api/v1/data/${route}/${'9'.repeat(length)}`);
      expect(`${response.status} ${response.body}`, `${route}, ${length} digits`).toBe('200 []');
    }
  });

  it('an id of 8,000 characters not all digits → 400 with the exact v1 body', async () => {
    const id = `${'9'.repeat(4_000)}x${'9'.repeat(3_999)}`;
    const user = await live().get(`/api/v1/data/transactions/${id}`);
    expect(`${user.status} ${user.body}`).toBe('400 {"error":"userId must be an integer"}');
    const code = await live().get(`/api/v1/data/netAmount/${id}`);
    expect(`${code.status} ${code.body}`).toBe('400 {"error":"merchantTypeCode must be an integer"}');
  });

  it('an id in range after 5,000 leading zeros is that id', async () => {
    const zeros = '0'.repeat(5_000);
    const user = await live().get(`/api/v1/data/transactions/${zeros}31373`);
    expect(user.status).toBe(200);
    expect(user.body).toBe(oracle.transactionsBody(31373n));
    const code = await live().get(`/api/v1/data/netAmount/${zeros}6011`);
    expect(code.status).toBe(200);
    expect(code.body).toBe(oracle.netAmountBody(6011));
  });

  it('a request line longer than Node takes is refused by Node (431), not a 5xx', async () => {
    // Its own connection (fetch, not the shared keep-alive pool): the server closes it after the 431.
    const url = `http://127.0.0.1:${live().port}/api/v1/data/transactions/${'9'.repeat(17_000)}`;
    const response = await fetch(url);
    expect(response.status).toBe(431);
  });

  const SERVED = [
    '/api/v1/data/transactions/31373',
    '/api/v1/data/netAmount/6011',
    '/healthz',
    '/readyz',
    '/openapi.json',
    '/docs',
    '/docs/json',
  ];

  it.each(SERVED)('%s answers other methods 405 with Allow, and OPTIONS 200', async (p) => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'PROPFIND']) {
      const response = await httpGet(live().port, p, {}, method);
      expect(response.status, `${method} ${p}: ${response.body}`).toBe(405);
      expect(response.headers.allow).toBe('GET, HEAD, OPTIONS');
      expect(expectJson(response, `${method} ${p}`)).toEqual({
        error: `method ${method} is not allowed on ${p}; use GET`,
      });
    }
    const options = await httpGet(live().port, p, {}, 'OPTIONS');
    expect(`${options.status} ${options.headers.allow} ${JSON.stringify(options.body)}`).toBe(
      '200 GET, HEAD, OPTIONS ""',
    );
  });

  it.each(['/nope', '/api/v1/data/transactions/', '/api/v1/data/transactions/5/extra'])(
    'an unknown route (%s) stays 404 with other methods',
    async (p) => {
      for (const method of ['POST', 'DELETE', 'OPTIONS', 'PROPFIND']) {
        const response = await httpGet(live().port, p, {}, method);
        expect(response.status, `${method} ${p}: ${response.body}`).toBe(404);
        expectJson(response, `${method} ${p}`);
      }
    },
  );

  it('SIGTERM stops the server gracefully with exit code 0 (the last test: it stops the shared server)', async () => {
    const own = live();
    expect((await own.get('/readyz')).status).toBe(200);
    expect(await own.stop()).toBe(0);
    server = undefined;
  });
});
