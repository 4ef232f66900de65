// Schemas of the v1 routes: they validate the path, serialize the answers (in the wire's key order) and
// become the OpenAPI document, so the three can never disagree.

import { Type } from 'typebox';

/** A JSON integer that may exceed 2^53: handlers give bigint, the serializer writes its exact digits. */
function BigInteger(options: { description?: string; examples?: number[] }) {
  return Type.Unsafe<bigint>({ type: 'integer', ...options });
}

export const ErrorBody = Type.Object(
  { error: Type.String({ description: 'What is wrong with the request' }) },
  { $id: 'V1Error', description: 'A client error, as the old design answered it' },
);

/** An RFC 9457 problem: what a 503 is when the engine behind the store does not answer (SPEC §7). */
export const ProblemBody = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
  },
  { $id: 'Problem', description: 'An RFC 9457 problem document (application/problem+json)' },
);

/** A 503: no snapshot to answer from (v1's error body), or the backend did not answer (a problem). */
export const UnavailableBody = Type.Union([ErrorBody, ProblemBody], {
  description:
    'No snapshot can answer yet ({error}), or the database behind the server did not answer in time (a problem); Retry-After says when to try again',
});

/** A path id: validated by the handler (not the schema) so that the error body is v1's own. */
export const UserIdParams = Type.Object({
  userId: Type.String({ description: 'The user id: ASCII digits (an INT64)', examples: ['31373'] }),
});

export const MerchantParams = Type.Object({
  merchantTypeCode: Type.String({
    description: 'The ISO 18245 merchant category code: ASCII digits',
    examples: ['5732'],
  }),
});

export const V1TransactionSchema = Type.Object(
  {
    user_id: BigInteger({ examples: [31373] }),
    amount_in_dollars: BigInteger({
      description: 'amount_cents / 100 rounded half to even',
      examples: [750],
    }),
    datetime: Type.String({
      description: 'UTC time truncated to the second, YYYY-MM-DDTHH:MM:SS+00:00',
      examples: ['2023-03-25T11:31:26+00:00'],
    }),
    merchant_type_code: Type.Integer({ examples: [5310] }),
  },
  { $id: 'V1Transaction' },
);

export const V1DailyNetSchema = Type.Object(
  {
    merchant_type_code: Type.Integer({ examples: [5732] }),
    net_amount_in_dollars: BigInteger({
      description: '(purchases − returns) of the day in cents / 100, rounded half to even; may be negative',
      examples: [1047],
    }),
    date: Type.String({ description: 'The UTC day, YYYY-MM-DD', examples: ['2023-03-30'] }),
  },
  { $id: 'V1DailyNet' },
);
