// deploy/nginx/txlake.conf as shipped, in Debian's real nginx in front of three real `txlake serve`
// processes on one lake: answers pass through byte for byte (ETag and 304 too, gzip included), a server
// killed with SIGKILL under steady load costs no request and is used again once restarted, a rolling restart
// (SIGTERM, restart, next) costs none either, and with every server down nginx answers 502 at once.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Load, loadLines, startLoad, waitFor, waitUntilServing } from '../helpers/load.js';
import { assertNginxInstalled, type RunningNginx, startNginx } from '../helpers/nginx.js';
import { oracleIngest, V1Oracle } from '../helpers/oracle.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, ingest, runExpecting, TempDirs } from '../helpers/txlake.js';

const SERVERS = 3;
const temp = new TempDirs();
let lake = '';
let nginx: RunningNginx | undefined;
const servers: RunningServer[] = [];
/** The oracle's body of every path the tests ask for. */
const expected = new Map<string, string>();
let heavyUserPath = '';

function proxy(): RunningNginx {
  if (!nginx) throw new Error('nginx did not start');
  return nginx;
}

/** Load `tag` through nginx, each answer checked against the oracle. */
function startOracleLoad(tag: string): Load {
  return startLoad({
    tag,
    paths: [...expected.keys()],
    get: (target, headers) => proxy().get(target, headers),
    judge: (response, request) =>
      response.status === 200 && response.body === expected.get(request.target)
        ? null
        : `${response.status} ${response.body.slice(0, 120)}`,
  });
}

/** Start a server on `port` again and wait until load `tag` reaches it through nginx. */
async function restartInto(index: number, port: number, tag: string): Promise<void> {
  const server = await startServer(lake, { port, readyTimeoutMs: 30_000 });
  servers[index] = server;
  await waitUntilServing(server, tag);
}

beforeAll(async () => {
  assertBuilt();
  assertNginxInstalled();
  const dir = temp.make('txlake-lb-');
  lake = path.join(dir, 'lake');
  const csv = path.join(dir, 'transactions.csv');
  await runExpecting(['generate', '--rows', '4000', '--users', '150', '--seed', '17', '--out', csv], 0);
  await ingest([csv], lake);
  const oracle = new V1Oracle(oracleIngest(readFileSync(csv, 'utf8')).rows);
  const users = oracle.userIds();
  const byRows = [...users].sort(
    (a, b) => oracle.transactionsBody(b).length - oracle.transactionsBody(a).length,
  );
  heavyUserPath = `/api/v1/data/transactions/${byRows[0]}`;
  for (const user of [...byRows.slice(0, 3), ...users.slice(0, 5)]) {
    expected.set(`/api/v1/data/transactions/${user}`, oracle.transactionsBody(user));
  }
  expected.set('/api/v1/data/transactions/999999999', '[]');
  for (const code of oracle.codes().slice(0, 6)) {
    expected.set(`/api/v1/data/netAmount/${code}`, oracle.netAmountBody(code));
  }
  servers.push(...(await Promise.all(Array.from({ length: SERVERS }, () => startServer(lake)))));
  nginx = await startNginx({ upstreams: servers.map((server) => server.port) });
});

afterAll(async () => {
  await nginx?.stop();
  await Promise.all(servers.map((server) => server.stop()));
  temp.cleanup();
});

describe('nginx with deploy/nginx/txlake.conf in front of three txlake servers', () => {
  it('answers with the bytes a server answers directly, errors included, and revalidates to 304', async () => {
    const direct = servers[0] as RunningServer;
    for (const [target, body] of expected) {
      const [straight, through] = [await direct.get(target), await proxy().get(target)];
      expect(`${straight.status} ${straight.body}`, target).toBe(`200 ${body}`);
      expect(through.body, target).toBe(straight.body);
      for (const header of ['content-type', 'etag', 'cache-control', 'x-txlake-snapshot']) {
        expect(through.headers[header], `${target} ${header}`).toBe(straight.headers[header]);
      }
      const revalidated = await proxy().get(target, { 'if-none-match': String(through.headers.etag) });
      expect({ status: revalidated.status, body: revalidated.body, etag: revalidated.headers.etag }).toEqual({
        status: 304,
        body: '',
        etag: through.headers.etag,
      });
    }
    // The servers' own errors are passed on, not replaced by nginx's pages.
    for (const target of ['/api/v1/data/transactions/abc', '/api/v1/data/netAmount/x', '/nope', '/readyz']) {
      const [straight, through] = [await direct.get(target), await proxy().get(target)];
      expect(`${through.status} ${through.headers['content-type']} ${through.body}`, target).toBe(
        `${straight.status} ${straight.headers['content-type']} ${straight.body}`,
      );
    }
  });

  it('passes the web explorer through as the server sends it: page, assets, security headers', async () => {
    const direct = servers[0] as RunningServer;
    const page = await proxy().get('/');
    expect(page.status).toBe(200);
    expect(page.body).toBe((await direct.get('/')).body);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
    const assets = [...page.body.matchAll(/(?:src|href)="(\/explorer\/[^"]+)"/g)].map(
      (match) => match[1] ?? '',
    );
    expect(assets).toHaveLength(3);
    for (const asset of assets) {
      const [straight, through] = [await direct.get(asset), await proxy().get(asset)];
      expect(through.status, asset).toBe(200);
      expect(through.bytes.equals(straight.bytes), asset).toBe(true);
      expect(through.headers['cache-control'], asset).toBe(straight.headers['cache-control']);
    }
  });

  it('gzips a large answer for a client that asks, with a weak ETag that still revalidates to 304', async () => {
    const zipped = await proxy().get(heavyUserPath, { 'accept-encoding': 'gzip' });
    expect(zipped.status).toBe(200);
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.bytes).toString('utf8')).toBe(expected.get(heavyUserPath));
    const weak = String(zipped.headers.etag);
    expect(weak).toMatch(/^W\/"txlake-/);
    const revalidated = await proxy().get(heavyUserPath, {
      'accept-encoding': 'gzip',
      'if-none-match': weak,
    });
    expect(revalidated.status).toBe(304);
    // A client that does not ask for gzip gets the server's bytes and its strong tag.
    const plain = await proxy().get(heavyUserPath);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.etag).toBe(weak.slice(2));
    expect(plain.body).toBe(expected.get(heavyUserPath));
  });

  it('passes the caller’s X-Request-Id to the server, or its own, and logs the same id', async () => {
    const target = [...expected.keys()][0] as string;
    const given = await proxy().get(target, { 'x-request-id': 'lb-given-1' });
    expect(given.headers['x-request-id']).toBe('lb-given-1');
    const made = await proxy().get(target);
    const id = String(made.headers['x-request-id']);
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const wanted of ['lb-given-1', id]) {
      await waitFor(
        `${wanted} in nginx's access log and a server's log`,
        () =>
          proxy()
            .accessLog()
            .some((line) => line.request_id === wanted) &&
          servers.some((server) => server.stdout().includes(`"request_id":"${wanted}"`)),
        5000,
      );
    }
  });

  it('passes over a server that has no snapshot to serve (503), and takes it out for a while', async () => {
    // A second nginx, same shipped config, in front of a ready server and one on an empty lake.
    const empty = await startServer(temp.make('txlake-lb-empty-'), { until: 'listening' });
    const second = await startNginx({ upstreams: [empty.port, (servers[0] as RunningServer).port] });
    try {
      const target = heavyUserPath;
      for (let i = 0; i < 20; i++) {
        const response = await second.get(target, { 'x-request-id': `empty-${i}` });
        expect(`${response.status} ${response.body}`).toBe(`200 ${expected.get(target)}`);
      }
      await waitFor('20 lines in the access log', () => second.accessLog().length === 20, 2000);
      const tried = second.accessLog().map((line) => line.upstream_status);
      expect(tried.filter((statuses) => statuses === '503, 200').length, tried.join(' | ')).toBeGreaterThan(
        0,
      );
      // max_fails=2: after two 503s it is left alone for fail_timeout (5 s), not asked on every request.
      expect(
        tried.filter((statuses) => statuses.startsWith('503')).length,
        tried.join(' | '),
      ).toBeLessThanOrEqual(2);
    } finally {
      await second.stop();
      await empty.stop();
    }
  });

  it('loses no request when a server is killed with SIGKILL under load, and uses it again once restarted', async () => {
    const load = startOracleLoad('kill');
    try {
      await load.succeed(300);
      const index = 1;
      const victim = servers[index] as RunningServer;
      victim.process.kill('SIGKILL');
      expect(await victim.stop()).toBeNull(); // killed by the signal, not exited
      await load.succeed(500);
      await restartInto(index, victim.port, 'kill');
      await load.succeed(300);
      const report = await load.stop();
      expect(report.failures, `nginx's error log:\n${proxy().errorLog().slice(-3000)}`).toEqual([]);
      expect(report.ok).toBe(load.issued());

      // nginx writes a line once it has sent the answer: the last few may come a moment after it.
      await waitFor(
        'every request in the access log',
        () => loadLines(proxy(), 'kill').length === report.ok,
        2000,
      );
      const lines = loadLines(proxy(), 'kill');
      expect(lines.filter((line) => line.status !== 200)).toEqual([]);
      // The kill was hidden by retries, not missed: requests sent to the dead server went on to another.
      const retried = lines.filter((line) => line.upstream_addr.startsWith(`127.0.0.1:${victim.port}, `));
      expect(retried.length, 'requests retried away from the killed server').toBeGreaterThan(0);
    } finally {
      await load.stop();
    }
  });

  it('loses no request in a rolling restart: each server in turn gets SIGTERM, exits 0, starts again', async () => {
    const load = startOracleLoad('roll');
    try {
      await load.succeed(300);
      for (let index = 0; index < SERVERS; index++) {
        const server = servers[index] as RunningServer;
        expect(await server.stop(), `server :${server.port} after SIGTERM`).toBe(0);
        await load.succeed(200);
        await restartInto(index, server.port, 'roll');
      }
      await load.succeed(300);
      const report = await load.stop();
      expect(report.failures, `nginx's error log:\n${proxy().errorLog().slice(-3000)}`).toEqual([]);
      expect(loadLines(proxy(), 'roll').filter((line) => line.status !== 200)).toEqual([]);
    } finally {
      await load.stop();
    }
  });

  it('answers 502 in JSON at once, never hangs, when every server is down', async () => {
    await Promise.all(servers.map((server) => server.stop()));
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const response = await proxy().get([...expected.keys()][i] as string);
      expect(Date.now() - started, 'milliseconds to the answer').toBeLessThan(2000);
      expect({
        status: response.status,
        type: response.headers['content-type'],
        retry: response.headers['retry-after'],
      }).toEqual({
        status: 502,
        type: 'application/json',
        retry: '1',
      });
      expect(JSON.parse(response.body)).toEqual({ error: 'no txlake server could answer; try again' });
    }
  });
});
