// The ingest engine's memory limit (`ingest --memory-limit`, TXLAKE_MEMORY_LIMIT) and where the validated
// rows wait for the write: in memory for files that fit, in a compressed staging database file otherwise.
// Both stagings must give the same snapshot and the same rejects, line numbers included.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIN_INGEST_MEMORY_LIMIT_BYTES, resolveIngestMemoryLimit } from '../../src/cli/config.js';
import {
  chooseStagedStorage,
  defaultIngestMemoryLimit,
  ingest as ingestApi,
  MAX_DEFAULT_INGEST_MEMORY_BYTES,
} from '../../src/etl/ingest.js';
import type { Source } from '../../src/etl/source.js';
import { withEngine } from '../../src/lake/engine.js';
import { csvText, rawCsv, writeCsvFile } from '../helpers/csv-file.js';
import { REQUIRED } from '../helpers/oracle.js';
import { randomTransactions } from '../helpers/synthetic.js';
import { assertBuilt, currentSnapshot, describeRun, ingest, runTxlake, TempDirs } from '../helpers/txlake.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const temp = new TempDirs();

beforeAll(() => assertBuilt());
afterAll(() => temp.cleanup());

function expectUsageError(result: { code: number | null; stderr: string }, mention: string, context: string) {
  expect(result.code, context).toBe(2);
  const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, context).toHaveLength(1);
  expect(lines[0]?.startsWith('error: '), context).toBe(true);
  expect(lines[0], context).toContain(mention);
}

describe('the default memory limit and the staging choice', () => {
  it('is half of the RAM, at most 4 GiB, at least 128 MiB', () => {
    expect(defaultIngestMemoryLimit(24 * GiB)).toBe(MAX_DEFAULT_INGEST_MEMORY_BYTES);
    expect(MAX_DEFAULT_INGEST_MEMORY_BYTES).toBe(4 * GiB);
    expect(defaultIngestMemoryLimit(4 * GiB)).toBe(2 * GiB);
    expect(defaultIngestMemoryLimit(100 * MiB)).toBe(128 * MiB);
  });

  const source = (bytes: number, compression: 'none' | 'gzip' = 'none') =>
    ({ bytes, compression, sampledBytesPerRow: 62 }) as Source;

  it('stages in memory what fits in a third of the limit, on disk what does not', () => {
    // 10M rows of 62 bytes: about 1.1 GB staged in memory, within a third of 4 GiB.
    expect(chooseStagedStorage([source(620e6)], 4 * GiB)).toBe('memory');
    expect(chooseStagedStorage([source(6.2e9)], 4 * GiB)).toBe('disk');
    expect(chooseStagedStorage([source(620e6)], 2 * GiB)).toBe('disk');
    // The sources of one ingest share the staged table; a .csv.gz counts for several times its size.
    expect(chooseStagedStorage([source(450e6), source(450e6)], 4 * GiB)).toBe('disk');
    expect(chooseStagedStorage([source(200e6, 'gzip')], 4 * GiB)).toBe('disk');
  });
});

describe('resolveIngestMemoryLimit', () => {
  it('takes the flag over the environment, in binary units', () => {
    expect(resolveIngestMemoryLimit('2GB', { TXLAKE_MEMORY_LIMIT: '1GB' })).toBe(2 * GiB);
    expect(resolveIngestMemoryLimit(undefined, { TXLAKE_MEMORY_LIMIT: '512MiB' })).toBe(512 * MiB);
    expect(resolveIngestMemoryLimit(undefined, {})).toBeUndefined();
    expect(resolveIngestMemoryLimit(undefined, { TXLAKE_MEMORY_LIMIT: '' })).toBeUndefined();
    expect(resolveIngestMemoryLimit('134217728', {})).toBe(MIN_INGEST_MEMORY_LIMIT_BYTES);
  });

  it('refuses what is not a size, or too small, naming where it came from', () => {
    expect(() => resolveIngestMemoryLimit('lots', {})).toThrow(/--memory-limit must be a size/);
    expect(() => resolveIngestMemoryLimit('-1GB', {})).toThrow(/--memory-limit must be a size/);
    expect(() => resolveIngestMemoryLimit('64MB', {})).toThrow(/--memory-limit must be at least 128MB/);
    expect(() => resolveIngestMemoryLimit(undefined, { TXLAKE_MEMORY_LIMIT: '2 apples' })).toThrow(
      /TXLAKE_MEMORY_LIMIT must be a size/,
    );
  });
});

describe('ingest --memory-limit on the command line', () => {
  let dir = '';
  let csv = '';
  beforeAll(() => {
    dir = temp.make('txlake-memlimit-');
    csv = writeCsvFile(path.join(dir, 'data.csv'), csvText(randomTransactions({ seed: 7, rows: 200 })));
  });

  for (const [args, env, mention] of [
    [['--memory-limit', '12x'], {}, '--memory-limit must be a size such as 512MB or 2GB, got "12x"'],
    [['--memory-limit', '0'], {}, '--memory-limit must be at least 128MB'],
    [['--memory-limit', '1MB'], {}, '--memory-limit must be at least 128MB'],
    [[], { TXLAKE_MEMORY_LIMIT: 'half' }, 'TXLAKE_MEMORY_LIMIT must be a size'],
  ] as const) {
    it(`refuses ${[...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')}: exit 2, one line, nothing committed`, async () => {
      const lake = path.join(dir, `lake-${Math.random().toString(36).slice(2)}`);
      const argv = ['ingest', csv, '--lake', lake, ...args];
      const result = await runTxlake(argv, { env });
      expectUsageError(result, mention, describeRun(argv, result));
      expect(await currentSnapshot(lake)).toBeNull();
    });
  }

  it('is documented in --help', async () => {
    const result = await runTxlake(['ingest', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('--memory-limit <size>');
    expect(result.stdout).toContain('TXLAKE_MEMORY_LIMIT');
  });

  it('commits with a small limit, from the flag or the environment', async () => {
    const lake = path.join(dir, 'lake-ok');
    const { summary } = await ingest([csv], lake, ['--memory-limit', '256MB']);
    expect(summary.rows_committed).toBe(200);
    const again = await ingest([csv], lake, ['--force'], { env: { TXLAKE_MEMORY_LIMIT: '200MiB' } });
    expect(again.summary.rows_committed).toBe(200);
    expect((await currentSnapshot(lake))?.rows).toBe(400);
  });
});

describe('staging on disk gives what staging in memory gives', () => {
  let dir = '';
  let csv = '';
  beforeAll(() => {
    dir = temp.make('txlake-staging-');
    const good = randomTransactions({ seed: 11, rows: 3000, users: 50 });
    const lines = csvText(good).trimEnd().split('\n');
    // Bad rows at known places: a value error, a wrong field count, a bad datetime, a zoned datetime (slow path).
    lines.splice(10, 0, '5,PurchaseActivity,5411,abc,2023-03-14T10:00:00');
    lines.splice(500, 0, '5,PurchaseActivity,5411');
    lines.splice(1500, 0, '6,ReturnActivity,5411,100,2023-02-30T11:31:26');
    lines.splice(2000, 0, '7,ReturnActivity,5411,100,2023-03-14T10:00:00+02:00');
    csv = writeCsvFile(path.join(dir, 'data.csv'), rawCsv(lines));
  });

  async function ingestWith(
    staging: 'memory' | 'disk',
    partitionBy: 'transaction_type' | 'transaction_type,month',
  ) {
    const lake = path.join(dir, `lake-${staging}-${partitionBy.replace(',', '-')}`);
    const rejectsFile = path.join(dir, `${staging}-${partitionBy.replace(',', '-')}.rejects.csv`);
    const result = await ingestApi({
      lake,
      files: [csv],
      mode: 'append',
      maxRejectRate: 0.01,
      partitionBy,
      force: false,
      rejectsFile,
      staging,
      memoryLimitBytes: 256 * MiB,
    });
    const rows = await withEngine(async (engine) =>
      engine.rows<Record<string, unknown>>(
        `SELECT ${REQUIRED.join(', ')} FROM read_parquet('${lake}/transaction_type=*/**/*.parquet', hive_partitioning = true)
         ORDER BY ALL`,
      ),
    );
    const staged = path.join(lake, '_txlake', 'staging');
    return {
      result,
      rows: JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      rejects: readFileSync(rejectsFile, 'utf8'),
      stagingLeft: existsSync(staged) ? readdirSync(staged) : [],
    };
  }

  for (const partitionBy of ['transaction_type', 'transaction_type,month'] as const) {
    it(`partitioned by ${partitionBy}`, async () => {
      const memory = await ingestWith('memory', partitionBy);
      const disk = await ingestWith('disk', partitionBy);
      expect(disk.result.rows_read).toBe(3004);
      expect(disk.result.rows_rejected).toBe(3);
      expect(disk.result.rows_committed).toBe(3001);
      expect(memory.result.rows_committed).toBe(3001);
      expect(disk.rows).toBe(memory.rows);
      expect(disk.rejects).toBe(memory.rejects);
      // Physical lines: the header is line 1, so the row spliced in at index i is on line i + 1.
      expect(disk.rejects).toMatch(/^11,amount_cents,not_an_integer,/m);
      expect(disk.rejects).toMatch(/^501,,wrong_field_count,/m);
      expect(disk.rejects).toMatch(/^1501,datetime,impossible_datetime,/m);
      expect(disk.stagingLeft).toEqual([]);
    });
  }
});
