// Inputs that real exports produce and that once lost or shifted data: mixed line ends, a quote left open,
// the same file named twice, a refused ingest's counts; and CLI errors that must stay one line.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../helpers/oracle.js';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
const row = (user: number, cents = 100) => `${user},PurchaseActivity,5411,${cents},2023-03-25T11:31:26`;
let dir: string;

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-robust-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const target = path.join(dir, name);
  await fs.writeFile(target, text);
  return target;
}

async function snapshotRows(lake: string): Promise<number | null> {
  const result = await runTxlake(['snapshot', '--lake', lake, '--json']);
  return result.code === 0 ? JSON.parse(result.stdout).rows : null;
}

describe('mixed line ends (concatenated exports)', () => {
  it('reads every row, and rejects keep their line numbers', async () => {
    const text = `${HEADER}\r\n${row(1)}\n${row(2)}\nx,PurchaseActivity,5411,1,2023-03-25T11:31:26\r\n${row(3)}\r\n${row(4)}\n`;
    const source = await file('mixed-ends.csv', text);
    const lake = path.join(dir, 'mixed-lake');
    const rejects = path.join(dir, 'mixed.rejects.csv');
    const args = ['ingest', source, '--lake', lake, '--json', '--max-reject-rate', '1', '--rejects', rejects];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stderr).toContain('mixes CRLF and LF line ends');
    expect(JSON.parse(result.stdout)).toMatchObject({ rows_read: 5, rows_committed: 4, rows_rejected: 1 });
    const [, reject] = parseCsv(await fs.readFile(rejects, 'utf8'));
    expect(reject?.fields.slice(0, 3)).toEqual(['4', 'user_id', 'not_an_integer']);
  });

  it('also when the mix starts beyond the first block the header probe reads', async () => {
    const lf = Array.from({ length: 4000 }, (_, i) => row(i + 1)).join('\n');
    const crlf = Array.from({ length: 10 }, (_, i) => row(5000 + i)).join('\r\n');
    const source = await file('late-mix.csv', `${HEADER}\n${lf}\n${crlf}\r\n`);
    const args = ['ingest', source, '--lake', path.join(dir, 'late-lake'), '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ rows_read: 4010, rows_committed: 4010 });
  });
});

describe('a quote left open', () => {
  it('refuses the file when the open quote swallows later lines, naming the line; nothing committed', async () => {
    const lines = [
      HEADER,
      row(1),
      '2,"PurchaseActivity,5411,100,2023-03-25T11:31:26',
      ...Array.from({ length: 50 }, (_, i) => row(i + 3)),
    ];
    const source = await file('open-quote.csv', `${lines.join('\n')}\n`);
    const lake = path.join(dir, 'open-lake');
    const args = ['ingest', source, '--lake', lake, '--max-reject-rate', '1'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(2);
    expect(result.stderr.trim()).toMatch(
      /^error: .*open-quote\.csv: the quote opened on line 3 is never closed/,
    );
    expect(
      result.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('error:')),
    ).toHaveLength(1);
    expect(await snapshotRows(lake)).toBeNull();
  });
});

describe('the same content twice in one ingest', () => {
  it('is committed once; the second name is skipped with a note', async () => {
    const text = `${HEADER}\n${row(1)}\n${row(2)}\n`;
    const a = await file('twice-a.csv', text);
    const b = await file('twice-b.csv', text);
    const lake = path.join(dir, 'twice-lake');
    const args = ['ingest', a, b, '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stderr).toContain(`${b}: same content as ${a} in this ingest; skipped`);
    expect(JSON.parse(result.stdout)).toMatchObject({ rows_read: 2, rows_committed: 2 });
    expect(await snapshotRows(lake)).toBe(2);
  });
});

describe('a refused ingest (too many rejects)', () => {
  it('counts the valid rows it did not commit as withheld, so every row is accounted for', async () => {
    const source = await file(
      'refused.csv',
      `${HEADER}\n${row(1)}\n${row(2)}\nbad,PurchaseActivity,5411,1,2023-03-25T11:31:26\n`,
    );
    const lake = path.join(dir, 'refused-lake');
    const args = ['ingest', source, '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(3);
    const summary = JSON.parse(result.stdout);
    expect(summary).toMatchObject({
      rows_read: 3,
      rows_committed: 0,
      rows_rejected: 1,
      rows_withheld: 2,
      committed: false,
    });
    expect(summary.rows_read).toBe(summary.rows_committed + summary.rows_rejected + summary.rows_withheld);
    expect(await snapshotRows(lake)).toBeNull();
  });
});

describe('command-line errors are one line', () => {
  it.each([
    [['snapshotz'], /^error: unknown command 'snapshotz'.*\(see txlake --help\)$/],
    [
      ['ingest', 'x.csv', '--max-reject-rate', '0x1'],
      /^error: --max-reject-rate must be a number from 0 to 1, got "0x1"$/,
    ],
    [
      ['ingest', 'x.csv', '--mode', 'upsert'],
      /^error: option '--mode <mode>' argument 'upsert' is invalid.*\(see txlake --help\)$/,
    ],
  ])('txlake %j', async (args, pattern) => {
    const result = await runTxlake(args);
    expect(result.code).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines, result.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });

  it('commands that change a lake refuse a lake that does not exist, and create nothing', async () => {
    const missing = path.join(dir, 'no-such-lake');
    for (const args of [['vacuum'], ['rollback', '1'], ['delete-user', '5']]) {
      const result = await runTxlake([...args, '--lake', missing]);
      expect(result.code, describeRun(args, result)).toBe(1);
      expect(result.stderr.trim()).toBe(
        `error: there is no lake at ${missing} (no such directory); check --lake or TXLAKE_LAKE`,
      );
    }
    await expect(fs.access(missing)).rejects.toThrow();
  });

  it("--partition-by that differs from the lake's is refused on append, and kept otherwise", async () => {
    const lake = path.join(dir, 'scheme-lake');
    const source = await file('scheme.csv', `${HEADER}\n${row(1)}\n`);
    expect(
      (await runTxlake(['ingest', source, '--lake', lake, '--partition-by', 'transaction_type,month'])).code,
    ).toBe(0);
    const other = await file('scheme2.csv', `${HEADER}\n${row(2)}\n`);
    const refused = await runTxlake([
      'ingest',
      other,
      '--lake',
      lake,
      '--partition-by',
      'transaction_type,day',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(
      'error: the lake is partitioned by transaction_type,month; --partition-by transaction_type,day applies to a new lake or to --mode replace',
    );
    expect((await runTxlake(['ingest', other, '--lake', lake, '--mode', 'replace'])).code).toBe(0);
    const snapshot = JSON.parse((await runTxlake(['snapshot', '--json', '--lake', lake])).stdout);
    expect(snapshot.partition_by).toBe('transaction_type,month');
  });

  it('a --lake that is a file', async () => {
    const notADirectory = await file('not-a-lake', 'x');
    const source = await file('one.csv', `${HEADER}\n${row(1)}\n`);
    for (const args of [
      ['ingest', source, '--lake', notADirectory],
      ['snapshot', '--lake', notADirectory],
      ['delete-user', '5', '--lake', notADirectory],
      ['vacuum', '--lake', notADirectory],
    ]) {
      const result = await runTxlake(args);
      expect(result.code, describeRun(args, result)).toBe(2);
      expect(result.stderr.trim()).toBe(
        `error: the lake ${notADirectory} is not a directory; name a directory with --lake`,
      );
    }
  });
});
