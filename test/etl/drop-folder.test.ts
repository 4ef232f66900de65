// The drop folder's rules that need no process: which names it reads, and the settle time's spelling.

import { describe, expect, it } from 'vitest';
import { parseSettle } from '../../src/cli/commands/ingest-watch.js';
import { isCandidateName } from '../../src/etl/drop-folder.js';

describe('isCandidateName', () => {
  it.each(['day1.csv', 'DAY1.CSV', 'export.csv.gz', 'a b.csv', '2023-03-01T00.csv'])('reads %s', (name) => {
    expect(isCandidateName(name)).toBe(true);
  });
  it.each([
    '.day1.csv',
    'day1.csv.tmp',
    'day1.csv.part',
    'day1.csv.done',
    'day1.csv.error',
    'day1.csv.rejects.csv.error',
    'notes.txt',
    'day1.csv.gz.part',
    'ingested',
  ])('never reads %s', (name) => {
    expect(isCandidateName(name)).toBe(false);
  });
});

describe('parseSettle', () => {
  it.each([
    ['2s', 2000],
    ['500ms', 500],
    ['1.5', 1500],
    ['0', 0],
    ['5m', 300_000],
    ['1h', 3_600_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseSettle(text)).toBe(ms);
  });
  it.each(['soon', '-1s', '2 s', '', '1d', '25h'])('refuses %j', (text) => {
    expect(() => parseSettle(text)).toThrow(/--settle must be/);
  });
});
