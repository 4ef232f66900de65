// Source line numbers for rejected rows. The engine knows a rejected row by its accepted-record ordinal (a
// value error) or by its own line count, which ignores line breaks inside quotes (a CSV error). Only when
// there are rejections, one sequential scan of the source replays the engine's record splitting and maps
// both to the physical line where the record starts, which is what a user opening the file sees.

import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { Source } from './source.js';

export interface LineMapping {
  /** Physical line of each rejected record, keyed by the engine's line number. */
  byEngineLine: Map<number, number>;
  /** Physical line of each wanted accepted record, keyed by its 0-based ordinal among accepted records. */
  byAcceptedOrdinal: Map<number, number>;
  /** False when the scan did not find every wanted record (the engine split the file differently). */
  complete: boolean;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

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
  if (remaining === 0) return { byEngineLine, byAcceptedOrdinal, complete: true };

  let physicalLine = 1;
  let engineLine = 1;
  let inQuotes = false;
  let atFieldStart = true;
  let recordHasBytes = false;
  let recordPhysicalLine = 1;
  let recordEngineLine = 1;
  let previousWasCr = false;
  let previousByte = -1;
  let acceptedOrdinal = 0;
  // Lines up to and including the header are not records.
  const firstRecordLine = source.headerLine + 1;

  const endRecord = () => {
    if (recordHasBytes && recordPhysicalLine >= firstRecordLine) {
      if (rejected.has(recordEngineLine)) {
        byEngineLine.set(recordEngineLine, recordPhysicalLine);
        remaining--;
      } else {
        if (wanted.has(acceptedOrdinal)) {
          byAcceptedOrdinal.set(acceptedOrdinal, recordPhysicalLine);
          remaining--;
        }
        acceptedOrdinal++;
      }
    }
    recordHasBytes = false;
    atFieldStart = true;
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
          if (inQuotes) continue;
          engineLine++;
          endRecord();
          if (remaining === 0) return { byEngineLine, byAcceptedOrdinal, complete: true };
          recordPhysicalLine = physicalLine;
          recordEngineLine = engineLine;
          continue;
        }
        if (inQuotes) {
          if (byte === QUOTE) inQuotes = false; // a doubled quote re-enters below, as RFC 4180 escaping
          continue;
        }
        if (!recordHasBytes) recordHasBytes = true;
        if (byte === QUOTE && atFieldStart) {
          inQuotes = true;
          atFieldStart = false;
        } else if (byte === QUOTE && before === QUOTE) {
          inQuotes = true; // `""` inside a quoted field: still quoted
        } else {
          atFieldStart = byte === COMMA;
        }
      }
    }
    endRecord();
  } catch {
    // An unreadable tail (a corrupt gzip member) is reported by the digest; here it only ends the scan.
  } finally {
    raw.destroy();
  }
  return { byEngineLine, byAcceptedOrdinal, complete: remaining === 0 };
}
