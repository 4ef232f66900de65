// `npm start` runs `txlake start`: on an empty lake it generates a sample, ingests it and serves it, printing
// URLs that answer; on a lake with data it only serves.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import { assertBuilt } from '../helpers/txlake.js';

let dir: string;

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-start-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('txlake start', () => {
  it('fills an empty lake with a sample, serves it, and its example URLs answer with data', async () => {
    const lake = path.join(dir, 'lake');
    const server = await startServer(lake, {
      command: 'start',
      extraArgs: ['--rows', '3000'],
      readyTimeoutMs: 60_000,
    });
    try {
      expect(server.stderr()).toContain('is empty: generating 3000 sample rows');
      const urls = [...server.stderr().matchAll(/curl http:\/\/127\.0\.0\.1:\d+(\/api\/v1\/data\/\S+)/g)].map(
        (m) => m[1],
      );
      expect(urls).toHaveLength(2);
      for (const url of urls) {
        const response = await server.get(url as string);
        expect(response.status).toBe(200);
        expect(JSON.parse(response.body).length, url).toBeGreaterThan(0);
      }
      expect((await server.get('/readyz')).body).toContain('"rows":3000');
    } finally {
      expect(await server.stop()).toBe(0);
    }

    const again = await startServer(lake, { command: 'start', extraArgs: ['--rows', '3000'] });
    try {
      expect(again.stderr()).not.toContain('generating');
      expect((await again.get('/readyz')).body).toContain('"snapshot":1');
    } finally {
      await again.stop();
    }
  });

  it('refuses a bad --rows with one line and exit 2', async () => {
    const { runTxlake } = await import('../helpers/txlake.js');
    const result = await runTxlake(['start', '--lake', path.join(dir, 'other'), '--rows', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'error: --rows must be a whole number from 1 to 9007199254740991, got "many"',
    );
  });
});
