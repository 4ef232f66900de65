// `txlake ingest FILE…`: parse flags, run the pipeline, print the summary (human or --json).

import { type Command, Option } from 'commander';
import { TxlakeError } from '../../domain/errors.js';
import { PARTITION_SCHEMES, type PartitionScheme } from '../../domain/schema.js';
import type { IngestResult } from '../../etl/ingest.js';
import { WRITE_MODES, type WriteMode } from '../../lake/manifest.js';
import { auditDetail } from '../audit.js';
import { DEFAULTS, resolveIngestMemoryLimit, resolveLakeDir } from '../config.js';
import { printNotice } from '../notices.js';

interface IngestFlags {
  lake?: string;
  // commander keeps the old flags' underscores in their property names
  output_file?: string;
  input_file?: string;
  mode: WriteMode;
  maxRejectRate: string;
  partitionBy?: PartitionScheme;
  force?: boolean;
  json?: boolean;
  rejects?: string;
  memoryLimit?: string;
  watch?: string;
  settle?: string;
}

function parseRate(text: string): number {
  const rate = Number(text);
  if (!/^(0|1|0?\.[0-9]+|1\.0*)$/.test(text.trim()) || rate < 0 || rate > 1) {
    throw new TxlakeError('usage', `--max-reject-rate must be a number from 0 to 1, got "${text}"`);
  }
  return rate;
}

function printHuman(result: IngestResult): void {
  const out = process.stdout;
  if (result.already_committed) {
    out.write(
      `nothing to do: already committed (snapshot ${result.snapshot} is current); use --force to ingest again\n`,
    );
    return;
  }
  for (const s of result.sources) {
    if (s.already_committed_in !== null) continue;
    out.write(
      `${s.source}: ${s.rows_read} rows read, ${s.rows_committed} committed, ${s.rows_rejected} rejected\n`,
    );
    if (s.rejects_file) out.write(`  rejected rows and why: ${s.rejects_file}\n`);
  }
  out.write(`committed snapshot ${result.snapshot} in ${result.seconds.toFixed(2)} s\n`);
}

function jsonSummary(result: IngestResult): string {
  const { seconds, ...rest } = result;
  return `${JSON.stringify({ ...rest, seconds: Number(seconds.toFixed(3)) })}\n`;
}

/** What the audit log keeps of an ingest: counts and the snapshot, not a row. */
function auditedCounts(result: IngestResult): Record<string, unknown> {
  return {
    snapshot: result.committed ? result.snapshot : null,
    rows_read: result.rows_read,
    rows_committed: result.rows_committed,
    rows_rejected: result.rows_rejected,
    already_committed: result.already_committed,
  };
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('validate CSV files and commit their rows to the lake as one atomic snapshot')
    .argument('[files...]', 'CSV files (.csv or .csv.gz); - reads standard input')
    .option('--lake <dir>', `lake directory (env TXLAKE_LAKE, default ${DEFAULTS.lake})`)
    .addOption(
      new Option('--mode <mode>', 'append to the current snapshot or replace it')
        .choices(WRITE_MODES)
        .default('append'),
    )
    .option(
      '--max-reject-rate <rate>',
      'largest share of rejected rows that still commits',
      String(DEFAULTS.maxRejectRate),
    )
    .addOption(
      new Option(
        '--partition-by <keys>',
        'directory levels, for a new lake or --mode replace (default: kept, or transaction_type)',
      ).choices(PARTITION_SCHEMES),
    )
    .option('--force', 'ingest even when this content was already committed')
    .option('--rejects <file>', 'where to write the rejected rows (default: under <lake>/_txlake/rejects/)')
    .option(
      '--memory-limit <size>',
      'memory for the engine (e.g. 2GB); beyond it, it spills to disk under the lake ' +
        '(env TXLAKE_MEMORY_LIMIT, default half of RAM, at most 4GB)',
    )
    .option('--json', 'print one JSON object summarizing the ingest')
    .option(
      '--watch <dir>',
      'keep running: ingest each complete CSV file dropped into dir exactly once, then move it to dir/ingested/ (bad files: dir/rejected/)',
    )
    .option(
      '--settle <time>',
      'with --watch: a file unchanged this long is complete (e.g. 2s, 500ms; default 2s)',
    )
    .addOption(new Option('--input_file <file>', "the old design's name for the input file").hideHelp())
    .addOption(new Option('--output_file <dir>', "the old design's name for --lake").hideHelp())
    .addHelpText(
      'after',
      `
Memory: the engine keeps its working memory (validated rows, sort buffers) within --memory-limit and spills
the rest to <lake>/_txlake/staging/ (removed afterwards): a file much larger than memory needs about 1.5x its
size in free disk space there. Peak RSS is about the limit plus a few hundred MB.

Drop folder (--watch DIR): a file is complete when FILE.done appears beside it or it has not changed for
--settle; names starting with "." or ending in .tmp or .part are never read (write there, then rename into
DIR). Files complete together share one snapshot. Each commit is logged as a JSON line on stdout and
recorded in the audit log; a bad file moves to DIR/rejected/ beside FILE.error. SIGTERM or Ctrl-C finishes
the file in hand, then exits 0. Restarted, the watcher never ingests a committed file twice.

Exit codes: 0 committed (or nothing to do), 2 file-level error or bad flag, 3 too many rejected rows (nothing committed).
Examples:
  txlake ingest transactions.csv
  txlake ingest --watch /data/incoming --lake /data/lake
  txlake ingest day1.csv.gz day2.csv.gz --json
  cat export.csv | txlake ingest - --max-reject-rate 0.05`,
    )
    .action(async (files: string[], flags: IngestFlags) => {
      const inputs = [...files, ...(flags.input_file ? [flags.input_file] : [])];
      const lake = resolveLakeDir(flags.lake ?? flags.output_file);
      const memoryLimitBytes = resolveIngestMemoryLimit(flags.memoryLimit);
      if (flags.watch !== undefined) {
        await watch(flags, inputs, lake, memoryLimitBytes);
        return;
      }
      if (flags.settle !== undefined) throw new TxlakeError('usage', '--settle is for --watch');
      // Loaded on use, so that `--help` and other commands do not pay for the engine.
      const { ingest, RejectRateExceeded } = await import('../../etl/ingest.js');
      try {
        const result = await ingest({
          lake,
          files: inputs,
          mode: flags.mode,
          maxRejectRate: parseRate(flags.maxRejectRate),
          partitionBy: flags.partitionBy,
          force: flags.force ?? false,
          rejectsFile: flags.rejects,
          onNotice: printNotice,
          ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
        });
        auditDetail(auditedCounts(result));
        if (flags.json) process.stdout.write(jsonSummary(result));
        else printHuman(result);
      } catch (error) {
        if (error instanceof RejectRateExceeded) auditDetail(auditedCounts(error.result));
        if (error instanceof RejectRateExceeded && flags.json)
          process.stdout.write(jsonSummary(error.result));
        throw error;
      }
    });
}

/** `--watch DIR`: each file of the drop folder appended as it completes (ingest-watch.ts). */
async function watch(
  flags: IngestFlags,
  inputs: string[],
  lake: string,
  memoryLimitBytes: number | undefined,
): Promise<void> {
  const refuse = (what: string) => {
    throw new TxlakeError('usage', `--watch reads its files from the folder: ${what}`);
  };
  if (inputs.length > 0) refuse('name no files beside it');
  if (flags.mode !== 'append') refuse('each file is appended (--mode replace is for a one-off ingest)');
  if (flags.rejects !== undefined) refuse("each file's rejects go under the lake (--rejects names one file)");
  if (flags.force) refuse('--force would ingest a file again after a restart');
  if (flags.json) refuse('its log is JSON lines already (--json is for one ingest)');
  const { DEFAULT_SETTLE_MS, parseSettle, watchDropFolder } = await import('./ingest-watch.js');
  await watchDropFolder({
    dir: flags.watch as string,
    lake,
    settleMs: flags.settle === undefined ? DEFAULT_SETTLE_MS : parseSettle(flags.settle),
    ingest: {
      mode: 'append',
      maxRejectRate: parseRate(flags.maxRejectRate),
      partitionBy: flags.partitionBy,
      force: false,
      ...(memoryLimitBytes === undefined ? {} : { memoryLimitBytes }),
    },
  });
}
