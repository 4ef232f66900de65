// The synthetic data generator: deterministic bytes, rows valid per SPEC §1, and the sample's shape.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CSV_HEADER,
  defaultUsers,
  type GenerateOptions,
  generateTransactions,
  generateTransactionsFile,
  heaviestUserId,
} from '../../src/sample/generator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILT = existsSync(path.join(ROOT, 'dist', 'src', 'cli', 'main.js'));

async function generate(options: GenerateOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  // Keeps every chunk it is given: the generator must never reuse a buffer it has handed over.
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  await generateTransactions(options, sink);
  return Buffer.concat(chunks);
}

interface ParsedRow {
  userId: string;
  type: string;
  merchant: number;
  amount: bigint;
  datetime: string;
  fractionDigits: number;
}

const INT64_MAX = 2n ** 63n - 1n;
const DATETIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{1,6})$/;

/** An independent reading of SPEC §1 (not the ETL's): throws on the first invalid field. */
function parseRow(line: string, lineNumber: number): ParsedRow {
  const fields = line.split(',');
  const fail = (why: string) => new Error(`line ${lineNumber} (${JSON.stringify(line)}): ${why}`);
  if (fields.length !== 5) throw fail('not 5 fields');
  const [userId, type, merchant, amount, datetime] = fields as [string, string, string, string, string];
  if (!/^\d+$/.test(userId) || BigInt(userId) > INT64_MAX) throw fail('bad user_id');
  if (type !== 'PurchaseActivity' && type !== 'ReturnActivity') throw fail('bad transaction_type');
  if (!/^\d+$/.test(merchant) || Number(merchant) > 9999) throw fail('bad merchant_type_code');
  if (!/^\d+$/.test(amount) || BigInt(amount) > INT64_MAX) throw fail('bad amount_cents');
  const match = DATETIME.exec(datetime);
  if (!match) throw fail('bad datetime');
  const whole = datetime.slice(0, 19);
  // A calendar-valid instant formats back to itself (no 30 February, no 25th hour).
  if (new Date(`${whole}Z`).toISOString().slice(0, 19) !== whole) throw fail('impossible datetime');
  return {
    userId,
    type,
    merchant: Number(merchant),
    amount: BigInt(amount),
    datetime,
    fractionDigits: (match[7] as string).length,
  };
}

function parseCsv(bytes: Buffer): ParsedRow[] {
  const text = bytes.toString('utf8');
  expect(text.endsWith('\n')).toBe(true);
  expect(text.includes('\r')).toBe(false);
  const lines = text.slice(0, -1).split('\n');
  expect(lines[0]).toBe(CSV_HEADER);
  return lines.slice(1).map((line, index) => parseRow(line, index + 2));
}

function counts<T>(values: Iterable<T>): Map<T, number> {
  const map = new Map<T, number>();
  for (const value of values) map.set(value, (map.get(value) ?? 0) + 1);
  return map;
}

describe('generateTransactions', () => {
  it('writes byte-identical output for the same seed and different output for another seed', async () => {
    const options = { rows: 30_000, seed: 7, users: 300 };
    const first = await generate(options);
    const second = await generate(options);
    expect(first.equals(second)).toBe(true);
    const other = await generate({ ...options, seed: 8 });
    expect(other.equals(first)).toBe(false);
    expect(first.length).toBeGreaterThan(30_000 * 40);
  });

  it('spans several output chunks without losing or splitting rows', async () => {
    // ~62 bytes a row: 40,000 rows are more than two 1 MiB chunks.
    const rows = parseCsv(await generate({ rows: 40_000, seed: 1, users: 400 }));
    expect(rows).toHaveLength(40_000);
  });

  it('writes only the header for zero rows', async () => {
    expect((await generate({ rows: 0, seed: 1, users: 1 })).toString()).toBe(`${CSV_HEADER}\n`);
  });

  describe('on 100,000 rows', () => {
    let rows: ParsedRow[] = [];
    beforeAll(async () => {
      rows = parseCsv(await generate({ rows: 100_000, seed: 1, users: defaultUsers(100_000) }));
    });

    it('writes every row valid per SPEC §1', () => {
      expect(rows).toHaveLength(100_000);
    });

    it('has about 3.4% returns', () => {
      const returns = rows.filter((row) => row.type === 'ReturnActivity').length / rows.length;
      expect(returns).toBeGreaterThan(0.03);
      expect(returns).toBeLessThan(0.038);
    });

    it('writes 4 to 6 fractional digits, mostly 6, each length present', () => {
      const digits = counts(rows.map((row) => row.fractionDigits));
      expect([...digits.keys()].sort()).toEqual([4, 5, 6]);
      expect(digits.get(6) ?? 0).toBeGreaterThan(rows.length * 0.8);
    });

    it('keeps datetimes within about 180 days of 2023', () => {
      const sorted = rows.map((row) => row.datetime).sort();
      const first = Date.parse(`${sorted[0]}Z`);
      const last = Date.parse(`${sorted.at(-1)}Z`);
      expect(sorted[0]?.startsWith('2023-')).toBe(true);
      expect(sorted.at(-1)?.startsWith('2023-')).toBe(true);
      expect((last - first) / 86_400_000).toBeGreaterThan(170);
      expect((last - first) / 86_400_000).toBeLessThanOrEqual(180);
    });

    it('skews merchant codes over a few hundred real codes, the sample ones included', () => {
      const merchants = counts(rows.map((row) => row.merchant));
      expect(merchants.size).toBeGreaterThan(300);
      expect(merchants.size).toBeLessThanOrEqual(500);
      for (const code of [5310, 5732, 5411, 5812, 4829]) expect(merchants.has(code)).toBe(true);
      const top = Math.max(...merchants.values());
      expect(top / rows.length).toBeGreaterThan(0.05);
    });

    it('has heavy and light users, the heaviest one known in advance', () => {
      const byUser = counts(rows.map((row) => row.userId));
      const perUser = [...byUser.values()].sort((a, b) => a - b);
      const median = perUser[Math.floor(perUser.length / 2)] as number;
      expect(perUser.at(-1) as number).toBeGreaterThan(median * 10);
      expect(perUser[0] as number).toBeLessThan(median);
      const heaviest = String(heaviestUserId({ seed: 1, users: defaultUsers(100_000) }));
      expect(byUser.get(heaviest)).toBe(perUser.at(-1));
    });

    it('has amounts from under a dollar to thousands of dollars, mostly below a few hundred', () => {
      const amounts = rows.map((row) => row.amount).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const median = amounts[Math.floor(amounts.length / 2)] as bigint;
      expect(amounts[0] as bigint).toBeLessThan(100n);
      expect(median).toBeGreaterThan(500n);
      expect(median).toBeLessThan(50_000n);
      expect(amounts.at(-1) as bigint).toBeGreaterThan(500_000n);
    });
  });

  it('never uses more distinct users than asked for', async () => {
    for (const users of [1, 7, 1000]) {
      const rows = parseCsv(await generate({ rows: 20_000, seed: 3, users }));
      const distinct = new Set(rows.map((row) => row.userId)).size;
      expect(distinct).toBeLessThanOrEqual(users);
      if (users <= 7) expect(distinct).toBe(users);
    }
  });

  it('defaults to one user per 100 rows, at least one', () => {
    expect(defaultUsers(10_000_000)).toBe(100_000);
    expect(defaultUsers(50)).toBe(1);
    expect(defaultUsers(0)).toBe(1);
  });

  it('rejects options outside their range', async () => {
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await expect(generateTransactions({ rows: -1, seed: 1, users: 1 }, sink)).rejects.toThrow(RangeError);
    await expect(generateTransactions({ rows: 1, seed: 1.5, users: 1 }, sink)).rejects.toThrow(RangeError);
    await expect(generateTransactions({ rows: 1, seed: 1, users: 0 }, sink)).rejects.toThrow(RangeError);
  });
});

describe('generateTransactionsFile', () => {
  it('writes the same bytes to a file, gzip-compressed for .gz, and leaves no temporary file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-generator-'));
    try {
      const options = { rows: 5_000, seed: 11, users: 50 };
      const expected = await generate(options);
      const plain = await generateTransactionsFile(options, path.join(dir, 'a.csv'));
      await generateTransactionsFile(options, path.join(dir, 'a.csv.gz'));
      expect(plain).toEqual({ rows: 5_000, bytes: expected.length });
      expect((await fs.readFile(path.join(dir, 'a.csv'))).equals(expected)).toBe(true);
      expect(gunzipSync(await fs.readFile(path.join(dir, 'a.csv.gz'))).equals(expected)).toBe(true);
      expect((await fs.readdir(dir)).sort()).toEqual(['a.csv', 'a.csv.gz']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!BUILT)('txlake generate and bench (built CLI)', () => {
  const run = promisify(execFile);
  const txlake = path.join(ROOT, 'bin', 'txlake');

  it('answers a bad flag with one line and exit code 2', async () => {
    const failed = await run(txlake, ['generate', '--rows', '12x', '--out', '-']).catch(
      (error: unknown) => error,
    );
    expect(failed).toMatchObject({
      code: 2,
      stderr: 'error: --rows must be a whole number from 0 to 9007199254740991, got "12x"\n',
    });
  });

  it('runs the ingest benchmark on a small file and cleans up after itself', async () => {
    const { runIngestBench } = await import('../../bench/index.js');
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-bench-test-'));
    try {
      const result = await runIngestBench({ rows: 2_000, seed: 5, dir });
      expect(result).toMatchObject({
        bench: 'ingest',
        rows: 2_000,
        seed: 5,
        kept_dir: null,
        target_ratio: 2,
      });
      expect(result.csv_bytes).toBeGreaterThan(2_000 * 40);
      expect(result.baseline_seconds).toBeGreaterThan(0);
      expect(result.txlake_seconds).toBeGreaterThan(0);
      expect(result.ratio).toBeGreaterThan(0);
      expect(await fs.readdir(dir)).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
