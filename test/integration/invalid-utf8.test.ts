// Rows the engine's CSV reader refuses (invalid UTF-8, broken quoting, too many fields) go to the rejects
// file with their bytes exactly as in the source, so that a user can repair the row and ingest it again:
// the engine's own copy of such a row has the bad bytes replaced and quoted line breaks changed.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../helpers/oracle.js';
import { assertBuilt, currentSnapshot, type IngestSummary, ingest, TempDirs } from '../helpers/txlake.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime,note';
const temp = new TempDirs();
let dir = '';

beforeAll(() => {
  assertBuilt();
  dir = temp.make();
});
afterAll(() => temp.cleanup());

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
const good = (id: number): Buffer =>
  bytes(`${id},PurchaseActivity,5411,${100 + id},2023-03-01T00:00:00,n${id}`);

/** A row whose transaction type holds the Latin-1 byte 0xE9 alone, which is not UTF-8. */
const NOT_UTF8 = bytes('7,PurchaseActivit', [0xe9], ',5411,100,2023-03-01T00:00:00,x');
/** A record whose quoted note spans two lines (CRLF inside the quotes) and holds a bad byte and quotes. */
const MULTILINE = bytes('8,PurchaseActivity,5411,100,2023-03-01T00:00:00,"multi', [0xe9], '\r\nline ""q"""');
/** Text after a closing quote. */
const STRAY_QUOTE = bytes('9,"Purchase"Activity,5411,100,2023-03-01T00:00:00,a');
/** Two fields too many (one too many is our own field-count check, a value-level reject). */
const TOO_MANY = bytes('10,PurchaseActivity,5411,100,2023-03-01T00:00:00,x,y,z');

interface Reject {
  fields: string[];
  /** The value column's bytes as written in the rejects file, unquoted. */
  value: Buffer;
}

/** Write `content` as `name` (gzipped for .gz) and ingest it into `lake`, every reject allowed. */
async function ingestAllowingRejects(
  name: string,
  content: Buffer,
  lake = path.join(dir, `${name}-lake`),
): Promise<{ summary: IngestSummary; rejects: Reject[] }> {
  const file = path.join(dir, name);
  writeFileSync(file, name.endsWith('.gz') ? gzipSync(content) : content);
  const rejectsFile = path.join(dir, `${name}.rejects.csv`);
  const { summary } = await ingest([file], lake, ['--max-reject-rate', '1', '--rejects', rejectsFile]);
  expect(summary.rows_read).toBe(summary.rows_committed + summary.rows_rejected);
  if (!existsSync(rejectsFile)) return { summary, rejects: [] };
  // latin1 maps each byte to one character and back, so the parsed fields keep the file's bytes
  const [header, ...records] = parseCsv(readFileSync(rejectsFile).toString('latin1'));
  expect(header?.fields).toEqual(['line', 'column', 'reason', 'message', 'value']);
  return {
    summary,
    rejects: records.map((r) => ({ fields: r.fields, value: Buffer.from(r.fields[4] ?? '', 'latin1') })),
  };
}

function lines(rows: readonly Buffer[], eol: string): Buffer {
  return Buffer.concat(rows.flatMap((row) => [row, Buffer.from(eol)]));
}

describe('a row that is not valid UTF-8', () => {
  const content = lines([bytes(HEADER), good(1), NOT_UTF8, good(2)], '\n');
  let lake = '';
  let summary: IngestSummary;
  let rejects: Reject[];

  beforeAll(async () => {
    lake = path.join(dir, 'latin1-lake');
    ({ summary, rejects } = await ingestAllowingRejects('latin1.csv', content, lake));
  });

  it('is rejected as invalid_utf8 at its line, with the documented message; the rest is committed', () => {
    expect(summary).toMatchObject({ rows_read: 3, rows_committed: 2, rows_rejected: 1 });
    expect(rejects.map((r) => r.fields.slice(0, 4))).toEqual([
      ['3', '', 'invalid_utf8', 'the row is not valid UTF-8 text'],
    ]);
  });

  it("the rejects file holds the row's bytes exactly as in the source", () => {
    expect(rejects[0]?.value).toEqual(NOT_UTF8);
  });

  it('fixing the byte in that value and ingesting it as a new file commits the row', async () => {
    const value = rejects[0]?.value ?? Buffer.alloc(0);
    const fixed = Buffer.from(value.toString('latin1').replace('\u00e9', 'y'), 'latin1');
    const { summary: again, rejects: none } = await ingestAllowingRejects(
      'latin1-fixed.csv',
      lines([bytes(HEADER), fixed], '\n'),
      lake,
    );
    expect(again).toMatchObject({ rows_read: 1, rows_committed: 1, rows_rejected: 0 });
    expect(none).toEqual([]);
    expect((await currentSnapshot(lake))?.rows).toBe(3);
  });
});

describe('the raw bytes of every row the CSV reader refuses', () => {
  const rows = [bytes(HEADER), good(1), NOT_UTF8, good(2), MULTILINE, STRAY_QUOTE, TOO_MANY, good(3)];
  /** Line, reason and bytes of each reject, for a file whose first record is on line `first`. */
  const expected = (first: number) => [
    [String(first + 1), 'invalid_utf8', NOT_UTF8],
    [String(first + 3), 'invalid_utf8', MULTILINE],
    [String(first + 5), 'malformed_csv', STRAY_QUOTE],
    [String(first + 6), 'wrong_field_count', TOO_MANY],
  ];
  const got = (rejects: Reject[]) => rejects.map((r) => [r.fields[0], r.fields[2], r.value]);

  it('in a CRLF file (the line end is not part of the row; a CRLF inside quotes is)', async () => {
    const { summary, rejects } = await ingestAllowingRejects('crlf.csv', lines(rows, '\r\n'));
    expect(summary).toMatchObject({ rows_read: 7, rows_committed: 3, rows_rejected: 4 });
    expect(got(rejects)).toEqual(expected(2));
  });

  it('in a gzipped file', async () => {
    const { summary, rejects } = await ingestAllowingRejects('crlf.csv.gz', lines(rows, '\r\n'));
    expect(summary).toMatchObject({ rows_read: 7, rows_committed: 3, rows_rejected: 4 });
    expect(got(rejects)).toEqual(expected(2));
  });

  it('in a file that mixes LF and CRLF line ends (read from a normalized copy)', async () => {
    const { summary, rejects } = await ingestAllowingRejects(
      'mixed.csv',
      Buffer.concat([lines(rows.slice(0, 4), '\n'), lines(rows.slice(4), '\r\n')]),
    );
    expect(summary).toMatchObject({ rows_read: 7, rows_committed: 3, rows_rejected: 4 });
    expect(got(rejects)).toEqual(expected(2));
  });

  it('after a UTF-8 byte-order mark and blank lines, without a final newline', async () => {
    const content = Buffer.concat([bytes('\uFEFF\n'), lines(rows, '\n'), TOO_MANY]);
    const { summary, rejects } = await ingestAllowingRejects('bom.csv', content);
    expect(summary).toMatchObject({ rows_read: 8, rows_committed: 3, rows_rejected: 5 });
    expect(got(rejects)).toEqual([...expected(3), ['11', 'wrong_field_count', TOO_MANY]]);
  });

  it('while a value-level reject keeps its value', async () => {
    const bad = bytes('11,PurchaseActivity,5411,abc,2023-03-01T00:00:00,x');
    const { rejects } = await ingestAllowingRejects('value.csv', lines([bytes(HEADER), NOT_UTF8, bad], '\n'));
    expect(rejects.map((r) => [r.fields[0], r.fields[1], r.fields[2], r.value.toString('latin1')])).toEqual([
      ['2', '', 'invalid_utf8', NOT_UTF8.toString('latin1')],
      ['3', 'amount_cents', 'not_an_integer', 'abc'],
    ]);
  });
});

describe('UTF-8 text beyond ASCII', () => {
  it('a header with non-ASCII names after a UTF-8 byte-order mark is read, also when longer than a block', async () => {
    // the long last name crosses the 64 KiB the header is probed from, in the middle of a two-byte "é"
    const start = bytes(`\uFEFF${HEADER.replace('note', 'Währung ✓')},`);
    const pad = (65_536 - start.length) % 2 === 0 ? 'x' : '';
    const header = Buffer.concat([start, bytes(`${pad}${'é'.repeat(40_000)}`)]);
    const content = lines([header, bytes(`${good(1).toString()},€`), bytes(`${good(2).toString()},ü`)], '\n');
    const { summary, rejects } = await ingestAllowingRejects('utf8-header.csv', content);
    expect(summary).toMatchObject({ rows_read: 2, rows_committed: 2, rows_rejected: 0 });
    expect(rejects).toEqual([]);
  });
});
