// API keys end to end (SPEC §5), as an operator uses them: `txlake keys` on a real lake, `txlake serve`
// processes on real ports, and the auth matrix: every kind of route × no key, a malformed header, a wrong,
// a revoked and a valid key; keys honoured and revoked within 2 s; a damaged key file; exposure beyond
// loopback; and no key in any log.

import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/load.js';
import { httpGet, httpGetOnNewConnection, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, errorLine, runExpecting, runTxlake, TempDirs } from '../helpers/txlake.js';

const SAMPLE = path.resolve('examples/combined_transactions.csv');
const KEY_SHAPE = /^txl_[A-Za-z0-9_-]{43}$/;
/** How long a server may take to honour a key change (SPEC §5). */
const HONOUR_BOUND_MS = 2_000;

const temp = new TempDirs();
let lake = '';
const servers: RunningServer[] = [];

const txlake = (args: string[]) => runTxlake(args);
const ok = (args: string[]) => runExpecting(args, 0);

async function createKey(name: string, dir = lake): Promise<string> {
  const result = await ok(['keys', 'create', name, '--lake', dir]);
  return result.stdout.trim();
}

async function serve(dir: string, extraArgs: string[] = []): Promise<RunningServer> {
  const server = await startServer(dir, { extraArgs });
  servers.push(server);
  return server;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

beforeAll(async () => {
  assertBuilt();
  lake = path.join(temp.make(), 'lake');
  await ok(['ingest', SAMPLE, '--lake', lake]);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  temp.cleanup();
});

// Every kind of route a client can reach: data (v1 and v2), the catalog, an export, paths of no route,
// the metrics; and the ones that stay open.
const PROTECTED = [
  '/api/v1/data/transactions/1',
  '/api/v1/data/netAmount/5411',
  '/api/v2/users/1/transactions',
  '/api/v2/merchant-types/5411/daily-net',
  '/api/v2/users/1/export?format=csv',
  '/api/v2/snapshots',
  '/api/v1/nothing/here',
  '/api/nope',
  '/%61pi/v1/data/transactions/1',
  '//api/v1/data/transactions/1',
  '/metrics',
  '/not-a-route',
];
const OPEN = ['/healthz', '/readyz', '/openapi.json', '/docs'];

describe('txlake keys', () => {
  it('create prints the key alone on stdout, keeps only its digest, and refuses a duplicate or a bad name', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const created = await ok(['keys', 'create', 'reporting', '--lake', dir]);
    expect(created.stdout).toMatch(new RegExp(`^${KEY_SHAPE.source.slice(1, -1)}\\n$`));
    expect(created.stderr).toMatch(/created key "reporting".*shown only now/);
    const key = created.stdout.trim();
    const stored = fs.readFileSync(path.join(dir, '_txlake', 'keys.json'), 'utf8');
    expect(stored).not.toContain(key);
    expect(stored).not.toContain(key.slice(4, 20));

    const duplicate = await txlake(['keys', 'create', 'reporting', '--lake', dir]);
    expect(duplicate.code).toBe(2);
    expect(errorLine(duplicate)).toMatch(/a key named "reporting" exists already/);
    for (const bad of ['', 'with space', '.leading', 'x'.repeat(65), 'ünïcode']) {
      const result = await txlake(['keys', 'create', bad, '--lake', dir]);
      expect(result.code, `name "${bad}"`).toBe(2);
      expect(errorLine(result)).toMatch(/a key name is 1 to 64 letters/);
    }
    const unknown = await txlake(['keys', 'revoke', 'nobody', '--lake', dir]);
    expect(unknown.code).toBe(2);
    expect(errorLine(unknown)).toMatch(/there is no key named "nobody"/);

    await ok(['keys', 'revoke', 'reporting', '--lake', dir]);
    const twice = await txlake(['keys', 'revoke', 'reporting', '--lake', dir]);
    expect(twice.code).toBe(2);
    expect(errorLine(twice)).toMatch(/was revoked already/);
    const reused = await txlake(['keys', 'create', 'reporting', '--lake', dir]);
    expect(reused.code).toBe(2);
    expect(errorLine(reused)).toMatch(/was revoked on .*names are not reused/);

    const list = JSON.parse((await ok(['keys', 'list', '--lake', dir, '--json'])).stdout) as Array<
      Record<string, unknown>
    >;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: 'reporting', active: false });
    expect(list[0]).not.toHaveProperty('sha256');
    const nowhere = await txlake(['keys', 'list', '--lake', path.join(dir, 'nowhere')]);
    expect(nowhere.code).toBe(1);
    expect(errorLine(nowhere)).toMatch(/there is no lake at/);
    const human = (await ok(['keys', 'list', '--lake', dir])).stdout;
    expect(human).toMatch(/^reporting\s+[0-9a-f]{12}\s+created .* revoked /);
  });

  it('concurrent creates each land (the key file changes under a lock)', async () => {
    const dir = path.join(temp.make(), 'lake');
    fs.mkdirSync(dir, { recursive: true });
    const names = Array.from({ length: 6 }, (_, i) => `worker-${i}`);
    const results = await Promise.all(names.map((name) => txlake(['keys', 'create', name, '--lake', dir])));
    for (const result of results) expect(result.code, result.stderr).toBe(0);
    const keys = new Set(results.map((result) => result.stdout.trim()));
    expect(keys.size).toBe(names.length);
    const list = JSON.parse((await ok(['keys', 'list', '--lake', dir, '--json'])).stdout) as Array<{
      name: string;
    }>;
    expect(list.map((key) => key.name).sort()).toEqual(names);
    const file = JSON.parse(fs.readFileSync(path.join(dir, '_txlake', 'keys.json'), 'utf8'));
    expect(file.generation).toBe(names.length);
  });

  it('a damaged key file is refused by every keys command, in one line that says how to repair', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    await createKey('one', dir);
    const file = path.join(dir, '_txlake', 'keys.json');
    const text = fs.readFileSync(file, 'utf8');
    // A flipped digit of a digest: still valid JSON, caught by the checksum.
    fs.writeFileSync(
      file,
      text.replace(/("sha256": ")([0-9a-f])/, (_m, head, c) => `${head}${c === '0' ? '1' : '0'}`),
    );
    for (const args of [
      ['keys', 'list', '--lake', dir],
      ['keys', 'create', 'two', '--lake', dir],
      ['keys', 'revoke', 'one', '--lake', dir],
    ]) {
      const result = await txlake(args);
      expect(result.code, args.join(' ')).toBe(1);
      expect(errorLine(result)).toMatch(
        /keys\.json .* is damaged \(its checksum does not match its content\); restore it/,
      );
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    // And a server does not start on it.
    const port = String(40_000 + Math.floor(Math.random() * 20_000));
    const served = await txlake(['serve', '--lake', dir, '--port', port]);
    expect(served.code).toBe(1);
    expect(errorLine(served)).toMatch(/is damaged/);
  });
});

describe('a server with keys', () => {
  let server: RunningServer;
  let key = '';
  const anonymous = new Map<string, string>();

  beforeAll(async () => {
    // What each route answers before any key exists: the same request with a key must get the same.
    const open = await serve(lake);
    // (/metrics counts the requests themselves: its answer differs by nature, its status is checked below.)
    for (const route of PROTECTED.filter((r) => r !== '/metrics')) {
      const response = await open.get(route);
      if (response.status === 200) anonymous.set(route, response.body);
    }
    await open.stop();
    expect(anonymous.size).toBeGreaterThanOrEqual(6);
    key = await createKey('matrix');
    server = await serve(lake);
  });

  it('answers nothing protected without a key: 401 problem with WWW-Authenticate: Bearer', async () => {
    for (const route of PROTECTED) {
      const response = await server.get(route);
      expect(response.status, route).toBe(401);
      expect(response.headers['www-authenticate'], route).toBe('Bearer realm="txlake"');
      expect(response.headers['content-type'], route).toMatch(/^application\/problem\+json/);
      expect(response.headers['x-request-id'], route).toBeTruthy();
      expect(JSON.parse(response.body), route).toMatchObject({ status: 401, title: 'Unauthorized' });
      expect(response.body, route).not.toMatch(/"(user_id|amount)"/);
    }
  });

  it('refuses a malformed header, a wrong key and a key of the right shape that does not exist', async () => {
    const attempts: Array<[Record<string, string>, RegExp, string]> = [
      [
        { authorization: `Basic ${Buffer.from(`user:${key}`).toString('base64')}` },
        /Bearer KEY/,
        'Bearer realm="txlake"',
      ],
      [{ authorization: key }, /Bearer KEY/, 'Bearer realm="txlake"'],
      [{ authorization: 'Bearer' }, /Bearer KEY/, 'Bearer realm="txlake"'],
      [bearer(''), /Bearer KEY/, 'Bearer realm="txlake"'],
      [bearer(`${key}x`), /not valid/, 'Bearer realm="txlake", error="invalid_token"'],
      [bearer(key.slice(0, -1)), /not valid/, 'Bearer realm="txlake", error="invalid_token"'],
      [bearer(`txl_${'A'.repeat(43)}`), /not valid/, 'Bearer realm="txlake", error="invalid_token"'],
      [bearer(key.toUpperCase()), /not valid/, 'Bearer realm="txlake", error="invalid_token"'],
      [bearer('x'.repeat(8000)), /not valid/, 'Bearer realm="txlake", error="invalid_token"'],
    ];
    for (const [headers, detail, challenge] of attempts) {
      const response = await server.get('/api/v1/data/transactions/1', headers);
      const what = JSON.stringify(headers).slice(0, 80);
      expect(response.status, what).toBe(401);
      expect(JSON.parse(response.body).detail, what).toMatch(detail);
      expect(response.headers['www-authenticate'], what).toBe(challenge);
    }
  });

  it('answers with a valid key exactly what it answered before keys existed', async () => {
    for (const [route, body] of anonymous) {
      const response = await server.get(route, bearer(key));
      expect(response.status, route).toBe(200);
      expect(response.body, route).toBe(body);
    }
    const metrics = await server.get('/metrics', bearer(key));
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(
      /^txlake_http_request_duration_seconds_count\{route="\/api\/v1\/data\/transactions\/:userId",method="GET",status="401"\} [1-9]/m,
    );
    // The scheme is case-insensitive (RFC 6750 via RFC 7235); surrounding blanks are not part of the key.
    for (const header of [`bearer ${key}`, `BEARER ${key}`, `Bearer  ${key} `]) {
      const response = await server.get('/api/v1/data/transactions/1', { authorization: header });
      expect(response.status, header).toBe(200);
    }
  });

  it('fuzzed credentials: only the exact key opens, nothing else gets more than a 401, never a 5xx', async () => {
    // Mutations of the real key (a character changed, cut, doubled, cased, padded) and arbitrary header
    // values, on protected routes: the key itself answers 200, everything else 401 (or the parser's 400/431).
    const mutated = fc.oneof(
      fc
        .nat({ max: key.length - 1 })
        .chain((at) =>
          fc
            .string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })
            .map((c) => `${key.slice(0, at)}${c}${key.slice(at + 1)}`),
        ),
      fc.nat({ max: key.length }).map((at) => key.slice(0, at)),
      fc.constantFrom(key, key + key, key.toLowerCase(), `${key}\u0000`, key.replace('txl_', 'TXL_')),
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 60 }),
    );
    const header = fc.oneof(
      mutated.map((token) => `Bearer ${token}`),
      fc
        .tuple(fc.constantFrom('Bearer', 'bearer', 'Basic', 'Token', 'Bearer:', ''), mutated)
        .map(([s, t]) => `${s} ${t}`),
      fc.string({ unit: 'grapheme-ascii', maxLength: 300 }),
    );
    const routes = fc.constantFrom(...PROTECTED);
    let opened = 0;
    await fc.assert(
      fc.asyncProperty(routes, header, async (route, value) => {
        let response: Awaited<ReturnType<RunningServer['get']>>;
        try {
          response = await server.get(route, { authorization: value });
        } catch (error) {
          // Node's client refuses to send a header value with control characters: nothing reached the server.
          if ((error as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR') return;
          throw error;
        }
        expect(response.status, `${route} ${JSON.stringify(value)}`).toBeLessThan(500);
        const exact = value.replace(/^bearer\s+/i, '').trim() === key;
        if (exact) opened++;
        if (response.status === 200) expect(exact, `${route} opened by ${JSON.stringify(value)}`).toBe(true);
        else expect([400, 401, 404, 431], `${route} ${JSON.stringify(value)}`).toContain(response.status);
      }),
      { numRuns: 400 },
    );
    expect(opened, 'the exact key among the generated credentials').toBeGreaterThan(0);
  });

  it('keeps the probes, the API description and the explorer page (no data) open', async () => {
    for (const route of OPEN) {
      const response = await server.get(route);
      expect(response.status, route).toBe(200);
    }
    const page = await server.get('/');
    expect(page.status).toBe(200);
    const assets = [...page.body.matchAll(/(?:src|href)="(\/explorer\/[^"]+)"/g)].map(
      (match) => match[1] ?? '',
    );
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) expect((await server.get(asset)).status, asset).toBe(200);
  });

  it('opens no data through the explorer’s open prefix', async () => {
    for (const route of [
      '/explorer/../api/v2/snapshots',
      '/explorer/%2e%2e/api/v2/snapshots',
      '/explorer/..%2fapi/v2/snapshots',
      '/explorer/../../package.json',
      '/explorer/%2e%2e/%2e%2e/package.json',
      '/explorer//etc/passwd',
    ]) {
      const response = await server.get(route);
      expect([400, 403, 404], route).toContain(response.status);
      expect(response.body, route).not.toMatch(/"data"|"name": ?"txlake"|root:/);
    }
  });

  it('honours a new key and a revocation within 2 s, without a restart', async () => {
    const fresh = await createKey('fresh');
    await waitFor(
      'a new key accepted',
      async () => (await server.get('/api/v2/snapshots', bearer(fresh))).status === 200,
      HONOUR_BOUND_MS,
    );
    await ok(['keys', 'revoke', 'fresh', '--lake', lake]);
    await waitFor(
      'a revoked key refused',
      async () => (await server.get('/api/v2/snapshots', bearer(fresh))).status === 401,
      HONOUR_BOUND_MS,
    );
    // The other key is unaffected.
    expect((await server.get('/api/v2/snapshots', bearer(key))).status).toBe(200);
  });

  it('stays closed when every key is revoked: revoking the last key does not open the API', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const only = await createKey('only', dir);
    const closing = await serve(dir);
    expect((await closing.get('/api/v1/data/transactions/1', bearer(only))).status).toBe(200);
    await ok(['keys', 'revoke', 'only', '--lake', dir]);
    await waitFor(
      'the last key refused',
      async () => (await closing.get('/api/v1/data/transactions/1', bearer(only))).status === 401,
      HONOUR_BOUND_MS,
    );
    expect((await closing.get('/api/v1/data/transactions/1')).status).toBe(401);
    const listed = (await ok(['keys', 'list', '--lake', dir])).stdout;
    expect(listed).toMatch(/only .* revoked/);
  });

  it('a key file damaged while serving: 503 problems and /readyz not ready, until it is restored', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const own = await createKey('own', dir);
    const watched = await serve(dir);
    const file = path.join(dir, '_txlake', 'keys.json');
    const good = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(`${file}.new`, good.replace('"revoked": null', '"revoked": "2026-01-01T00:00:00Z"'));
    fs.renameSync(`${file}.new`, file); // revoked by hand-editing: the checksum no longer matches
    await waitFor(
      'a damaged key file refused',
      async () => (await watched.get('/api/v1/data/transactions/1', bearer(own))).status === 503,
      HONOUR_BOUND_MS,
    );
    const refused = await watched.get('/api/v2/snapshots', bearer(own));
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).detail).toMatch(/cannot read its API keys/);
    expect(refused.body).not.toContain(dir);
    const ready = await watched.get('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).problem).toMatch(/keys\.json .*is damaged/);
    expect((await watched.get('/healthz')).status).toBe(200);
    fs.writeFileSync(`${file}.new`, good);
    fs.renameSync(`${file}.new`, file);
    await waitFor(
      'the restored key file honoured',
      async () => (await watched.get('/api/v1/data/transactions/1', bearer(own))).status === 200,
      HONOUR_BOUND_MS,
    );
    expect((await watched.get('/readyz')).status).toBe(200);
    expect(watched.stdout()).toMatch(/refusing API requests until the keys can be read/);
  });

  it('never logs a key, valid or not, even at debug level', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const valid = await createKey('logged', dir);
    const verbose = await serve(dir, ['--log-level', 'debug']);
    const wrong = `txl_${'Q'.repeat(43)}`;
    for (const headers of [bearer(valid), bearer(wrong), { authorization: `Basic ${valid}` }]) {
      await verbose.get('/api/v1/data/transactions/1', headers);
      await verbose.get('/no/such/route', headers);
    }
    await verbose.stop();
    const logs = verbose.stdout() + verbose.stderr();
    expect(logs).toMatch(/"route":"\/api\/v1\/data\/transactions\/:userId","status":200/);
    expect(logs).not.toContain(valid);
    expect(logs).not.toContain(valid.slice(4));
    expect(logs).not.toContain(wrong);
    const audit = fs.readFileSync(path.join(dir, '_txlake', 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"keys create"/);
    expect(audit).not.toContain(valid);
  });
});

describe('several serving processes', () => {
  it('every worker of `serve --workers 2` checks keys and follows their changes', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const key = await createKey('workers', dir);
    const pool = await serve(dir, ['--workers', '2']);
    // Fresh connections spread over the workers; each must refuse without a key and answer with one.
    for (let i = 0; i < 12; i++) {
      expect((await httpGetOnNewConnection(pool.port, '/api/v1/data/transactions/1')).status).toBe(401);
      expect(
        (await httpGetOnNewConnection(pool.port, '/api/v1/data/transactions/1', bearer(key))).status,
      ).toBe(200);
    }
    await ok(['keys', 'revoke', 'workers', '--lake', dir]);
    await new Promise((resolve) => setTimeout(resolve, HONOUR_BOUND_MS));
    for (let i = 0; i < 12; i++)
      expect(
        (await httpGetOnNewConnection(pool.port, '/api/v1/data/transactions/1', bearer(key))).status,
      ).toBe(401);
  });
});

describe('serving beyond loopback', () => {
  it('refuses a non-loopback address while no key exists, in one line, unless --allow-anonymous', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    for (const host of ['0.0.0.0', '::']) {
      const result = await txlake(['serve', '--lake', dir, '--host', host, '--port', '0']);
      expect(result.code, host).toBe(2);
      expect(result.stderr.trim().split('\n'), host).toHaveLength(1);
      expect(errorLine(result), host).toMatch(
        /refusing to serve on .* without an API key: .*txlake keys create NAME.*--allow-anonymous/,
      );
    }
    const anonymous = await serve(dir, ['--host', '0.0.0.0', '--allow-anonymous']);
    expect((await httpGet(anonymous.port, '/api/v1/data/transactions/1')).status).toBe(200);
    await anonymous.stop();
  });

  it('serves with a key, and stays closed if the key file later disappears', async () => {
    const dir = path.join(temp.make(), 'lake');
    await ok(['ingest', SAMPLE, '--lake', dir]);
    const key = await createKey('public', dir);
    const exposed = await serve(dir, ['--host', '0.0.0.0']);
    expect((await exposed.get('/api/v1/data/transactions/1')).status).toBe(401);
    expect((await exposed.get('/api/v1/data/transactions/1', bearer(key))).status).toBe(200);
    fs.rmSync(path.join(dir, '_txlake', 'keys.json'));
    await waitFor(
      'no key valid once the file is gone',
      async () => (await exposed.get('/api/v1/data/transactions/1', bearer(key))).status === 401,
      HONOUR_BOUND_MS,
    );
    expect((await exposed.get('/api/v1/data/transactions/1')).status).toBe(401);
  });
});
