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
