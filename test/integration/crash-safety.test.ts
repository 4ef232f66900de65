// Crash safety (SPEC §2): a writer killed (`kill -9`) or failing (full disk) at any step of a commit leaves
// the last committed snapshot current, readable and verifiable, and the next writer proceeds. Each step is
// reached through the fault-injection points of src/lake/fault-points.ts; a real `kill -9` of a running
// ingest comes last.

import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTransactionsFile } from '../../src/sample/generator.js';
import { assertBuilt, describeRun, REPO_ROOT, runTxlake, TXLAKE_BIN } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let base: string;
let batch: string;
let big: string;

interface Snapshot {
  id: number;
  rows: number;
  files: string[];
}

async function snapshotOf(lake: string): Promise<Snapshot> {
  const result = await runTxlake(['snapshot', '--json', '--lake', lake]);
  expect(result.code, describeRun(['snapshot'], result)).toBe(0);
  return JSON.parse(result.stdout);
}

async function expectIntactAndWritable(lake: string, before: Snapshot, addedRows: number) {
  expect(await snapshotOf(lake)).toEqual(before);
  const verify = await runTxlake(['verify', '--lake', lake]);
  expect(verify.code, describeRun(['verify'], verify)).toBe(0);
  const next = await runTxlake(['ingest', batch, '--lake', lake, '--json']);
  expect(next.code, describeRun(['ingest', 'again'], next)).toBe(0);
  expect(JSON.parse(next.stdout).rows_committed).toBe(addedRows);
  expect((await snapshotOf(lake)).rows).toBe(before.rows + addedRows);
  expect((await runTxlake(['verify', '--lake', lake])).code).toBe(0);
}

async function freshLake(name: string): Promise<string> {
  const lake = path.join(dir, name);
  await fs.cp(base, lake, { recursive: true });
  return lake;
}

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-crash-'));
  base = path.join(dir, 'base');
  const first = path.join(dir, 'first.csv');
  await generateTransactionsFile({ rows: 2000, seed: 3, users: 50 }, first);
  const init = await runTxlake(['ingest', first, '--lake', base]);
  expect(init.code, describeRun(['ingest', first], init)).toBe(0);
  batch = path.join(dir, 'batch.csv');
  await fs.writeFile(
    batch,
    `${HEADER}\n${Array.from({ length: 10 }, (_, i) => `${900_000 + i},PurchaseActivity,5411,${i},2023-04-0${1 + (i % 9)}T00:00:00`).join('\n')}\n`,
  );
  big = path.join(dir, 'big.csv');
  await generateTransactionsFile({ rows: 600_000, seed: 5, users: 5000 }, big);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('a writer killed at each step of a commit', () => {
  it.each(['validated', 'data-file-published', 'files-written', 'manifest-written', 'current-swap'])(
    'killed at %s: the last snapshot stays current and whole; the next ingest succeeds',
    async (point) => {
      const lake = await freshLake(`kill-${point}`);
      const before = await snapshotOf(lake);
      const result = await runTxlake(['ingest', batch, '--lake', lake], {
        env: { TXLAKE_FAULT_INJECTION: point },
      });
      expect(result.signal, describeRun(['ingest', point], result)).toBe('SIGKILL');
      await expect(fs.access(path.join(lake, '_txlake', 'LOCK'))).resolves.toBeUndefined(); // left behind
      await expectIntactAndWritable(lake, before, 10);
    },
  );
});

describe('the manifest of a writer killed before the swap', () => {
  it('is not a snapshot: not listed, not restorable, and vacuum removes it', async () => {
    const lake = await freshLake('orphan-manifest');
    const killed = await runTxlake(['ingest', batch, '--lake', lake], {
      env: { TXLAKE_FAULT_INJECTION: 'manifest-written' },
    });
    expect(killed.signal).toBe('SIGKILL');
    const orphan = path.join(lake, '_txlake', 'snapshots', '00000002.json');
    await expect(fs.access(orphan)).resolves.toBeUndefined();
    const list = JSON.parse((await runTxlake(['snapshots', '--json', '--lake', lake])).stdout);
    expect(list.map((s: { id: number }) => s.id)).toEqual([1]);
    const rollback = await runTxlake(['rollback', '2', '--lake', lake]);
    expect(rollback.code).toBe(2);
    const lines = rollback.stderr.trim().split('\n');
    expect(lines[0]).toMatch(/^note: recovered the writer lock left by a writer that died/);
    expect(lines[1]).toBe(
      'error: snapshot 2 was never committed (its writer stopped before making it current); it cannot be restored',
    );
    const vacuum = await runTxlake(['vacuum', '--lake', lake]);
    expect(vacuum.code, describeRun(['vacuum'], vacuum)).toBe(0);
    expect(vacuum.stdout).toMatch(
      /and 0 expired snapshots and 1 manifest of writes never committed; kept 1 snapshot /,
    );
    await expect(fs.access(orphan)).rejects.toThrow();
  });
});

describe('a writer whose disk fills up', () => {
  it.each(['data-file-published', 'files-written', 'manifest-written', 'current-swap'])(
    'ENOSPC at %s: one clear line, exit 1, nothing committed, its files removed, lock released',
    async (point) => {
      const lake = await freshLake(`enospc-${point}`);
      const before = await snapshotOf(lake);
      const filesBefore = (await fs.readdir(lake, { recursive: true }))
        .filter((f) => String(f).endsWith('.parquet'))
        .sort();
      const result = await runTxlake(['ingest', batch, '--lake', lake], {
        env: { TXLAKE_FAULT_INJECTION: `enospc:${point}` },
      });
      expect(result.code, describeRun(['ingest', point], result)).toBe(1);
      expect(result.stderr.trim().split('\n').at(-1)).toBe(
        'error: no space left on device; nothing was committed and the lake is unchanged',
      );
      await expect(fs.access(path.join(lake, '_txlake', 'LOCK'))).rejects.toThrow();
      const filesAfter = (await fs.readdir(lake, { recursive: true }))
        .filter((f) => String(f).endsWith('.parquet'))
        .sort();
      expect(filesAfter).toEqual(filesBefore);
      await expectIntactAndWritable(lake, before, 10);
    },
  );
});

describe('vacuum killed while removing files', () => {
  it('leaves the current snapshot whole; the next vacuum finishes the job', async () => {
    const lake = await freshLake('vacuum');
    expect((await runTxlake(['ingest', batch, '--lake', lake])).code).toBe(0);
    const before = await snapshotOf(lake);
    expect((await runTxlake(['rollback', '1', '--lake', lake])).code).toBe(0);
    expect((await runTxlake(['rollback', String(before.id), '--lake', lake])).code).toBe(0);
    const current = await snapshotOf(lake);
    const killed = await runTxlake(['vacuum', '--retain', '0', '--lake', lake], {
      env: { TXLAKE_FAULT_INJECTION: 'vacuum-removing' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(await snapshotOf(lake)).toEqual(current);
    expect((await runTxlake(['verify', '--lake', lake])).code).toBe(0);
    const finish = await runTxlake(['vacuum', '--retain', '0', '--lake', lake]);
    expect(finish.code, describeRun(['vacuum'], finish)).toBe(0);
    expect(finish.stdout).toMatch(/kept 1 snapshot /);
    expect((await runTxlake(['verify', '--lake', lake])).code).toBe(0);
  });
});

describe('a real kill -9 of a running ingest', () => {
  it.each([150, 400, 900])(
    'after %i ms: nothing changes for readers, verify passes, the next ingest succeeds',
    async (delay) => {
      const lake = await freshLake(`sigkill-${delay}`);
      const before = await snapshotOf(lake);
      const child = spawn(TXLAKE_BIN, ['ingest', big, '--lake', lake], { cwd: REPO_ROOT, stdio: 'ignore' });
      const exited = new Promise<NodeJS.Signals | null>((resolve) =>
        child.on('exit', (_code, signal) => resolve(signal)),
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill('SIGKILL');
      const signal = await exited;
      const after = await snapshotOf(lake);
      if (signal === 'SIGKILL') expect(after).toEqual(before);
      else expect(after.rows).toBe(before.rows + 600_000); // it finished before the kill landed
      await expectIntactAndWritable(lake, after, 10);
    },
  );
});
