// The ingest pipeline (SPEC §1): sources → validate in the engine → rejects file → reject-rate gate →
// sorted, partitioned Parquet → one atomic snapshot. Either the whole ingest is committed or nothing is.

import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TxlakeError } from '../domain/errors.js';
import { type RejectedRow, type RejectionReason, rejectionMessage } from '../domain/rejection.js';
import type { PartitionScheme, RequiredColumn } from '../domain/schema.js';
import { commitSnapshot } from '../lake/commit.js';
import { writeDailySums, writeDataFiles } from '../lake/data-writer.js';
import { type Engine, openEngine } from '../lake/engine.js';
import { LakeLayout } from '../lake/layout.js';
import { acquireWriterLock, type LockHolder } from '../lake/lock.js';
import type { SnapshotManifest, SourceRecord, WriteMode } from '../lake/manifest.js';
import { readCurrentSnapshot } from '../lake/snapshots.js';
import { mapRejectedLines } from './line-map.js';
import { withProgress } from './progress.js';
import { writeRejectsFile } from './rejects.js';
import { digestSource, openSource, type Source } from './source.js';
import {
  engineRejectTables,
  needsSequentialScan,
  STAGED_TABLE,
  stageSourceSql,
  VALID_ROWS,
} from './staging.js';

export interface IngestOptions {
  lake: string;
  files: string[];
  mode: WriteMode;
  maxRejectRate: number;
  partitionBy: PartitionScheme;
  force: boolean;
  /** Where to write the rejects of a single source; default under `<lake>/_txlake/rejects/`. */
  rejectsFile?: string;
  /** Called with one line per noteworthy event (skipped source, recovered lock, extra columns). */
  onNotice?: (message: string) => void;
}

export interface SourceOutcome {
  source: string;
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  rejects_file: string | null;
  extra_columns: string[];
  /** Set when this content was already committed and the source was skipped. */
  already_committed_in: number | null;
}

export interface IngestResult {
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  rejects_file: string | null;
  rejects_files: string[];
  /** The snapshot now current (the new one, or the existing one for a no-op). */
  snapshot: number | null;
  committed: boolean;
  already_committed: boolean;
  sources: SourceOutcome[];
  seconds: number;
  /** Wall seconds of each phase (validate, rejects, write, daily_sums, commit), for operators and benchmarks. */
  phases: Record<string, number>;
}

interface EngineRejection {
  line: number;
  error_type: string;
  csv_line: string | null;
}

interface ValueRejection {
  ordinal: bigint;
  reject_column: string | null;
  reject_reason: string;
  reject_value: string | null;
}

function newWriteId(): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

function engineReason(errorType: string): RejectionReason {
  return errorType === 'MISSING COLUMNS' || errorType === 'TOO MANY COLUMNS'
    ? 'wrong_field_count'
    : 'malformed_csv';
}

async function collectRejections(engine: Engine, index: number, firstRowid: bigint) {
  const tables = engineRejectTables(index);
  const engineRows = await engine.rows<EngineRejection>(
    `SELECT DISTINCT ON (line) line::BIGINT AS line, error_type, csv_line FROM ${tables.errors} ORDER BY line`,
  );
  const valueRows = await engine.rows<ValueRejection>(
    `SELECT rowid - ${firstRowid} AS ordinal, reject_column, reject_reason, reject_value
     FROM ${STAGED_TABLE} WHERE source_index = ${index} AND reject_reason IS NOT NULL ORDER BY rowid`,
  );
  return { engineRows, valueRows };
}

async function describeRejections(
  source: Source,
  engineRows: EngineRejection[],
  valueRows: ValueRejection[],
  notice: (message: string) => void,
): Promise<RejectedRow[]> {
  const engineLines = engineRows.map((r) => Number(r.line));
  const mapping = await mapRejectedLines(
    source,
    engineLines,
    valueRows.map((r) => Number(r.ordinal)),
  );
  if (!mapping.complete) {
    notice(
      `could not map every rejected row of ${source.label} to its exact line; some line numbers are approximate`,
    );
  }
  const rows: RejectedRow[] = [
    ...engineRows.map((r) => {
      const reason = engineReason(r.error_type);
      return {
        line: mapping.byEngineLine.get(Number(r.line)) ?? Number(r.line),
        column: null,
        reason,
        message: rejectionMessage(reason, null),
        value: r.csv_line === null ? null : r.csv_line.replace(/^[\r\n]+|[\r\n]+$/g, ''),
      };
    }),
    ...valueRows.map((r) => {
      const reason = r.reject_reason as RejectionReason;
      const column = r.reject_column as RequiredColumn | null;
      const ordinal = Number(r.ordinal);
      return {
        line: mapping.byAcceptedOrdinal.get(ordinal) ?? ordinal + source.headerLine + 1,
        column,
        reason,
        message: rejectionMessage(reason, column),
        value: r.reject_value,
      };
    }),
  ];
  return rows.sort((a, b) => a.line - b.line);
}

function defaultRejectsPath(layout: LakeLayout, writeId: string, source: Source): string {
  const base =
    source.label === 'stdin' ? 'stdin' : path.basename(source.label).replace(/(\.csv)?(\.gz)?$/i, '');
  return path.join(layout.rejectsDir, `${writeId}-${base}.rejects.csv`);
}

/** Stage one source; a file whose quoted fields span lines is scanned again sequentially. */
async function stage(engine: Engine, source: Source, index: number, notice: (message: string) => void) {
  try {
    await engine.run(stageSourceSql(source, index, index === 0));
  } catch (error) {
    if (!needsSequentialScan(error)) throw error;
    notice(`${source.label}: quoted fields span several lines; reading it sequentially`);
    await engine.run(stageSourceSql(source, index, index === 0, { parallel: false }));
  }
}

async function countRows(engine: Engine, where: string): Promise<number> {
  const [row] = await engine.rows<{ n: bigint }>(`SELECT count(*) AS n FROM ${STAGED_TABLE} WHERE ${where}`);
  return Number(row?.n ?? 0);
}

/** Wall-clock seconds per phase, accumulated. */
class PhaseClock {
  readonly phases: Record<string, number> = {};
  async time<T>(phase: string, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work();
    } finally {
      this.phases[phase] =
        (this.phases[phase] ?? 0) + Number(((performance.now() - started) / 1000).toFixed(3));
    }
  }
}

export async function ingest(options: IngestOptions): Promise<IngestResult> {
  const started = performance.now();
  const clock = new PhaseClock();
  const notice = options.onNotice ?? (() => {});
  const layout = new LakeLayout(options.lake);
  const writeId = newWriteId();
  const stagingDir = layout.stagingDir(writeId);
  if (options.files.length === 0)
    throw new TxlakeError('usage', 'name at least one CSV file to ingest (or - for stdin)');
  if (options.rejectsFile && options.files.length > 1) {
    throw new TxlakeError('usage', '--rejects names one file, so it can be used with one source only');
  }
  let releaseLock: (() => Promise<void>) | null = null;
  let engine: Engine | null = null;
  try {
    const sources: Source[] = [];
    for (const name of options.files) sources.push(await openSource(name, stagingDir));

    const lock = await acquireWriterLock(layout, `ingest ${options.files.join(' ')}`);
    releaseLock = lock.release;
    if (lock.recoveredFrom) notice(describeRecoveredLock(lock.recoveredFrom));

    const parent = await readCurrentSnapshot(layout);
    const outcomes: SourceOutcome[] = [];
    const toIngest: Array<{ source: Source; outcome: SourceOutcome; sha256: Promise<string> }> = [];
    const committedQuick = new Set((parent?.sources ?? []).map((s) => s.quick_fingerprint));
    const committedIn = new Map((parent?.sources ?? []).map((s) => [s.sha256, s.snapshot]));
    const checkDuplicates = !options.force && options.mode === 'append';
    for (const source of sources) {
      const outcome: SourceOutcome = {
        source: source.label,
        rows_read: 0,
        rows_committed: 0,
        rows_rejected: 0,
        rejects_file: null,
        extra_columns: source.header.extraColumns,
        already_committed_in: null,
      };
      outcomes.push(outcome);
      // The full hash is needed now only when the cheap fingerprint says "maybe seen"; otherwise it is
      // computed while the engine validates, and costs no wall time.
      let sha256: Promise<string>;
      if (checkDuplicates && committedQuick.has(source.quickFingerprint)) {
        const full = await digestSource(source);
        const earlier = committedIn.get(full);
        if (earlier !== undefined) {
          outcome.already_committed_in = earlier;
          notice(
            `${source.label}: this content was already committed in snapshot ${earlier}; skipped ` +
              '(use --force to ingest it again)',
          );
          continue;
        }
        sha256 = Promise.resolve(full);
      } else {
        sha256 = digestSource(source);
        sha256.catch(() => {}); // awaited later; never an unhandled rejection meanwhile
      }
      if (source.header.extraColumns.length > 0) {
        notice(
          `${source.label}: ignoring extra columns ${source.header.extraColumns.map((c) => `"${c}"`).join(', ')}`,
        );
      }
      toIngest.push({ source, outcome, sha256 });
    }
    if (toIngest.length === 0) {
      return summarize(outcomes, parent?.id ?? null, false, started);
    }

    await fs.mkdir(stagingDir, { recursive: true });
    engine = await openEngine({ tempDirectory: path.join(stagingDir, 'spill') });
    if (process.stderr.isTTY)
      await engine.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
    let rowidBase = 0n;
    const allRejects: RejectedRow[][] = [];
    for (const [index, { source, outcome, sha256 }] of toIngest.entries()) {
      await clock.time('validate', () =>
        withProgress(
          (engine as Engine).connection,
          { label: `validating ${source.label}`, estimatedRows: source.bytes / source.sampledBytesPerRow },
          () => stage(engine as Engine, source, index, notice),
        ),
      );
      await sha256; // a corrupt source stops here, before any rejects are described
      const accepted = await countRows(engine, `source_index = ${index} AND reject_reason IS NULL`);
      const valueRejected = await countRows(engine, `source_index = ${index} AND reject_reason IS NOT NULL`);
      const { engineRows, valueRows } = await collectRejections(engine, index, rowidBase);
      rowidBase += BigInt(accepted + valueRejected);
      const rejected = valueRejected + engineRows.length;
      outcome.rows_read = accepted + rejected;
      outcome.rows_rejected = rejected;
      outcome.rows_committed = accepted;
      if (outcome.rows_read === 0) {
        throw new TxlakeError('input', `${source.label} has a header but no rows`);
      }
      const rejects =
        rejected > 0
          ? await clock.time('rejects', () => describeRejections(source, engineRows, valueRows, notice))
          : [];
      allRejects.push(rejects);
      if (rejects.length > 0) {
        outcome.rejects_file = path.resolve(
          options.rejectsFile ?? defaultRejectsPath(layout, writeId, source),
        );
        await writeRejectsFile(outcome.rejects_file, rejects);
      }
    }

    const read = outcomes.reduce((sum, o) => sum + o.rows_read, 0);
    const rejected = outcomes.reduce((sum, o) => sum + o.rows_rejected, 0);
    if (read > 0 && rejected / read > options.maxRejectRate) {
      for (const o of outcomes) o.rows_committed = 0;
      const result = summarize(outcomes, parent?.id ?? null, false, started, clock.phases);
      const where = result.rejects_files.length > 0 ? `; see ${result.rejects_files.join(', ')}` : '';
      throw new RejectRateExceeded(
        `${rejected} of ${read} rows (${((100 * rejected) / read).toFixed(2)}%) were rejected, more than ` +
          `--max-reject-rate ${options.maxRejectRate}; nothing was committed${where}`,
        result,
      );
    }

    const manifest = await writeAndCommit(engine, layout, clock, {
      parent: options.mode === 'append' ? parent : null,
      partitionBy: parent && options.mode === 'append' ? parent.partition_by : options.partitionBy,
      mode: options.mode,
      writeId,
      stagingDir,
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
    return summarize(outcomes, manifest.id, true, started, clock.phases);
  } finally {
    engine?.close();
    await fs.rm(stagingDir, { recursive: true, force: true });
    await releaseLock?.();
  }
}

interface CommitRequest {
  parent: SnapshotManifest | null;
  partitionBy: PartitionScheme;
  mode: WriteMode;
  writeId: string;
  stagingDir: string;
  newSources: SourceRecord[];
}

async function writeAndCommit(
  engine: Engine,
  layout: LakeLayout,
  clock: PhaseClock,
  request: CommitRequest,
): Promise<SnapshotManifest> {
  const validRows = VALID_ROWS;
  const newRows = request.newSources.reduce((sum, s) => sum + s.rows_committed, 0);
  const files = await clock.time('write', () =>
    withProgress(engine.connection, { label: 'sorting and writing Parquet', estimatedRows: newRows }, () =>
      writeDataFiles(engine, layout, {
        rows: validRows,
        partitionBy: request.partitionBy,
        writeId: request.writeId,
        stagingDir: request.stagingDir,
      }),
    ),
  );
  const dailySums = await clock.time('daily_sums', () =>
    writeDailySums(engine, layout, {
      rows: validRows,
      previous: request.parent?.daily_sums ?? null,
      writeId: request.writeId,
      stagingDir: request.stagingDir,
    }),
  );
  const parent = request.parent;
  return clock.time('commit', () =>
    commitSnapshotWithSources(
      layout,
      {
        operation: 'ingest',
        mode: request.mode,
        partition_by: request.partitionBy,
        rows: (parent?.rows ?? 0) + newRows,
        files: [...(parent?.files ?? []), ...files],
        daily_sums: dailySums,
        sources: parent?.sources ?? [],
      },
      request.newSources,
    ),
  );
}

/** Commit, stamping the new sources with the id the snapshot receives. */
async function commitSnapshotWithSources(
  layout: LakeLayout,
  draft: Parameters<typeof commitSnapshot>[1],
  newSources: SourceRecord[],
): Promise<SnapshotManifest> {
  return commitSnapshot(layout, draft, (id) => [
    ...draft.sources,
    ...newSources.map((s) => ({ ...s, snapshot: id })),
  ]);
}

function summarize(
  outcomes: SourceOutcome[],
  snapshot: number | null,
  committed: boolean,
  started: number,
  phases: Record<string, number> = {},
): IngestResult {
  const rejectsFiles = outcomes.flatMap((o) => (o.rejects_file ? [o.rejects_file] : []));
  return {
    rows_read: outcomes.reduce((sum, o) => sum + o.rows_read, 0),
    rows_committed: outcomes.reduce((sum, o) => sum + o.rows_committed, 0),
    rows_rejected: outcomes.reduce((sum, o) => sum + o.rows_rejected, 0),
    rejects_file: rejectsFiles[0] ?? null,
    rejects_files: rejectsFiles,
    snapshot,
    committed,
    already_committed: !committed && outcomes.every((o) => o.already_committed_in !== null),
    sources: outcomes,
    seconds: (performance.now() - started) / 1000,
    phases,
  };
}

function describeRecoveredLock(holder: LockHolder): string {
  return `recovered the writer lock left by a writer that died (pid ${holder.pid} on ${holder.host}, "${holder.command}" since ${holder.started})`;
}

/** Too many rejected rows: a TxlakeError that also carries the summary, so `--json` can still print it. */
export class RejectRateExceeded extends TxlakeError {
  readonly result: IngestResult;
  constructor(message: string, result: IngestResult) {
    super('reject_rate', message);
    this.result = result;
  }
}
