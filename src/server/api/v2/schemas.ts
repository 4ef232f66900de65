// Schemas of the v2 routes. The handlers write their bodies themselves (exact integers as digits, rows as
// they are paged), so these describe the wire for the OpenAPI document, and the contract test checks
// every real answer against that document with a JSON Schema validator (ajv).

import { Type } from 'typebox';
import { LIMIT_DEFAULT, LIMIT_MAX } from '../../../domain/v2.js';

/** A JSON integer of any size: written as its exact digits, never through a double. */
function ExactInteger(options: { description?: string; examples?: unknown[]; minimum?: number }) {
  return Type.Unsafe<bigint>({ type: 'integer', ...options });
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String({
      description: 'about:blank: the status says what kind of problem it is',
      examples: ['about:blank'],
    }),
    title: Type.String({ description: "The HTTP status's phrase", examples: ['Bad Request'] }),
    status: Type.Integer({ minimum: 400, maximum: 599, examples: [400] }),
    detail: Type.String({
      description: 'What is wrong, in words a client can act on',
      examples: ['limit must be an integer from 1 to 1000, not "0"'],
    }),
    parameter: Type.Optional(
      Type.String({
        description: 'On a 400: the parameter at fault, as this document names it',
        examples: ['limit'],
      }),
    ),
  },
  {
    $id: 'ProblemV2',
    additionalProperties: false,
    description: 'An RFC 9457 problem document (application/problem+json)',
  },
);

const DATETIME = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$';
const DATE = '^[0-9]{4}-[0-9]{2}-[0-9]{2}$';

export const TransactionV2Schema = Type.Object(
  {
    user_id: ExactInteger({ minimum: 0, examples: [31373] }),
    datetime: Type.String({
      pattern: DATETIME,
      description: 'UTC, always six fractional digits and Z',
      examples: ['2023-03-25T11:31:26.215181Z'],
    }),
    transaction_type: Type.Union([Type.Literal('PurchaseActivity'), Type.Literal('ReturnActivity')]),
    merchant_type_code: Type.Integer({ minimum: 0, maximum: 9999, examples: [5310] }),
    amount_cents: ExactInteger({ description: 'Exact cents (all 64 bits)', examples: [74995] }),
  },
  { $id: 'TransactionV2', additionalProperties: false },
);

export const TransactionsPageSchema = Type.Object(
  {
    data: Type.Array(TransactionV2Schema),
    next_cursor: Type.Union([Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), Type.Null()], {
      description: 'Pass as `cursor` for the next page; null on the last page',
    }),
    snapshot: Type.Integer({ minimum: 1, description: 'The snapshot that answered', examples: [3] }),
  },
  { $id: 'TransactionsPage', additionalProperties: false },
);

export const DailyNetV2Schema = Type.Object(
  {
    date: Type.String({ pattern: DATE, description: 'The UTC day', examples: ['2023-03-30'] }),
    merchant_type_code: Type.Integer({ minimum: 0, maximum: 9999, examples: [5732] }),
    purchases_cents: ExactInteger({
      description: 'Sum of the purchases, exact at any size',
      examples: [104697],
    }),
    returns_cents: ExactInteger({ description: 'Sum of the returns, exact at any size', examples: [0] }),
    net_cents: ExactInteger({
      description: 'purchases_cents − returns_cents; may be negative',
      examples: [104697],
    }),
    purchases: Type.Integer({ minimum: 0, description: 'How many purchases', examples: [6] }),
    returns: Type.Integer({ minimum: 0, description: 'How many returns', examples: [0] }),
  },
  { $id: 'DailyNetV2', additionalProperties: false },
);

export const DailyNetPageSchema = Type.Object(
  {
    data: Type.Array(DailyNetV2Schema),
    snapshot: Type.Integer({ minimum: 1, examples: [3] }),
  },
  { $id: 'DailyNetPage', additionalProperties: false },
);

export const SnapshotEntrySchema = Type.Object(
  {
    id: Type.Integer({ minimum: 1, examples: [3] }),
    created: Type.String({
      description: 'Commit time, ISO 8601 UTC',
      examples: ['2026-12-03T09:12:44.120Z'],
    }),
    operation: Type.Union([Type.Literal('ingest'), Type.Literal('delete-user'), Type.Literal('rollback')]),
    mode: Type.Optional(
      Type.Union([Type.Literal('append'), Type.Literal('replace')], {
        description: "For an ingest: how its rows joined the previous snapshot's",
      }),
    ),
    rows: Type.Integer({ minimum: 0, examples: [500] }),
    current: Type.Boolean({ description: 'The snapshot answers come from when no snapshot is asked for' }),
  },
  { $id: 'SnapshotEntry', additionalProperties: false },
);

export const SnapshotListSchema = Type.Object(
  { data: Type.Array(SnapshotEntrySchema) },
  { $id: 'SnapshotList', additionalProperties: false },
);

export const UserParams = Type.Object({
  userId: Type.String({
    description: 'The user id: ASCII digits (an INT64; beyond it, no data)',
    examples: ['31373'],
  }),
});

export const CodeParams = Type.Object({
  code: Type.String({
    description: 'The ISO 18245 merchant category code: ASCII digits (beyond 9999, no data)',
    examples: ['5732'],
  }),
});

const snapshot = Type.Optional(
  Type.String({
    description:
      'Answer as of this retained snapshot (time travel; see /api/v2/snapshots). 410 once vacuumed, 404 if never committed',
    examples: ['1'],
  }),
);

export const TransactionsQuery = Type.Object({
  from: Type.Optional(
    Type.String({
      description:
        'Inclusive lower bound: RFC 3339 timestamp (no zone = UTC; ≤ 6 fractional digits) or YYYY-MM-DD (midnight UTC)',
      examples: ['2023-03-01'],
    }),
  ),
  to: Type.Optional(
    Type.String({ description: 'Exclusive upper bound, as `from`', examples: ['2023-04-01T00:00:00Z'] }),
  ),
  type: Type.Optional(Type.Union([Type.Literal('PurchaseActivity'), Type.Literal('ReturnActivity')])),
  merchant_type_code: Type.Optional(
    Type.String({ description: 'Only this merchant code (digits)', examples: ['5310'] }),
  ),
  limit: Type.Optional(
    Type.String({
      description: `Rows per page, 1–${LIMIT_MAX} (default ${LIMIT_DEFAULT})`,
      examples: ['100'],
    }),
  ),
  cursor: Type.Optional(
    Type.String({
      description: 'From `next_cursor`: carries the filters and the snapshot; only `limit` is read beside it',
    }),
  ),
  snapshot,
});

export const DailyNetQuery = Type.Object({
  from: Type.Optional(
    Type.String({ description: 'First day (inclusive), YYYY-MM-DD', examples: ['2023-03-01'] }),
  ),
  to: Type.Optional(
    Type.String({ description: 'Day after the last (exclusive), YYYY-MM-DD', examples: ['2023-04-01'] }),
  ),
  snapshot,
});

export const ExportQuery = Type.Object({
  format: Type.Union([Type.Literal('csv'), Type.Literal('ndjson'), Type.Literal('parquet')], {
    description:
      'csv (with a header line), ndjson (one transaction object per line) or parquet (the lake types)',
  }),
  snapshot,
});

export const SnapshotHeaders = {
  'x-txlake-snapshot': { type: 'integer', description: 'The snapshot that answered' },
  etag: { type: 'string', description: 'Strong; changes with the answering snapshot and the representation' },
  'cache-control': {
    type: 'string',
    description:
      'private, no-cache (current snapshot) or private, max-age=31536000, immutable (?snapshot= or a cursor)',
  },
  vary: { type: 'string', description: 'Accept: the representation depends on it' },
} as const;

/** The list of snapshots changes with a vacuum as well as a commit: it is never pinned. */
export const SnapshotListHeaders = {
  'x-txlake-snapshot': { type: 'integer', description: 'The current snapshot' },
  etag: { type: 'string', description: "Strong; the digest of the list's body" },
  'cache-control': { type: 'string', description: 'private, no-cache' },
  vary: { type: 'string', description: 'Accept' },
} as const;

export const PageLinkHeader = {
  link: {
    type: 'string',
    description: 'On a CSV page that has a next one: `<…?cursor=…&limit=…>; rel="next"` (RFC 8288)',
  },
} as const;

export const AttachmentHeader = {
  'content-disposition': {
    type: 'string',
    description: 'attachment; filename="txlake-user-{userId}-snapshot-{id}.{format}"',
  },
} as const;

/** Headers a problem comes with, by status. */
export const PROBLEM_HEADERS: Partial<Record<number, Record<string, { type: string; description: string }>>> =
  {
    405: { allow: { type: 'string', description: 'The methods the resource takes: GET, HEAD, OPTIONS' } },
    503: { 'retry-after': { type: 'integer', description: 'Seconds to wait before trying again' } },
  };

/** The problems every v2 data route can answer, by status. */
export const PROBLEMS = {
  400: 'A path id or parameter is wrong (`parameter` names it), or a parameter is given twice',
  404: 'The snapshot asked for (or named by the cursor) was never committed',
  406: 'No representation the Accept header allows',
  410: 'The snapshot asked for (or the cursor’s) is no longer retained (vacuumed)',
  503: 'No snapshot can be served yet, the snapshot cannot be read, or the database behind the server did not answer; Retry-After says when to try again',
} as const;

// The document's own components are copied as they are: a second `$id: ProblemV2` would make it ambiguous.
const { $id: _problemId, ...ProblemComponent } = ProblemSchema as typeof ProblemSchema & { $id?: string };

/**
 * Problems no operation can carry: a path under /api/v2 that names no resource, or a method a resource does
 * not take. Shared responses of the document (`x-status` says which status each one is answered with).
 */
export const SHARED_PROBLEM_RESPONSES = {
  V2NoSuchRoute: {
    'x-status': 404,
    description: 'Any path under /api/v2 that names no resource',
    content: { 'application/problem+json': { schema: ProblemComponent } },
  },
  V2MethodNotAllowed: {
    'x-status': 405,
    description: 'A method other than GET, HEAD or OPTIONS on a v2 resource; `Allow` lists the ones it takes',
    headers: {
      allow: {
        description: 'The methods the resource takes: GET, HEAD, OPTIONS',
        schema: { type: 'string' },
      },
    },
    content: { 'application/problem+json': { schema: ProblemComponent } },
  },
} as const;
