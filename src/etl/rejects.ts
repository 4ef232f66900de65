// Rejected rows: gathered from the engine (its CSV errors and our value checks), given their source line,
// and written to the rejects file, one CSV line per rejected row (line, column, reason, message, value), so
// that nothing is dropped silently and the user can fix the rows and ingest them again.

import fs from 'node:fs/promises';
import path from 'node:path';
import { type RejectedRow, type RejectionReason, rejectionMessage } from '../domain/rejection.js';
import type { RequiredColumn } from '../domain/schema.js';
import type { Engine } from '../lake/engine.js';
import { mapRejectedLines } from './line-map.js';
import { type Source, sourceStem } from './source.js';
import { engineRejectTables, STAGED_TABLE } from './staging.js';

export const REJECTS_HEADER = 'line,column,reason,message,value';

/** A row the engine's CSV reader refused, known by the engine's own line number. */
interface EngineRejection {
  line: bigint;
  reason: RejectionReason;
  csv_line: string | null;
}

/** A row our checks refused, known by its ordinal among the records the engine accepted. */
interface ValueRejection {
  ordinal: bigint;
  reject_column: RequiredColumn | null;
  reject_reason: RejectionReason;
  reject_value: string | null;
}

export interface StagedRejections {
  engineRows: EngineRejection[];
  valueRows: ValueRejection[];
}

export type { EngineRejection, ValueRejection };

const ENGINE_REASONS: Record<string, RejectionReason> = {
  'MISSING COLUMNS': 'wrong_field_count',
  'TOO MANY COLUMNS': 'wrong_field_count',
  'INVALID ENCODING': 'invalid_utf8', // DuckDB 1.5
  'INVALID UNICODE': 'invalid_utf8', // earlier DuckDB
  'LINE SIZE OVER MAXIMUM': 'line_too_long',
};

/** The rejections of source number `index`, whose first staged row has rowid `firstRowid`. */
export async function collectRejections(
  engine: Engine,
  index: number,
  firstRowid: bigint,
): Promise<StagedRejections> {
  const engineRows = (
    await engine.rows<{ line: bigint; error_type: string; csv_line: string | null }>(
      `SELECT DISTINCT ON (line) line::BIGINT AS line, error_type, csv_line
       FROM ${engineRejectTables(index).errors} ORDER BY line`,
    )
  ).map((r) => ({
    line: r.line,
    reason: ENGINE_REASONS[r.error_type] ?? 'malformed_csv',
    csv_line: r.csv_line,
  }));
  const valueRows = await engine.rows<ValueRejection>(
    `SELECT rowid - ${firstRowid} AS ordinal, reject_column, reject_reason, reject_value
     FROM ${STAGED_TABLE} WHERE source_index = ${index} AND reject_reason IS NOT NULL ORDER BY rowid`,
  );
  return { engineRows, valueRows };
}

/** Turn the engine's view of the rejections into rows for the user, with physical source lines. */
export async function describeRejections(
  source: Source,
  { engineRows, valueRows }: StagedRejections,
  notice: (message: string) => void,
): Promise<RejectedRow[]> {
  const mapping = await mapRejectedLines(
    source,
    engineRows.map((r) => Number(r.line)),
    valueRows.map((r) => Number(r.ordinal)),
  );
  if (!mapping.complete) {
    notice(
      `could not map every rejected row of ${source.label} to its exact line; some line numbers are approximate`,
    );
  }
  const rows: RejectedRow[] = [
    ...engineRows.map((r) => ({
      line: mapping.byEngineLine.get(Number(r.line)) ?? Number(r.line),
      column: null,
      reason: r.reason,
      message: rejectionMessage(r.reason, null),
      // the engine's text of the row only when the scan did not find the row (an approximate line anyway)
      value:
        mapping.rawByEngineLine.get(Number(r.line)) ??
        (r.csv_line === null ? null : r.csv_line.replace(/^[\r\n]+|[\r\n]+$/g, '')),
    })),
    ...valueRows.map((r) => {
      const ordinal = Number(r.ordinal);
      return {
        line: mapping.byAcceptedOrdinal.get(ordinal) ?? ordinal + source.headerLine + 1,
        column: r.reject_column,
        reason: r.reject_reason,
        message: rejectionMessage(r.reject_reason, r.reject_column),
        value: r.reject_value,
      };
    }),
  ];
  return rows.sort((a, b) => a.line - b.line);
}

/** `<lake>/_txlake/rejects/<write id>-<source name>.rejects.csv` */
export function defaultRejectsPath(rejectsDir: string, writeId: string, source: Source): string {
  const base = source.label === 'stdin' ? 'stdin' : path.basename(sourceStem(source.label));
  return path.join(rejectsDir, `${writeId}-${base}.rejects.csv`);
}

function quoted(text: string): string {
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * One CSV field as bytes: text as UTF-8, raw bytes unchanged. Raw bytes are quoted through a latin1 view,
 * which maps each byte to one character and back, so bytes that are not UTF-8 survive.
 */
function csvField(value: string | number | Uint8Array | null): Buffer {
  if (value === null) return Buffer.alloc(0);
  if (value instanceof Uint8Array)
    return Buffer.from(quoted(Buffer.from(value).toString('latin1')), 'latin1');
  return Buffer.from(quoted(String(value)), 'utf8');
}

const COMMA = Buffer.from(',');
const LF = Buffer.from('\n');

function csvLine(values: ReadonlyArray<string | number | Uint8Array | null>): Buffer {
  return Buffer.concat(values.map(csvField).flatMap((field, i) => (i === 0 ? [field] : [COMMA, field])));
}

/** The rejects file's bytes: not always UTF-8 text, because a refused row is copied as it is in the source. */
export function formatRejects(rows: readonly RejectedRow[]): Buffer {
  const lines = [
    Buffer.from(REJECTS_HEADER),
    ...rows.map((r) => csvLine([r.line, r.column, r.reason, r.message, r.value])),
  ];
  return Buffer.concat(lines.flatMap((line) => [line, LF]));
}

export async function writeRejectsFile(file: string, rows: readonly RejectedRow[]): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, formatRejects(rows));
}
