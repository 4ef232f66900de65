// `npm run bench -- <name>` (node dist/bench/main.js): the project's benchmarks (SPEC §6), each printing
// ratios against a baseline measured in the same run. A program of its own, beside txlake's CLI rather
// than inside it: the product (src/) never imports the benchmarks. Each benchmark's code loads when run.

import { Command } from 'commander';
import { parseIntegerFlag } from '../src/cli/flags.js';
import { oneLineErrors, runProgram } from '../src/cli/run.js';
import { TxlakeError } from '../src/domain/errors.js';
import { DEFAULT_SEED, MAX_SEED } from '../src/sample/generator.js';

type Benchmarks = typeof import('./index.js');

interface IngestBenchFlags {
  rows: string;
  seed: string;
  dir?: string;
  keep?: boolean;
  json?: boolean;
}

interface ServeBenchFlags extends IngestBenchFlags {
  seconds: string;
  connections: string;
  servers: string;
  backend: string;
}

/** Rows of the data the performance targets are stated for (docs/performance). */
const DEFAULT_BENCH_ROWS = 10_000_000;
const MAX_BENCH_ROWS = 1_000_000_000;

function loadBenchmarks(): Promise<Benchmarks> {
  return import('./index.js');
}

/** Stage lines on a terminal only: a benchmark's stdout is its report, and pipes stay quiet. */
function stageLog(): ((line: string) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (line) => process.stderr.write(`${line}\n`);
}

/** The options every benchmark takes: its generated data, its work directory, its output. */
function withDataOptions(command: Command, defaultRows: string, kept: string): Command {
  return command
    .option('--rows <n>', 'rows of generated data', defaultRows)
    .option('--seed <s>', 'seed of the generated data', String(DEFAULT_SEED))
    .option('--dir <dir>', 'where to create the work directory (default: the system temporary directory)')
    .option('--keep', `keep ${kept} (otherwise removed at the end)`)
    .option('--json', 'print the result as one JSON line instead of a table');
}

export function buildBenchProgram(): Command {
  const bench = new Command('txlake-bench')
    .description('the benchmarks of txlake; each prints ratios against a baseline measured in the same run')
    .option('--verbose', 'print stack traces of errors')
    .showSuggestionAfterError()
    .exitOverride();
  oneLineErrors(bench);

  withDataOptions(
    bench
      .command('ingest')
      .description(
        "time `txlake ingest` of a generated CSV against DuckDB's raw CSV→Parquet COPY of the same file",
      ),
    String(DEFAULT_BENCH_ROWS),
    'the CSV, the baseline Parquet files and the lake',
  )
    .addHelpText(
      'after',
      `
Both are run as fresh child processes on the same file: the baseline is
  COPY (SELECT * FROM read_csv('FILE')) TO 'DIR' (FORMAT parquet, PARTITION_BY (transaction_type))
in a new DuckDB instance, then \`txlake ingest FILE --lake DIR --json\`. Wall time and peak RSS of each
are reported with the ratio txlake/baseline (target ≤ 2.0). Timings are printed, never asserted.

Examples:
  npm run bench -- ingest --rows 1000000
  npm run bench -- ingest --rows 10000000 --json`,
    )
    .action(async (flags: IngestBenchFlags) => {
      const rows = parseIntegerFlag('--rows', flags.rows, 1, MAX_BENCH_ROWS);
      const seed = parseIntegerFlag('--seed', flags.seed, 0, MAX_SEED);
      const { runIngestBench, formatIngestReport } = await loadBenchmarks();
      const result = await runIngestBench({ rows, seed, dir: flags.dir, keep: flags.keep, log: stageLog() });
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatIngestReport(result));
    });

  withDataOptions(
    bench
      .command('verify')
      .description(
        "what checking a snapshot's files against their sha256 costs a server, at load and at a swap",
      ),
    String(DEFAULT_BENCH_ROWS),
    'the lake',
  )
    .addHelpText(
      'after',
      `
Ingests a generated lake, then times, in the same run: reading every byte of its files (the floor of any
check), their sha256 (what \`verify\` and writers do), and a real \`txlake serve\`: its first load (all files
hashed) and the swap after a 10,000-row append (only the new files hashed), as its log reports them.

Example:
  npm run bench -- verify --rows 10000000`,
    )
    .action(async (flags: IngestBenchFlags) => {
      const rows = parseIntegerFlag('--rows', flags.rows, 1, MAX_BENCH_ROWS);
      const seed = parseIntegerFlag('--seed', flags.seed, 0, MAX_SEED);
      const { runVerifyBench, formatVerifyReport } = await loadBenchmarks();
      const result = await runVerifyBench({ rows, seed, dir: flags.dir, keep: flags.keep, log: stageLog() });
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatVerifyReport(result));
    });

  withDataOptions(
    bench
      .command('serve')
      .description('load `txlake serve` on a generated lake and compare it with a bare node:http floor'),
    '1000000',
    'the lake',
  )
    .option('--seconds <s>', 'seconds of load per run', '10')
    .option('--connections <n>', 'concurrent connections of the load generator', '32')
    .option(
      '--servers <list>',
      'servers to compare, of naive,txlake,workers,keys (keys: the default with an API key)',
      'naive,txlake,workers',
    )
    .option(
      '--backend <kind>',
      "embedded (default), or clickhouse: txlake over ClickHouse against ClickHouse's own HTTP interface (a local 2-shard cluster, or TXLAKE_CLICKHOUSE_URL/_CLUSTER)",
      'embedded',
    )
    .addHelpText(
      'after',
      `
For each endpoint (v1: transactions/{id}, netAmount/{code}; v2: users/{id}/transactions?limit=100,
merchant-types/{code}/daily-net), wrk (Debian's; autocannon where wrk is absent or TXLAKE_BENCH_LOAD=autocannon;
127.0.0.1 only) first loads a bare node:http server that
answers every request with one fixed body as large as that endpoint's typical answer (the floor), then
each server in turn, alone on the machine, with requests rotating over up to 100,000 user ids (mostly
cold answers) or every merchant code:
  naive    serve --user-lookup parquet --answer-cache 0   (one DuckDB query per request; the baseline)
  txlake   serve                                          (in-memory index, answer cache)
  workers  serve --workers 0                              (the same on every core)
Prints requests/s, p50/p99, errors, the ratio to the floor (target ≥ 0.5), ready time, RSS and bytes per
row; for txlake and workers also the transactions endpoint while a 10,000-row append is committed and
swapped in under load. Never asserted.

Examples:
  npm run bench -- serve --rows 1000000 --seconds 5
  npm run bench -- serve --rows 10000000 --json
  npm run bench -- serve --backend clickhouse --rows 10000000`,
    )
    .action(async (flags: ServeBenchFlags) => {
      const rows = parseIntegerFlag('--rows', flags.rows, 1, MAX_BENCH_ROWS);
      const seed = parseIntegerFlag('--seed', flags.seed, 0, MAX_SEED);
      const seconds = parseIntegerFlag('--seconds', flags.seconds, 1, 600);
      const connections = parseIntegerFlag('--connections', flags.connections, 1, 1024);
      const benchmarks = await loadBenchmarks();
      const run = { rows, seed, seconds, connections, dir: flags.dir, keep: flags.keep, log: stageLog() };
      if (flags.backend === 'clickhouse') {
        const result = await benchmarks.runClickHouseServeBench(run);
        process.stdout.write(
          flags.json ? `${JSON.stringify(result)}\n` : benchmarks.formatClickHouseServeReport(result),
        );
        return;
      }
      if (flags.backend !== 'embedded')
        throw new TxlakeError('usage', `--backend must be embedded or clickhouse, got "${flags.backend}"`);
      const { runServeBench, formatServeReport, SERVE_VARIANTS } = benchmarks;
      const variants = flags.servers.split(',').map((name) => name.trim());
      const unknown = variants.filter((name) => !Object.hasOwn(SERVE_VARIANTS, name));
      if (unknown.length > 0 || variants.length === 0) {
        throw new TxlakeError(
          'usage',
          `--servers takes a list of naive, txlake, workers, keys; got "${flags.servers}"`,
        );
      }
      const result = await runServeBench({
        ...run,
        variants: variants as Array<keyof typeof SERVE_VARIANTS>,
      });
      process.stdout.write(flags.json ? `${JSON.stringify(result)}\n` : formatServeReport(result));
    });
  return bench;
}

await runProgram(buildBenchProgram(), process.argv);
