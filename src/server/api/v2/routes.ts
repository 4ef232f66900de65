// API v2 (SPEC §4 "v2"): exact, filterable, pageable answers, time travel over the retained snapshots, and
// export. One implementation over the neutral store contract: it answers the same on every backend. The
// domain (domain/v2.ts) parses and writes; this layer picks the snapshot, negotiates the representation,
// labels the answer (X-Txlake-Snapshot, a strong ETag per representation, Cache-Control) and maps every
// error to an RFC 9457 problem.

import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import {
  answerFrom,
  BackendUnavailable,
  NoSuchSnapshot,
  SnapshotGone,
  SnapshotUnavailable,
  type SnapshotView,
  type TransactionStore,
} from '../../../backends/store.js';
import type { TransactionBatch } from '../../../domain/transaction-batch.js';
import {
  dailyNetJson,
  decodeCursor,
  encodeCursor,
  ParameterProblem,
  pageOf,
  parseDate,
  parseInstant,
  parseLimit,
  parseMerchantCode,
  parseMerchantFilter,
  parseSnapshotId,
  parseTransactionType,
  parseUserId,
  type TransactionFilter,
  transactionsPageCsv,
  transactionsPageJson,
} from '../../../domain/v2.js';
import { timedAsUnmatched } from '../../plugins/metrics.js';
import { matchesIfNoneMatch, snapshotTag, unservedReason } from '../../snapshot-answers.js';
import {
  DAILY_NET_JSON,
  EXPORT_CSV,
  EXPORT_NDJSON,
  SNAPSHOTS_JSON,
  TRANSACTIONS_CSV,
  TRANSACTIONS_JSON,
  TRANSACTIONS_PROBLEMS,
  type V2Example,
} from './examples.js';
import {
  EXPORT_FORMATS,
  EXPORT_MEDIA_TYPES,
  type ExportFormat,
  parquetExport,
  textExport,
} from './export.js';
import { negotiate } from './negotiation.js';
import { PROBLEM_TYPE, sendBackendUnavailable, sendProblem } from './problems.js';
import {
  AttachmentHeader,
  CodeParams,
  DailyNetPageSchema,
  DailyNetQuery,
  ExportQuery,
  PageLinkHeader,
  PROBLEM_HEADERS,
  PROBLEMS,
  ProblemSchema,
  SnapshotHeaders,
  SnapshotListHeaders,
  SnapshotListSchema,
  TransactionsPageSchema,
  TransactionsQuery,
  UserParams,
} from './schemas.js';

const JSON_TYPE = 'application/json; charset=utf-8';
const CSV_TYPE = 'text/csv; charset=utf-8';
const TRANSACTION_TYPES_OFFERED = ['application/json', 'text/csv'] as const;
const JSON_ONLY = ['application/json'] as const;

/** No representation the client accepts (406). */
class NotAcceptable extends Error {
  constructor(readonly offered: readonly string[]) {
    super(`this resource is available as ${offered.join(' or ')}; the Accept header allows none of them`);
  }
}

/** The store serves no snapshot yet (503). */
class NotServing extends Error {}

/**
 * The query string as the client wrote it: values percent-decoded but `+` kept (RFC 3986: a `+` in a
 * timestamp's zone is a plus, not a form's space); a parameter given twice is a 400; unknown ones are
 * ignored.
 */
function queryOf(request: FastifyRequest): Map<string, string> {
  const at = request.url.indexOf('?');
  const params = new Map<string, string>();
  if (at < 0) return params;
  for (const pair of request.url.slice(at + 1).split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(rawName);
      value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new ParameterProblem(
        rawName,
        `the query parameter "${rawName.slice(0, 40)}" is not valid percent-encoding`,
      );
    }
    if (params.has(name)) throw new ParameterProblem(name, `${name} is given more than once`);
    params.set(name, value);
  }
  return params;
}

/** The view an answer comes from: the current one, or a retained snapshot asked for by id (pinned). */
interface Answering {
  view: SnapshotView;
  pinned: boolean;
}

function notServing(store: TransactionStore): NotServing {
  return new NotServing(unservedReason(store));
}

async function resolveView(store: TransactionStore, snapshot: number | null): Promise<Answering> {
  if (snapshot === null) {
    const view = store.current();
    if (view === null) throw notServing(store);
    return { view, pinned: false };
  }
  if (!Number.isSafeInteger(snapshot) || snapshot < 1) throw new NoSuchSnapshot(snapshot);
  return { view: await store.viewOf(snapshot), pinned: true };
}

/**
 * Run `work` on the answering view. On the current view, a failure because the store moved on (a vacuum
 * removed its files) is answered from the newer view (answerFrom); a pinned view has no newer one: a
 * snapshot vacuumed under the request is a 410, any other failure stays what it is.
 */
async function onView<T>(
  store: TransactionStore,
  answering: Answering,
  work: (view: SnapshotView) => Promise<T>,
): Promise<{ view: SnapshotView; value: T }> {
  if (!answering.pinned) return answerFrom(store, answering.view, work);
  try {
    return { view: answering.view, value: await work(answering.view) };
  } catch (error) {
    if (!(error instanceof BackendUnavailable)) await store.viewOf(answering.view.id); // throws SnapshotGone
    throw error;
  }
}

const etags = new WeakMap<SnapshotView, Map<string, string>>();

/** A strong tag per snapshot (as v1's) and representation. */
function etagOf(view: SnapshotView, representation: string): string {
  let tags = etags.get(view);
  if (tags === undefined) {
    tags = new Map();
    etags.set(view, tags);
  }
  let tag = tags.get(representation);
  if (tag === undefined) {
    tag = `"${snapshotTag(view)}-v2${representation}"`;
    tags.set(representation, tag);
  }
  return tag;
}

/**
 * Name the snapshot that answered; true when the client's copy is current (the caller sends 304). A pinned
 * answer never changes (a retained snapshot is immutable); a current one is revalidated every time.
 * `private`: personal financial data stays out of shared caches.
 */
function label(
  request: FastifyRequest,
  reply: FastifyReply,
  answering: Answering,
  representation: string,
): boolean {
  const etag = etagOf(answering.view, representation);
  reply
    .header('x-txlake-snapshot', String(answering.view.id))
    .header('etag', etag)
    .header('vary', 'Accept')
    .header('cache-control', answering.pinned ? 'private, max-age=31536000, immutable' : 'private, no-cache');
  return matchesIfNoneMatch(request.headers['if-none-match'], etag);
}

/** The URL of the next CSV page, for `Link: <…>; rel="next"` (RFC 8288). */
function nextLink(request: FastifyRequest, cursor: string, limit: number): string {
  const path = request.url.split('?')[0] ?? request.url;
  return `<${path}?cursor=${cursor}&limit=${limit}>; rel="next"`;
}

function problemResponses(
  statuses: readonly (keyof typeof PROBLEMS)[],
  examples: Partial<Record<number, Record<string, V2Example>>> = {},
) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      {
        description: PROBLEMS[status],
        ...(PROBLEM_HEADERS[status] === undefined ? {} : { headers: PROBLEM_HEADERS[status] }),
        content: {
          [PROBLEM_TYPE]: {
            schema: ProblemSchema,
            ...(examples[status] === undefined ? {} : { examples: examples[status] }),
          },
        },
      },
    ]),
  );
}

/**
 * The handlers parse their path and query themselves (a problem naming the parameter, a repeated one
 * refused, `+` kept): the route schemas are for the OpenAPI document only, and validating them too would
 * cost every request an ajv pass for nothing.
 */
const documentedOnly = () => () => true;

const DATA_PROBLEMS = [400, 404, 406, 410, 503] as const;

export const v2Routes: FastifyPluginAsyncTypebox = async (app) => {
  const store = app.store;

  app.setNotFoundHandler(timedAsUnmatched(app), (request, reply) => {
    sendProblem(reply, 404, `no route for ${request.method} ${request.url.split('?')[0]}`);
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ParameterProblem) return sendProblem(reply, 400, error.message, error.parameter);
    if (error instanceof NotAcceptable) return sendProblem(reply, 406, error.message);
    if (error instanceof SnapshotGone) {
      return sendProblem(
        reply,
        410,
        `snapshot ${error.snapshot} is no longer retained (vacuum removed it); /api/v2/snapshots lists the retained ones`,
      );
    }
    if (error instanceof NoSuchSnapshot) {
      const which = Number.isSafeInteger(error.snapshot) ? `snapshot ${error.snapshot}` : 'that snapshot';
      return sendProblem(
        reply,
        404,
        `${which} was never committed; /api/v2/snapshots lists the retained ones`,
      );
    }
    if (error instanceof NotServing) return sendProblem(reply.header('retry-after', '1'), 503, error.message);
    if (error instanceof SnapshotUnavailable) {
      request.log.error({ problem: error.message }, 'answer refused: the snapshot cannot be read');
      return sendProblem(
        reply.header('retry-after', '1'),
        503,
        'the snapshot cannot be read: its files are damaged or changed on disk; see /readyz',
      );
    }
    if (error instanceof BackendUnavailable) return sendBackendUnavailable(request, reply, error);
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return sendProblem(reply, 500, `internal error; see the server log (request id ${request.id})`);
    }
    return sendProblem(reply, status, error.message);
  });

  app.get(
    '/users/:userId/transactions',
    {
      schema: {
        summary: "A user's transactions, exact, filtered and paged",
        description:
          'Ordered by (datetime, transaction_type, merchant_type_code, amount_cents). Walking `next_cursor` until ' +
          'it is null yields every matching row once, on the snapshot the walk began on. `Accept: text/csv` ' +
          'answers the page as CSV (next page in `Link`).',
        tags: ['v2'],
        params: UserParams,
        querystring: TransactionsQuery,
        response: {
          200: {
            description: 'A page of transactions',
            headers: { ...SnapshotHeaders, ...PageLinkHeader },
            content: {
              'application/json': { schema: TransactionsPageSchema, examples: TRANSACTIONS_JSON },
              'text/csv': {
                schema: { type: 'string', description: 'A header line, then a row per line (LF)' },
                examples: TRANSACTIONS_CSV,
              },
            },
          },
          304: { description: 'Not modified (If-None-Match)', type: 'null' },
          ...problemResponses(DATA_PROBLEMS, TRANSACTIONS_PROBLEMS),
        },
      },
      validatorCompiler: documentedOnly,
    },
    async (request, typedReply) => {
      // Bodies are written here, not by the schema's serializer: the reply is untyped.
      const reply = typedReply as FastifyReply;
      const userId = parseUserId(request.params.userId);
      const query = queryOf(request);
      const limit = parseLimit(query.get('limit'));
      const cursorText = query.get('cursor');
      let snapshot: number | null;
      let filter: TransactionFilter;
      let offset = 0;
      if (cursorText !== undefined) {
        const cursor = decodeCursor(cursorText);
        if (userId === 'absent' || cursor.userId !== userId)
          throw new ParameterProblem('cursor', 'cursor belongs to another user’s transactions');
        ({ snapshot, filter, offset } = cursor);
      } else {
        const from = query.get('from');
        const to = query.get('to');
        filter = {
          from: from === undefined ? null : parseInstant(from, 'from'),
          to: to === undefined ? null : parseInstant(to, 'to'),
          type: parseTransactionType(query.get('type')),
          merchantTypeCode: parseMerchantFilter(query.get('merchant_type_code')),
        };
        snapshot = parseSnapshotId(query.get('snapshot'));
      }
      const media = negotiate(request.headers.accept, TRANSACTION_TYPES_OFFERED);
      if (media === null) throw new NotAcceptable(TRANSACTION_TYPES_OFFERED);
      const csv = media === 'text/csv';
      const answering = await resolveView(store, snapshot);
      if (label(request, reply, answering, csv ? 'csv' : 'json')) return reply.code(304).send();
      const { view, value: batch } = await onView(store, answering, (v) =>
        userId === 'absent' ? Promise.resolve(null) : v.transactionsOfUser(userId),
      );
      if (view !== answering.view) label(request, reply, { view, pinned: false }, csv ? 'csv' : 'json');
      if (batch !== null) app.answers.sources.looked('transactions', view);
      const page = batch === null ? { rows: [], nextOffset: null } : pageOf(batch, filter, offset, limit);
      const next =
        page.nextOffset === null || userId === 'absent'
          ? null
          : encodeCursor({ snapshot: view.id, userId, filter, offset: page.nextOffset });
      const rows = batch ?? EMPTY_BATCH;
      if (csv) {
        if (next !== null) reply.header('link', nextLink(request, next, limit));
        return reply.type(CSV_TYPE).send(transactionsPageCsv(rows, page.rows));
      }
      return reply.type(JSON_TYPE).send(transactionsPageJson(rows, page.rows, next, view.id));
    },
  );

  app.get(
    '/merchant-types/:code/daily-net',
    {
      schema: {
        summary: 'Daily purchases, returns and net of a merchant category code',
        description:
          'One entry per UTC day with any transaction of that code, days ascending; sums exact at any size. Not paged.',
        tags: ['v2'],
        params: CodeParams,
        querystring: DailyNetQuery,
        response: {
          200: {
            description: 'The daily sums',
            headers: SnapshotHeaders,
            content: { 'application/json': { schema: DailyNetPageSchema, examples: DAILY_NET_JSON } },
          },
          304: { description: 'Not modified (If-None-Match)', type: 'null' },
          ...problemResponses(DATA_PROBLEMS),
        },
      },
      validatorCompiler: documentedOnly,
    },
    async (request, typedReply) => {
      // Bodies are written here, not by the schema's serializer: the reply is untyped.
      const reply = typedReply as FastifyReply;
      const code = parseMerchantCode(request.params.code);
      const query = queryOf(request);
      const fromText = query.get('from');
      const toText = query.get('to');
      const from = fromText === undefined ? null : parseDate(fromText, 'from');
      const to = toText === undefined ? null : parseDate(toText, 'to');
      const snapshot = parseSnapshotId(query.get('snapshot'));
      if (negotiate(request.headers.accept, JSON_ONLY) === null) throw new NotAcceptable(JSON_ONLY);
      const answering = await resolveView(store, snapshot);
      if (label(request, reply, answering, 'json')) return reply.code(304).send();
      const view = answering.view;
      // Daily nets are few and asked often (dashboards): kept by the answer cache, as v1's are; it holds
      // answers of the store's current view only, so a pinned view computes its own.
      const body = await app.answers.answer(
        view,
        `2d${code}|${from}|${to}`,
        async () =>
          dailyNetJson(code === 'absent' ? [] : await view.dailySumsOfMerchant(code), from, to, view.id),
        code === 'absent' ? undefined : 'daily_net',
      );
      return reply.type(JSON_TYPE).send(body);
    },
  );

  app.get(
    '/users/:userId/export',
    {
      schema: {
        summary: "All of a user's transactions as a download (data portability)",
        description:
          'Streamed, with Content-Disposition: attachment. CSV and NDJSON rows as in the JSON answers; Parquet ' +
          'with the lake’s five columns and types.',
        tags: ['v2'],
        params: UserParams,
        querystring: ExportQuery,
        response: {
          200: {
            description: 'The user’s rows',
            headers: { ...SnapshotHeaders, ...AttachmentHeader },
            content: {
              'text/csv': { schema: { type: 'string' }, examples: EXPORT_CSV },
              'application/x-ndjson': { schema: { type: 'string' }, examples: EXPORT_NDJSON },
              'application/vnd.apache.parquet': { schema: { type: 'string', format: 'binary' } },
            },
          },
          304: { description: 'Not modified (If-None-Match)', type: 'null' },
          ...problemResponses([400, 404, 410, 503]),
        },
      },
      validatorCompiler: documentedOnly,
    },
    async (request, typedReply) => {
      // Bodies are written here, not by the schema's serializer: the reply is untyped.
      const reply = typedReply as FastifyReply;
      const userId = parseUserId(request.params.userId);
      const query = queryOf(request);
      const formatText = query.get('format');
      if (formatText === undefined || !(EXPORT_FORMATS as readonly string[]).includes(formatText)) {
        throw new ParameterProblem(
          'format',
          `format must be csv, ndjson or parquet${formatText === undefined ? ' (it is missing)' : ''}`,
        );
      }
      const format = formatText as ExportFormat;
      const answering = await resolveView(store, parseSnapshotId(query.get('snapshot')));
      if (label(request, reply, answering, format)) return reply.code(304).send();
      const { view, value: batch } = await onView(store, answering, (v) =>
        userId === 'absent' ? Promise.resolve(EMPTY_BATCH) : v.transactionsOfUser(userId),
      );
      if (view !== answering.view) label(request, reply, { view, pinned: false }, format);
      if (userId !== 'absent') app.answers.sources.looked('transactions', view);
      const name = `txlake-user-${userId === 'absent' ? 'none' : userId}-snapshot-${view.id}.${format}`;
      reply.type(EXPORT_MEDIA_TYPES[format]).header('content-disposition', `attachment; filename="${name}"`);
      return reply.send(format === 'parquet' ? await parquetExport(batch) : textExport(batch, format));
    },
  );

  app.get(
    '/snapshots',
    {
      schema: {
        summary: 'The retained snapshots, newest first (time travel: pass an id as ?snapshot=)',
        tags: ['v2'],
        response: {
          200: {
            description: 'The retained snapshots',
            headers: SnapshotListHeaders,
            content: { 'application/json': { schema: SnapshotListSchema, examples: SNAPSHOTS_JSON } },
          },
          304: { description: 'Not modified (If-None-Match)', type: 'null' },
          ...problemResponses([406, 503]),
        },
      },
    },
    async (request, typedReply) => {
      // Bodies are written here, not by the schema's serializer: the reply is untyped.
      const reply = typedReply as FastifyReply;
      if (negotiate(request.headers.accept, JSON_ONLY) === null) throw new NotAcceptable(JSON_ONLY);
      // Before the first commit there may be no lake to list at all: as unready as every other v2 route.
      const current = store.current();
      if (current === null) throw notServing(store);
      const list = await store.snapshots();
      const data = list.map((s) =>
        JSON.stringify({
          id: s.id,
          created: s.created,
          operation: s.operation,
          ...(s.mode === null ? {} : { mode: s.mode }),
          rows: s.rows,
          current: s.current,
        }),
      );
      const body = `{"data":[${data.join(',')}]}`;
      // The list changes with a vacuum as well as a commit: the tag is the body's own digest.
      const etag = `"txlake-snapshots-${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
      reply
        .header('x-txlake-snapshot', String((store.current() ?? current).id))
        .header('etag', etag)
        .header('vary', 'Accept')
        .header('cache-control', 'private, no-cache');
      if (matchesIfNoneMatch(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return reply.type(JSON_TYPE).send(body);
    },
  );
};

const EMPTY_BATCH: TransactionBatch = {
  userId: 0n,
  start: 0,
  end: 0,
  transactionType: new Uint8Array(0),
  merchantTypeCode: new Uint16Array(0),
  amountCents: new BigInt64Array(0),
  epochMicros: new BigInt64Array(0),
};
