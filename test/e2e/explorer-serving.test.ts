// How `txlake serve` sends the web explorer (src/server/routes/explorer.ts): the page and its hashed
// assets, compressed copies, caching headers, methods, paths outside the build, `--no-explorer`, and the
// size budget of everything the page loads (≤ 150 KB gzipped).

import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet, type RunningServer, startServer } from '../helpers/server.js';
import { assertBuilt, REPO_ROOT, runExpecting, TempDirs } from '../helpers/txlake.js';

const BUILD = path.join(REPO_ROOT, 'dist', 'explorer');
const temp = new TempDirs();
const servers: RunningServer[] = [];
let server: RunningServer;
let assets: string[] = [];

beforeAll(async () => {
  assertBuilt();
  const lake = path.join(temp.make(), 'lake');
  await runExpecting(
    ['ingest', path.join(REPO_ROOT, 'examples/combined_transactions.csv'), '--lake', lake],
    0,
  );
  server = await startServer(lake);
  servers.push(server);
  const page = await server.get('/');
  assets = [...page.body.matchAll(/(?:src|href)="(\/explorer\/[^"]+)"/g)].map((match) => match[1] ?? '');
});

afterAll(async () => {
  await Promise.all(servers.map((running) => running.stop()));
  temp.cleanup();
});

describe('the explorer’s files', () => {
  it('sends the page uncached and the hashed assets for a year, brotli or gzip as the browser asks', async () => {
    const page = await server.get('/');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(assets.map((asset) => path.extname(asset)).sort()).toEqual(['.css', '.js', '.svg']);
    for (const asset of assets) {
      expect(path.basename(asset), asset).toMatch(/-[A-Za-z0-9]{8}\.[a-z]+$/);
      const file = fs.readFileSync(path.join(BUILD, path.basename(asset)));
      const plain = await server.get(asset);
      expect(plain.bytes.equals(file), asset).toBe(true);
      expect(plain.headers['cache-control'], asset).toBe('public, max-age=31536000, immutable');
      expect(plain.headers['content-security-policy'], asset).toContain("default-src 'none'");
      const gzip = await server.get(asset, { 'accept-encoding': 'gzip' });
      expect(gzip.headers['content-encoding'], asset).toBe('gzip');
      expect(gunzipSync(gzip.bytes).equals(file), asset).toBe(true);
      const brotli = await server.get(asset, { 'accept-encoding': 'br, gzip' });
      expect(brotli.headers['content-encoding'], asset).toBe('br');
      expect(brotli.bytes.length, asset).toBeLessThan(file.length);
    }
    expect((await server.get(assets.find((a) => a.endsWith('.js')) ?? '')).headers['content-type']).toMatch(
      /^(text|application)\/javascript/,
    );
  });

  it('answers HEAD, refuses other methods with 405, and has no file outside the build', async () => {
    expect((await httpGet(server.port, '/', {}, 'HEAD')).status).toBe(200);
    const post = await httpGet(server.port, '/', {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toContain('GET');
    for (const route of [
      '/explorer/missing.js',
      '/explorer/',
      '/explorer',
      '/explorer/../package.json',
      '/index.html',
      '/explorer/index.html', // the page is / (revalidated each visit), never a copy cached for a year
      '/explorer/index.html.gz',
    ]) {
      const response = await server.get(route);
      expect([403, 404], route).toContain(response.status);
      expect(() => JSON.parse(response.body), route).not.toThrow();
    }
  });

  it('keeps everything the page loads within 150 KB gzipped', () => {
    const gzipped = fs
      .readdirSync(BUILD)
      .filter((name) => name.endsWith('.gz'))
      .reduce((total, name) => total + fs.statSync(path.join(BUILD, name)).size, 0);
    expect(gzipped).toBeGreaterThan(10_000); // the build is there, uPlot and all
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
  });

  it('serves the API alone with --no-explorer', async () => {
    const lake = path.join(temp.make(), 'lake');
    await runExpecting(
      ['ingest', path.join(REPO_ROOT, 'examples/combined_transactions.csv'), '--lake', lake],
      0,
    );
    const bare = await startServer(lake, { extraArgs: ['--no-explorer'] });
    servers.push(bare);
    expect((await bare.get('/')).status).toBe(404);
    expect((await bare.get(assets[0] ?? '/explorer/x')).status).toBe(404);
    expect((await bare.get('/api/v2/snapshots')).status).toBe(200);
    expect(bare.stdout()).toContain('"explorer":false');
  });
});
