// The lake's history from the command line: snapshots, rollback (a new commit), verify, vacuum.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let dir: string;
let lake: string;
let fileA: string;
let fileB: string;

async function ok(args: string[]): Promise<string> {
  const result = await runTxlake([...args, '--lake', lake]);
  expect(result.code, describeRun(args, result)).toBe(0);
  return result.stdout;
}

async function currentSnapshot(): Promise<{ id: number; rows: number; files: string[] }> {
  return JSON.parse(await ok(['snapshot', '--json']));
}

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-history-'));
  lake = path.join(dir, 'lake');
  fileA = path.join(dir, 'a.csv');
  fileB = path.join(dir, 'b.csv');
  await fs.writeFile(
    fileA,
    `${HEADER}\n1,PurchaseActivity,5411,100,2023-03-25T11:31:26\n2,ReturnActivity,5411,50,2023-03-25T12:00:00\n`,
  );
  await fs.writeFile(fileB, `${HEADER}\n3,PurchaseActivity,5732,700,2023-03-26T00:00:00\n`);
  await ok(['ingest', fileA]);
  await ok(['ingest', fileB]);
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('snapshots and rollback', () => {
  it('lists every snapshot and marks the current one', async () => {
    const list = JSON.parse(await ok(['snapshots', '--json']));
    expect(
      list.map((s: { id: number; rows: number; current: boolean }) => [s.id, s.rows, s.current]),
    ).toEqual([
      [1, 2, false],
      [2, 3, true],
    ]);
    expect(await ok(['snapshots'])).toMatch(/^\* +2 .* ingest \(append\) +3 rows/m);
  });

  it('rolls back as a new snapshot with the earlier content; history is kept', async () => {
    expect(await ok(['rollback', '1'])).toContain(
      'snapshot 3 restores snapshot 1 (2 rows) and is now current',
    );
    const current = await currentSnapshot();
    expect(current).toMatchObject({ id: 3, rows: 2 });
    const list = JSON.parse(await ok(['snapshots', '--json']));
    expect(list.at(-1)).toMatchObject({
      id: 3,
      parent: 2,
      operation: 'rollback',
      restores: 1,
      current: true,
    });
    // b.csv's rows are gone with the rollback, so ingesting it again is not a no-op
    const again = JSON.parse(await ok(['ingest', fileB, '--json']));
    expect(again).toMatchObject({ rows_committed: 1, snapshot: 4 });
  });

  it.each([
    [['rollback', '99'], 2, 'error: snapshot 99 does not exist (the newest snapshot is 4)'],
    [['rollback', '4'], 2, 'error: snapshot 4 is already the current snapshot'],
    [['rollback', 'x'], 2, 'error: snapshot id must be a whole number'],
  ])('refuses %j', async (args, code, message) => {
    const result = await runTxlake([...args, '--lake', lake]);
    expect(result.code, describeRun(args, result)).toBe(code);
    expect(result.stderr.trim()).toMatch(new RegExp(`^${message.replace(/[()]/g, '\\$&')}`));
  });
});

describe('verify', () => {
  it('passes on a whole snapshot', async () => {
    expect(await ok(['verify'])).toMatch(/^snapshot 4 is whole: \d+ files, 3 rows, checksums match/);
  });

  it('names each damaged or missing file and exits non-zero; rollback to a damaged snapshot is refused', async () => {
    const copy = path.join(dir, 'damaged-lake');
    await fs.cp(lake, copy, { recursive: true });
    const { files } = await currentSnapshot();
    await fs.appendFile(path.join(copy, files[0] as string), 'garbage');
    await fs.rm(path.join(copy, files[1] as string));
    const result = await runTxlake(['verify', '--lake', copy]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`problem: ${files[0]} is [0-9]+ bytes, the manifest says [0-9]+`),
    );
    expect(result.stderr).toContain(`problem: ${files[1]} is missing`);
    expect(result.stderr.trim().split('\n').at(-1)).toBe(
      `error: snapshot 4 is damaged: 2 of its files failed the check; \`txlake repair --lake ${copy}\` says what can be done`,
    );
    const rollback = await runTxlake(['rollback', '2', '--lake', copy]);
    expect(rollback.code).toBe(1);
    expect(rollback.stderr).toMatch(
      /^error: cannot roll back to snapshot 2: its data file .* (is missing|is [0-9]+ bytes)/,
    );
  });
});

describe('vacuum', () => {
  it('keeps everything within the retention', async () => {
    expect(await ok(['vacuum'])).toMatch(/^removed 0 files .* and 0 expired snapshots; kept 4 snapshots/);
  });

  it("with --retain 0 keeps only the current snapshot, removes the rest and crashed writers' leftovers", async () => {
    // Named as txlake names its files: a writer killed after publishing it, before its commit.
    const orphan = path.join(
      lake,
      'transaction_type=PurchaseActivity',
      'part-20261125T152215-c0b44b10.parquet',
    );
    await fs.writeFile(orphan, 'left by a writer that was killed');
    await fs.mkdir(path.join(lake, '_txlake', 'staging', 'dead-writer'), { recursive: true });
    await fs.writeFile(path.join(lake, '_txlake', 'staging', 'dead-writer', 'stdin.csv'), 'x');
    const before = await currentSnapshot();
    const output = await ok(['vacuum', '--retain', '0']);
    expect(output).toMatch(/and 3 expired snapshots; kept 1 snapshot \(4\)/);
    await expect(fs.access(orphan)).rejects.toThrow();
    await expect(fs.access(path.join(lake, '_txlake', 'staging', 'dead-writer'))).rejects.toThrow();
    expect(await currentSnapshot()).toEqual(before);
    expect(await ok(['verify'])).toContain('is whole');
    const list = JSON.parse(await ok(['snapshots', '--json']));
    expect(list.map((s: { id: number }) => s.id)).toEqual([4]);
  });

  it('refuses a duration it cannot read', async () => {
    const result = await runTxlake(['vacuum', '--retain', 'soon', '--lake', lake]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      'error: --retain must be a duration such as 30m, 12h, 7d or 0, got "soon"',
    );
  });
});

describe('delete-user from the command line', () => {
  it('erases, says so, and --purge removes the older snapshots at once', async () => {
    const result = JSON.parse(await ok(['delete-user', '3', '--purge', '--json']));
    expect(result).toMatchObject({
      user_id: '3',
      rows_erased: 1,
      files_rewritten: 1,
      snapshot: 5,
      purged_snapshots: [4],
    });
    expect(await currentSnapshot()).toMatchObject({ id: 5, rows: 2 });
    expect(await ok(['delete-user', '3'])).toBe(
      'user 3 has no rows in the current snapshot; nothing to erase\n',
    );
  });

  it.each(['abc', '-1', '9223372036854775808'])('refuses the id %j with one line', async (id) => {
    const result = await runTxlake(['delete-user', id, '--lake', lake]);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `error: the user id must be an integer from 0 to 9223372036854775807, got "${id}"`,
    );
  });
});
