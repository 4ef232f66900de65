// API v1, wire-compatible with the old design (SPEC §4): translation between HTTP and the snapshot view.
// The store answers in exact terms; v1's rounding and truncation happen as its writers (native when
// built, else json.ts) write the JSON bytes, which are cached per snapshot. The route schemas describe
// the same bytes for OpenAPI.

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { answerFrom } from '../../../backends/store.js';
import { INT64_MAX, MERCHANT_CODE_MAX } from '../../../domain/schema.js';
import { parseV1Id } from '../../../domain/v1.js';
import { v1DailyNetJson } from './json.js';
import { releaseBody, v1TransactionsBody } from './native-writer.js';
import {
  ErrorBody,
  MerchantParams,
  UnavailableBody,
  UserIdParams,
  V1DailyNetSchema,
  V1TransactionSchema,
} from './schemas.js';

const EMPTY = Buffer.from('[]');

/** Send JSON bytes as they are (Fastify serializes objects only). */
function sendJson(reply: FastifyReply, body: Buffer): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(body);
}

export const v1Routes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/data/transactions/:userId',
    {
      schema: {
        summary: 'All transactions of a user',
        description:
          'In order of (datetime, transaction_type, merchant_type_code, amount_cents). Unknown ids answer [].',
        tags: ['v1'],
        params: UserIdParams,
        response: {
          200: Type.Array(V1TransactionSchema),
          304: Type.Null(),
          400: ErrorBody,
          503: UnavailableBody,
        },
      },
    },
    async (request, reply) => {
      // `/transactions/` names the collection, not a user: like the old service, no such route.
      if (request.params.userId === '') return reply.callNotFound();
      const id = parseV1Id(request.params.userId, INT64_MAX);
      if (id === null) return reply.code(400).send({ error: 'userId must be an integer' });
      const view = app.snapshotView(request, reply);
      if (view === null) return reply;
      if (id === 'absent') return sendJson(reply, EMPTY);
      const answer = await answerFrom(app.store, view, (v) =>
        app.answers.answer(
          v,
          `u${id}`,
          async () => v1TransactionsBody(await v.transactionsOfUser(id)),
          'transactions',
        ),
      );
      if (answer.view !== view) app.labelAnswer(reply, answer.view);
      // The body may be a slice of the writer's shared slab: give it back once the response is done.
      reply.raw.once('close', () => releaseBody(answer.value));
      return sendJson(reply, answer.value);
    },
  );

  app.get(
    '/data/netAmount/:merchantTypeCode',
    {
      schema: {
        summary: 'Daily net amount of a merchant category code',
        description:
          'One element per UTC day with any transaction of that code, days ascending. Unknown codes answer [].',
        tags: ['v1'],
        params: MerchantParams,
        response: {
          200: Type.Array(V1DailyNetSchema),
          304: Type.Null(),
          400: ErrorBody,
          503: UnavailableBody,
        },
      },
    },
    async (request, reply) => {
      if (request.params.merchantTypeCode === '') return reply.callNotFound();
      const code = parseV1Id(request.params.merchantTypeCode, BigInt(MERCHANT_CODE_MAX));
      if (code === null) return reply.code(400).send({ error: 'merchantTypeCode must be an integer' });
      const view = app.snapshotView(request, reply);
      if (view === null) return reply;
      if (code === 'absent') return sendJson(reply, EMPTY);
      const body = await app.answers.answer(
        view,
        `m${code}`,
        async () => v1DailyNetJson(await view.dailySumsOfMerchant(Number(code))),
        'daily_net',
      );
      return sendJson(reply, body);
    },
  );
};
