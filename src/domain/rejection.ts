// Why a row is rejected: the closed list of reasons, each with the sentence a user reads in the rejects file.

import { INT64_MAX, MERCHANT_CODE_MAX, type RequiredColumn, TRANSACTION_TYPES } from './schema.js';

/** The longest row read; a longer one is rejected rather than read into memory whole. */
export const MAX_ROW_BYTES = 1_048_576;

export const REJECTION_REASONS = [
  'wrong_field_count',
  'malformed_csv',
  'invalid_utf8',
  'line_too_long',
  'empty',
  'not_an_integer',
  'out_of_range',
  'unknown_transaction_type',
  'unparsable_datetime',
  'impossible_datetime',
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/** One rejected source row: where it is, which column is wrong, why, and the row as read. */
export interface RejectedRow {
  /** 1-based line of the source file on which the row starts (the header is line 1). */
  line: number;
  /** The offending column, or null when the row as a whole is malformed. */
  column: RequiredColumn | null;
  reason: RejectionReason;
  /** A sentence for the user: what is wrong with the value. */
  message: string;
  /**
   * The offending value as read; for a row the CSV reader refused (malformed, not UTF-8, too many fields),
   * the row's bytes exactly as in the source, which need not be text, so that the user can repair it.
   */
  value: string | Uint8Array | null;
}

const RANGE_TEXT: Record<RequiredColumn, string> = {
  user_id: `an integer from 0 to ${INT64_MAX}`,
  merchant_type_code: `an integer from 0 to ${MERCHANT_CODE_MAX}`,
  amount_cents: `an integer from 0 to ${INT64_MAX}`,
  transaction_type: TRANSACTION_TYPES.join(' or '),
  datetime: 'an ISO 8601 date and time such as 2023-03-25T11:31:26.616360 (optionally with Z or +02:00)',
};

/** The message shown in the rejects file for a reason on a column. */
export function rejectionMessage(reason: RejectionReason, column: RequiredColumn | null): string {
  const expected = column ? RANGE_TEXT[column] : '';
  switch (reason) {
    case 'wrong_field_count':
      return 'the row does not have as many fields as the header';
    case 'malformed_csv':
      return 'the row is not valid CSV (a quote is not closed, or stray text follows a closing quote)';
    case 'invalid_utf8':
      return 'the row is not valid UTF-8 text';
    case 'line_too_long':
      return `the row is longer than ${MAX_ROW_BYTES} bytes`;
    case 'empty':
      return `${column} is empty; expected ${expected}`;
    case 'not_an_integer':
      return `${column} is not an integer of decimal digits; expected ${expected}`;
    case 'out_of_range':
      return `${column} is out of range; expected ${expected}`;
    case 'unknown_transaction_type':
      return `transaction_type is not one of ${expected}`;
    case 'unparsable_datetime':
      return `datetime is not ${expected}`;
    case 'impossible_datetime':
      return 'datetime names a date or time that does not exist (such as 30 February or 25:00)';
  }
}
