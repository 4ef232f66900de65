// SPEC §5 "Rate limits" and "Abuse" against real `txlake serve` processes on 127.0.0.1, over bare sockets
// where an HTTP client would not send the request: 431 and 414 at their exact limits, slow and silent
// clients dropped, 1,000 keep-alive connections answered, the connection cap, the open-files warning,
// nosniff on every answer, helmet's strict CSP on /docs with Swagger UI's files still loading, the rate
// limit (burst, refill, per address, probes exempt, every route, --trust-proxy, behind deploy/nginx), the
// flags' usage errors, and the limits in cluster workers.

import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNginx } from '../helpers/nginx.js';
import { RawConnection, rawRequest } from '../helpers/raw-socket.js';
import { freePort, httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, errorLine, REPO_ROOT, runExpecting, TempDirs, TXLAKE_BIN } from '../helpers/txlake.js';

const temp = new TempDirs();
let lake = '';
/** v1's answer for the sample's user 31373, as every server here gives it. */
let seedAnswer = '';

beforeAll(async () => {
  assertBuilt();
  lake = path.join(temp.make(), 'lake');
  await runExpecting(
    ['ingest', path.join(REPO_ROOT, 'examples', 'combined_transactions.csv'), '--lake', lake],
    0,
  );
});

afterAll(() => temp.cleanup());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw GET head whose headers Node counts (request target, names, values) at exactly `counted` bytes. */
function headOfCountedSize(target: string, counted: number): string {
  const fixed = target.length + 'host'.length + '127.0.0.1'.length + 'x-pad'.length;
  return `GET ${target} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-pad: ${'a'.repeat(counted - fixed)}\r\n\r\n`;
}

/** A URL of exactly `length` characters: `prefix`, then digits, then `suffix`. */
function urlOfLength(prefix: string, length: number, suffix = ''): string {
  return `${prefix}${'9'.repeat(length - prefix.length - suffix.length)}${suffix}`;
}

/** GET `target` on a fresh connection from `localAddress` (a loopback address: its own rate-limit bucket). */
async function getFrom(
  port: number,
  localAddress: string,
  target: string,
  headers: Record<string, string> = {},
) {
  const connection = new RawConnection(port, localAddress);
  try {
    await connection.connected;
    return await connection.get(target, headers);
  } finally {
    connection.destroy();
  }
}

function expectProblem(
  answer: { status: number; headers: Record<string, string>; body: string },
  status: number,
) {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers['content-type']).toBe('application/problem+json');
  const problem = JSON.parse(answer.body) as Record<string, unknown>;
  expect(problem).toMatchObject({ type: 'about:blank', status });
  expect(typeof problem.detail).toBe('string');
  return problem;
}

describe('abuse limits of a server with the defaults', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(lake);
    seedAnswer = (await server.get('/api/v1/data/transactions/31373')).body;
    expect(seedAnswer).toMatch(/^\[\{"user_id":31373,/);
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('431 for headers of 16 KiB + 1, 200 at exactly 16 KiB', async () => {
    const under = await rawRequest(server.port, headOfCountedSize('/healthz', 16 * 1024));
    expect(under.status, under.body).toBe(200);
    const over = await rawRequest(server.port, headOfCountedSize('/healthz', 16 * 1024 + 1));
    expect(expectProblem(over, 431).detail).toBe(
      "the request's headers (with its URL) are larger than 16384 bytes",
    );
    expect(over.headers.connection).toBe('close');
    // Counted over all headers, not per header: 400 headers of 41 bytes each.
    const many = Array.from(
      { length: 400 },
      (_, i) => `x-h${String(i).padStart(3, '0')}: ${'b'.repeat(35)}\r\n`,
    );
    expectProblem(
      await rawRequest(server.port, `GET /healthz HTTP/1.1\r\nhost: x\r\n${many.join('')}\r\n`),
      431,
    );
  });

  it('414 for a URL of 8 KiB + 1 on v1, v2 and paths that match no route; 8 KiB is answered', async () => {
    const routes: Array<[string, string, number]> = [
      ['/api/v1/data/transactions/', '', 200],
      ['/api/v1/data/netAmount/', '', 200],
      ['/api/v2/users/', '/transactions', 200],
      ['/api/v2/merchant-types/', '/daily-net', 200],
      ['/nope/', '', 404],
      ['/api/v1/data/transactions/1?pad=', '', 200],
    ];
    for (const [prefix, suffix, status] of routes) {
      const fits = await httpGet(server.port, urlOfLength(prefix, 8192, suffix));
      expect(fits.status, `${prefix}…${suffix} at 8192: ${fits.body.slice(0, 200)}`).toBe(status);
      const over = await httpGet(server.port, urlOfLength(prefix, 8193, suffix));
      expect(over.status, `${prefix}…${suffix} at 8193`).toBe(414);
      expect(over.headers['x-content-type-options']).toBe('nosniff');
      if (prefix.startsWith('/api/v2/')) {
        expect(over.headers['content-type']).toBe('application/problem+json');
        expect(JSON.parse(over.body)).toEqual({
          type: 'about:blank',
          title: 'URI Too Long',
          status: 414,
          detail: 'the URL is longer than 8192 bytes',
        });
      } else {
        expect(over.body).toBe('{"error":"the URL is longer than 8192 bytes"}');
      }
    }
    // Beyond even what a head may hold, the parser refuses it (431), never a 5xx.
    const huge = await rawRequest(server.port, `GET /nope/${'9'.repeat(17_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expectProblem(huge, 431);
  });

  it('drops a silent client, a slowloris and a stalled head within 15 s; a keep-alive connection stays', async () => {
    const silent = new RawConnection(server.port);
    const slowloris = new RawConnection(server.port);
    const stalled = new RawConnection(server.port);
    const keptAlive = new RawConnection(server.port);
    await Promise.all([silent.connected, slowloris.connected, stalled.connected, keptAlive.connected]);
    stalled.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n');
    expect((await keptAlive.get('/healthz')).status).toBe(200);
    // A header byte a second: never silent, so only the headers timeout ends it.
    const trickle = `GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ${'z'.repeat(100)}`;
    let sent = 0;
    const timer = setInterval(() => {
      if (!slowloris.isClosed && sent < trickle.length) slowloris.write(trickle[sent++] ?? '');
    }, 1000);
    try {
      await sleep(3000);
      // Not dropped at once: clients get their 10 s.
      expect([silent.isClosed, slowloris.isClosed, stalled.isClosed]).toEqual([false, false, false]);
      const [a, b, c] = await Promise.all([
        silent.closedWithin(12_000),
        slowloris.closedWithin(12_000),
        stalled.closedWithin(12_000),
      ]);
      expect({ silent: a, slowloris: b, stalled: c }).toEqual({
        silent: true,
        slowloris: true,
        stalled: true,
      });
    } finally {
      clearInterval(timer);
    }
    expect(sent).toBeGreaterThan(5); // it really was trickling when it was dropped
    // The slowloris is told why (a 408 problem); the silent one had sent nothing to answer.
    expect(slowloris.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(slowloris.received).toContain('"status":408');
    expect(silent.received).toBe('');
    // A connection idle after an answer is a keep-alive one (a proxy's pool): kept past those 10 s.
    expect(keptAlive.isClosed).toBe(false);
    expect((await keptAlive.get('/api/v1/data/transactions/31373')).body).toBe(seedAnswer);
    keptAlive.destroy();
  }, 40_000);

  it('answers 1,000 concurrent keep-alive connections, twice each', async () => {
    const connections = Array.from({ length: 1000 }, () => new RawConnection(server.port));
    try {
      await Promise.all(connections.map((c) => c.connected));
      for (const round of [1, 2]) {
        const answers = await Promise.all(connections.map((c) => c.get('/api/v1/data/transactions/31373')));
        const wrong = answers.filter((answer) => answer.status !== 200 || answer.body !== seedAnswer);
        expect(wrong.length, `round ${round}: ${JSON.stringify(wrong[0])}`).toBe(0);
      }
      expect(connections.filter((c) => c.isClosed).length).toBe(0);
    } finally {
      for (const connection of connections) connection.destroy();
    }
  }, 60_000);

  it('says nosniff on every answer: data, probes, docs, errors of the router and of the parser', async () => {
    const answers: Array<[string, string | undefined]> = [];
    for (const target of [
      '/api/v1/data/transactions/31373',
      '/api/v1/data/netAmount/5732',
      '/api/v1/data/transactions/x',
      '/api/v2/users/31373/transactions',
      '/api/v2/users/x/transactions',
      '/api/v2/snapshots',
      '/api/v1/data/transactions/%zz',
      '/api/v2/users/%zz/transactions',
      '/healthz',
      '/readyz',
      '/openapi.json',
      '/docs',
      '/docs/json',
      '/docs/static/swagger-ui.css',
      '/nope',
    ]) {
      const answer = await httpGet(server.port, target);
      answers.push([`GET ${target} → ${answer.status}`, answer.headers['x-content-type-options'] as string]);
    }
    const post = await httpGet(server.port, '/api/v1/data/transactions/1', {}, 'POST');
    answers.push([`POST → ${post.status}`, post.headers['x-content-type-options'] as string]);
    const etag = String((await httpGet(server.port, '/api/v2/snapshots')).headers.etag);
    const notModified = await httpGet(server.port, '/api/v2/snapshots', { 'if-none-match': etag });
    answers.push([
      `If-None-Match → ${notModified.status}`,
      notModified.headers['x-content-type-options'] as string,
    ]);
    for (const raw of [
      headOfCountedSize('/healthz', 20_000),
      'FROB / HTTP/1.1\r\nhost: x\r\n\r\n',
      'GET / HTTP/1.1\r\nbad header: x\r\n\r\n',
    ]) {
      const answer = await rawRequest(server.port, raw);
      answers.push([
        `raw ${raw.slice(0, 12).trim()} → ${answer.status}`,
        answer.headers['x-content-type-options'],
      ]);
    }
    expect(answers.map(([what]) => what)).toContain('POST → 405');
    expect(answers.map(([what]) => what)).toContain('If-None-Match → 304');
    expect(answers.filter(([, header]) => header !== 'nosniff')).toEqual([]);
  });

  it('parser refusals are problem documents, never a 5xx (an unknown method is 501)', async () => {
    expect(
      expectProblem(await rawRequest(server.port, 'FROB / HTTP/1.1\r\nhost: x\r\n\r\n'), 501).detail,
    ).toBe('the request method is not one this server knows');
    const invalid = await rawRequest(server.port, 'GET / HTTP/1.1\r\nbad header: x\r\n\r\n');
    expect(expectProblem(invalid, 400).detail).toBe(
      'the request is not valid HTTP/1.1 (invalid header token)',
    );
    expectProblem(await rawRequest(server.port, 'GET / HTTP/7.0\r\n\r\n'), 400);
  });

  it('/docs has helmet headers and a strict CSP, and every file of Swagger UI loads', async () => {
    const page = await httpGet(server.port, '/docs');
    expect(page.status).toBe(200);
    expect(String(page.headers['content-type'])).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toBe(
      "default-src 'none';script-src 'self';script-src-attr 'none';style-src 'self';img-src 'self' data:;" +
        "connect-src 'self';base-uri 'none';form-action 'self';frame-ancestors 'none';object-src 'none'",
    );
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    expect(page.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(page.headers['strict-transport-security']).toBeUndefined();
    // What that policy would block is not on the page: inline scripts, styles, handlers; other origins.
    const html = page.body;
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/i);
    expect([...html.matchAll(/<script[^>]*>([^<]*)<\/script>/gi)].map((m) => (m[1] ?? '').trim())).toEqual([
      '',
      '',
      '',
    ]);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    const files = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] as string);
    expect(files.length).toBeGreaterThanOrEqual(6);
    const types: Record<string, RegExp> = { js: /javascript/, css: /^text\/css/, png: /^image\/png/ };
    for (const file of files) {
      expect(file, 'from this origin').toMatch(/^\/docs\/static\/[a-z0-9.-]+$/);
      const asset = await httpGet(server.port, file);
      expect(asset.status, file).toBe(200);
      expect(String(asset.headers['content-type']), file).toMatch(
        types[file.split('.').at(-1) ?? ''] ?? /^$/,
      );
      expect(asset.bytes.length, file).toBeGreaterThan(100);
    }
    // The initializer loads the document from ./json on this origin (connect-src 'self').
    const initializer = await httpGet(server.port, '/docs/static/swagger-initializer.js');
    expect(initializer.body).toContain("resolveUrl('./json')");
    const document = await httpGet(server.port, '/docs/json');
    expect(JSON.parse(document.body).openapi).toBe('3.1.0');
    // JSON answers pay for none of it (helmet runs on /docs only).
    const data = await httpGet(server.port, '/api/v1/data/transactions/31373');
    expect(data.headers['content-security-policy']).toBeUndefined();
    expect(data.headers['x-frame-options']).toBeUndefined();
  });

  it('logs its limits at start, and no open-files warning under this limit', () => {
    const config = server
      .stdout()
      .split('\n')
      .find((line) => line.includes('starting txlake server'));
    expect(JSON.parse(config ?? '{}').config).toMatchObject({
      max_connections: 1024,
      rate_limit: null,
      trust_proxy: null,
    });
    expect(server.stdout()).not.toContain('open files limit');
  });
});

describe('--max-connections', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(lake, { extraArgs: ['--max-connections', '5'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('closes connections beyond the cap unanswered, logs it, and takes new ones once one is closed', async () => {
    // The test's own keep-alive pool may hold one connection from waiting for readiness.
    const held: RawConnection[] = [];
    let refused: RawConnection | null = null;
    try {
      for (let i = 0; i < 7 && refused === null; i++) {
        const connection = new RawConnection(server.port);
        await connection.connected;
        connection.write('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
        try {
          expect((await connection.answer(10_000)).status).toBe(200);
          held.push(connection);
        } catch {
          refused = connection;
        }
      }
      expect(held.length).toBeGreaterThanOrEqual(4);
      expect(held.length).toBeLessThanOrEqual(5);
      expect(refused?.isClosed).toBe(true);
      expect(refused?.received).toBe('');
      // Every held connection is still served.
      for (const connection of held) expect((await connection.get('/readyz')).status).toBe(200);
      held.pop()?.destroy();
      await sleep(200);
      const next = new RawConnection(server.port);
      await next.connected;
      expect((await next.get('/healthz')).status).toBe(200);
      held.push(next);
      const deadline = Date.now() + 5000;
      while (!server.stdout().includes('refused connections') && Date.now() < deadline) await sleep(100);
      const warning = server
        .stdout()
        .split('\n')
        .find((line) => line.includes('refused connections'));
      expect(JSON.parse(warning ?? '{}')).toMatchObject({
        level: 40,
        max_connections: 5,
        refused_connections: 1,
      });
    } finally {
      for (const connection of held) connection.destroy();
      refused?.destroy();
    }
  });
});

describe('the open files limit', () => {
  it('is warned about at start when too low for the connection cap', async () => {
    const port = await freePort();
    // `ulimit -n` lowers the hard limit too, so Node cannot raise it again.
    const script = 'ulimit -n 300 && exec "$0" serve "$@"';
    const child = spawn(
      'sh',
      [
        '-c',
        script,
        TXLAKE_BIN,
        '--lake',
        lake,
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--max-connections',
        '1000',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!out.includes('Server listening') && Date.now() < deadline && child.exitCode === null)
        await sleep(100);
      const warning = out.split('\n').find((line) => line.includes('open files limit'));
      expect(JSON.parse(warning ?? '{}'), out.slice(0, 2000)).toMatchObject({
        level: 40,
        msg:
          'the open files limit (ulimit -n) is 300, too low for --max-connections 1000 (1128 descriptors with ' +
          "the server's own): connections beyond about 172 will fail; raise the limit (ulimit -n, or " +
          'LimitNOFILE= in a systemd unit) or lower --max-connections',
      });
      // It still serves.
      expect((await httpGet(port, '/healthz')).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
});

describe('--rate-limit 5', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(lake, { extraArgs: ['--rate-limit', '5'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('grants a burst of 5, then 429 problems with Retry-After, on v1 too', async () => {
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => getFrom(server.port, '127.0.0.2', '/api/v1/data/transactions/31373')),
    );
    const seconds = (Date.now() - started) / 1000;
    const granted = answers.filter((answer) => answer.status === 200);
    // A burst of 5, and 5 a second more for the time the 30 requests took.
    expect(granted.length).toBeGreaterThanOrEqual(5);
    expect(granted.length).toBeLessThanOrEqual(5 + Math.ceil(5 * seconds));
    for (const answer of granted) expect(answer.body).toBe(seedAnswer);
    const refused = answers.filter((answer) => answer.status !== 200);
    expect(refused.length).toBe(30 - granted.length);
    for (const answer of refused) {
      expect(expectProblem(answer, 429)).toEqual({
        type: 'about:blank',
        title: 'Too Many Requests',
        status: 429,
        detail: 'more than 5 requests a second from this address; try again in 1 s',
      });
      expect(answer.headers['retry-after']).toMatch(/^[1-9][0-9]*$/);
      expect(answer.headers['x-content-type-options']).toBe('nosniff');
    }
  });

  it('limits every route and unknown paths, never the probes', async () => {
    for (let i = 0; i < 10; i++) await getFrom(server.port, '127.0.0.3', '/api/v1/data/netAmount/5732');
    const started = Date.now();
    const limited = [
      '/api/v1/data/transactions/31373',
      '/api/v2/users/31373/transactions',
      '/api/v2/snapshots',
      '/openapi.json',
      '/docs',
      '/nope',
    ];
    const statuses = [];
    for (const target of limited) statuses.push((await getFrom(server.port, '127.0.0.3', target)).status);
    // (A token comes back every 200 ms: these few requests could have earned one.)
    const earned = Math.floor(((Date.now() - started) / 1000) * 5) + 1;
    expect(statuses.filter((status) => status !== 429).length).toBeLessThanOrEqual(earned);
    for (let i = 0; i < 20; i++) {
      for (const probe of ['/healthz', '/readyz']) {
        expect((await getFrom(server.port, '127.0.0.3', probe)).status, probe).toBe(200);
      }
    }
  });

  it('serves again after Retry-After, and keeps addresses apart (X-Forwarded-For is not believed)', async () => {
    let refused = null;
    for (let i = 0; i < 20 && refused === null; i++) {
      const answer = await getFrom(server.port, '127.0.0.4', '/api/v1/data/transactions/31373');
      if (answer.status === 429) refused = answer;
    }
    expect(refused?.status).toBe(429);
    // (Asked at once: a token comes back 200 ms after the refusal.) A forwarded-for header changes nothing
    // without --trust-proxy; another address has its own bucket.
    const spoofed = await getFrom(server.port, '127.0.0.4', '/api/v1/data/transactions/31373', {
      'x-forwarded-for': '198.51.100.1',
    });
    expect(spoofed.status).toBe(429);
    expect((await getFrom(server.port, '127.0.0.5', '/api/v1/data/transactions/31373')).status).toBe(200);
    await sleep(Number(spoofed.headers['retry-after']) * 1000);
    expect((await getFrom(server.port, '127.0.0.4', '/api/v1/data/transactions/31373')).status).toBe(200);
  });
});

describe('--rate-limit 3 --trust-proxy', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(lake, { extraArgs: ['--rate-limit', '3', '--trust-proxy'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function drain(headers: Record<string, string>): Promise<void> {
    for (let i = 0; i < 20; i++) {
      if ((await getFrom(server.port, '127.0.0.1', '/api/v1/data/netAmount/5732', headers)).status === 429)
        return;
    }
    throw new Error(`never limited: ${JSON.stringify(headers)}`);
  }

  it('counts each client named by X-Forwarded-For from a loopback proxy, the nearest one first', async () => {
    await drain({ 'x-forwarded-for': '198.51.100.7' });
    const get = (headers: Record<string, string>) =>
      getFrom(server.port, '127.0.0.1', '/api/v1/data/netAmount/5732', headers);
    // The proxy appends the address it saw: what the client wrote before it is not believed. (Asked at
    // once: a token comes back 333 ms after the refusal.)
    expect((await get({ 'x-forwarded-for': '198.51.100.8, 198.51.100.7' })).status).toBe(429);
    expect((await get({ 'x-forwarded-for': '198.51.100.8' })).status).toBe(200);
    // The proxy itself (no header) has a bucket of its own.
    expect((await get({})).status).toBe(200);
    expect(JSON.parse(server.stdout().split('\n')[0] ?? '{}').config).toMatchObject({
      rate_limit: 3,
      trust_proxy: 'loopback',
    });
  });
});

describe('behind deploy/nginx with --trust-proxy 127.0.0.1', () => {
  let server: RunningServer;
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  beforeAll(async () => {
    server = await startServer(lake, { extraArgs: ['--rate-limit', '3', '--trust-proxy', '127.0.0.1'] });
    nginx = await startNginx({ upstreams: [server.port], workers: 1 });
  });
  afterAll(async () => {
    await nginx?.stop();
    await server?.stop();
  });

  it('limits each client by its own address, whatever X-Forwarded-For it sends', async () => {
    const statuses: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 10; i++) {
      const answer = await getFrom(nginx.port, '127.0.0.2', '/api/v1/data/transactions/31373', {
        'x-forwarded-for': `203.0.113.${i}`,
      });
      statuses.push(answer.status);
      if (answer.status === 429) expectProblem(answer, 429);
    }
    const earned = 3 + Math.ceil(((Date.now() - started) / 1000) * 3);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(earned);
    expect(statuses).toContain(429);
    // Straight to the server, the same client's made-up X-Forwarded-For is not believed either (asked at
    // once: a token comes back 333 ms after the refusal).
    const direct = await getFrom(server.port, '127.0.0.2', '/api/v1/data/transactions/31373', {
      'x-forwarded-for': '203.0.113.99',
    });
    expect(direct.status).toBe(429);
    // Another client behind the same nginx is not held back by the first one.
    expect((await getFrom(nginx.port, '127.0.0.3', '/api/v1/data/transactions/31373')).status).toBe(200);
  });
});

describe('cluster workers', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(lake, { extraArgs: ['--workers', '2', '--rate-limit', '3'] });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('each worker enforces the limits: 431, 414, nosniff, and its own buckets', async () => {
    // Ready means one worker answers; the other may still be starting.
    const starts = () =>
      server
        .stdout()
        .split('\n')
        .filter((line) => line.includes('Server listening'));
    const deadline = Date.now() + 20_000;
    while (starts().length < 2 && Date.now() < deadline) await sleep(100);
    expect(starts().length).toBe(2);
    const connection = new RawConnection(server.port, '127.0.0.6');
    try {
      await connection.connected;
      // One keep-alive connection is one worker's: its bucket empties after 3.
      const statuses = [];
      for (let i = 0; i < 8; i++) statuses.push((await connection.get('/api/v1/data/netAmount/5732')).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(429);
    } finally {
      connection.destroy();
    }
    expectProblem(await rawRequest(server.port, headOfCountedSize('/healthz', 16 * 1024 + 1)), 431);
    const long = await httpGet(server.port, urlOfLength('/api/v1/data/transactions/', 8193));
    expect(`${long.status} ${long.headers['x-content-type-options']}`).toBe('414 nosniff');
    const configs = server
      .stdout()
      .split('\n')
      .filter((line) => line.includes('starting txlake server'))
      .map((line) => JSON.parse(line).config);
    expect(configs.length).toBe(2);
    for (const config of configs) expect(config).toMatchObject({ rate_limit: 3, max_connections: 1024 });
  });
});

describe('bad limit settings', () => {
  it.each([
    [['--rate-limit', '0'], {}, 'error: --rate-limit must be a whole number from 1 to 1000000, got "0"'],
    [
      ['--rate-limit', 'fast'],
      {},
      'error: --rate-limit must be a whole number from 1 to 1000000, got "fast"',
    ],
    [
      [],
      { TXLAKE_RATE_LIMIT: '-1' },
      'error: TXLAKE_RATE_LIMIT must be a whole number from 1 to 1000000, got "-1"',
    ],
    [
      ['--max-connections', 'many'],
      {},
      'error: --max-connections must be a whole number from 1 to 1000000, got "many"',
    ],
    [
      [],
      { TXLAKE_MAX_CONNECTIONS: '0' },
      'error: TXLAKE_MAX_CONNECTIONS must be a whole number from 1 to 1000000, got "0"',
    ],
    [
      ['--trust-proxy', 'nginx'],
      {},
      `error: --trust-proxy takes the proxies' addresses or ranges, comma-separated (127.0.0.1, 10.0.0.0/8, ::1, loopback, linklocal, uniquelocal), got "nginx" in "nginx"`,
    ],
  ] as const)('serve %j %j exits 2 with one line', async (args, env, line) => {
    const result = await runExpecting(['serve', '--lake', lake, '--port', '0', ...args], 2, { env });
    expect(errorLine(result)).toBe(line);
  });
});
