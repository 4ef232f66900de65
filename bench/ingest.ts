// The ingest benchmark: txlake's `ingest` of a generated CSV against DuckDB's own raw CSV→partitioned-Parquet
// COPY of the same file, both run as fresh child processes in the same run; the target is a ratio ≤ 2.

import fs from 'node:fs/promises';
import path from 'node:path';
import { defaultUsers, generateTransactionsFile } from '../src/sample/generator.js';
import { formatBytes, type MeasuredRun, measureChild, packageRoot, withWorkDirectory } from './measure.js';

/** txlake's ingest may take at most this many times DuckDB's raw COPY of the same CSV. */
export const INGEST_TARGET_RATIO = 2.0;

export interface IngestBenchOptions {
  rows: number;
  seed: number;
  /** Parent directory of the work directory (default: the system's temporary directory). */
  dir?: string;
  /** Keep the work directory (CSV, baseline Parquet, lake) instead of removing it. */
  keep?: boolean;
  /** Called with a line on each stage, for a terminal. */
  log?: (line: string) => void;
}

/** The result, flat and snake_case: it is printed as is by `--json`. */
export interface IngestBenchResult {
  bench: 'ingest';
  rows: number;
  seed: number;
  csv_bytes: number;
  generate_seconds: number;
  baseline_seconds: number;
  txlake_seconds: number;
  /** txlake_seconds / baseline_seconds. */
  ratio: number;
  target_ratio: number;
  baseline_peak_rss_bytes: number | null;
  txlake_peak_rss_bytes: number | null;
  /** The work directory when --keep was given, else null (it was removed). */
  kept_dir: string | null;
}

// The baseline runs in its own process with a fresh in-memory DuckDB, exactly the COPY of the spec, so it
// pays the same process start and engine load as `txlake ingest`. Paths come through the environment so
// that no quoting of the script is needed; the SQL literal quoting is done in the child.
const BASELINE_SCRIPT = `
import { DuckDBInstance } from '@duckdb/node-api';
const q = (s) => "'" + s.replaceAll("'", "''") + "'";
const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
await connection.run(
  'COPY (SELECT * FROM read_csv(' + q(process.env.TXLAKE_BENCH_CSV) + ')) TO ' +
    q(process.env.TXLAKE_BENCH_OUT) + ' (FORMAT parquet, PARTITION_BY (transaction_type))',
);
connection.closeSync();
instance.closeSync();
`;

function failure(what: string, run: MeasuredRun): Error {
  const how = run.signal ? `was killed by ${run.signal}` : `exited with code ${run.exitCode}`;
  const detail = run.stderrTail.trim().split('\n').slice(-5).join('\n');
  return new Error(`${what} ${how}${detail ? `:\n${detail}` : ''}`);
}

async function runBaseline(root: string, csv: string, out: string): Promise<MeasuredRun> {
  // The module is resolved from the package root (cwd), where node_modules/@duckdb/node-api lives.
  const run = await measureChild(process.execPath, ['--input-type=module', '-e', BASELINE_SCRIPT], {
    cwd: root,
    env: { ...process.env, TXLAKE_BENCH_CSV: csv, TXLAKE_BENCH_OUT: out },
  });
  if (run.exitCode !== 0) throw failure('the DuckDB COPY baseline', run);
  return run;
}

async function runTxlakeIngest(root: string, csv: string, lake: string, rows: number): Promise<MeasuredRun> {
  const run = await measureChild(
    path.join(root, 'bin', 'txlake'),
    ['ingest', csv, '--lake', lake, '--json'],
    {
      cwd: root,
    },
  );
  if (run.exitCode !== 0) throw failure('txlake ingest', run);
  // A fast ingest that lost rows would be no result: check it committed them all.
  const lastLine = run.stdout.trim().split('\n').at(-1) ?? '';
  let summary: { rows_committed?: unknown };
  try {
    summary = JSON.parse(lastLine) as { rows_committed?: unknown };
  } catch {
    throw new Error(`txlake ingest --json printed no JSON summary (stdout: ${JSON.stringify(lastLine)})`);
  }
  if (Number(summary.rows_committed) !== rows) {
    throw new Error(`txlake ingest committed ${String(summary.rows_committed)} rows, not ${rows}`);
  }
  return run;
}

/** Generate the data, then time the baseline and txlake on it. Removes its work directory unless `keep`. */
export async function runIngestBench(options: IngestBenchOptions): Promise<IngestBenchResult> {
  const log = options.log ?? (() => {});
  const root = packageRoot();
  return withWorkDirectory('txlake-bench-ingest-', options, async (work) => {
    const csv = path.join(work, 'transactions.csv');
    log(`generating ${options.rows.toLocaleString('en-US')} rows into ${csv}`);
    const generateStarted = performance.now();
    await generateTransactionsFile(
      { rows: options.rows, seed: options.seed, users: defaultUsers(options.rows) },
      csv,
    );
    const generateSeconds = (performance.now() - generateStarted) / 1000;
    const csvBytes = (await fs.stat(csv)).size;

    log(`baseline: DuckDB COPY of the CSV to Parquet partitioned by transaction_type`);
    const baseline = await runBaseline(root, csv, path.join(work, 'baseline-parquet'));
    log(`baseline: ${baseline.seconds.toFixed(2)} s; txlake ingest`);
    const txlake = await runTxlakeIngest(root, csv, path.join(work, 'lake'), options.rows);
    log(`txlake ingest: ${txlake.seconds.toFixed(2)} s`);

    return {
      bench: 'ingest',
      rows: options.rows,
      seed: options.seed,
      csv_bytes: csvBytes,
      generate_seconds: round(generateSeconds),
      baseline_seconds: round(baseline.seconds),
      txlake_seconds: round(txlake.seconds),
      ratio: round(txlake.seconds / baseline.seconds),
      target_ratio: INGEST_TARGET_RATIO,
      baseline_peak_rss_bytes: baseline.peakRssBytes,
      txlake_peak_rss_bytes: txlake.peakRssBytes,
      kept_dir: options.keep ? work : null,
    };
  });
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The human report: a small table, then where the files are when they were kept. */
export function formatIngestReport(result: IngestBenchResult): string {
  const verdict = result.ratio <= result.target_ratio ? 'met' : 'not met';
  const rows: Array<[string, string, string]> = [
    ['', 'seconds', 'peak RSS'],
    [
      'DuckDB COPY (baseline)',
      result.baseline_seconds.toFixed(2),
      formatBytes(result.baseline_peak_rss_bytes),
    ],
    ['txlake ingest', result.txlake_seconds.toFixed(2), formatBytes(result.txlake_peak_rss_bytes)],
  ];
  const table = rows.map(
    ([label, seconds, rss]) => `  ${label.padEnd(24)}${seconds.padStart(9)}${rss.padStart(12)}`,
  );
  return [
    `ingest benchmark: ${result.rows.toLocaleString('en-US')} rows, CSV ${formatBytes(result.csv_bytes)} ` +
      `(seed ${result.seed}, generated in ${result.generate_seconds.toFixed(2)} s)`,
    ...table,
    `  ${'ratio txlake/baseline'.padEnd(24)}${result.ratio.toFixed(2).padStart(9)}` +
      `   target ≤ ${result.target_ratio.toFixed(1)} (${verdict})`,
    ...(result.kept_dir ? [`  files kept in ${result.kept_dir}`] : []),
    '',
  ].join('\n');
}
