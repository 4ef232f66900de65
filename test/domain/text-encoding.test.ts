import { describe, expect, it } from 'vitest';
import { encodingProblem, notUtf8Error, type SourceNaming } from '../../src/domain/text-encoding.js';
import { utf16, utf32 } from '../helpers/csv-file.js';

const HEADER = 'user_id,transaction_type,merchant_type_code,amount_cents,datetime';

/** The problem of a file of `bytes` whose header is its first line (as the source probe cuts it). */
function problemOf(bytes: Buffer) {
  const end = bytes.findIndex((b) => b === 0x0a || b === 0x0d);
  const line = end === -1 ? bytes : bytes.subarray(0, end);
  return encodingProblem(bytes, line, end !== -1);
}

describe('encodingProblem', () => {
  it('finds none in UTF-8 text, ASCII or not', () => {
    expect(problemOf(Buffer.from(`${HEADER},Währung ✓ €\n1,…`))).toBeNull();
  });

  it.each([
    ['UTF-16LE', utf16(`${HEADER}\n`, 'LE'), 'UTF-16'],
    ['UTF-16BE', utf16(`${HEADER}\n`, 'BE'), 'UTF-16'],
    ['UTF-32LE', utf32(`${HEADER}\n`, 'LE'), 'UTF-32'],
    ['UTF-32BE', utf32(`${HEADER}\n`, 'BE'), 'UTF-32'],
  ])('knows %s by its byte-order mark', (_name, bytes, encoding) => {
    expect(problemOf(bytes)).toEqual({ kind: 'wide', encoding, evidence: 'byte-order mark' });
  });

  it.each([
    ['UTF-16LE', utf16(`${HEADER}\n`, 'LE', false)],
    ['UTF-16BE', utf16(`${HEADER}\n`, 'BE', false)],
    ['UTF-32LE', utf32(`${HEADER}\n`, 'LE', false)],
    ['UTF-32BE', utf32(`${HEADER}\n`, 'BE', false)],
  ])('knows %s without a byte-order mark by the NUL bytes of its header', (encoding, bytes) => {
    expect(problemOf(bytes)).toEqual({ kind: 'wide', encoding, evidence: 'NUL bytes' });
  });

  it('reports NUL bytes in no UTF-16/32 pattern as such', () => {
    expect(problemOf(Buffer.from(`${HEADER}\u0000\n`))).toEqual({ kind: 'nul_bytes' });
  });

  it('reports a header that is not UTF-8 (a Latin-1 é)', () => {
    expect(problemOf(Buffer.from(`${HEADER},not\u00e9\n`, 'latin1'))).toEqual({ kind: 'not_utf8' });
  });

  it('accepts a character cut off by the end of the bytes read, only when the header line is cut off', () => {
    const cut = Buffer.from(`${HEADER},é`).subarray(0, -1);
    expect(encodingProblem(cut, cut, false)).toBeNull();
    expect(encodingProblem(cut, cut, true)).toEqual({ kind: 'not_utf8' });
  });

  it('checks only the header line: a bad byte in a row is the engine’s to reject', () => {
    expect(problemOf(Buffer.concat([Buffer.from(`${HEADER}\n1,`), Buffer.from([0xe9])]))).toBeNull();
  });
});

describe('notUtf8Error', () => {
  const naming = (label: string, more: Partial<SourceNaming> = {}): SourceNaming => ({
    label,
    stem: label.replace(/(\.csv)?(\.gz)?$/, ''),
    gzipped: false,
    spooled: false,
    headerLine: 1,
    ...more,
  });
  const wide = { kind: 'wide', encoding: 'UTF-16', evidence: 'byte-order mark' } as const;

  it('is an input error (exit 2) with a command that converts the file', () => {
    const error = notUtf8Error(wide, naming('u16.csv'));
    expect(error.kind).toBe('input');
    expect(error.message).toBe(
      'u16.csv is UTF-16 text; txlake reads UTF-8: convert it first, for example with ' +
        'iconv -f UTF-16 -t UTF-8 u16.csv > u16-utf8.csv',
    );
  });

  it('quotes a file name for the shell', () => {
    expect(notUtf8Error(wide, naming("Bob's export.csv")).message).toContain(
      `iconv -f UTF-16 -t UTF-8 'Bob'\\''s export.csv' > 'Bob'\\''s export-utf8.csv'`,
    );
  });

  it('inflates a gzipped file first, and pipes a stream through iconv', () => {
    expect(notUtf8Error(wide, naming('u16.csv.gz', { gzipped: true })).message).toContain(
      'with gzip -dc u16.csv.gz | iconv -f UTF-16 -t UTF-8 > u16-utf8.csv',
    );
    expect(notUtf8Error(wide, naming('stdin', { spooled: true, gzipped: true })).message).toContain(
      'by piping it through gzip -dc | iconv -f UTF-16 -t UTF-8',
    );
  });

  it('names the header line of a file that is not UTF-8, and suggests Windows-1252', () => {
    expect(notUtf8Error({ kind: 'not_utf8' }, naming('l1.csv', { headerLine: 3 })).message).toBe(
      'l1.csv is not UTF-8 text: its header (line 3) is not valid UTF-8; txlake reads UTF-8: convert it first, ' +
        'for example from Windows-1252 (Latin-1) with iconv -f WINDOWS-1252 -t UTF-8 l1.csv > l1-utf8.csv',
    );
  });
});
