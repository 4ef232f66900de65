// Source line numbers for rejected rows, and a record count to check the engine against. The engine knows
// a rejected row by its accepted-record ordinal (a value error) or by its own line count, which ignores line
// breaks inside quotes (a CSV error). One sequential scan of the source replays the engine's record
// splitting and finds the physical line where each record starts, which is what a user opening the file
// sees. It runs only when there are rejections (or when the engine had to scan sequentially).

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Source } from './source.js';

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

interface RecordStart {
  /** Physical 1-based line where the record starts. */
  physicalLine: number;
  /** The engine's line number for it: line breaks inside quotes not counted. */
  engineLine: number;
}

interface WalkResult {
  /** The scan reached the end of the input (it was not stopped by the visitor, nor cut by a read error). */
  finished: boolean;
  /**
   * Physical line where a quoted field opened and never closed, when the open quote swallows later lines
   * (which may be rows); a quote left open on the last line hides nothing and is a rejected row instead.
   */
  unterminatedQuoteLine: number | null;
}

/**
 * Visit every non-empty record after the header, in order; the visitor returns false to stop early.
 * Quotes matter only at the start of a field and `""` inside a quoted field is a quote, as in RFC 4180.
 */
async function walkRecords(source: Source, visit: (record: RecordStart) => boolean): Promise<WalkResult> {
  let physicalLine = 1;
  let engineLine = 1;
  let inQuotes = false;
  let quoteOpenedOn = 0;
  let newlineInQuotes = false;
  let contentAfterQuotedNewline = false;
  let atFieldStart = true;
  let recordHasBytes = false;
  let recordStart: RecordStart = { physicalLine: 1, engineLine: 1 };
  let previousWasCr = false;
  let previousByte = -1;
  const firstRecordLine = source.headerLine + 1; // lines up to the header are not records

  const endRecord = (): boolean => {
    const keepGoing =
      recordHasBytes && recordStart.physicalLine >= firstRecordLine ? visit(recordStart) : true;
    recordHasBytes = false;
    atFieldStart = true;
    return keepGoing;
  };

  const raw = createReadStream(source.path, { highWaterMark: 1 << 20 });
  const stream = source.compression === 'gzip' ? raw.pipe(createGunzip()) : raw;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = 0; i < chunk.length; i++) {
        const byte = chunk[i] as number;
        const before = previousByte;
        previousByte = byte;
        if (byte === LF && previousWasCr) {
          previousWasCr = false;
          continue; // the LF of a CRLF: the CR already ended the line
        }
        previousWasCr = byte === CR;
        if (byte === LF || byte === CR) {
          physicalLine++;
          if (inQuotes) {
            newlineInQuotes = true;
            continue;
          }
          engineLine++;
          if (!endRecord()) return { finished: false, unterminatedQuoteLine: null };
          recordStart = { physicalLine, engineLine };
          continue;
        }
        if (inQuotes) {
          if (byte === QUOTE)
            inQuotes = false; // a doubled quote re-enters below, as RFC 4180 escaping
          else if (newlineInQuotes) contentAfterQuotedNewline = true;
          continue;
        }
        recordHasBytes = true;
        if (byte === QUOTE && (atFieldStart || before === QUOTE)) {
          if (atFieldStart) {
            quoteOpenedOn = physicalLine;
            newlineInQuotes = false;
            contentAfterQuotedNewline = false;
          }
          inQuotes = true; // a field's opening quote, or `""` inside a quoted field
          atFieldStart = false;
        } else {
          atFieldStart = byte === COMMA;
        }
      }
    }
  } catch {
    // An unreadable tail (a corrupt gzip member) is reported by the digest; here it only ends the scan.
    return { finished: false, unterminatedQuoteLine: null };
  } finally {
    raw.destroy();
  }
  if (!endRecord()) return { finished: false, unterminatedQuoteLine: null };
  return {
    finished: true,
    unterminatedQuoteLine: inQuotes && contentAfterQuotedNewline ? quoteOpenedOn : null,
  };
}

export interface LineMapping {
  /** Physical line of each rejected record, keyed by the engine's line number. */
  byEngineLine: Map<number, number>;
  /** Physical line of each wanted accepted record, keyed by its 0-based ordinal among accepted records. */
  byAcceptedOrdinal: Map<number, number>;
  /** False when the scan did not find every wanted record (the engine split the file differently). */
  complete: boolean;
}

export async function mapRejectedLines(
  source: Source,
  engineRejectedLines: readonly number[],
  wantedOrdinals: readonly number[],
): Promise<LineMapping> {
  const rejected = new Set(engineRejectedLines);
  const wanted = new Set(wantedOrdinals);
  const byEngineLine = new Map<number, number>();
  const byAcceptedOrdinal = new Map<number, number>();
  let remaining = rejected.size + wanted.size;
  let acceptedOrdinal = 0;
  if (remaining > 0) {
    await walkRecords(source, (record) => {
      if (rejected.has(record.engineLine)) {
        byEngineLine.set(record.engineLine, record.physicalLine);
        remaining--;
      } else {
        if (wanted.has(acceptedOrdinal)) {
          byAcceptedOrdinal.set(acceptedOrdinal, record.physicalLine);
          remaining--;
        }
        acceptedOrdinal++;
      }
      return remaining > 0;
    });
  }
  return { byEngineLine, byAcceptedOrdinal, complete: remaining === 0 };
}

export interface RecordCount {
  records: number;
  unterminatedQuoteLine: number | null;
}

/** Count the records of a source as RFC 4180 splits them, and find a quote left open at the end. */
export async function countRecords(source: Source): Promise<RecordCount> {
  let records = 0;
  const walk = await walkRecords(source, () => {
    records++;
    return true;
  });
  return { records, unterminatedQuoteLine: walk.unterminatedQuoteLine };
}
