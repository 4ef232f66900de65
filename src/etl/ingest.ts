// The ingest pipeline (SPEC §1): sources → validate in the engine → rejects file → reject-rate gate →
// sorted, partitioned Parquet → one atomic snapshot. Either the whole ingest is committed or nothing is.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TxlakeError } from '../domain/errors.js';
import type { PartitionScheme } from '../domain/schema.js';
import { writeDailySums, writeDataFiles } from '../lake/data-writer.js';
import { type Engine, openEngine, sqlString } from '../lake/engine.js';
import { faultPoint } from '../lake/fault-points.js';
import { findDamagedFiles } from '../lake/integrity.js';
import { LAST_INGEST_FORMAT, type LastIngest, recordLastIngest } from '../lake/last-ingest.js';
import { LakeLayout } from '../lake/layout.js';
import type { SnapshotManifest, SourceRecord, WriteMode } from '../lake/manifest.js';
import { assertCarriedFilesIntact, type LakeWrite, withLakeWrite } from '../lake/writer.js';
import { planSources } from './dedupe.js';
import { countRecords } from './line-map.js';
import { withProgress } from './progress.js';
import {
  collectRejections,
  defaultRejectsPath,
  describeRejections,
  type StagedRejections,
  writeRejectsFile,
} from './rejects.js';
import { openSource, type Source, withUnixLineEnds } from './source.js';
import {
  hasMixedLineEndsError,
  needsSequentialScan,
  STAGED_TABLE,
  type StagedStorage,
  stageSourceSql,
  VALID_ROWS,
} from './staging.js';
import { type IngestResult, PhaseClock, type SourceOutcome, summarize } from './summary.js';

export type { IngestResult, SourceOutcome } from './summary.js';

export interface IngestOptions {
  lake: string;
  files: string[];
  mode: WriteMode;
  maxRejectRate: number;
  /** For a new lake or a replace; omitted, the current snapshot's scheme (or `transaction_type`) is kept. */
  partitionBy?: PartitionScheme;
  force: boolean;
  /** Where to write the rejects of a single source; default under `<lake>/_txlake/rejects/`. */
  rejectsFile?: string;
  /** Called with one line per noteworthy event (skipped source, recovered lock, extra columns). */
  onNotice?: (message: string) => void;
  /**
   * The engine's memory limit in bytes (default: `defaultIngestMemoryLimit()`); beyond it the engine spills
   * to the staging directory, so the peak RSS stays near this plus a few hundred MB.
   */
  memoryLimitBytes?: number;
  /** Where the validated rows wait for the write: `auto` (default) picks by the sources' size. */
  staging?: StagedStorage | 'auto';
}

/** The default engine memory limit of an ingest is half of the RAM, and at most this. */
export const MAX_DEFAULT_INGEST_MEMORY_BYTES = 4 * 1024 ** 3;
/** The smallest memory limit an ingest accepts: below it the engine fails on its own working buffers. */
export const MIN_INGEST_MEMORY_BYTES = 128 * 1024 ** 2;

/**
 * Half of the RAM, capped at 4 GiB: enough to validate and sort 10M rows without spilling, and a 100M-row
 * file stays well under 6 GB of RSS (the engine's allocations beyond its limit and Node's heap come on top).
 */
export function defaultIngestMemoryLimit(totalMemoryBytes: number = os.totalmem()): number {
  return Math.max(
    MIN_INGEST_MEMORY_BYTES,
    Math.min(Math.floor(totalMemoryBytes / 2), MAX_DEFAULT_INGEST_MEMORY_BYTES),
  );
}

/** Bytes a staged row takes in an in-memory table (measured: 101 at 10M rows), with a margin. */
const IN_MEMORY_BYTES_PER_STAGED_ROW = 110;
/** A CSV usually shrinks 4–6 times in gzip: the rows of a .csv.gz are estimated from its size times this. */
const GZIP_EXPANSION = 5;

/**
 * Stage in memory when the estimated staged table takes at most a third of the memory limit (the rest is for
 * the sort of the write); otherwise on disk, in a compressed database file of the staging directory, rather
 * than letting the engine spill an uncompressed table of gigabytes.
 */
export function chooseStagedStorage(sources: readonly Source[], memoryLimitBytes: number): StagedStorage {
  const rows = sources.reduce(
    (sum, s) =>
      sum + (s.bytes * (s.compression === 'gzip' ? GZIP_EXPANSION : 1)) / Math.max(1, s.sampledBytesPerRow),
    0,
  );
  return rows * IN_MEMORY_BYTES_PER_STAGED_ROW <= memoryLimitBytes / 3 ? 'memory' : 'disk';
}

/** Too many rejected rows: a TxlakeError that also carries the summary, so `--json` can still print it. */
export class RejectRateExceeded extends TxlakeError {
  readonly result: IngestResult;
  constructor(message: string, result: IngestResult) {
    super('reject_rate', message);
    this.result = result;
  }
}

/**
 * Run an ingest and record its outcome in the lake for servers' metrics (`_txlake/last-ingest.json`),
 * whatever the outcome, but for usage errors (a wrong flag is no ingest run).
 */
export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const started = performance.now();
  const record = (run: Omit<LastIngest, 'format' | 'finished' | 'seconds'>) =>
    recordLastIngest(new LakeLayout(options.lake), {
      format: LAST_INGEST_FORMAT,
      ...run,
      finished: new Date().toISOString(),
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    });
  let result: IngestResult;
  try {
    result = await ingestOnce(options);
  } catch (error) {
    if (!(error instanceof TxlakeError && error.kind === 'usage')) {
      const counted = error instanceof RejectRateExceeded ? error.result : null;
      // The run's own error is what its user needs to see: a record that cannot be written adds nothing.
      await record({
        result: counted ? 'rejected' : 'failed',
        rows_read: counted?.rows_read ?? null,
        rows_committed: 0,
        rows_rejected: counted?.rows_rejected ?? null,
        snapshot: counted?.snapshot ?? null,
        error: String(error instanceof Error ? error.message : error).split('\n')[0] ?? '',
      }).catch(() => false);
    }
    throw error;
  }
  await record({
    result: result.committed ? 'committed' : 'unchanged',
    rows_read: result.rows_read,
    rows_committed: result.rows_committed,
    rows_rejected: result.rows_rejected,
    snapshot: result.snapshot,
    error: null,
  }).catch((error: unknown) =>
    options.onNotice?.(
      `the ingest's outcome stands, but its record for servers' metrics (_txlake/last-ingest.json) could not be written: ${String((error as Error)?.message ?? error)}`,
    ),
  );
  return result;
}

async function ingestOnce(options: IngestOptions): Promise<IngestResult> {
  const clock = new PhaseClock();
  const notice = options.onNotice ?? (() => {});
  const layout = new LakeLayout(options.lake);
  if (options.files.length === 0) {
    throw new TxlakeError('usage', 'name at least one CSV file to ingest (or - for stdin)');
  }
  if (options.rejectsFile && options.files.length > 1) {
    throw new TxlakeError('usage', '--rejects names one file, so it can be used with one source only');
  }
  if (options.rejectsFile) await assertRejectsTarget(options.rejectsFile, layout, options.files);
  // The lock comes first: the staging directory (where stdin is spooled) belongs to the lock's holder.
  return withLakeWrite(layout, `ingest ${options.files.join(' ')}`, { notice }, async (write) => {
    let engine: Engine | null = null;
    try {
      const { stagingDir, writeId } = write;
      const sources: Source[] = [];
      for (const [index, name] of options.files.entries()) {
        sources.push(await openSource(name, stagingDir, index));
      }

      const parent = write.state.current;
      if (
        parent &&
        options.mode === 'append' &&
        options.partitionBy &&
        options.partitionBy !== parent.partition_by
      ) {
        throw new TxlakeError(
          'usage',
          `the lake is partitioned by ${parent.partition_by}; --partition-by ${options.partitionBy} applies to a new ` +
            'lake or to --mode replace',
        );
      }
      const skipDuplicates = !options.force && options.mode === 'append';
      const { outcomes, toIngest } = await planSources(sources, parent, skipDuplicates, notice);
      if (toIngest.length === 0) return summarize(outcomes, parent?.id ?? null, false, clock);

      // An append carries every file of the parent into the new snapshot (and merges its daily sums): they
      // are checked against their checksums while the engine validates the new rows.
      const carried = options.mode === 'append' && parent ? findDamagedFiles(layout, parent) : null;
      carried?.catch(() => {}); // awaited below; an early failure must not surface as unhandled
      await fs.mkdir(stagingDir, { recursive: true });
      const memoryLimitBytes = options.memoryLimitBytes ?? defaultIngestMemoryLimit();
      const activeEngine = await openEngine({
        tempDirectory: path.join(stagingDir, 'spill'),
        memoryLimitBytes,
      });
      engine = activeEngine;
      const storage =
        !options.staging || options.staging === 'auto'
          ? chooseStagedStorage(
              toIngest.map((t) => t.source),
              memoryLimitBytes,
            )
          : options.staging;
      if (storage === 'disk') {
        // The staging database becomes the current catalog: the staged table (and the write's sorted copy, for a
        // date partition level) go there. It lives in the staging directory and goes with it.
        await activeEngine.run(
          `ATTACH ${sqlString(path.join(stagingDir, 'staged.duckdb'))} AS txlake_staging; USE txlake_staging`,
        );
      }
      if (process.stderr.isTTY) {
        await activeEngine.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
      }
      let rowidBase = 0n;
      for (const [index, { source, outcome, sha256 }] of toIngest.entries()) {
        const staged = await clock.time('validate', () =>
          withProgress(
            activeEngine.connection,
            { label: `validating ${source.label}`, estimatedRows: source.bytes / source.sampledBytesPerRow },
            () => stage(activeEngine, source, index, stagingDir, storage, notice),
          ),
        );
        await sha256; // a corrupt source stops here, before any rejects are described
        faultPoint('validated');
        const counted = await countStaged(activeEngine, staged, index, rowidBase, outcome);
        rowidBase = counted.nextRowid;
        if (outcome.rows_rejected > 0) {
          // The original, not a copy with other line ends: the rejects file holds refused rows' bytes as given.
          const rows = await clock.time('rejects', () =>
            describeRejections(source, counted.rejections, notice),
          );
          outcome.rejects_file = path.resolve(
            options.rejectsFile ?? defaultRejectsPath(layout.rejectsDir, writeId, source),
          );
          await writeRejectsFile(outcome.rejects_file, rows);
        }
      }

      const read = outcomes.reduce((sum, o) => sum + o.rows_read, 0);
      const rejected = outcomes.reduce((sum, o) => sum + o.rows_rejected, 0);
      if (read > 0 && rejected / read > options.maxRejectRate) {
        for (const o of outcomes) {
          o.rows_withheld = o.rows_committed;
          o.rows_committed = 0;
        }
        const result = summarize(outcomes, parent?.id ?? null, false, clock);
        const where = result.rejects_files.length > 0 ? `; see ${result.rejects_files.join(', ')}` : '';
        throw new RejectRateExceeded(
          `${rejected} of ${read} rows (${((100 * rejected) / read).toFixed(2)}%) were rejected, more than ` +
            `--max-reject-rate ${options.maxRejectRate}; nothing was committed${where}`,
          result,
        );
      }
      if (parent && carried) await assertCarriedFilesIntact(write.state, parent, 'append to', await carried);

      const manifest = await writeAndCommit(activeEngine, layout, clock, write, {
        parent: options.mode === 'append' ? parent : null,
        partitionBy: options.partitionBy ?? parent?.partition_by ?? 'transaction_type',
        mode: options.mode,
        newSources: await Promise.all(
          toIngest.map(async ({ source, outcome, sha256 }) => ({
            name: source.label,
            sha256: await sha256,
            quick_fingerprint: source.quickFingerprint,
            bytes: source.bytes,
            rows_read: outcome.rows_read,
            rows_committed: outcome.rows_committed,
            rows_rejected: outcome.rows_rejected,
            snapshot: 0,
          })),
        ),
      });
      return summarize(outcomes, manifest.id, true, clock);
    } finally {
      engine?.close();
    }
  });
}

/**
 * `--rejects` is written before the commit: it must not name a file of the lake (it would overwrite a data
 * file, a manifest or CURRENT) nor an input (the rows it is about).
 */
async function assertRejectsTarget(
  file: string,
  layout: LakeLayout,
  inputs: readonly string[],
): Promise<void> {
  const real = async (name: string) => {
    const absolute = path.resolve(name);
    const parent = await fs.realpath(path.dirname(absolute)).catch(() => path.dirname(absolute));
    return path.join(parent, path.basename(absolute));
  };
  const target = await real(file);
  const root = await fs.realpath(layout.root).catch(() => layout.root);
  const inRejects =
    path.dirname(target) === (await real(layout.rejectsDir)) ||
    path.dirname(target) === path.join(root, '_txlake', 'rejects');
  if ((target === root || target.startsWith(`${root}${path.sep}`)) && !inRejects) {
    throw new TxlakeError(
      'usage',
      `--rejects ${file} names a file inside the lake ${layout.root}; name one outside it`,
    );
  }
  for (const input of inputs) {
    if (input !== '-' && (await real(input)) === target) {
      throw new TxlakeError('usage', `--rejects ${file} names the input file itself; name another file`);
    }
  }
}

interface StagedSource {
  /** The source as the engine read it (a copy with LF line ends, when the original mixed them). */
  source: Source;
  /** The engine had to scan it sequentially. */
  sequential: boolean;
}

/**
 * Stage one source. A file that mixes line ends is staged from a normalized copy; a file whose quoted fields
 * span lines, when the parallel scanner refuses it, is scanned again sequentially.
 */
async function stage(
  engine: Engine,
  original: Source,
  index: number,
  stagingDir: string,
  storage: StagedStorage,
  notice: (message: string) => void,
): Promise<StagedSource> {
  let source = original;
  const normalize = async () => {
    notice(`${original.label}: mixes CRLF and LF line ends; reading a copy with LF line ends`);
    source = await withUnixLineEnds(original, stagingDir, index);
  };
  if (original.mixedLineEnds) await normalize();
  for (;;) {
    try {
      await engine.run(stageSourceSql(source, index, index === 0, { parallel: true }, storage));
      return { source, sequential: false };
    } catch (error) {
      if (hasMixedLineEndsError(error) && source === original) {
        await normalize();
      } else if (needsSequentialScan(error)) {
        notice(`${original.label}: quoted fields span several lines; reading it sequentially`);
        await engine.run(stageSourceSql(source, index, index === 0, { parallel: false }, storage));
        return { source, sequential: true };
      } else {
        throw error;
      }
    }
  }
}

async function countRows(engine: Engine, where: string): Promise<number> {
  const [row] = await engine.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${STAGED_TABLE} WHERE ${where}`);
  return Number(row?.n ?? 0);
}

/**
 * Count what the engine made of source `index` into `outcome`, check the file was split into rows as
 * written, and collect its rejections, with the rowid where the next source's rows start.
 */
async function countStaged(
  engine: Engine,
  staged: StagedSource,
  index: number,
  firstRowid: bigint,
  outcome: SourceOutcome,
): Promise<{ rejections: StagedRejections; nextRowid: bigint }> {
  const accepted = await countRows(engine, `source_index = ${index} AND reject_reason IS NULL`);
  const valueRejected = await countRows(engine, `source_index = ${index} AND reject_reason IS NOT NULL`);
  const rejections = await collectRejections(engine, index, firstRowid);
  outcome.rows_rejected = valueRejected + rejections.engineRows.length;
  outcome.rows_read = accepted + outcome.rows_rejected;
  outcome.rows_committed = accepted;
  const malformed = rejections.engineRows.some((r) => r.reason !== 'wrong_field_count');
  await assertRecordsIntact(staged, outcome.source, outcome.rows_read, malformed);
  if (outcome.rows_read === 0) throw new TxlakeError('input', `${outcome.source} has a header but no rows`);
  return { rejections, nextRowid: firstRowid + BigInt(accepted + valueRejected) };
}

/**
 * A quote left open swallows the rest of a file into one field: one rejected "row" that would hide every
 * row after it. Check for that whenever the engine met a malformed record or had to read sequentially (its
 * sequential reader then returns partial rows instead of an error), and refuse the file as a whole.
 */
async function assertRecordsIntact(
  staged: StagedSource,
  label: string,
  rowsRead: number,
  malformed: boolean,
) {
  if (!malformed && !staged.sequential) return;
  const count = await countRecords(staged.source);
  if (count.unterminatedQuoteLine !== null) {
    throw new TxlakeError(
      'input',
      `${label}: the quote opened on line ${count.unterminatedQuoteLine} is never closed, so the rest of the ` +
        'file cannot be split into rows; fix that quote and ingest again',
    );
  }
  if (staged.sequential && count.records !== rowsRead) {
    throw new TxlakeError(
      'input',
      `${label}: the CSV reader found ${rowsRead} rows where the file holds ${count.records} records; ` +
        'check its quoting',
    );
  }
}

interface CommitRequest {
  /** The snapshot the new one builds on (null for a replace). */
  parent: SnapshotManifest | null;
  partitionBy: PartitionScheme;
  mode: WriteMode;
  newSources: SourceRecord[];
}

async function writeAndCommit(
  engine: Engine,
  layout: LakeLayout,
  clock: PhaseClock,
  write: LakeWrite,
  request: CommitRequest,
): Promise<SnapshotManifest> {
  const newRows = request.newSources.reduce((sum, s) => sum + s.rows_committed, 0);
  const target = { writeId: write.writeId, stagingDir: write.stagingDir, onPublished: write.published };
  const files = await clock.time('write', () =>
    withProgress(engine.connection, { label: 'sorting and writing Parquet', estimatedRows: newRows }, () =>
      writeDataFiles(engine, layout, { ...target, rows: VALID_ROWS, partitionBy: request.partitionBy }),
    ),
  );
  const dailySums = await clock.time('daily_sums', () =>
    writeDailySums(engine, layout, {
      ...target,
      rows: VALID_ROWS,
      previous: request.parent ?? null,
    }),
  );
  const parent = request.parent;
  const sources = parent?.sources ?? [];
  const draft = {
    operation: 'ingest' as const,
    mode: request.mode,
    partition_by: request.partitionBy,
    rows: (parent?.rows ?? 0) + newRows,
    files: [...(parent?.files ?? []), ...files],
    daily_sums: dailySums,
    sources,
  };
  // The new sources are stamped with the id the snapshot receives.
  return clock.time('commit', () =>
    write.commit(draft, (id) => [...sources, ...request.newSources.map((s) => ({ ...s, snapshot: id }))]),
  );
}
