// Header normalization (SPEC §1): names in any case, surrounded by spaces, quoted, in any order, with
// extra columns ignored but reported. Missing or duplicated required columns are file-level errors.

import { TxlakeError } from './errors.js';
import { REQUIRED_COLUMNS, type RequiredColumn } from './schema.js';

export interface ResolvedHeader {
  /** 0-based position of each required column in the source file. */
  positions: Record<RequiredColumn, number>;
  /** The names of the columns that are not required, as written in the file (ignored, reported). */
  extraColumns: string[];
  /** Number of fields the header declares; every row must have as many. */
  fieldCount: number;
}

/** Split one CSV line (the header) into fields, honouring RFC 4180 quotes. */
export function splitCsvLine(line: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
    } else {
      field += ch;
    }
  }
  fields.push(field);
  return fields;
}

/** The canonical form of a header name: trimmed and lower-cased. */
export function normalizeColumnName(name: string): string {
  return name.trim().toLowerCase();
}

/** Map the header fields of `sourceLabel` to the required columns, or throw a one-line input error. */
export function resolveHeader(fields: readonly string[], sourceLabel: string): ResolvedHeader {
  const seen = new Map<string, number>();
  const extraColumns: string[] = [];
  const positions: Partial<Record<RequiredColumn, number>> = {};
  fields.forEach((raw, index) => {
    const name = normalizeColumnName(raw);
    const earlier = seen.get(name);
    if (earlier !== undefined && name !== '') {
      throw new TxlakeError(
        'input',
        `column "${name}" appears twice in the header of ${sourceLabel} (columns ${earlier + 1} and ${index + 1})`,
      );
    }
    seen.set(name, index);
    if ((REQUIRED_COLUMNS as readonly string[]).includes(name)) {
      positions[name as RequiredColumn] = index;
    } else {
      extraColumns.push(raw.trim() === '' ? `(unnamed column ${index + 1})` : raw.trim());
    }
  });
  const missing = REQUIRED_COLUMNS.filter((column) => positions[column] === undefined);
  if (missing.length > 0) {
    const list = missing.map((column) => `"${column}"`).join(', ');
    const verb = missing.length === 1 ? 'is' : 'are';
    throw new TxlakeError(
      'input',
      `column${missing.length === 1 ? '' : 's'} ${list} ${verb} missing from header of ${sourceLabel}`,
    );
  }
  return { positions: positions as Record<RequiredColumn, number>, extraColumns, fieldCount: fields.length };
}
