// `Expect: 100-continue` on a real `txlake serve` over a bare socket: the 100 comes before the answer, and
// pipelined requests that carry the expectation get whole answers (Node once put a queued answer's head
// before its buffered 100, so the 100 landed inside the body and broke the connection's framing; found by
// the HTTP fuzz suite, test/fuzz/).

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, type RawRequest } from '../fuzz/raw-http.js';
import { httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, ingest, REPO_ROOT, TempDirs } from '../helpers/txlake.js';

const temp = new TempDirs();
let server: RunningServer;

beforeAll(async () => {
  assertBuilt();
  const lake = path.join(temp.make(), 'lake');
  await ingest([path.join(REPO_ROOT, 'examples', 'combined_transactions.csv')], lake);
  server = await startServer(lake);
});

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

function expecting(target: string, copies: number): RawRequest {
  return {
    method: 'GET',
    target,
    version: 'HTTP/1.1',
    headers: [
      ['Host', '127.0.0.1'],
      ['Expect', '100-continue'],
    ],
    body: Buffer.alloc(0),
    lineEnd: '\r\n',
    halfClose: false,
    copies,
  };
}

describe('Expect: 100-continue', () => {
  const targets = [
    '/api/v1/data/transactions/31373',
    '/api/v1/data/netAmount/5732',
    '/api/v2/users/31373/transactions?limit=3',
    '/api/v2/merchant-types/5732/daily-net',
    '/api/v2/users/x/transactions',
    '/healthz',
  ];

  it('one request: 100 Continue, then the answer', async () => {
    const result = await exchange(server.port, expecting(targets[0] as string, 1), { timeoutMs: 5_000 });
    expect(result.error).toBeNull();
    expect(result.responses.map((r) => r.status)).toEqual([200]);
  });

  it('pipelined requests: every answer whole and as a plain GET gets it, in order', async () => {
    for (const target of targets) {
      const plain = (await httpGet(server.port, target)).body;
      const result = await exchange(server.port, expecting(target, 3), { timeoutMs: 5_000 });
      expect(result.error, target).toBeNull();
      expect(result.timedOut, target).toBe(false);
      for (const response of result.responses) expect(response.body.toString('utf8'), target).toBe(plain);
      expect(result.trailing.toString('latin1'), target).toBe('');
      // A queued request gets no 100, so Node cannot know whether content follows: it answers, then closes
      // (the client sends what was not answered again, as after any close).
      expect(result.responses.length, target).toBeGreaterThanOrEqual(2);
      if (result.responses.length < 3) {
        expect(result.responses.at(-1)?.headers.connection, target).toBe('close');
        expect(result.closedByServer, target).toBe(true);
      }
    }
  });
});
