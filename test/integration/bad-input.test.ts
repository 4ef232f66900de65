// SPEC §1 "Bad input": file-level errors stop the ingest (exit 2, one `error:` line, nothing committed);
// row-level problems go to the rejects file with line, column and reason; too many rejects commit nothing
// (exit 3); re-ingesting committed content is a no-op unless --force. Nothing is ever dropped silently.

import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField, csvText, rawCsv, type TxRow, utf16, utf32, writeCsvFile } from '../helpers/csv-file.js';
import {
  type OracleIngest,
  type OracleRow,
  oracleIngest,
  parseCsv,
  REQUIRED,
  V1Oracle,
} from '../helpers/oracle.js';
import { type RunningServer, startServer } from '../helpers/server.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  currentSnapshot,
  describeRun,
  type IngestSummary,
  ingest,
  parseJsonOutput,
  runTxlake,
  TempDirs,
} from '../helpers/txlake.js';
import { describeMismatches, v1Mismatches } from '../helpers/v1-compare.js';

const HEADER = REQUIRED.join(',');
const temp = new TempDirs();

beforeAll(() => assertBuilt());
afterAll(() => temp.cleanup());

function goodRows(seed: number, rows: number, users = 40): TxRow[] {
  return randomTransactions({ seed, rows, users });
}

function expectInvariant(summary: IngestSummary): void {
  expect(summary.rows_read).toBe(summary.rows_committed + summary.rows_rejected);
}

/** One `error: ` line on stderr, naming every `mentions` (case-insensitive). */
function expectOneErrorLine(stderr: string, mentions: readonly (string | RegExp)[], context: string): void {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines.length, `expected exactly one line on stderr\n${context}`).toBe(1);
  const line = lines[0] as string;
  expect(line.startsWith('error: '), context).toBe(true);
  for (const mention of mentions) {
    if (typeof mention === 'string') expect(line.toLowerCase(), context).toContain(mention.toLowerCase());
    else expect(line, context).toMatch(mention);
  }
}

// ---------------------------------------------------------------------------------------------------

describe('file-level errors: exit 2, one error line, nothing committed', () => {
  let dir = '';
  let lake = '';
  let baseRows: OracleRow[] = [];
  let baseSnapshot = -1;
  let server: RunningServer | undefined;

  beforeAll(async () => {
    dir = temp.make();
    lake = path.join(dir, 'lake');
    const text = csvText(goodRows(21, 200));
    baseRows = oracleIngest(text).rows;
    writeCsvFile(path.join(dir, 'base.csv'), text);
    const { summary } = await ingest([path.join(dir, 'base.csv')], lake);
    baseSnapshot = summary.snapshot;
    server = await startServer(lake);
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** Ingest `files`, expecting exit 2 and one error line naming every `mentions`; that line. */
  async function expectRefused(
    files: readonly string[],
    mentions: readonly (string | RegExp)[],
    options: { input?: string | Buffer; targetLake?: string } = {},
  ): Promise<string> {
    const target = options.targetLake ?? lake;
    const args = ['ingest', ...files, '--lake', target];
    const result = await runTxlake(args, { input: options.input });
    const context = describeRun(args, result);
    expect(result.code, context).toBe(2);
    expectOneErrorLine(result.stderr, mentions, context);
    // that nothing was committed is checked once for all cases at the end (a CLI call costs most of a second)
    return result.stderr.trim();
  }

  it('a missing file', async () => {
    await expectRefused([path.join(dir, 'nope.csv')], ['nope.csv']);
  });

  it('a directory instead of a file', async () => {
    const sub = path.join(dir, 'adir.csv');
    mkdirSync(sub);
    await expectRefused([sub], ['adir.csv']);
  });

  // root reads any file whatever its mode, so chmod 000 proves nothing there
  it.skipIf(process.getuid?.() === 0)('an unreadable file (not root)', async () => {
    const file = writeCsvFile(path.join(dir, 'secret.csv'), csvText(goodRows(22, 10)));
    chmodSync(file, 0o000);
    await expectRefused([file], ['secret.csv']);
  });

  it('an empty file (0 bytes)', async () => {
    const file = writeCsvFile(path.join(dir, 'empty.csv'), '');
    await expectRefused([file], ['empty.csv', /empty/i]);
  });

  it('a file of blank lines only', async () => {
    const file = writeCsvFile(path.join(dir, 'blank.csv'), '\n\n\r\n');
    await expectRefused([file], ['blank.csv']);
  });

  it('an empty standard input (-)', async () => {
    await expectRefused(['-'], [], { input: '' });
  });

  // a .csv.gz holding plain text is read as plain text (compression is sniffed): not an error, not tested here
  it('a .csv.gz with the gzip magic and garbage after it', async () => {
    const file = path.join(dir, 'garbage.csv.gz');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('this is not deflate data at all')]),
    );
    await expectRefused([file], ['garbage.csv.gz']);
  });

  it('a truncated .csv.gz', async () => {
    const good = path.join(dir, 'whole.csv.gz');
    writeCsvFile(good, csvText(goodRows(24, 500)));
    const bytes = readFileSync(good);
    const file = path.join(dir, 'truncated.csv.gz');
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expectRefused([file], ['truncated.csv.gz']);
  });

  it.each(REQUIRED.map((c) => [c]))('the required column %s missing from the header', async (column) => {
    const columns = REQUIRED.filter((c) => c !== column);
    const rows = goodRows(25, 5).map((r) => columns.map((c) => r[c]).join(','));
    const file = writeCsvFile(path.join(dir, `no-${column}.csv`), rawCsv([columns.join(','), ...rows]));
    await expectRefused([file], [`"${column}"`, 'missing', `no-${column}.csv`]);
  });

  it.each([
    [
      'User_ID,user_id',
      'User_ID,user_id,transaction_type,merchant_type_code,amount_cents,datetime',
      'user_id',
    ],
    [
      'datetime twice, spaced',
      'user_id,transaction_type, datetime ,merchant_type_code,amount_cents,DATETIME',
      'datetime',
    ],
  ])('a duplicated column: %s', async (_name, header, column) => {
    const values = header
      .split(',')
      .map((_, i) => ['1', 'PurchaseActivity', '2023-04-01T00:00:00', '5411', '100'][i % 5]);
    const file = writeCsvFile(path.join(dir, `dup-${column}.csv`), rawCsv([header, values.join(',')]));
    await expectRefused([file], [column, `dup-${column}.csv`]);
  });

  it('a header-only file commits nothing (exit 0 with 0 rows, or refused as empty)', async () => {
    // SPEC is silent on a header without rows: accept either reading, but never a new snapshot with rows
    const file = writeCsvFile(path.join(dir, 'header-only.csv'), `${HEADER}\n`);
    const args = ['ingest', file, '--lake', lake, '--json'];
    const result = await runTxlake(args);
    const context = describeRun(args, result);
    expect([0, 2], context).toContain(result.code);
    if (result.code === 0) {
      const summary = parseJsonOutput<IngestSummary>(args, result);
      expect(summary).toMatchObject({ rows_read: 0, rows_committed: 0, rows_rejected: 0 });
    } else {
      expectOneErrorLine(result.stderr, ['header-only.csv'], context);
    }
  });

  it('one bad file among several: none of them is committed', async () => {
    const good = writeCsvFile(path.join(dir, 'good-among.csv'), csvText(goodRows(26, 50)));
    const bad = writeCsvFile(
      path.join(dir, 'bad-among.csv'),
      rawCsv(['user_id,transaction_type', '1,PurchaseActivity']),
    );
    await expectRefused([good, bad], ['bad-among.csv']);
  });

  it('on a fresh lake a refused ingest leaves no snapshot at all', async () => {
    const fresh = path.join(temp.make(), 'lake');
    const file = writeCsvFile(
      path.join(dir, 'no-amount.csv'),
      rawCsv([
        'user_id,transaction_type,merchant_type_code,datetime',
        '1,PurchaseActivity,5411,2023-04-01T00:00:00',
      ]),
    );
    await expectRefused([file], ['"amount_cents"', 'no-amount.csv'], { targetLake: fresh });
    const args = ['snapshot', '--lake', fresh, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).not.toBe(0);
    expect(result.stderr, describeRun(args, result)).toMatch(/^error: .*snapshot/im);
  });

  const wideText = () => csvText(goodRows(27, 5));
  it.each([
    [
      'UTF-16LE with a byte-order mark',
      'u16le.csv',
      () => utf16(wideText(), 'LE'),
      'is UTF-16 text',
      '-f UTF-16 ',
    ],
    [
      'UTF-16BE with a byte-order mark',
      'u16be.csv',
      () => utf16(wideText(), 'BE'),
      'is UTF-16 text',
      '-f UTF-16 ',
    ],
    [
      'UTF-32LE with a byte-order mark',
      'u32le.csv',
      () => utf32(wideText(), 'LE'),
      'is UTF-32 text',
      '-f UTF-32 ',
    ],
    [
      'UTF-32BE with a byte-order mark',
      'u32be.csv',
      () => utf32(wideText(), 'BE'),
      'is UTF-32 text',
      '-f UTF-32 ',
    ],
    [
      'UTF-16LE without a byte-order mark',
      'u16le-bare.csv',
      () => utf16(wideText(), 'LE', false),
      'looks like UTF-16LE text (its header line holds NUL bytes)',
      '-f UTF-16LE ',
    ],
    [
      'UTF-16BE without a byte-order mark',
      'u16be-bare.csv',
      () => utf16(wideText(), 'BE', false),
      'looks like UTF-16BE text',
      '-f UTF-16BE ',
    ],
    [
      'UTF-32LE without a byte-order mark',
      'u32le-bare.csv',
      () => utf32(wideText(), 'LE', false),
      'looks like UTF-32LE text',
      '-f UTF-32LE ',
    ],
    ['gzipped UTF-16', 'u16.csv.gz', () => gzipSync(utf16(wideText(), 'LE')), 'is UTF-16 text', 'gzip -dc '],
  ])('%s: refused as such, with a command that converts it', async (_name, name, content, says, command) => {
    const file = path.join(dir, name);
    writeFileSync(file, content());
    const line = await expectRefused([file], [name, says, 'txlake reads UTF-8: convert it first', command]);
    expect(line).not.toContain('missing');
  });

  it('the command a UTF-16 error suggests converts the file into one that ingests', async () => {
    const file = path.join(dir, 'excel export.csv');
    writeFileSync(file, utf16(wideText(), 'LE'));
    const converted = path.join(dir, 'excel export-utf8.csv');
    const line = await expectRefused([file], []);
    expect(line).toBe(
      `error: ${file} is UTF-16 text; txlake reads UTF-8: convert it first, for example with ` +
        `iconv -f UTF-16 -t UTF-8 '${file}' > '${converted}'`,
    );
    if (spawnSync('iconv', ['--version']).status !== 0) return; // no iconv here: the wording is checked
    execFileSync('sh', ['-c', line.slice(line.indexOf('iconv -f'))]);
    const { summary } = await ingest([converted], path.join(temp.make(), 'lake'));
    expect(summary).toMatchObject({ rows_read: 5, rows_committed: 5, rows_rejected: 0 });
  });

  it('UTF-16 on standard input: refused, with a command to pipe it through', async () => {
    const line = await expectRefused(['-'], [], { input: utf16(wideText(), 'BE') });
    expect(line).toBe(
      'error: stdin is UTF-16 text; txlake reads UTF-8: convert it first, for example by piping it ' +
        'through iconv -f UTF-16 -t UTF-8',
    );
  });

  it('a header that is not UTF-8 (Latin-1): refused as not UTF-8 text, naming its line', async () => {
    const header = Buffer.concat([Buffer.from(`\n${HEADER},not`), Buffer.from([0xe9])]);
    const file = path.join(dir, 'latin1-header.csv');
    writeFileSync(
      file,
      Buffer.concat([header, Buffer.from(`\n${csvText(goodRows(28, 3)).split('\n')[1]},x\n`)]),
    );
    const line = await expectRefused([file], []);
    expect(line).toBe(
      `error: ${file} is not UTF-8 text: its header (line 2) is not valid UTF-8; txlake reads UTF-8: convert ` +
        `it first, for example from Windows-1252 (Latin-1) with iconv -f WINDOWS-1252 -t UTF-8 ${file} > ` +
        `${path.join(dir, 'latin1-header-utf8.csv')}`,
    );
  });

  it('a header holding a NUL byte: refused as not UTF-8 text', async () => {
    const file = writeCsvFile(path.join(dir, 'nul-header.csv'), rawCsv([`${HEADER}\u0000`]));
    await expectRefused([file], ['nul-header.csv', 'is not UTF-8 text: its header (line 1) holds NUL bytes']);
  });

  it('after all the refusals above the previous snapshot is current and served unchanged', async () => {
    expect((await currentSnapshot(lake))?.id).toBe(baseSnapshot);
    if (!server) throw new Error('no server');
    const mismatches = await v1Mismatches(server, new V1Oracle(baseRows));
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------------

/** A line of a row in `columns` order, each value quoted only when needed. */
function line(columns: readonly string[], values: Record<string, string>): string {
  return columns.map((c) => csvField(values[c] ?? '')).join(',');
}

const COLUMNS = ['datetime', 'amount_cents', 'note', 'user_id', 'merchant_type_code', 'transaction_type'];
const OK = {
  user_id: '5',
  transaction_type: 'PurchaseActivity',
  merchant_type_code: '5411',
  amount_cents: '1234',
  datetime: '2023-04-01T10:00:00',
  note: 'n',
};

/** Bad rows of every reason, each with a distinct user id where the user id is valid. */
const BAD_VALUES: Record<string, string>[] = [
  // empty, each column (and spaces only)
  { user_id: '' },
  { user_id: '   ' },
  { transaction_type: '' },
  { merchant_type_code: '' },
  { amount_cents: ' ' },
  { datetime: '' },
  // not_an_integer
  ...['+5', '1.5', '1e3', '1_000', '0x10', '١٢', '１２', '12a', '5 5', '--5', '-'].map((v) => ({
    user_id: v,
  })),
  { merchant_type_code: '12.0' },
  { amount_cents: '10.50' },
  { amount_cents: '1,000' },
  // out_of_range (a negative integer is below the range)
  { user_id: '-5' },
  { merchant_type_code: '-1' },
  { amount_cents: '-100' },
  { user_id: '9223372036854775808' },
  { user_id: '99999999999999999999999' },
  { merchant_type_code: '10000' },
  { amount_cents: '9223372036854775808' },
  // unknown_transaction_type (case-sensitive, exact)
  ...['purchaseactivity', 'PURCHASEACTIVITY', 'Purchase', 'Refund', 'Return Activity'].map((v) => ({
    transaction_type: v,
  })),
  // unparsable_datetime
  ...[
    '2023-04-01',
    '2023-04-01T10:00:00.1234567',
    '2023-4-01T10:00:00',
    '2023-04-01T1:00:00',
    '2023/04/01 10:00:00',
    '2023-04-01T10:00',
    '2023-04-01T10:00:00.',
    '2023-04-01T10:00:00+2',
    '2023-04-01t10:00:00',
    '2023-04-01T10:00:00 +02:00',
    'yesterday',
    '1680343200',
  ].map((v) => ({ datetime: v })),
  // impossible_datetime
  ...[
    '2023-02-30T00:00:00',
    '2023-02-29T12:00:00',
    '2023-04-31T00:00:00',
    '2023-13-01T00:00:00',
    '2023-00-10T00:00:00',
    '2023-01-00T00:00:00',
    '2023-01-01T25:00:00',
    '2023-01-01T23:60:00',
  ].map((v) => ({ datetime: v })),
  // several bad fields: the first in the rule order user_id, transaction_type, code, amount, datetime wins
  { user_id: 'x', transaction_type: 'y', merchant_type_code: 'z', amount_cents: 'w', datetime: 'v' },
  { transaction_type: 'y', merchant_type_code: 'z', amount_cents: 'w', datetime: 'v' },
  { merchant_type_code: '10000', amount_cents: '-1', datetime: 'v' },
  { amount_cents: '1.0', datetime: '2023-02-30T00:00:00' },
];

/** Valid rows at the edges of every rule (distinct users 900..). */
const EDGE_VALUES: Record<string, string>[] = [
  { user_id: '0', merchant_type_code: '0', amount_cents: '0' },
  { user_id: '9223372036854775807', merchant_type_code: '9999', amount_cents: '9223372036854775807' },
  { user_id: '901', merchant_type_code: '9999', amount_cents: '100', datetime: '2023-04-01T23:00:00-01:00' },
  {
    user_id: ' 902 ',
    transaction_type: ' ReturnActivity ',
    merchant_type_code: ' 742 ',
    amount_cents: ' 250 ',
  },
  { user_id: '00903', merchant_type_code: '0742', amount_cents: '0150' },
  { user_id: '904', datetime: '2024-02-29T23:59:59.999999' },
  { user_id: '905', datetime: '0001-01-01T00:00:00' },
  { user_id: '906', datetime: '9999-12-31T23:59:59.999999Z' },
  { user_id: '907', datetime: '2023-04-01 10:00:00.5-0030' },
  { user_id: '908', datetime: ' 2023-04-01T10:00:00+14:00 ' },
];

describe('row-level rejects', () => {
  let dir = '';
  let lake = '';
  let oracle: OracleIngest;
  let summary: IngestSummary;
  let rejectsRows: string[][] = [];
  let rejectsHeader: string[] = [];
  let server: RunningServer | undefined;

  beforeAll(async () => {
    dir = temp.make();
    lake = path.join(dir, 'lake');
    const lines: string[] = [COLUMNS.map((c) => (c === 'user_id' ? ' User_ID ' : c)).join(',')];
    const good = goodRows(31, 400, 60);
    let nextUser = 100;
    good.forEach((row, i) => {
      lines.push(line(COLUMNS, { ...row, note: i % 50 === 0 ? 'a "multi-line"\nnote, in quotes' : `n${i}` }));
      if (i % 6 === 5) {
        const bad = BAD_VALUES[Math.floor(i / 6) % BAD_VALUES.length] as Record<string, string>;
        lines.push(line(COLUMNS, { ...OK, user_id: String(nextUser++), ...bad }));
      }
      if (i % 40 === 0) lines.push(''); // a blank line: counts as a line, not as a row
      if (i === 100) lines.push('1,2,3'); // too few fields
      if (i === 101) lines.push(`${line(COLUMNS, OK)},extra`); // too many fields
      if (i === 102) lines.push(`${line(COLUMNS, OK)},`); // one trailing comma too many
      if (i >= 200 && i < 200 + EDGE_VALUES.length) {
        lines.push(line(COLUMNS, { ...OK, user_id: String(nextUser++), ...EDGE_VALUES[i - 200] }));
      }
    });
    // merchant 8888 (no random rows): one day summing beyond INT64; then an unterminated quote at the very end
    const big = { ...OK, merchant_type_code: '8888', datetime: '2023-05-01T00:00:00' };
    lines.push(
      line(COLUMNS, { ...big, user_id: '9223372036854775807', amount_cents: '9223372036854775807' }),
    );
    lines.push(line(COLUMNS, { ...big, user_id: '909', amount_cents: '150' }));
    lines.push('2023-04-01T10:00:00,100,"unterminated,5,5411,PurchaseActivity');
    const text = lines.join('\n');
    const file = writeCsvFile(path.join(dir, 'mixed.csv'), text);
    oracle = oracleIngest(text);
    expect(BAD_VALUES.every((_, k) => 6 * k + 5 < good.length)).toBe(true);
    ({ summary } = await ingest([file], lake, ['--max-reject-rate', '1']));
    if (summary.rejects_file) {
      const records = parseCsv(readFileSync(summary.rejects_file, 'utf8'));
      rejectsHeader = records[0]?.fields ?? [];
      rejectsRows = records.slice(1).map((r) => r.fields);
    }
    server = await startServer(lake);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('the summary counts every row: read = committed + rejected', () => {
    expect(oracle.rejects.length).toBeGreaterThan(60);
    expect(summary).toMatchObject({
      rows_read: oracle.rowsRead,
      rows_committed: oracle.rows.length,
      rows_rejected: oracle.rejects.length,
    });
    expectInvariant(summary);
  });

  it('the rejects file is a CSV with the documented header, one row per rejected row', () => {
    expect(summary.rejects_file).toBeTruthy();
    expect(path.isAbsolute(summary.rejects_file ?? '')).toBe(true);
    expect(rejectsHeader).toEqual(['line', 'column', 'reason', 'message', 'value']);
    expect(rejectsRows.length).toBe(oracle.rejects.length);
    for (const row of rejectsRows) {
      expect(row).toHaveLength(5);
      expect((row[3] ?? '').length, `no message in ${row.join(',')}`).toBeGreaterThan(0);
    }
  });

  it('every reject has the line, column and reason of the oracle (first bad field in rule order)', () => {
    const got = rejectsRows.map((r) => `${r[0]} ${r[1]} ${r[2]}`).sort();
    const expected = oracle.rejects.map((r) => `${r.line} ${r.column} ${r.reason}`).sort();
    const missing = expected.filter((e) => !got.includes(e));
    const unexpected = got.filter((g) => !expected.includes(g));
    expect({ missing, unexpected }).toEqual({ missing: [], unexpected: [] });
  });

  it.each([
    'wrong_field_count',
    'malformed_csv',
    'empty',
    'not_an_integer',
    'out_of_range',
    'unknown_transaction_type',
    'unparsable_datetime',
    'impossible_datetime',
  ])('reason %s: each such row is reported with its line, column and value', (reason) => {
    const expected = oracle.rejects.filter((r) => r.reason === reason);
    expect(expected.length, 'the test file must hold this reason').toBeGreaterThan(0);
    for (const reject of expected) {
      const row = rejectsRows.find((r) => r[0] === String(reject.line));
      const where = `line ${reject.line}: expected ${reject.column || '(no column)'} ${reject.reason} "${reject.value}"`;
      expect(row, where).toBeDefined();
      expect([row?.[1], row?.[2]], where).toEqual([reject.column, reason]);
      if (reject.column !== '') expect((row?.[4] ?? '').trim(), where).toBe(reject.value);
    }
  });

  it('line numbers count the header, blank lines and quoted newlines', () => {
    const first = oracle.rejects[0];
    // the first bad row follows 6 good rows, 1 blank line (after row 0) and 1 two-line note (row 0)
    expect(first).toMatchObject({ line: 10, column: 'user_id', reason: 'empty' });
    const last = oracle.rejects[oracle.rejects.length - 1];
    expect(last?.reason).toBe('malformed_csv');
  });

  it('the good rows are committed and served exactly', async () => {
    if (!server) throw new Error('no server');
    const mismatches = await v1Mismatches(server, new V1Oracle(oracle.rows));
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('values at the edges of the rules are accepted and answered exactly', async () => {
    if (!server) throw new Error('no server');
    const answers = new V1Oracle(oracle.rows);
    for (const id of [0n, 9223372036854775807n, 901n, 902n, 903n, 904n, 905n, 906n, 907n, 908n]) {
      const body = answers.transactionsBody(id);
      expect(body, `user ${id} should have rows`).not.toBe('[]');
    }
    expect(answers.transactionsBody(905n)).toContain('"0001-01-01T00:00:00+00:00"');
    expect(answers.transactionsBody(907n)).toContain('"2023-04-01T10:30:00+00:00"');
    // 9223372036854775807 + 150 cents on one day: beyond INT64, still exact
    expect(answers.netAmountBody(8888)).toBe(
      '[{"merchant_type_code":8888,"net_amount_in_dollars":92233720368547760,"date":"2023-05-01"}]',
    );
    const paths = [
      '/api/v1/data/transactions/0',
      '/api/v1/data/transactions/9223372036854775807',
      '/api/v1/data/netAmount/8888',
      '/api/v1/data/netAmount/9999',
      '/api/v1/data/netAmount/0',
      '/api/v1/data/netAmount/742',
    ];
    for (const p of paths) {
      const response = await server.get(p);
      const expected = p.includes('netAmount')
        ? answers.netAmountBody(Number(p.split('/').pop()))
        : answers.transactionsBody(BigInt(p.split('/').pop() as string));
      expect(`${response.status} ${response.body}`, p).toBe(`200 ${expected}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------

describe('reject rate', () => {
  let dir = '';

  beforeAll(() => {
    dir = temp.make();
  });

  /** 100 rows of which `bad` have a non-integer amount. */
  function fileWithBadRows(name: string, bad: number, seed: number): string {
    const rows = goodRows(seed, 100).map((r, i) => (i < bad ? { ...r, amount_cents: 'twelve' } : r));
    return writeCsvFile(path.join(dir, name), csvText(rows));
  }

  it('exactly the limit (1 of 100 at the default 0.01) commits', async () => {
    const lake = path.join(dir, 'lake-at-limit');
    const file = fileWithBadRows('one-bad.csv', 1, 41);
    const { summary } = await ingest([file], lake);
    expect(summary).toMatchObject({ rows_read: 100, rows_committed: 99, rows_rejected: 1 });
  });

  it('above the limit (2 of 100): exit 3, nothing committed, rejects still written; a higher limit then commits', async () => {
    const lake = path.join(dir, 'lake-over');
    const file = fileWithBadRows('two-bad.csv', 2, 42);
    const rejects = path.join(dir, 'two-bad.rejects.csv');
    const args = ['ingest', file, '--lake', lake, '--rejects', rejects];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(3);
    expect(result.stderr, describeRun(args, result)).toMatch(/reject/i);
    expect(await currentSnapshot(lake)).toBeNull();
    expect(existsSync(rejects), 'the rejects file shows the user why').toBe(true);
    const records = parseCsv(readFileSync(rejects, 'utf8'));
    expect(records.slice(1).map((r) => [r.fields[0], r.fields[1], r.fields[2]])).toEqual([
      ['2', 'amount_cents', 'not_an_integer'],
      ['3', 'amount_cents', 'not_an_integer'],
    ]);
    // nothing was committed, so the same content is not "already committed"
    const { summary } = await ingest([file], lake, ['--max-reject-rate', '0.05']);
    expect(summary).toMatchObject({ rows_read: 100, rows_committed: 98, rows_rejected: 2 });
    expect(summary.already_committed ?? false).toBe(false);
  });

  it('exit 3 on a lake with a snapshot keeps that snapshot current', async () => {
    const lake = path.join(dir, 'lake-keep');
    const { summary: first } = await ingest([fileWithBadRows('clean.csv', 0, 43)], lake);
    const args = ['ingest', fileWithBadRows('five-bad.csv', 5, 44), '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(3);
    const snapshot = await currentSnapshot(lake);
    expect(snapshot?.id).toBe(first.snapshot);
    expect(snapshot?.rows).toBe(100);
  });

  it('--max-reject-rate 0 refuses a single bad row', async () => {
    const lake = path.join(dir, 'lake-zero');
    const args = [
      'ingest',
      fileWithBadRows('one-bad-zero.csv', 1, 45),
      '--lake',
      lake,
      '--max-reject-rate',
      '0',
    ];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(3);
    expect(await currentSnapshot(lake)).toBeNull();
  });

  it('--max-reject-rate 1 accepts a file of mostly bad rows', async () => {
    const lake = path.join(dir, 'lake-one');
    const { summary } = await ingest([fileWithBadRows('sixty-bad.csv', 60, 46)], lake, [
      '--max-reject-rate',
      '1',
    ]);
    expect(summary).toMatchObject({ rows_read: 100, rows_committed: 40, rows_rejected: 60 });
    expectInvariant(summary);
  });
});

// ---------------------------------------------------------------------------------------------------

describe('re-ingest', () => {
  let dir = '';
  let lake = '';
  let file = '';
  let rows: OracleRow[] = [];
  let first: IngestSummary;

  beforeAll(async () => {
    dir = temp.make();
    lake = path.join(dir, 'lake');
    const text = csvText([...goodRows(51, 300), ...cornerCaseTransactions()]);
    rows = oracleIngest(text).rows;
    file = writeCsvFile(path.join(dir, 'day1.csv'), text);
    ({ summary: first } = await ingest([file], lake));
  });

  it('the same file again is a no-op that says so (exit 0)', async () => {
    const args = ['ingest', file, '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/already/i);
    const summary = parseJsonOutput<IngestSummary>(args, result);
    expect(summary).toMatchObject({ rows_committed: 0, snapshot: first.snapshot });
    expectInvariant(summary);
  });

  it('without --json it says so in words', async () => {
    const args = ['ingest', file, '--lake', lake];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/already/i);
  });

  it('the same content under another name is also a no-op', async () => {
    const copy = writeCsvFile(path.join(dir, 'copy-of-day1.csv'), readFileSync(file, 'utf8'));
    const args = ['ingest', copy, '--lake', lake, '--json'];
    const result = await runTxlake(args);
    expect(result.code, describeRun(args, result)).toBe(0);
    expect(result.stdout + result.stderr).toMatch(/already/i);
  });

  it('--force ingests it again: every answer has each row twice', async () => {
    const { summary } = await ingest([file], lake, ['--force']);
    expect(summary).toMatchObject({ rows_read: rows.length, rows_committed: rows.length, rows_rejected: 0 });
    expect(summary.snapshot).toBeGreaterThan(first.snapshot);
    // also proves that none of the no-ops above added rows
    expect((await currentSnapshot(lake))?.rows).toBe(2 * rows.length);
    const server = await startServer(lake);
    try {
      const mismatches = await v1Mismatches(server, new V1Oracle([...rows, ...rows]));
      expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
    } finally {
      await server.stop();
    }
  });
});
