// The row rules of SPEC §1 as the engine applies them: every rejection reason, and datetime conversion.
// These run the real staging SQL in DuckDB over small files.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSource } from '../../src/etl/source.js';
import { STAGED_TABLE, stageSourceSql } from '../../src/etl/staging.js';
import { type Engine, openEngine } from '../../src/lake/engine.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';
let engine: Engine;
let dir: string;
let fileCount = 0;

beforeAll(async () => {
  engine = await openEngine({ threads: 1 });
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-validation-'));
});
afterAll(async () => {
  engine.close();
  await fs.rm(dir, { recursive: true, force: true });
});

interface StagedRow {
  reject_column: string | null;
  reject_reason: string | null;
  reject_value: string | null;
  user_id: bigint | null;
  transaction_type: string | null;
  merchant_type_code: number | null;
  amount_cents: bigint | null;
  epoch_us: bigint | null;
}

async function stage(rows: string[]): Promise<StagedRow[]> {
  const file = path.join(dir, `f${fileCount++}.csv`);
  await fs.writeFile(file, `${HEADER}\n${rows.join('\n')}\n`);
  const source = await openSource(file, dir);
  await engine.run(stageSourceSql(source, 0, true));
  return engine.rows<StagedRow>(
    `SELECT reject_column, reject_reason, reject_value, user_id, transaction_type::VARCHAR AS transaction_type, merchant_type_code, amount_cents,
       epoch_us(datetime) AS epoch_us FROM ${STAGED_TABLE} ORDER BY rowid`,
  );
}

async function rejectionOf(row: string): Promise<[string | null, string | null]> {
  const [staged] = await stage([row]);
  return [staged?.reject_column ?? null, staged?.reject_reason ?? null];
}

const GOOD = { user: '1', type: 'PurchaseActivity', code: '5411', cents: '100', dt: '2023-03-25T11:31:26' };
const row = (over: Partial<typeof GOOD>) => {
  const v = { ...GOOD, ...over };
  return [v.user, v.type, v.code, v.cents, v.dt].join(',');
};

describe('rejection reasons', () => {
  it.each([
    [{ user: '' }, 'user_id', 'empty'],
    [{ user: 'abc' }, 'user_id', 'not_an_integer'],
    [{ user: '1.5' }, 'user_id', 'not_an_integer'],
    [{ user: '+5' }, 'user_id', 'not_an_integer'],
    [{ user: '1e3' }, 'user_id', 'not_an_integer'],
    [{ user: '1_000' }, 'user_id', 'not_an_integer'],
    [{ user: '0x10' }, 'user_id', 'not_an_integer'],
    [{ user: '-5' }, 'user_id', 'out_of_range'],
    [{ user: '9223372036854775808' }, 'user_id', 'out_of_range'],
    [{ type: '' }, 'transaction_type', 'empty'],
    [{ type: 'Refund' }, 'transaction_type', 'unknown_transaction_type'],
    [{ type: 'purchaseactivity' }, 'transaction_type', 'unknown_transaction_type'],
    [{ code: '' }, 'merchant_type_code', 'empty'],
    [{ code: '54x1' }, 'merchant_type_code', 'not_an_integer'],
    [{ code: '10000' }, 'merchant_type_code', 'out_of_range'],
    [{ code: '99999999999999999999' }, 'merchant_type_code', 'out_of_range'],
    [{ code: '-1' }, 'merchant_type_code', 'out_of_range'],
    [{ cents: '' }, 'amount_cents', 'empty'],
    [{ cents: '12.50' }, 'amount_cents', 'not_an_integer'],
    [{ cents: '12.5' }, 'amount_cents', 'not_an_integer'],
    [{ cents: '-100' }, 'amount_cents', 'out_of_range'],
    [{ cents: '9223372036854775808' }, 'amount_cents', 'out_of_range'],
    [{ dt: '' }, 'datetime', 'empty'],
    [{ dt: 'yesterday' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-3-5T1:2:3' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25T11:31:26.1234567' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25T11:31:26 UTC' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '25/03/2023 11:31:26' }, 'datetime', 'unparsable_datetime'],
    // forms DuckDB's cast reads leniently must not slip through the fast path
    [{ dt: '2023-03-25T11:31:26.5 UTC' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '-023-03-25T11:31:26.5' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '+2023-03-25T11:31:26' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25t11:31:26' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25T11:31:26z' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-03-25T11:31:26.' }, 'datetime', 'unparsable_datetime'],
    // zone offsets beyond ±23:59 would shift times silently
    [{ dt: '2023-01-01T00:00:00+99:00' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-01-01T00:00:00+24:00' }, 'datetime', 'unparsable_datetime'],
    [{ dt: '2023-01-01T00:00:00+02:60' }, 'datetime', 'unparsable_datetime'],
    // outside years 0001–9999 in UTC
    [{ dt: '0000-06-01T00:00:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '0000-06-01 00:00:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '9999-12-31T23:59:59-01:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '0001-01-01T00:30:00+01:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '2023-03-25T11:31:26.5+2' }, 'datetime', 'unparsable_datetime'],
    [{ cents: '1 000' }, 'amount_cents', 'not_an_integer'],
    [{ code: '0x1F' }, 'merchant_type_code', 'not_an_integer'],
    [{ dt: '2023-02-30T11:31:26' }, 'datetime', 'impossible_datetime'],
    [{ dt: '2023-02-29T00:00:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '2023-03-25T25:00:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '2023-03-25T11:61:00' }, 'datetime', 'impossible_datetime'],
    [{ dt: '2023-13-01T00:00:00+02:00' }, 'datetime', 'impossible_datetime'],
  ])('%j → %s %s', async (over, column, reason) => {
    expect(await rejectionOf(row(over))).toEqual([column, reason]);
  });

  it('reports the first bad column in schema order, with its value', async () => {
    const [staged] = await stage(['x,Refund,5411,-1,never']);
    expect(staged).toMatchObject({
      reject_column: 'user_id',
      reject_reason: 'not_an_integer',
      reject_value: 'x',
    });
    const [second] = await stage(['1,Refund,5411,-1,never']);
    expect(second).toMatchObject({ reject_column: 'transaction_type', reject_value: 'Refund' });
  });

  it('accepts the bounds and padded values', async () => {
    const staged = await stage([
      row({ user: '0', code: '0', cents: '0' }),
      row({ user: '9223372036854775807', code: '9999', cents: '9223372036854775807' }),
      row({
        user: ' 42 ',
        type: ' ReturnActivity ',
        code: ' 0042',
        cents: '007',
        dt: ' 2023-03-25 11:31:26 ',
      }),
    ]);
    expect(staged.map((s) => s.reject_reason)).toEqual([null, null, null]);
    expect(staged[1]).toMatchObject({
      user_id: 9223372036854775807n,
      merchant_type_code: 9999,
      amount_cents: 9223372036854775807n,
    });
    expect(staged[2]).toMatchObject({
      user_id: 42n,
      transaction_type: 'ReturnActivity',
      merchant_type_code: 42,
      amount_cents: 7n,
    });
  });
});

describe('datetime conversion to UTC microseconds', () => {
  const at = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
  it.each([
    ['2023-03-25T11:31:26', at('2023-03-25T11:31:26Z')],
    ['2023-03-25 11:31:26', at('2023-03-25T11:31:26Z')],
    ['2023-03-25T11:31:26.5', at('2023-03-25T11:31:26Z') + 500_000n],
    ['2023-03-25T11:31:26.61636', at('2023-03-25T11:31:26Z') + 616_360n],
    ['2023-03-25T11:31:26.123456', at('2023-03-25T11:31:26Z') + 123_456n],
    ['2023-03-25T11:31:26Z', at('2023-03-25T11:31:26Z')],
    ['2023-03-25T11:31:26.25Z', at('2023-03-25T11:31:26Z') + 250_000n],
    ['2023-03-25T11:31:26.5+02', at('2023-03-25T09:31:26Z') + 500_000n],
    ['2023-03-25T11:31:26.5-05', at('2023-03-25T16:31:26Z') + 500_000n],
    ['2023-03-25T11:31:26+02:00', at('2023-03-25T09:31:26Z')],
    ['2023-03-25T11:31:26+0200', at('2023-03-25T09:31:26Z')],
    ['2023-03-25T11:31:26+02', at('2023-03-25T09:31:26Z')],
    ['2023-03-25T01:31:26.000001-05:30', at('2023-03-25T07:01:26Z') + 1n],
    ['2023-03-25T23:30:00-01:00', at('2023-03-26T00:30:00Z')],
    ['2024-02-29T00:00:00', at('2024-02-29T00:00:00Z')],
    ['2023-01-01T00:00:00+23:59', at('2022-12-31T00:01:00Z')],
    ['9999-12-31T23:59:59.999999', at('9999-12-31T23:59:59Z') + 999_999n],
    ['0001-01-01T00:00:00', -62_135_596_800_000_000n], // the first instant allowed
  ])('%s', async (text, expected) => {
    const [staged] = await stage([row({ dt: text })]);
    expect(staged?.reject_reason).toBeNull();
    expect(staged?.epoch_us).toBe(expected);
  });
});
