// Exit codes, in one place (SPEC §1, §3).

import type { ErrorKind } from '../domain/errors.js';

export const EXIT = {
  ok: 0,
  /** A bug or an unexpected failure (I/O error, engine error). */
  failure: 1,
  /** A file-level input problem or a usage error: nothing was committed. */
  inputError: 2,
  /** The share of rejected rows exceeded --max-reject-rate: nothing was committed. */
  tooManyRejects: 3,
  /** The lake is as the command left it, but ClickHouse is behind it: `txlake clickhouse sync` catches up. */
  clickhouseBehind: 4,
} as const;

export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'input':
    case 'usage':
      return EXIT.inputError;
    case 'reject_rate':
      return EXIT.tooManyRejects;
    case 'lake':
      return EXIT.failure;
    case 'clickhouse':
      return EXIT.clickhouseBehind;
  }
}
