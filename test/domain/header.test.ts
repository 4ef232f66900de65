import { describe, expect, it } from 'vitest';
import { TxlakeError } from '../../src/domain/errors.js';
import { resolveHeader, splitCsvLine } from '../../src/domain/header.js';

const plain = ['user_id', 'transaction_type', 'merchant_type_code', 'amount_cents', 'datetime'];

describe('resolveHeader', () => {
  it('maps the plain header in order', () => {
    const header = resolveHeader(plain, 'data.csv');
    expect(header.positions).toEqual({
      user_id: 0,
      transaction_type: 1,
      merchant_type_code: 2,
      amount_cents: 3,
      datetime: 4,
    });
    expect(header.extraColumns).toEqual([]);
    expect(header.fieldCount).toBe(5);
  });

  it('accepts any case, surrounding spaces, any order and extra columns (reported)', () => {
    const header = resolveHeader(
      ['  DateTime ', 'note', 'Amount_Cents', ' User_id', 'MERCHANT_TYPE_CODE', 'Transaction_Type', ''],
      'data.csv',
    );
    expect(header.positions).toEqual({
      datetime: 0,
      amount_cents: 2,
      user_id: 3,
      merchant_type_code: 4,
      transaction_type: 5,
    });
    expect(header.extraColumns).toEqual(['note', '(unnamed column 7)']);
  });

  it('names a missing column, as the SPEC example does', () => {
    expect(() =>
      resolveHeader(
        plain.filter((c) => c !== 'amount_cents'),
        'data.csv',
      ),
    ).toThrow('column "amount_cents" is missing from header of data.csv');
  });

  it('names every missing column at once', () => {
    expect(() => resolveHeader(['user_id', 'datetime'], 'x.csv')).toThrow(
      'columns "transaction_type", "merchant_type_code", "amount_cents" are missing from header of x.csv',
    );
  });

  it('refuses a duplicated column, whatever its case', () => {
    const attempt = () => resolveHeader([...plain, 'User_ID'], 'd.csv');
    expect(attempt).toThrow(TxlakeError);
    expect(attempt).toThrow('column "user_id" appears twice in the header of d.csv (columns 1 and 6)');
  });

  it('makes these input errors (exit code 2)', () => {
    try {
      resolveHeader(['user_id'], 'd.csv');
      expect.unreachable();
    } catch (error) {
      expect((error as TxlakeError).kind).toBe('input');
    }
  });
});

describe('splitCsvLine', () => {
  it('honours quotes and doubled quotes', () => {
    expect(splitCsvLine('"user_id","a,b","say ""hi""",x')).toEqual(['user_id', 'a,b', 'say "hi"', 'x']);
    expect(splitCsvLine('a,,b,')).toEqual(['a', '', 'b', '']);
  });
});
