// Is a source UTF-8 text, the only encoding txlake reads (SPEC §1)? Decided from its first bytes, once per
// file: a UTF-16/32 byte-order mark, NUL bytes in the header line (UTF-16/32 text without a mark) or a
// header line UTF-8 cannot decode. Read as UTF-8 such a file would only show a header of unknown columns.
// Rows are the engine's to check, one by one (a bad one is an `invalid_utf8` reject).

import { TxlakeError } from './errors.js';

/** UTF-16/32 as iconv names them: the plain name when a byte-order mark tells iconv the byte order. */
export type WideEncoding = 'UTF-16' | 'UTF-32' | 'UTF-16LE' | 'UTF-16BE' | 'UTF-32LE' | 'UTF-32BE';

export type EncodingProblem =
  /** UTF-16 or UTF-32 text, known by its byte-order mark or by the NUL bytes of its header line. */
  | { kind: 'wide'; encoding: WideEncoding; evidence: 'byte-order mark' | 'NUL bytes' }
  /** NUL bytes in the header line in no UTF-16/32 pattern. */
  | { kind: 'nul_bytes' }
  /** A header line that is not valid UTF-8 (Latin-1 or Windows-1252 text, say). */
  | { kind: 'not_utf8' };

/** The UTF-8 byte-order mark, which txlake accepts and skips. */
export const UTF8_BOM: readonly number[] = [0xef, 0xbb, 0xbf];

const WIDE_BYTE_ORDER_MARKS: ReadonlyArray<[readonly number[], WideEncoding]> = [
  [[0xff, 0xfe, 0x00, 0x00], 'UTF-32'], // before UTF-16's FF FE, its first two bytes
  [[0x00, 0x00, 0xfe, 0xff], 'UTF-32'],
  [[0xff, 0xfe], 'UTF-16'],
  [[0xfe, 0xff], 'UTF-16'],
];

export function startsWithBytes(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((byte, i) => bytes[i] === byte);
}

/** The wide encoding whose NUL pattern the first characters of `line` have (ASCII in 2 or 4 bytes). */
function wideEncodingByNuls(line: Uint8Array): WideEncoding | null {
  const [a, b, c, d] = [line[0], line[1], line[2], line[3]];
  if (a !== 0 && b === 0 && c === 0 && d === 0) return 'UTF-32LE';
  if (a === 0 && b === 0 && c === 0 && d !== undefined && d !== 0) return 'UTF-32BE';
  if (a !== 0 && b === 0) return 'UTF-16LE';
  if (a === 0 && b !== undefined && b !== 0) return 'UTF-16BE';
  return null;
}

/**
 * Why a source that starts with `start` and has the header line `headerLine` (its bytes without the line
 * end or a UTF-8 byte-order mark) is not UTF-8 text, or null when it is. `headerComplete` is false when the
 * header line was cut off by the end of the bytes read, which may split its last character.
 */
export function encodingProblem(
  start: Uint8Array,
  headerLine: Uint8Array,
  headerComplete: boolean,
): EncodingProblem | null {
  for (const [mark, encoding] of WIDE_BYTE_ORDER_MARKS) {
    if (startsWithBytes(start, mark)) return { kind: 'wide', encoding, evidence: 'byte-order mark' };
  }
  if (headerLine.includes(0)) {
    const encoding = wideEncodingByNuls(headerLine);
    return encoding ? { kind: 'wide', encoding, evidence: 'NUL bytes' } : { kind: 'nul_bytes' };
  }
  try {
    // streamed, a character split by the end of the bytes read is kept for later rather than refused
    new TextDecoder('utf-8', { fatal: true }).decode(headerLine, { stream: !headerComplete });
    return null;
  } catch {
    return { kind: 'not_utf8' };
  }
}

/** How to name a source in an error, and in a command that converts it. */
export interface SourceNaming {
  label: string;
  /** The label without `.csv`/`.gz`: the converted file is `<stem>-utf8.csv`. */
  stem: string;
  gzipped: boolean;
  /** Read from a stream (stdin, a pipe): there is no file to name in a command. */
  spooled: boolean;
  headerLine: number;
}

function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A command that converts the source from `encoding` to UTF-8, to paste into a shell. */
function conversionExample(encoding: string, { label, stem, gzipped, spooled }: SourceNaming): string {
  const iconv = `iconv -f ${encoding} -t UTF-8`;
  if (spooled) return `by piping it through ${gzipped ? 'gzip -dc | ' : ''}${iconv}`;
  const input = shellWord(label);
  return `with ${gzipped ? `gzip -dc ${input} | ${iconv}` : `${iconv} ${input}`} > ${shellWord(`${stem}-utf8.csv`)}`;
}

/** The one-line error for a source that is not UTF-8 text: what it is instead, and how to convert it. */
export function notUtf8Error(problem: EncodingProblem, naming: SourceNaming): TxlakeError {
  const { label, headerLine } = naming;
  const fix = 'txlake reads UTF-8: convert it first';
  switch (problem.kind) {
    case 'wide': {
      const what =
        problem.evidence === 'byte-order mark'
          ? `${label} is ${problem.encoding} text`
          : `${label} looks like ${problem.encoding} text (its header line holds NUL bytes)`;
      return new TxlakeError(
        'input',
        `${what}; ${fix}, for example ${conversionExample(problem.encoding, naming)}`,
      );
    }
    case 'nul_bytes':
      return new TxlakeError(
        'input',
        `${label} is not UTF-8 text: its header (line ${headerLine}) holds NUL bytes; ${fix}`,
      );
    case 'not_utf8':
      // the likeliest other encoding of a CSV export, as an example
      return new TxlakeError(
        'input',
        `${label} is not UTF-8 text: its header (line ${headerLine}) is not valid UTF-8; ${fix}, for example ` +
          `from Windows-1252 (Latin-1) ${conversionExample('WINDOWS-1252', naming)}`,
      );
  }
}
