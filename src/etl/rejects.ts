// The rejects file: one CSV line per rejected source row (line, column, reason, message, value), so that
// nothing is dropped silently and the user can fix the rows and ingest them again.

import fs from 'node:fs/promises';
import path from 'node:path';
import type { RejectedRow } from '../domain/rejection.js';

export const REJECTS_HEADER = 'line,column,reason,message,value';

function csvField(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) || text !== text.trim() ? `"${text.replaceAll('"', '""')}"` : text;
}

export function formatRejects(rows: readonly RejectedRow[]): string {
  const lines = rows.map((r) => [r.line, r.column, r.reason, r.message, r.value].map(csvField).join(','));
  return `${[REJECTS_HEADER, ...lines].join('\n')}\n`;
}

export async function writeRejectsFile(file: string, rows: readonly RejectedRow[]): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, formatRejects(rows));
}
