// Source line numbers for rejected rows, and a record count to check the engine against. The engine knows
// a rejected row by its accepted-record ordinal (a value error) or by its own line count, which ignores line
// breaks inside quotes (a CSV error). One sequential scan of the source replays the engine's record
// splitting and finds the physical line where each record starts, which is what a user opening the file
// sees. It runs only when there are rejections (or when the engine had to scan sequentially), and on the
// way copies the bytes of the records the engine refused: the engine's copy of such a row is not the row
// (it replaces bytes that are not UTF-8 and changes quoted line breaks), and a user repairs the real one.

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

/** Gathers the bytes of the current record across the chunks of the input, when they are wanted. */
class RecordBytes {
  private parts: Buffer[] | null = null;
  private from = 0;

  /** A wanted record starts at byte `at` of the current chunk. */
  begin(at: number): void {
    this.parts = [];
    this.from = at;
  }

  /** The current chunk ends: keep what of the record it holds. */
  endChunk(chunk: Buffer): void {
    if (this.parts === null) return;
    this.parts.push(chunk.subarray(this.from));
    this.from = 0;
  }

  /** The record ends before byte `at` of `chunk`, or with the input (no chunk): its bytes, if wanted. */
  take(chunk?: Buffer, at?: number): Buffer | null {
    const parts = this.parts;
    if (parts === null) return null;
    if (chunk) parts.push(chunk.subarray(this.from, at));
    this.parts = null;
    return Buffer.concat(parts);
  }
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
 * Visit every non-empty record after the header, in order; the visitor returns false to stop early. A
 * record whose engine line is in `rawWanted` comes with its bytes, without its line end (else null).
 * Quotes matter only at the start of a field and `""` inside a quoted field is a quote, as in RFC 4180.
 */
async function walkRecords(
  source: Source,
  visit: (record: RecordStart, bytes: Buffer | null) => boolean,
  rawWanted: ReadonlySet<number> = new Set(),
): Promise<WalkResult> {
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
  const rawBytes = new RecordBytes();

  const endRecord = (bytes: Buffer | null): boolean => {
    const keepGoing =
      recordHasBytes && recordStart.physicalLine >= firstRecordLine ? visit(recordStart, bytes) : true;
    recordHasBytes = false;
    atFieldStart = true;
    return keepGoing;
  };
  const wantsRaw = () => recordStart.physicalLine >= firstRecordLine && rawWanted.has(recordStart.engineLine);

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
          if (!endRecord(rawBytes.take(chunk, i))) return { finished: false, unterminatedQuoteLine: null };
          recordStart = { physicalLine, engineLine };
          continue;
        }
        if (inQuotes) {
          if (byte === QUOTE)
            inQuotes = false; // a doubled quote re-enters below, as RFC 4180 escaping
          else if (newlineInQuotes) contentAfterQuotedNewline = true;
          continue;
        }
        if (!recordHasBytes && wantsRaw()) rawBytes.begin(i); // a record's first byte is never quoted
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
      rawBytes.endChunk(chunk);
    }
  } catch {
    // An unreadable tail (a corrupt gzip member) is reported by the digest; here it only ends the scan.
    return { finished: false, unterminatedQuoteLine: null };
  } finally {
    raw.destroy();
  }
  // A quote left open on the last line holds that line's end; it is not part of the row.
  const lastRaw = rawBytes.take();
  if (!endRecord(inQuotes && lastRaw ? withoutTrailingLineEnds(lastRaw) : lastRaw)) {
    return { finished: false, unterminatedQuoteLine: null };
  }
  return {
    finished: true,
    unterminatedQuoteLine: inQuotes && contentAfterQuotedNewline ? quoteOpenedOn : null,
  };
}

function withoutTrailingLineEnds(raw: Buffer): Buffer {
  let end = raw.length;
  while (end > 0 && (raw[end - 1] === LF || raw[end - 1] === CR)) end--;
  return raw.subarray(0, end);
}

export interface LineMapping {
  /** Physical line of each rejected record, keyed by the engine's line number. */
  byEngineLine: Map<number, number>;
  /** The bytes of each rejected record as in the source, without its line end, keyed likewise. */
  rawByEngineLine: Map<number, Buffer>;
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
  const rawByEngineLine = new Map<number, Buffer>();
  const byAcceptedOrdinal = new Map<number, number>();
  let remaining = rejected.size + wanted.size;
  let acceptedOrdinal = 0;
  if (remaining > 0) {
    await walkRecords(
      source,
      (record, bytes) => {
        if (rejected.has(record.engineLine)) {
          byEngineLine.set(record.engineLine, record.physicalLine);
          if (bytes) rawByEngineLine.set(record.engineLine, bytes);
          remaining--;
        } else {
          if (wanted.has(acceptedOrdinal)) {
            byAcceptedOrdinal.set(acceptedOrdinal, record.physicalLine);
            remaining--;
          }
          acceptedOrdinal++;
        }
        return remaining > 0;
      },
      rejected,
    );
  }
  return { byEngineLine, rawByEngineLine, byAcceptedOrdinal, complete: remaining === 0 };
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
