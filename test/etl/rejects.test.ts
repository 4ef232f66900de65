// The rejects file as bytes: text values as UTF-8, the raw bytes of a refused row exactly as in the source.

import { describe, expect, it } from 'vitest';
import type { RejectedRow } from '../../src/domain/rejection.js';
import { formatRejects, REJECTS_HEADER } from '../../src/etl/rejects.js';

const row = (value: RejectedRow['value'], column: RejectedRow['column'] = null): RejectedRow => ({
  line: 7,
  column,
  reason: column ? 'not_an_integer' : 'invalid_utf8',
  message: 'why',
  value,
});

const body = (rows: RejectedRow[]) => formatRejects(rows).subarray(REJECTS_HEADER.length + 1);

describe('formatRejects', () => {
  it('copies raw bytes unchanged, quoting them when they hold a comma, a quote or a line break', () => {
    const raw = Buffer.from([0x31, 0x2c, 0x22, 0xe9, 0x0d, 0x0a, 0xff]); // 1,"é\r\n\xff in Latin-1
    const expected = Buffer.concat([
      Buffer.from('7,,invalid_utf8,why,"1,""'),
      Buffer.from([0xe9, 0x0d, 0x0a, 0xff]),
      Buffer.from('"\n'),
    ]);
    expect(body([row(raw)])).toEqual(expected);
  });

  it('leaves plain raw bytes unquoted', () => {
    expect(body([row(Buffer.from([0x61, 0xe9]))])).toEqual(
      Buffer.concat([Buffer.from('7,,invalid_utf8,why,a'), Buffer.from([0xe9, 0x0a])]),
    );
  });

  it('writes text values as UTF-8, quoted when needed, and a missing value as an empty field', () => {
    const rows = [row('1,5 €', 'amount_cents'), row(' é ', 'amount_cents'), row(null, 'amount_cents')];
    expect(body(rows).toString('utf8')).toBe(
      '7,amount_cents,not_an_integer,why,"1,5 €"\n' +
        '7,amount_cents,not_an_integer,why," é "\n' +
        '7,amount_cents,not_an_integer,why,\n',
    );
  });

  it('starts with the header line', () => {
    expect(formatRejects([]).toString('utf8')).toBe(`${REJECTS_HEADER}\n`);
  });
});
