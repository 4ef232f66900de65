// API keys on the ClickHouse backend (SPEC §5: keys live "wherever that backend keeps shared state"): a
// server that follows ClickHouse, and reads no lake, honours keys created and revoked in the lake within
// 2 s, because `txlake keys` copies each change to every node; `clickhouse sync` copies keys created
// without ClickHouse configured; a node down leaves the keys readable from the other.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClickHouseCluster } from '../helpers/clickhouse-cluster.js';
import { waitFor } from '../helpers/load.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, errorLine, runExpecting, runTxlake, TempDirs } from '../helpers/txlake.js';

const SAMPLE = path.resolve('examples/combined_transactions.csv');
const HONOUR_BOUND_MS = 2_000;
const ROUTE = '/api/v1/data/transactions/31373';

const temp = new TempDirs();
let cluster: ClickHouseCluster;
let lake = '';
let server: RunningServer;

const ok = (args: string[], env: NodeJS.ProcessEnv = cluster.env) => runExpecting(args, 0, { env });

const status = async (headers: Record<string, string> = {}) => (await server.get(ROUTE, headers)).status;

beforeAll(async () => {
  assertBuilt();
  cluster = await ClickHouseCluster.start({ shards: 2 });
  lake = path.join(temp.make(), 'lake');
  await ok(['ingest', SAMPLE, '--lake', lake]);
  server = await startServer(null, { extraArgs: ['--backend', 'clickhouse'], env: cluster.env });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
  temp.cleanup();
});

describe('API keys on ClickHouse', () => {
  it('is open while no key exists', async () => {
    expect(await status()).toBe(200);
  });

  it('honours a key created in the lake within 2 s, and its revocation', async () => {
    const key = (await ok(['keys', 'create', 'ch', '--lake', lake])).stdout.trim();
    await waitFor('keys required', async () => (await status()) === 401, HONOUR_BOUND_MS);
    expect(await status({ authorization: `Bearer ${key}` })).toBe(200);
    await ok(['keys', 'revoke', 'ch', '--lake', lake]);
    await waitFor(
      'revoked key refused',
      async () => (await status({ authorization: `Bearer ${key}` })) === 401,
      HONOUR_BOUND_MS,
    );
  });

  it('a key created without ClickHouse configured reaches it with the next sync', async () => {
    const key = (await ok(['keys', 'create', 'offline', '--lake', lake], {})).stdout.trim();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(await status({ authorization: `Bearer ${key}` })).toBe(401);
    await ok(['clickhouse', 'sync', '--lake', lake]);
    await waitFor(
      'synced key accepted',
      async () => (await status({ authorization: `Bearer ${key}` })) === 200,
      HONOUR_BOUND_MS,
    );
  });

  it('a node down: the change stands in the lake, exits 4, and the keys stay readable', async () => {
    await cluster.stopNode(1);
    try {
      const result = await runTxlake(['keys', 'create', 'during-outage', '--lake', lake], {
        env: cluster.env,
      });
      expect(result.code).toBe(4);
      expect(errorLine(result)).toMatch(
        /the key change stands in the lake, but ClickHouse does not have it.*clickhouse sync/,
      );
      expect(result.stdout.trim()).toMatch(/^txl_/); // printed before the copy: it was created
      const list = (await ok(['keys', 'list', '--lake', lake], {})).stdout;
      expect(list).toMatch(/during-outage/);
      // The server still reads the keys from the node that answers: not a 503 for want of keys.
      const ready = await server.get('/readyz');
      expect(JSON.parse(ready.body).problem ?? '').not.toMatch(/API keys/);
    } finally {
      await cluster.startNode(1);
    }
    await ok(['clickhouse', 'sync', '--lake', lake]);
  });
});
