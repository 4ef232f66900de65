// The access log (docs/operations.md "Logs"): one JSON line per request — method, route pattern, status,
// duration, request id — and no URL (user ids are personal data); written asynchronously, yet every line of
// a burst is on stdout once the server has stopped; none at --log-level warn.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGetOnNewConnection, mapLimit, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, REPO_ROOT, runExpecting, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let lake = '';

beforeAll(async () => {
  assertBuilt();
  lake = path.join(temp.make(), 'lake');
  await runExpecting(
    ['ingest', path.join(REPO_ROOT, 'examples/combined_transactions.csv'), '--lake', lake],
    0,
  );
});

afterAll(() => temp.cleanup());

const TARGETS: [string, string, number][] = [
  ['/api/v1/data/transactions/31373', '/api/v1/data/transactions/:userId', 200],
  ['/api/v1/data/netAmount/5732', '/api/v1/data/netAmount/:merchantTypeCode', 200],
  ['/api/v2/users/31373/transactions?limit=5', '/api/v2/users/:userId/transactions', 200],
  ['/api/v1/data/transactions/31373x', '/api/v1/data/transactions/:userId', 400],
  ['/api/v1/data/transactions/%zz', 'unmatched', 400],
  ['/no/such/31373', 'unmatched', 404],
  ['/', '/', 200],
];

async function burst(
  server: RunningServer,
  count: number,
): Promise<{ id: string; route: string; status: number }[]> {
  return mapLimit(
    Array.from({ length: count }, (_, i) => TARGETS[i % TARGETS.length] as [string, string, number]),
    16,
    async ([target, route, status]) => {
      const response = await server.get(target);
      expect(response.status, target).toBe(status);
      return { id: String(response.headers['x-request-id']), route, status };
    },
  );
}

function requestLines(server: RunningServer): Record<string, unknown>[] {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.includes('"msg":"request"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the access log', () => {
  it('has one line per request with its route, status, duration and id, and no URL', async () => {
    const server = await startServer(lake);
    const sent = await burst(server, 700);
    expect(await server.stop()).toBe(0);
    const lines = requestLines(server).filter((line) => line.route !== '/readyz');
    expect(lines).toHaveLength(sent.length);
    const byId = new Map(lines.map((line) => [line.request_id, line]));
    for (const request of sent) {
      const line = byId.get(request.id);
      expect(line, request.id).toBeDefined();
      expect({ method: line?.method, route: line?.route, status: line?.status }).toEqual({
        method: 'GET',
        route: request.route,
        status: request.status,
      });
      expect(typeof line?.ms).toBe('number');
      expect(Number(line?.ms)).toBeGreaterThanOrEqual(0);
    }
    for (const line of lines) {
      expect(Object.keys(line).sort()).toEqual(
        ['hostname', 'level', 'method', 'ms', 'msg', 'pid', 'request_id', 'route', 'status', 'time'].sort(),
      );
      expect(JSON.stringify(line)).not.toContain('31373');
    }
    // Fastify's own two lines per request are gone.
    expect(server.stdout()).not.toMatch(/incoming request|request completed/);
  });

  it('writes none at --log-level warn', async () => {
    const server = await startServer(lake, { extraArgs: ['--log-level', 'warn'] });
    await burst(server, 50);
    await httpGetOnNewConnection(server.port, '/healthz');
    expect(await server.stop()).toBe(0);
    expect(requestLines(server)).toEqual([]);
  });
});
