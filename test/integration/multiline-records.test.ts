// Quoted fields that span lines: the engine's parallel scanner refuses them together with the field-count
// check, so txlake reads such a file sequentially; rows, rejects and line numbers must be unaffected.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../helpers/oracle.js';
import { assertBuilt, describeRun, runTxlake } from '../helpers/txlake.js';

let dir: string;

beforeAll(async () => {
  assertBuilt();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'txlake-multiline-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** Ingest `text` as a new file into its own lake with every reject accepted; the run and the rejects' records. */
async function ingestAllowingRejects(name: string, text: string) {
  const file = path.join(dir, `${name}.csv`);
  await fs.writeFile(file, text);
  const rejects = path.join(dir, `${name}.rejects.csv`);
  const args = [
    'ingest',
    file,
    '--lake',
    path.join(dir, `${name}-lake`),
    '--json',
    '--max-reject-rate',
    '1',
    '--rejects',
    rejects,
  ];
  const result = await runTxlake(args);
  expect(result.code, describeRun(args, result)).toBe(0);
  const [header, ...records] = parseCsv(await fs.readFile(rejects, 'utf8'));
  expect(header?.fields).toEqual(['line', 'column', 'reason', 'message', 'value']);
  return { result, summary: JSON.parse(result.stdout), records };
}

describe('records with line breaks inside quotes', () => {
  it('ingests them and rejects the bad ones with their physical line', async () => {
    const text = [
      'user_id,transaction_type,merchant_type_code,amount_cents,datetime,comment', // line 1
      '1,PurchaseActivity,5411,100,2023-03-25T11:31:26,"first line', // 2
      'second line"', // 3
      '2,"Purchase', // 4
      'Activity",5411,100,2023-03-25T11:31:26,x', // 5
      '', // 6 (blank)
      '3,PurchaseActivity,5411,1.5,2023-03-25T11:31:26,"a ""quoted"" word', // 7
      'and more"', // 8
      '4,ReturnActivity,5411,250,2023-03-26T00:00:00Z,', // 9
      '5,PurchaseActivity,5411', // 10
    ].join('\r\n');
    const { summary, records } = await ingestAllowingRejects('multiline', text);
    expect(summary).toMatchObject({ rows_read: 5, rows_committed: 2, rows_rejected: 3 });
    expect(records.map((r) => [r.fields[0], r.fields[1], r.fields[2], r.fields[4]])).toEqual([
      ['4', 'transaction_type', 'unknown_transaction_type', 'Purchase\r\nActivity'],
      ['7', 'amount_cents', 'not_an_integer', '1.5'],
      ['10', '', 'wrong_field_count', '5,PurchaseActivity,5411'],
    ]);
  });
});

describe('a file the parallel scanner refuses', () => {
  it('is read sequentially instead, and nothing is lost', async () => {
    // DuckDB 1.5's parallel scanner refuses null padding (our field-count check) on this shape: a quoted
    // line break, then a last row without a final newline. If a later DuckDB reads it in parallel, the note
    // assertion fails and this test should be rewritten around another shape that still needs the fallback.
    const text =
      'user_id,transaction_type,merchant_type_code,amount_cents,datetime,note\r\n' +
      '1,PurchaseActivity,5411,100,2023-03-25T11:31:26.5,"a\r\nb"\r\n' +
      '2,PurchaseActivity,5411,abc,2023-03-25 11:31:26,x';
    const { result, summary, records } = await ingestAllowingRejects('sequential', text);
    expect(result.stderr).toContain('quoted fields span several lines; reading it sequentially');
    expect(summary).toMatchObject({ rows_read: 2, rows_committed: 1, rows_rejected: 1 });
    const [reject] = records;
    expect(reject?.fields.slice(0, 3)).toEqual(['4', 'amount_cents', 'not_an_integer']);
  });
});
