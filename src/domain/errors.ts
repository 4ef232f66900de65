// Errors a user can cause, as values: a kind (which decides the exit code in cli/) and a message for that user.

export const ERROR_KINDS = [
  /** The input as a whole cannot be ingested (missing file, empty, bad header). */
  'input',
  /** Too many rows were rejected; nothing was committed. */
  'reject_rate',
  /** A flag or argument is wrong. */
  'usage',
  /** The lake is missing, locked by another writer, or damaged. */
  'lake',
  /** The lake operation stands, but ClickHouse could not be brought to it (SPEC §7): `clickhouse sync`. */
  'clickhouse',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class TxlakeError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TxlakeError';
    this.kind = kind;
  }
}

export function isTxlakeError(error: unknown): error is TxlakeError {
  return error instanceof TxlakeError;
}
