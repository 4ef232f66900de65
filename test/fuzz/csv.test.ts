// CSV fuzzing: mutated versions of the repository's sample (csv-mutations.ts), each ingested with the real CLI
// into a fresh lake and appended to an existing one. Every ingest either commits, accounting for every row
// (rows_read = committed + rejected, each rejected row in the rejects file), or is refused with one error line
// and nothing committed; and `txlake verify` passes on every lake that has a snapshot.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REJECTION_REASONS } from '../../src/domain/rejection.js';
import { OracleFileError, oracleIngest, parseCsv } from '../helpers/oracle.js';
import {
  assertBuilt,
  describeRun,
  type IngestSummary,
  ingest,
  REPO_ROOT,
  type RunResult,
  runTxlake,
  TempDirs,
} from '../helpers/txlake.js';
import { type CsvCase, caseArbitrary, caseBytes, describeCase } from './csv-mutations.js';
import { fuzzParameters } from './http-fuzz.js';

const SAMPLE = path.join(REPO_ROOT, 'examples', 'combined_transactions.csv');
const REJECTS_HEADER = ['line', 'column', 'reason', 'message', 'value'];
// The closed list of reasons the rejects file may name (docs/lake-format.md).
const REASONS = new Set<string>(REJECTION_REASONS);

const temp = new TempDirs();
let baseLake = '';
let sample: Buffer;

/** What a commit changes: the snapshot manifests, the pointer, and the current snapshot's rows. */
interface LakeState {
  snapshots: string[];
  current: string | null;
  rows: number | null;
}

function lakeState(lake: string): LakeState {
  const dir = path.join(lake, '_txlake', 'snapshots');
  const snapshots = existsSync(dir) ? readdirSync(dir).sort() : [];
  const pointer = path.join(lake, '_txlake', 'CURRENT');
  const current = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : null;
  let rows: number | null = null;
  if (current !== null) {
    const manifest = path.join(dir, `${current.padStart(8, '0')}.json`);
    rows = JSON.parse(readFileSync(manifest, 'utf8')).rows as number;
  }
  return { snapshots, current, rows };
}

/** Physical lines of the bytes the CLI reads (after gunzip), as rejects count them (the header is line 1). */
function physicalLines(bytes: Buffer, gzip: boolean): number {
  let text: string;
  try {
    text = (gzip ? gunzipSync(bytes) : bytes).toString('latin1');
  } catch {
    return Number.POSITIVE_INFINITY; // a cut gzip: whatever was read of it
  }
  return (text.match(/\r\n|\n|\r/g)?.length ?? 0) + 1;
}

const STACK = /\n\s+at |\bat \S+ \([^)]*:\d+:\d+\)/;

/** What is wrong with one ingest of a case, or [] when it kept every promise. */
function ingestProblems(result: RunResult, before: LakeState, after: LakeState, lines: number): string[] {
  const problems: string[] = [];
  if (STACK.test(result.stderr) || STACK.test(result.stdout)) problems.push('a stack trace in the output');
  if (/--verbose for details/.test(result.stderr)) problems.push('an unexpected error (a bug, by run.ts)');
  const unchanged = JSON.stringify(after) === JSON.stringify(before);
  if (result.code === 0) {
    let summary: IngestSummary & { rows_withheld?: number; committed?: boolean };
    try {
      summary = JSON.parse(result.stdout);
    } catch {
      return [...problems, 'exit 0 without one JSON summary on stdout'];
    }
    const withheld = summary.rows_withheld ?? 0;
    if (summary.rows_read !== summary.rows_committed + summary.rows_rejected + withheld) {
      problems.push(
        `rows_read ${summary.rows_read} ≠ committed ${summary.rows_committed} + rejected ${summary.rows_rejected} + withheld ${withheld}`,
      );
    }
    if (withheld !== 0) problems.push(`rows withheld (${withheld}) from a commit`);
    if (summary.rows_rejected > 0) problems.push(...rejectsProblems(summary, lines));
    if (summary.committed) {
      const added = after.snapshots.filter((s) => !before.snapshots.includes(s));
      if (added.length !== 1 || after.snapshots.length !== before.snapshots.length + 1) {
        problems.push(`committed, but the snapshots went from ${before.snapshots} to ${after.snapshots}`);
      }
      if (after.current !== String(summary.snapshot))
        problems.push(`CURRENT is ${after.current}, not ${summary.snapshot}`);
      if (after.rows !== (before.rows ?? 0) + summary.rows_committed) {
        problems.push(
          `the snapshot has ${after.rows} rows, not ${before.rows ?? 0} + ${summary.rows_committed}`,
        );
      }
    } else if (!unchanged) {
      problems.push('nothing committed, yet the snapshots or CURRENT changed');
    }
  } else if (result.code === 2 || result.code === 3) {
    const lines = result.stderr.split('\n').filter((l) => l.trim() !== '');
    const errors = lines.filter((l) => l.startsWith('error: '));
    if (errors.length !== 1) problems.push(`${errors.length} error lines on stderr, not one`);
    const others = lines.filter((l) => !l.startsWith('error: ') && !/^(note|warning): /.test(l));
    if (others.length > 0)
      problems.push(
        `stderr lines that are neither the error nor a note: ${JSON.stringify(others.slice(0, 3))}`,
      );
    if ((errors[0] ?? '').length < 20) problems.push('an error line too short to say what is wrong');
    if (!unchanged)
      problems.push(
        `refused (exit ${result.code}), yet the lake changed: ${JSON.stringify(before)} → ${JSON.stringify(after)}`,
      );
  } else {
    problems.push(
      `exit ${result.code}${result.signal ? ` (${result.signal})` : ''}: neither committed nor refused as an input error`,
    );
  }
  return problems;
}

function rejectsProblems(summary: IngestSummary, lines: number): string[] {
  if (!summary.rejects_file || !existsSync(summary.rejects_file))
    return [`${summary.rows_rejected} rejected but no rejects file`];
  const records = parseCsv(readFileSync(summary.rejects_file, 'utf8'));
  const problems: string[] = [];
  if (JSON.stringify(records[0]?.fields) !== JSON.stringify(REJECTS_HEADER))
    problems.push('the rejects file lacks its header');
  const rows = records.slice(1);
  if (rows.length !== summary.rows_rejected)
    problems.push(`${summary.rows_rejected} rejected, ${rows.length} in the rejects file`);
  const seen = new Set<number>();
  for (const r of rows) {
    const line = Number(r.fields[0]);
    if (r.fields.length !== 5 || r.unterminated)
      problems.push(`a rejects record of ${r.fields.length} fields`);
    if (!Number.isInteger(line) || line < 2 || line > lines)
      problems.push(`a reject on line ${r.fields[0]} of a ${lines}-line file`);
    if (seen.has(line)) problems.push(`line ${line} rejected twice`);
    seen.add(line);
    if (!REASONS.has(r.fields[2] ?? '')) problems.push(`an unknown reason ${r.fields[2]}`);
    if ((r.fields[3] ?? '') === '') problems.push(`no message for line ${line}`);
  }
  return problems.slice(0, 5);
}

/**
 * What the independent oracle (test/helpers/oracle.ts) makes of the bytes, where it models them: UTF-8 without
 * NULs, line ends LF or CRLF, no row over the 1 MiB row limit; else null.
 */
function oracleView(bytes: Buffer, gzip: boolean): ReturnType<typeof oracleIngest> | 'file-error' | null {
  let plain: Buffer;
  try {
    plain = gzip ? gunzipSync(bytes) : bytes;
  } catch {
    return null;
  }
  const text = plain.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(plain) || text.includes('\u0000') || /\r(?!\n)/.test(text))
    return null;
  if (text.split('\n').some((line) => Buffer.byteLength(line) > 1_000_000)) return null;
  if (text.startsWith('\ufeff\ufeff')) return null;
  // txlake refuses a file whose quote, left open, swallows later lines (one "row" hiding all after it), where
  // the oracle sees one malformed last record; a quote left open on the last line is a rejected row in both.
  const last = parseCsv(text).at(-1);
  if (last?.unterminated && /[\r\n][^\r\n]/.test(last.fields.at(-1) ?? '')) return 'file-error';
  try {
    return oracleIngest(text);
  } catch (error) {
    if (error instanceof OracleFileError) return 'file-error';
    throw error;
  }
}

function oracleProblems(
  oracle: ReturnType<typeof oracleIngest> | 'file-error',
  result: RunResult,
  rate: number,
): string[] {
  if (oracle === 'file-error')
    return result.code === 2 ? [] : [`the oracle refuses the file, txlake exits ${result.code}`];
  if (oracle.rowsRead === 0) return result.code === 2 ? [] : [`no rows, txlake exits ${result.code}`];
  const refused = oracle.rejects.length / oracle.rowsRead > rate;
  if (result.code !== (refused ? 3 : 0)) {
    return [
      `the oracle reads ${oracle.rowsRead} rows, rejects ${oracle.rejects.length}: txlake should exit ${refused ? 3 : 0}, not ${result.code}`,
    ];
  }
  if (result.code !== 0) return [];
  const summary = JSON.parse(result.stdout) as IngestSummary;
  const problems: string[] = [];
  const expected = { read: oracle.rowsRead, committed: oracle.rows.length, rejected: oracle.rejects.length };
  const got = { read: summary.rows_read, committed: summary.rows_committed, rejected: summary.rows_rejected };
  if (JSON.stringify(got) !== JSON.stringify(expected))
    problems.push(`counts ${JSON.stringify(got)}, the oracle's ${JSON.stringify(expected)}`);
  if (summary.rejects_file && existsSync(summary.rejects_file)) {
    const rows = parseCsv(readFileSync(summary.rejects_file, 'utf8')).slice(1);
    // A row the CSV reader refuses as a whole is one reject either way; the oracle's lenient parser calls
    // text after a closing quote a field count mismatch where txlake says malformed (RFC 4180 agrees).
    const key = (line: unknown, column: unknown, reason: unknown) =>
      `${line} ${column} ${reason === 'malformed_csv' || reason === 'wrong_field_count' ? 'row' : reason}`;
    const gotRejects = rows.map((r) => key(r.fields[0], r.fields[1], r.fields[2])).sort();
    const wanted = oracle.rejects.map((r) => key(r.line, r.column, r.reason)).sort();
    const missing = wanted.filter((w) => !gotRejects.includes(w));
    const extra = gotRejects.filter((g) => !wanted.includes(g));
    if (missing.length + extra.length > 0) {
      problems.push(
        `rejects differ from the oracle's: missing ${missing.slice(0, 5)}; unexpected ${extra.slice(0, 5)}`,
      );
    }
  }
  return problems;
}

async function runCase(c: CsvCase, dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const { bytes, gzip } = caseBytes(sample, c);
  const file = path.join(dir, gzip ? 'mutated.csv.gz' : 'mutated.csv');
  writeFileSync(file, bytes);
  const lines = physicalLines(bytes, gzip);
  const fresh = path.join(dir, 'fresh');
  const appended = path.join(dir, 'appended');
  cpSync(baseLake, appended, { recursive: true });
  const rate = c.maxRejectRate === '1' ? ['--max-reject-rate', '1'] : [];
  const problems: string[] = [];
  await Promise.all(
    [fresh, appended].map(async (lake) => {
      const before = lakeState(lake);
      const args = ['ingest', c.via === 'stdin' ? '-' : file, '--lake', lake, '--json', ...rate];
      const result = await runTxlake(args, {
        timeoutMs: 60_000,
        ...(c.via === 'stdin' ? { input: bytes } : {}),
      });
      const after = lakeState(lake);
      const found = ingestProblems(result, before, after, lines);
      const oracle = oracleView(bytes, gzip);
      if (oracle !== null) found.push(...oracleProblems(oracle, result, c.maxRejectRate === '1' ? 1 : 0.01));
      if (after.current !== null) {
        const verify = await runTxlake(['verify', '--lake', lake]);
        if (verify.code !== 0) found.push(`verify failed: ${verify.stderr.trim()}`);
      }
      const name = lake === fresh ? 'fresh lake' : 'existing lake';
      if (process.env.TXLAKE_FUZZ_VERBOSE) {
        const outcome =
          result.code === 0
            ? result.stdout.match(/"rows_read":\d+,"rows_committed":\d+,"rows_rejected":\d+/)?.[0]
            : result.stderr.trim().split('\n').at(-1);
        console.log(
          `${describeCase(c).slice(0, 160)}\n  ${name}: exit ${result.code} ${outcome?.slice(0, 200)}`,
        );
      }
      for (const p of found) problems.push(`${name}: ${p}\n${describeRun(args, result)}`);
    }),
  );
  rmSync(dir, { recursive: true, force: true });
  return problems;
}

beforeAll(async () => {
  assertBuilt();
  sample = readFileSync(SAMPLE);
  const dir = temp.make('txlake-csv-fuzz-');
  baseLake = path.join(dir, 'base');
  const generated = path.join(dir, 'generated.csv');
  const made = await runTxlake(['generate', '--rows', '300', '--seed', '4', '--out', generated]);
  expect(made.code, made.stderr).toBe(0);
  await ingest([generated], baseLake);
}, 120_000);

afterAll(() => temp.cleanup());

describe('CSV fuzzing: mutated samples ingested into a fresh and an existing lake', () => {
  it('each commits with every row accounted for, or is refused in one line with nothing committed; verify passes', async () => {
    const parameters = fuzzParameters(24, 'TXLAKE_FUZZ_CSV_RUNS');
    const root = temp.make('txlake-csv-cases-');
    let n = 0;
    const property = fc.asyncProperty(caseArbitrary, async (c) => {
      const problems = await runCase(c, path.join(root, String(n++)));
      if (problems.length > 0) throw new Error(`${describeCase(c)}\n${problems.join('\n')}`);
    });
    const details = await fc.check(property, {
      ...parameters,
      endOnFailure: process.env.TXLAKE_FUZZ_SHRINK !== '1',
    });
    if (details.failed) {
      const example = details.counterexample?.[0];
      throw new Error(
        [
          `CSV fuzzing failed after ${details.numRuns} cases`,
          `replay: TXLAKE_FUZZ_SEED=${details.seed} TXLAKE_FUZZ_PATH=${details.counterexamplePath ?? ''} TXLAKE_FUZZ_CSV_RUNS=${parameters.numRuns} (TXLAKE_FUZZ_SHRINK=1 to shrink it)`,
          example ? `case: ${describeCase(example)}` : '',
          String(
            details.errorInstance instanceof Error ? details.errorInstance.message : details.errorInstance,
          ),
        ].join('\n'),
      );
    }
  }, 900_000);
});
