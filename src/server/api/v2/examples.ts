// The examples /docs shows for API v2: real answers of the repository's sample
// (examples/combined_transactions.csv, ingested into a new lake: snapshot 1), user 31373 and merchant code
// 5732 as in the SPEC. test/contract/openapi-v2-examples.test.ts asks each `x-txlake-request` of a lake made
// from the sample and compares the answer with its example byte for byte (but for snapshot ids and times,
// which depend on the lake's history).

/** An OpenAPI Example Object, with the request that answers it. */
export interface V2Example {
  summary: string;
  value: unknown;
  /** The request; Accept is a 200's media type (a problem's: none) unless `accept` says otherwise. */
  'x-txlake-request': { url: string; accept?: string };
}

type Examples = Record<string, V2Example>;

/** User 31373's transactions in the sample, in the answers' order. */
const USER_31373 = [
  ['2023-03-25T11:31:26.215181Z', 74995],
  ['2023-04-15T12:04:02.616360Z', 107700],
  ['2023-05-05T01:39:43.113273Z', 143600],
  ['2023-05-07T23:17:53.076217Z', 143600],
  ['2023-05-11T18:13:39.995495Z', 143600],
  ['2023-05-12T02:13:25.694068Z', 71800],
  ['2023-05-12T02:13:32.307815Z', 71800],
  ['2023-05-14T18:13:24.637292Z', 71800],
].map(([datetime, amount]) => ({
  user_id: 31373,
  datetime: datetime as string,
  transaction_type: 'PurchaseActivity',
  merchant_type_code: 5310,
  amount_cents: amount as number,
}));

type Row = (typeof USER_31373)[number];

const CSV_HEADER = 'user_id,datetime,transaction_type,merchant_type_code,amount_cents\n';
const csvOf = (rows: readonly Row[]) =>
  CSV_HEADER +
  rows
    .map(
      (r) => `${r.user_id},${r.datetime},${r.transaction_type},${r.merchant_type_code},${r.amount_cents}\n`,
    )
    .join('');
const MAY_1_TO_13 = USER_31373.slice(2, 7);

export const TRANSACTIONS_JSON: Examples = {
  filtered: {
    summary: 'GET /api/v2/users/31373/transactions?type=PurchaseActivity&from=2023-05-01&to=2023-05-13',
    value: { data: MAY_1_TO_13, next_cursor: null, snapshot: 1 },
    'x-txlake-request': {
      url: '/api/v2/users/31373/transactions?type=PurchaseActivity&from=2023-05-01&to=2023-05-13',
    },
  },
  paged: {
    summary: 'GET /api/v2/users/31373/transactions?limit=2 (pass next_cursor as ?cursor= for the next page)',
    value: {
      data: USER_31373.slice(0, 2),
      next_cursor:
        'eyJ2IjoxLCJzIjoxLCJ1IjoiMzEzNzMiLCJmIjpudWxsLCJ0IjpudWxsLCJ5IjpudWxsLCJtIjpudWxsLCJvIjoyfQ',
      snapshot: 1,
    },
    'x-txlake-request': { url: '/api/v2/users/31373/transactions?limit=2' },
  },
};

export const TRANSACTIONS_CSV: Examples = {
  filtered: {
    summary: 'GET /api/v2/users/31373/transactions?from=2023-05-01&to=2023-05-13 with Accept: text/csv',
    value: csvOf(MAY_1_TO_13),
    'x-txlake-request': { url: '/api/v2/users/31373/transactions?from=2023-05-01&to=2023-05-13' },
  },
};

const day = (
  date: string,
  purchases_cents: number,
  returns_cents: number,
  purchases: number,
  returns: number,
) => ({
  date,
  merchant_type_code: 5732,
  purchases_cents,
  returns_cents,
  net_cents: purchases_cents - returns_cents,
  purchases,
  returns,
});

export const DAILY_NET_JSON: Examples = {
  oneDay: {
    summary: 'GET /api/v2/merchant-types/5732/daily-net?from=2023-03-30&to=2023-03-31',
    value: { data: [day('2023-03-30', 104697, 0, 6, 0)], snapshot: 1 },
    'x-txlake-request': { url: '/api/v2/merchant-types/5732/daily-net?from=2023-03-30&to=2023-03-31' },
  },
  withReturns: {
    summary:
      'GET /api/v2/merchant-types/5732/daily-net?from=2023-04-01&to=2023-04-09 (a day of returns only)',
    value: {
      data: [
        day('2023-04-02', 8782, 0, 1, 0),
        day('2023-04-04', 164979, 0, 7, 0),
        day('2023-04-05', 9973, 0, 2, 0),
        day('2023-04-06', 39933, 0, 6, 0),
        day('2023-04-07', 42920, 0, 4, 0),
        day('2023-04-08', 0, 13999, 0, 1),
      ],
      snapshot: 1,
    },
    'x-txlake-request': { url: '/api/v2/merchant-types/5732/daily-net?from=2023-04-01&to=2023-04-09' },
  },
};

export const EXPORT_CSV: Examples = {
  all: {
    summary: 'GET /api/v2/users/31373/export?format=csv',
    value: csvOf(USER_31373),
    'x-txlake-request': { url: '/api/v2/users/31373/export?format=csv' },
  },
};

export const EXPORT_NDJSON: Examples = {
  all: {
    summary: 'GET /api/v2/users/31373/export?format=ndjson',
    value: USER_31373.map((r) => `${JSON.stringify(r)}\n`).join(''),
    'x-txlake-request': { url: '/api/v2/users/31373/export?format=ndjson' },
  },
};

export const SNAPSHOTS_JSON: Examples = {
  sample: {
    summary: 'GET /api/v2/snapshots on a lake made from the sample',
    value: {
      data: [
        {
          id: 1,
          created: '2026-12-03T12:04:40.454Z',
          operation: 'ingest',
          mode: 'append',
          rows: 500,
          current: true,
        },
      ],
    },
    'x-txlake-request': { url: '/api/v2/snapshots' },
  },
};

/** Problems of the transactions route, by status. */
export const TRANSACTIONS_PROBLEMS: Partial<Record<number, Examples>> = {
  400: {
    limit: {
      summary: 'GET /api/v2/users/31373/transactions?limit=0',
      value: {
        type: 'about:blank',
        title: 'Bad Request',
        status: 400,
        detail: 'limit must be an integer from 1 to 1000, not "0"',
        parameter: 'limit',
      },
      'x-txlake-request': { url: '/api/v2/users/31373/transactions?limit=0' },
    },
  },
  404: {
    snapshot: {
      summary: 'GET /api/v2/users/31373/transactions?snapshot=7 (a lake of one snapshot)',
      value: {
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        detail: 'snapshot 7 was never committed; /api/v2/snapshots lists the retained ones',
      },
      'x-txlake-request': { url: '/api/v2/users/31373/transactions?snapshot=7' },
    },
  },
  406: {
    xml: {
      summary: 'GET /api/v2/users/31373/transactions with Accept: application/xml',
      value: {
        type: 'about:blank',
        title: 'Not Acceptable',
        status: 406,
        detail:
          'this resource is available as application/json or text/csv; the Accept header allows none of them',
      },
      'x-txlake-request': { url: '/api/v2/users/31373/transactions', accept: 'application/xml' },
    },
  },
};
