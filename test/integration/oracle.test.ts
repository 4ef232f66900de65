// The oracle the integration tests trust must itself be right: hand-computed cases and a cross-check
// of its calendar arithmetic against the platform's Date for many instants.

import { describe, expect, it } from 'vitest';
import { csvText } from '../helpers/csv-file.js';
import {
  civilFromDays,
  daysFromCivil,
  formatSecond,
  halfEven,
  OracleFileError,
  oracleIngest,
  parseCsv,
  parseDatetime,
  V1Oracle,
} from '../helpers/oracle.js';
import { cornerCaseTransactions, prng, randomTransactions } from '../helpers/synthetic.js';

describe('oracle', () => {
  it('rounds cents half to even, with negative amounts symmetric', () => {
    const cases: [bigint, bigint][] = [
      [75050n, 750n],
      [75150n, 752n],
      [50n, 0n],
      [150n, 2n],
      [250n, 2n],
      [149n, 1n],
      [151n, 2n],
      [0n, 0n],
      [-50n, 0n],
      [-150n, -2n],
      [-250n, -2n],
      [-75150n, -752n],
      [-151n, -2n],
      [9223372036854775807n, 92233720368547758n],
    ];
    for (const [cents, dollars] of cases) expect(halfEven(cents), String(cents)).toBe(dollars);
  });

  it('parses datetimes exactly, zones included', () => {
    const utc = (iso: string) => BigInt(Date.parse(iso)) * 1000n;
    expect(parseDatetime('2023-03-25T11:31:26')).toBe(utc('2023-03-25T11:31:26Z'));
    expect(parseDatetime('2023-03-25 11:31:26.61636')).toBe(utc('2023-03-25T11:31:26Z') + 616360n);
    expect(parseDatetime('2023-03-25T13:31:26+02:00')).toBe(utc('2023-03-25T11:31:26Z'));
    expect(parseDatetime('2023-03-25T13:31:26+0200')).toBe(utc('2023-03-25T11:31:26Z'));
    expect(parseDatetime('2023-03-25T13:31:26+02')).toBe(utc('2023-03-25T11:31:26Z'));
    expect(parseDatetime('2023-03-25T06:01:26.000001-05:30')).toBe(utc('2023-03-25T11:31:26Z') + 1n);
    expect(parseDatetime('1969-12-31T23:59:59.5')).toBe(-500000n);
    expect(parseDatetime('2023-02-30T00:00:00')).toBe('impossible_datetime');
    expect(parseDatetime('2023-01-01T25:00:00')).toBe('impossible_datetime');
    expect(parseDatetime('2024-02-29T00:00:00')).toBe(utc('2024-02-29T00:00:00Z'));
    expect(parseDatetime('2023-02-29T00:00:00')).toBe('impossible_datetime');
    expect(parseDatetime('2023-01-01')).toBe('unparsable_datetime');
    expect(parseDatetime('2023-01-01T00:00:00.1234567')).toBe('unparsable_datetime');
    expect(parseDatetime('2023-1-01T00:00:00')).toBe('unparsable_datetime');
  });

  it('formats truncated UTC seconds the way Date would, over many instants', () => {
    const random = prng(7);
    expect(formatSecond(-500000n)).toBe('1969-12-31T23:59:59+00:00');
    expect(formatSecond(0n)).toBe('1970-01-01T00:00:00+00:00');
    for (let i = 0; i < 5000; i++) {
      const ms = Math.floor((random() - 0.3) * 4e12);
      const micros = BigInt(ms) * 1000n + BigInt(Math.floor(random() * 1000));
      const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', '+00:00');
      expect(formatSecond(micros)).toBe(iso);
    }
    for (let days = -800000n; days < 2932897n; days += 997n) {
      const { year, month, day } = civilFromDays(days);
      expect(daysFromCivil(year, month, day)).toBe(days);
    }
  });

  it('parses RFC 4180: quotes, doubled quotes, embedded newlines, CRLF, BOM, blank lines', () => {
    const records = parseCsv('\uFEFFa,b\r\n"x,1","y""z"\r\n\r\n"multi\nline",2\n\nlast,row');
    expect(records).toEqual([
      { line: 1, fields: ['a', 'b'], unterminated: false },
      { line: 2, fields: ['x,1', 'y"z'], unterminated: false },
      { line: 4, fields: ['multi\nline', '2'], unterminated: false },
      { line: 7, fields: ['last', 'row'], unterminated: false },
    ]);
    expect(parseCsv('a,b\n1,"open\n2,3\n')).toEqual([
      { line: 1, fields: ['a', 'b'], unterminated: false },
      { line: 2, fields: ['1', 'open\n2,3\n'], unterminated: true },
    ]);
  });

  it('validates in the column order of the rules, whatever the file order', () => {
    const text =
      'DateTime , amount_cents,merchant_type_code,transaction_type,user_id,note\n' +
      'bad,x,99999,Nope,-1,n\n' +
      'bad,x,99999,PurchaseActivity,1,n\n' +
      ' 2023-03-01T00:00:00Z , 42 ,7,ReturnActivity, 5 ,n\n';
    const result = oracleIngest(text);
    expect(result.rejects).toEqual([
      { line: 2, column: 'user_id', reason: 'out_of_range', value: '-1' },
      { line: 3, column: 'merchant_type_code', reason: 'out_of_range', value: '99999' },
    ]);
    expect(result.rows).toHaveLength(1);
    expect(result.extraColumns).toEqual(['note']);
    expect(() =>
      oracleIngest('User_ID,user_id,transaction_type,merchant_type_code,amount_cents,datetime\n'),
    ).toThrow(OracleFileError);
    expect(() => oracleIngest('')).toThrow(OracleFileError);
  });

  it('answers the SPEC seed examples', () => {
    const oracle = new V1Oracle(oracleIngest(csvText(cornerCaseTransactions())).rows);
    expect(oracle.transactionsBody(31373n)).toContain(
      '{"user_id":31373,"amount_in_dollars":750,"datetime":"2023-03-25T11:31:26+00:00","merchant_type_code":5310}',
    );
    expect(oracle.netAmountBody(6011)).toBe(
      '[{"merchant_type_code":6011,"net_amount_in_dollars":100,"date":"2023-05-19"},' +
        '{"merchant_type_code":6011,"net_amount_in_dollars":-26,"date":"2023-05-20"},' +
        '{"merchant_type_code":6011,"net_amount_in_dollars":-2490,"date":"2023-05-21"},' +
        '{"merchant_type_code":6011,"net_amount_in_dollars":2,"date":"2023-05-22"}]',
    );
    expect(oracle.transactionsBody(123456789n)).toBe('[]');
  });

  it('reads back exactly the rows the writer wrote', () => {
    const rows = randomTransactions({ seed: 3, rows: 500 });
    const plain = oracleIngest(csvText(rows));
    expect(plain.rejects).toEqual([]);
    expect(plain.rows).toHaveLength(500);
    const fancy = oracleIngest(
      csvText(rows, {
        crlf: true,
        bom: true,
        quote: 'all',
        padValues: true,
        columns: ['datetime', 'user_id', 'amount_cents', 'transaction_type', 'merchant_type_code'],
        headerName: (n) => ` ${n.toUpperCase()} `,
        extraColumns: [{ name: 'note', at: 2, value: (i) => `a "quoted", multi\nline ${i}` }],
        finalNewline: false,
      }),
    );
    expect(fancy.rejects).toEqual([]);
    expect(fancy.rows.map(({ line: _l, ...r }) => r)).toEqual(plain.rows.map(({ line: _l, ...r }) => r));
  });
});
