// Servers never answer from what the lake cannot vouch for (the integrity issue's findings 2, 3 and 8): a
// damaged snapshot is refused at load and the last good one keeps serving; /readyz and the log say why; a
// lost pointer does not make a server drop to another history; Parquet lookups of a file damaged under them
// answer 503, never a 500 or a wrong 200; a taken port fails before the lake is loaded.

import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateTransactionsFile } from '../../src/sample/generator.js';
import { flipBytes } from '../helpers/damage.js';
import { freePort, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let base: string;
const running: RunningServer[] = [];

async function ok(args: string[]): Promise<string> {
  const result = await runTxlake(args);
  expect(result.code, describeRun(args, result)).toBe(0);
  return result.stdout;
}

async function copyOfBase(name: string): Promise<string> {
  const lake = path.join(dir, name);
  await fs.cp(base, lake, { recursive: true });
  return lake;
}

async function serve(lake: string, extraArgs: string[] = [], until: 'ready' | 'listening' = 'ready') {
  const server = await startServer(lake, { extraArgs: ['--log-level', 'info', ...extraArgs], until });
  running.push(server);
  return server;
}

async function readyz(server: RunningServer): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await server.get('/readyz');
  return { status: response.status, body: JSON.parse(response.body) };
}

/** Poll until `check` holds (the follower polls every second), or fail naming what was seen last. */
async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
): Promise<T> {
  const deadline = Date.now() + 5000;
  let last = await probe();
  while (!check(last) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await probe();
  }
  expect(check(last), `${what}; last seen: ${JSON.stringify(last)}`).toBe(true);
  return last;
}

/** The newest data file of the current snapshot (written by the last ingest). */
async function newestFile(lake: string): Promise<string> {
  const snapshot = JSON.parse(await ok(['snapshot', '--json', '--lake', lake])) as { files: string[] };
  return path.join(lake, snapshot.files.at(-1) as string);
}

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-serving-integrity-'));
  base = path.join(dir, 'base');
  const first = path.join(dir, 'first.csv');
  await generateTransactionsFile({ rows: 3000, seed: 21, users: 80 }, first);
  await ok(['ingest', first, '--lake', base]);
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('a server started on a lake whose current snapshot is damaged', () => {
  it('serves nothing, and says why on /readyz and in its log (not "no snapshot yet")', async () => {
    const lake = await copyOfBase('damaged-at-start');
    const file = await newestFile(lake);
    await flipBytes(file);
    const server = await serve(lake, [], 'listening');
    const ready = await eventually(
      'readyz names the damage',
      () => readyz(server),
      (r) => r.body.status === 'unavailable',
    );
    expect(ready.status).toBe(503);
    expect(ready.body.problem).toBe(
      `snapshot 1 is not served: its data file ${path.relative(lake, file)} does not match its checksum (it was changed or damaged)`,
    );
    const answer = await server.get('/api/v1/data/transactions/1');
    expect([answer.status, answer.body]).toEqual([503, '{"error":"no snapshot can be served; see /readyz"}']);
    expect(answer.headers['retry-after']).toBe('1');
    expect(server.stdout()).toContain(
      '"msg":"no snapshot can be served; /readyz answers 503 until the cause is repaired"',
    );
    expect(server.stdout()).not.toContain('there is no snapshot yet');
  });
});

describe('a running server', () => {
  it('refuses a newer snapshot whose new file is damaged, keeps serving the last good one, and takes it once restored', async () => {
    const lake = await copyOfBase('damaged-newer');
    const server = await serve(lake);
    // The next snapshot is prepared in a copy and damaged there, then moved in whole: as if a disk had
    // corrupted the new file between its commit and the server's load.
    const staging = path.join(dir, 'damaged-newer-next');
    await fs.cp(lake, staging, { recursive: true });
    const more = path.join(dir, 'more.csv');
    await fs.writeFile(more, `${HEADER}\n880001,PurchaseActivity,5411,1234,2023-05-01T10:00:00\n`);
    await ok(['ingest', more, '--lake', staging]);
    const newFile = await newestFile(staging);
    const pristine = await fs.readFile(newFile);
    await flipBytes(newFile, 16);
    // In the writer's order: data and manifest first, then the pointer by rename (a copy over CURRENT
    // would let the server read it half-written), then the commit log.
    const last = new Set(['_txlake/CURRENT', '_txlake/commits.jsonl']);
    for (const entry of await fs.readdir(staging, { recursive: true })) {
      const from = path.join(staging, String(entry));
      if ((await fs.stat(from)).isFile() && !last.has(String(entry).split(path.sep).join('/'))) {
        await fs.mkdir(path.dirname(path.join(lake, String(entry))), { recursive: true });
        await fs.copyFile(from, path.join(lake, String(entry)));
      }
    }
    await fs.copyFile(path.join(staging, '_txlake', 'CURRENT'), path.join(lake, '_txlake', 'CURRENT.next'));
    await fs.rename(path.join(lake, '_txlake', 'CURRENT.next'), path.join(lake, '_txlake', 'CURRENT'));
    await fs.copyFile(
      path.join(staging, '_txlake', 'commits.jsonl'),
      path.join(lake, '_txlake', 'commits.jsonl'),
    );

    const refused = await eventually(
      'readyz names the refused snapshot',
      () => readyz(server),
      (r) => r.body.problem !== undefined,
    );
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({ status: 'ready', snapshot: 1 });
    expect(refused.body.problem).toMatch(
      /^snapshot 2 is not served: its data file .* does not match its checksum/,
    );
    const answer = await server.get('/api/v1/data/transactions/880001');
    expect([answer.status, answer.body, answer.headers['x-txlake-snapshot']]).toEqual([200, '[]', '1']);
    expect(server.stdout()).toContain(`"msg":"not serving the current snapshot; still serving snapshot 1"`);

    await fs.writeFile(path.join(lake, path.relative(staging, newFile)), pristine); // restored from a backup
    await eventually(
      'the restored snapshot is served',
      () => readyz(server),
      (r) => r.body.snapshot === 2 && r.body.problem === undefined,
    );
    const now = await server.get('/api/v1/data/transactions/880001');
    expect(now.body).toBe(
      '[{"user_id":880001,"amount_in_dollars":12,"datetime":"2023-05-01T10:00:00+00:00","merchant_type_code":5411}]',
    );
    expect(server.stdout()).toContain('"msg":"the lake can be served again"');
  });

  it('whose lake loses CURRENT keeps serving its snapshot and says so; a writer is refused, repair restores', async () => {
    const lake = await copyOfBase('lost-pointer-serving');
    const more = path.join(dir, 'more-2.csv');
    await fs.writeFile(more, `${HEADER}\n880002,PurchaseActivity,5411,500,2023-05-02T10:00:00\n`);
    await ok(['ingest', more, '--lake', lake]);
    const server = await serve(lake);
    expect((await readyz(server)).body).toMatchObject({ snapshot: 2, rows: 3001 });
    await fs.rm(path.join(lake, '_txlake', 'CURRENT'));
    const seen = await eventually(
      'readyz reports the lost pointer',
      () => readyz(server),
      (r) => r.body.problem !== undefined,
    );
    expect(seen.body).toMatchObject({ status: 'ready', snapshot: 2, rows: 3001 });
    expect(seen.body.problem).toBe(
      'the lake <lake> has lost its pointer _txlake/CURRENT; its commit log says snapshot 2 is current; ' +
        'run `txlake repair --lake <lake>` to restore it',
    );
    const other = path.join(dir, 'other.csv');
    await fs.writeFile(other, `${HEADER}\n1,PurchaseActivity,5411,1,2023-05-03T10:00:00\n`);
    expect((await runTxlake(['ingest', other, '--lake', lake])).code).toBe(1); // no new, parentless history
    expect((await readyz(server)).body).toMatchObject({ snapshot: 2, rows: 3001 });
    await ok(['repair', '--lake', lake]);
    await eventually(
      'the problem clears',
      () => readyz(server),
      (r) => r.body.problem === undefined,
    );
  });

  it('with Parquet lookups answers 503 (never 500, never a wrong answer) while a served file is damaged', async () => {
    const lake = await copyOfBase('parquet-damaged');
    const server = await serve(lake, ['--user-lookup', 'parquet']);
    const file = await newestFile(lake);
    const pristine = await fs.readFile(file);
    const user = '/api/v1/data/transactions/1000';
    const good = await server.get(user);
    expect(good.status).toBe(200);
    await flipBytes(file, 32);
    const during = await server.get(user);
    expect([during.status, during.body]).toEqual([
      503,
      '{"error":"the snapshot being served is damaged on disk; see /readyz"}',
    ]);
    expect(during.headers['retry-after']).toBe('1');
    const ready = await eventually(
      'readyz is 503 while the file is damaged',
      () => readyz(server),
      (r) => r.status === 503,
    );
    expect(ready.body.status).toBe('unavailable');
    expect(ready.body.problem).toMatch(
      /being served, changed on disk after it was loaded: its data file .* does not match its checksum/,
    );
    expect((await server.get('/api/v1/data/netAmount/5411')).status).toBe(200); // daily sums were verified into memory
    await fs.writeFile(file, pristine);
    await eventually(
      'lookups resume once the file is restored',
      () => server.get(user),
      (r) => r.status === 200,
    );
    expect((await server.get(user)).body).toBe(good.body);
  });

  it('with the in-memory index keeps answering from the copy verified at load, and says the file changed', async () => {
    const lake = await copyOfBase('memory-damaged');
    const server = await serve(lake);
    const user = '/api/v1/data/transactions/1000';
    const good = await server.get(user);
    await flipBytes(await newestFile(lake), 32);
    const ready = await eventually(
      'readyz notes the change',
      () => readyz(server),
      (r) => r.body.problem !== undefined,
    );
    expect(ready.status).toBe(200);
    expect(ready.body.problem).toMatch(/answers still come from the in-memory copy verified at load$/);
    const after = await server.get(user);
    expect([after.status, after.body]).toEqual([200, good.body]);
  });
});

describe('serve on a port already in use', () => {
  it('fails with one line before loading the lake', async () => {
    const port = await freePort();
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const args = ['serve', '--lake', base, '--host', '127.0.0.1', '--port', String(port)];
      const result = await runTxlake(args, { timeoutMs: 30_000 });
      expect(result.code, describeRun(args, result)).toBe(1);
      expect(result.stderr.trim()).toMatch(
        new RegExp(`^error: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}`),
      );
      expect(result.stdout).not.toContain('serving snapshot');
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
