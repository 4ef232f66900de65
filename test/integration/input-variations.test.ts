// Every variation of a CSV file SPEC §1 allows must ingest and answer exactly like the plain file.
// One lake, one server: each variation is the same data under its own block of user ids, so the
// per-user answers of one variation depend on that variation's file alone.

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CsvOptions, csvText, type TxRow, writeCsvFile } from '../helpers/csv-file.js';
import { type OracleRow, oracleIngest, REQUIRED, V1Oracle } from '../helpers/oracle.js';
import { mapLimit, type RunningServer, startServer } from '../helpers/server.js';
import { cornerCaseTransactions, randomTransactions } from '../helpers/synthetic.js';
import {
  assertBuilt,
  describeRun,
  type IngestSummary,
  parseJsonOutput,
  type RunResult,
  runTxlake,
  TempDirs,
} from '../helpers/txlake.js';
import { describeMismatches, type V1Mismatch } from '../helpers/v1-compare.js';

interface Variation {
  name: string;
  /** File name to write (its extension matters: .csv.gz is gzipped). */
  file: string;
  options: CsvOptions;
  /** How the file reaches txlake. */
  via?: 'path' | 'stdin' | 'old-flags';
  /** Extra column names that must be reported. */
  reports?: string[];
  /** Insert blank lines between rows. */
  blankLines?: boolean;
}

const REORDERED = ['datetime', 'amount_cents', 'user_id', 'merchant_type_code', 'transaction_type'];
const NOTE = (i: number) => `note ${i}, with "quotes", a comma${i % 7 === 0 ? '\nand a second line' : ''}`;

const VARIATIONS: Variation[] = [
  { name: 'plain', file: 'plain.csv', options: {} },
  { name: 'header in upper case', file: 'upper.csv', options: { headerName: (n) => n.toUpperCase() } },
  {
    name: 'header in mixed case surrounded by spaces',
    file: 'mixed.csv',
    options: { headerName: (n) => `  ${n.charAt(0).toUpperCase()}${n.slice(1)} ` },
  },
  { name: 'columns in another order', file: 'reordered.csv', options: { columns: REORDERED } },
  {
    name: 'extra columns before, between and after, with quoted commas, quotes and newlines',
    file: 'extra.csv',
    options: {
      extraColumns: [
        { name: 'source_system', at: 0, value: (i) => `sys${i % 3}` },
        { name: 'note', at: 3, value: NOTE },
        { name: 'Currency', at: 7, value: () => 'USD' },
      ],
    },
    reports: ['source_system', 'note', 'Currency'],
  },
  { name: 'UTF-8 byte-order mark', file: 'bom.csv', options: { bom: true } },
  { name: 'CRLF line ends', file: 'crlf.csv', options: { crlf: true } },
  { name: 'every field quoted, header too', file: 'quoted.csv', options: { quote: 'all' } },
  {
    name: 'values padded with spaces, quoted and unquoted',
    file: 'padded.csv',
    options: { quote: 'alternate', padValues: true },
  },
  { name: 'no final newline', file: 'no-eol.csv', options: { finalNewline: false } },
  { name: 'blank lines between rows', file: 'blank.csv', options: {}, blankLines: true },
  { name: 'gzipped (.csv.gz)', file: 'gz.csv.gz', options: {} },
  { name: 'standard input (-)', file: 'stdin.csv', options: {}, via: 'stdin' },
  {
    name: "the old design's --input_file/--output_file",
    file: 'old-flags.csv',
    options: {},
    via: 'old-flags',
  },
  {
    // also covers CRLF without a final newline, blank CRLF lines, BOM before a quoted header
    name: 'everything at once',
    file: 'everything.csv',
    options: {
      bom: true,
      crlf: true,
      quote: 'all',
      padValues: true,
      columns: REORDERED,
      headerName: (n) => ` ${n.toUpperCase()} `,
      extraColumns: [{ name: 'note', at: 2, value: NOTE }],
      finalNewline: false,
    },
    blankLines: true,
    reports: ['note'],
  },
];

/** The same data for every variation, with user ids moved into the variation's own block. */
function rowsOf(base: readonly TxRow[], variationIndex: number): TxRow[] {
  const ranks = new Map<string, number>();
  for (const row of base) if (!ranks.has(row.user_id)) ranks.set(row.user_id, ranks.size);
  const block = 10n ** 12n * BigInt(variationIndex + 1);
  return base.map((row) => ({ ...row, user_id: String(block + BigInt(ranks.get(row.user_id) as number)) }));
}

function withBlankLines(text: string, crlf: boolean): string {
  const eol = crlf ? '\r\n' : '\n';
  // a blank line after the header and after every 10th line; quoted newlines are not used here
  return text
    .split(eol)
    .map((line, i) => (i % 10 === 0 && line !== '' ? `${line}${eol}` : line))
    .join(eol);
}

interface Outcome {
  rows: OracleRow[];
  result: RunResult;
  args: string[];
  summary?: IngestSummary;
  error?: string;
}

const temp = new TempDirs();
let lake = '';
let server: RunningServer | undefined;
const outcomes = new Map<string, Outcome>();
const base: TxRow[] = [...randomTransactions({ seed: 5, rows: 250, users: 50 }), ...cornerCaseTransactions()];

beforeAll(async () => {
  assertBuilt();
  const dir = temp.make();
  lake = path.join(dir, 'lake');
  for (const [index, variation] of VARIATIONS.entries()) {
    const rows = rowsOf(base, index);
    let text = csvText(rows, variation.options);
    if (variation.blankLines) text = withBlankLines(text, variation.options.crlf ?? false);
    const file = writeCsvFile(path.join(dir, variation.file), text);
    const oracle = oracleIngest(text);
    const plain = oracleIngest(csvText(rows));
    // the variation is the same data as the plain file: if not, the test itself is wrong
    expect(oracle.rejects).toEqual([]);
    expect(oracle.rows.map(({ line: _l, ...r }) => r)).toEqual(plain.rows.map(({ line: _l, ...r }) => r));
    let args: string[];
    let input: string | undefined;
    if (variation.via === 'stdin') {
      args = ['ingest', '-', '--lake', lake, '--json'];
      input = text;
    } else if (variation.via === 'old-flags') {
      args = ['ingest', '--input_file', file, '--output_file', lake, '--json'];
    } else {
      args = ['ingest', file, '--lake', lake, '--json'];
    }
    const result = await runTxlake(args, { input });
    const outcome: Outcome = { rows: oracle.rows, result, args };
    try {
      if (result.code !== 0) throw new Error('ingest failed');
      outcome.summary = parseJsonOutput<IngestSummary>(args, result);
    } catch (error) {
      outcome.error = `${String(error)}\n${describeRun(args, result)}`;
    }
    outcomes.set(variation.name, outcome);
  }
  server = await startServer(lake);
});

afterAll(async () => {
  await server?.stop();
  temp.cleanup();
});

async function userMismatches(live: RunningServer, oracle: V1Oracle): Promise<V1Mismatch[]> {
  const results = await mapLimit(oracle.userIds(), 8, async (id) => {
    const requestPath = `/api/v1/data/transactions/${id}`;
    const response = await live.get(requestPath);
    const expected = `200 ${oracle.transactionsBody(id)}`;
    const got = `${response.status} ${response.body}`;
    return got === expected ? null : { path: requestPath, expected, got };
  });
  return results.filter((r): r is V1Mismatch => r !== null);
}

describe('input variations ingest and answer exactly like the plain file', () => {
  it.each(VARIATIONS.map((v) => [v.name, v] as const))('%s', async (_name, variation) => {
    const outcome = outcomes.get(variation.name);
    if (!outcome) throw new Error('not ingested');
    if (outcome.error) throw new Error(outcome.error);
    expect(outcome.summary).toMatchObject({
      rows_read: base.length,
      rows_committed: base.length,
      rows_rejected: 0,
    });
    for (const name of variation.reports ?? []) {
      expect(outcome.result.stdout + outcome.result.stderr, `extra column ${name} is not reported`).toContain(
        name,
      );
    }
    if (!server) throw new Error('no server');
    const mismatches = await userMismatches(server, new V1Oracle(outcome.rows));
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('the merchant-code answers sum up every variation that ingested', async () => {
    if (!server) throw new Error('no server');
    const rows = [...outcomes.values()].filter((o) => !o.error).flatMap((o) => o.rows);
    const oracle = new V1Oracle(rows);
    const live = server;
    const results = await mapLimit(oracle.codes(), 8, async (code) => {
      const requestPath = `/api/v1/data/netAmount/${code}`;
      const response = await live.get(requestPath);
      const expected = `200 ${oracle.netAmountBody(code)}`;
      const got = `${response.status} ${response.body}`;
      return got === expected ? null : { path: requestPath, expected, got };
    });
    const mismatches = results.filter((r): r is V1Mismatch => r !== null);
    expect(mismatches.length, describeMismatches(mismatches)).toBe(0);
  });

  it('the required columns are the five of the SPEC', () => {
    expect([...REQUIRED].sort()).toEqual([...REORDERED].sort());
  });
});
