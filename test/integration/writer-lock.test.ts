// One writer at a time (SPEC §2): a live writer's lock refuses a second one with one clear line; a lock
// left by a writer that died is taken over, and the takeover is reported.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

const CSV =
  'user_id,transaction_type,merchant_type_code,amount_cents,datetime\n1,PurchaseActivity,5411,100,2023-03-25T11:31:26\n';
let dir: string;

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-lock-'));
  await fs.writeFile(path.join(dir, 'a.csv'), CSV);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function lakeWithLock(name: string, pid: number): Promise<string> {
  const lake = path.join(dir, name);
  await fs.mkdir(path.join(lake, '_txlake'), { recursive: true });
  const holder = { pid, host: os.hostname(), started: '2026-01-01T00:00:00.000Z', command: 'ingest big.csv' };
  await fs.writeFile(path.join(lake, '_txlake', 'LOCK'), JSON.stringify(holder));
  return lake;
}

describe('the writer lock', () => {
  it('refuses a second writer while the first is alive, naming it, and commits nothing', async () => {
    const lake = await lakeWithLock('busy', process.pid); // this test process is alive
    const args = ['ingest', path.join(dir, 'a.csv'), '--lake', lake];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^error: the lake .* is locked by another writer \(pid \d+ on .*, running "ingest big\.csv"/,
    );
    await expect(fs.access(path.join(lake, '_txlake', 'CURRENT'))).rejects.toThrow();
  });

  it('takes over the lock of a writer that died, and says so', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid;
    const lake = await lakeWithLock('stale', dead);
    const args = ['ingest', path.join(dir, 'a.csv'), '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stderr).toContain(`recovered the writer lock left by a writer that died (pid ${dead}`);
    expect(JSON.parse(result.stdout).rows_committed).toBe(1);
    await expect(fs.access(path.join(lake, '_txlake', 'LOCK'))).rejects.toThrow(); // released after the commit
  });

  it('takes over an empty lock file left long ago (a writer killed while creating it)', async () => {
    const lake = path.join(dir, 'empty-lock');
    await fs.mkdir(path.join(lake, '_txlake'), { recursive: true });
    const lockFile = path.join(lake, '_txlake', 'LOCK');
    await fs.writeFile(lockFile, '');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lockFile, old, old);
    const args = ['ingest', path.join(dir, 'a.csv'), '--lake', lake];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stderr).toContain('recovered an unreadable writer lock left by a writer that died');
  });
});
