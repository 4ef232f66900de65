// A small deterministic CSV writer for test files, with the knobs real files vary by (SPEC §1):
// CRLF, BOM, quoted fields, header case/spaces/order, extra columns, padded values, no final newline.

import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { REQUIRED } from './oracle.js';

/** One source row as text, exactly as it will be written (before quoting). */
export interface TxRow {
  user_id: string;
  transaction_type: string;
  merchant_type_code: string;
  amount_cents: string;
  datetime: string;
}

export interface ExtraColumn {
  name: string;
  /** 0-based position among the written columns. */
  at: number;
  value: (rowIndex: number) => string;
}

export interface CsvOptions {
  crlf?: boolean;
  bom?: boolean;
  /** 'needed': only fields with `,` `"` CR LF; 'all': every field; 'alternate': every other field too. */
  quote?: 'needed' | 'all' | 'alternate';
  /** Order of the required columns (default: the SPEC order). */
  columns?: readonly string[];
  /** Rewrites each header name as written (case, spaces). */
  headerName?: (name: string, index: number) => string;
  extraColumns?: readonly ExtraColumn[];
  /** Surround every value with spaces (values are trimmed before validation). */
  padValues?: boolean;
  /** Default true. */
  finalNewline?: boolean;
}

export function csvField(value: string, forceQuote = false): string {
  if (forceQuote || /[",\r\n]/.test(value)) return `"${value.replaceAll('"', '""')}"`;
  return value;
}

/** The text of a CSV file of `rows` written with `options`. */
export function csvText(rows: readonly TxRow[], options: CsvOptions = {}): string {
  const columns = [...(options.columns ?? REQUIRED)];
  const names: string[] = [...columns];
  const extras = [...(options.extraColumns ?? [])].sort((a, b) => a.at - b.at);
  for (const extra of extras) names.splice(extra.at, 0, extra.name);
  const eol = options.crlf ? '\r\n' : '\n';
  const quote = options.quote ?? 'needed';
  const line = (values: string[]) =>
    values.map((v, i) => csvField(v, quote === 'all' || (quote === 'alternate' && i % 2 === 0))).join(',');
  const headerNames = names.map((n, i) => (options.headerName ? options.headerName(n, i) : n));
  const lines = [line(headerNames)];
  rows.forEach((row, rowIndex) => {
    const values: string[] = columns.map((c) => {
      const v = (row as unknown as Record<string, string>)[c] ?? '';
      return options.padValues ? `  ${v} ` : v;
    });
    for (const extra of extras) values.splice(extra.at, 0, extra.value(rowIndex));
    lines.push(line(values));
  });
  const body = lines.join(eol) + (options.finalNewline === false ? '' : eol);
  return options.bom ? `\uFEFF${body}` : body;
}

/** The plain SPEC-order CSV text of rows, each row given as its five fields. */
export function plainCsv(rows: readonly TxRow[]): string {
  return csvText(rows);
}

/** Write text to `file`, gzipped when the name ends with `.gz`. */
export function writeCsvFile(file: string, text: string): string {
  writeFileSync(file, file.endsWith('.gz') ? gzipSync(Buffer.from(text, 'utf8')) : text);
  return file;
}

/** Build a CSV text from raw lines (for bad input), joined by `eol` with a final newline. */
export function rawCsv(lines: readonly string[], eol = '\n'): string {
  return lines.join(eol) + eol;
}

export type ByteOrder = 'LE' | 'BE';

/** `text` in UTF-16 (as iconv or Excel writes it), with a byte-order mark when `bom`. */
export function utf16(text: string, order: ByteOrder, bom = true): Buffer {
  const littleEndian = Buffer.from(`${bom ? '\uFEFF' : ''}${text}`, 'utf16le');
  return order === 'LE' ? littleEndian : littleEndian.swap16();
}

/** `text` in UTF-32, with a byte-order mark when `bom`. */
export function utf32(text: string, order: ByteOrder, bom = true): Buffer {
  const points = [...`${bom ? '\uFEFF' : ''}${text}`].map((c) => c.codePointAt(0) as number);
  const out = Buffer.alloc(4 * points.length);
  for (const [i, p] of points.entries()) {
    if (order === 'LE') out.writeUInt32LE(p, 4 * i);
    else out.writeUInt32BE(p, 4 * i);
  }
  return out;
}
