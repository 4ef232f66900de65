// Parsing of numeric flags shared by the commands: a user error names the flag and what it accepts.

import { TxlakeError } from '../domain/errors.js';

/**
 * A whole-number flag: decimal digits, `_` allowed between them (`10_000_000`), within [min, max].
 * Shared by the commands that take counts (generate, bench).
 */
export function parseIntegerFlag(flag: string, text: string, min: number, max: number): number {
  const digits = text.trim();
  const value = /^[0-9]+(_[0-9]+)*$/.test(digits) ? Number(digits.replaceAll('_', '')) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new TxlakeError('usage', `${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** A memory size flag: bytes, or a number with a unit (`512MB`, `1.5GiB`; units are binary, as DuckDB's). */
export function parseByteSize(flag: string, text: string): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? SIZE_UNITS[(match[2] ?? '').toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new TxlakeError('usage', `${flag} must be a size such as 512MB or 2GB, got "${text}"`);
  }
  return Math.floor(Number(match[1]) * unit);
}
