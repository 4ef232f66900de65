// The v1 answer elements as objects, the reference model the hand-written writers are checked against
// (test/server/api/v1/json.test.ts): the compact JSON of these, with bigints as digits, is v1's bytes.

import { halfEvenDollars } from '../../src/domain/money.js';
import { formatUtcDay, formatUtcSecond } from '../../src/domain/time.js';
import type { DailyMerchantSums } from '../../src/domain/transaction-batch.js';
import type { StoredTransaction } from '../../src/domain/v1.js';

/** One element of `GET /api/v1/data/transactions/{userId}`; keys in this order on the wire. */
export interface V1Transaction {
  user_id: bigint;
  amount_in_dollars: bigint;
  datetime: string;
  merchant_type_code: number;
}

/** One element of `GET /api/v1/data/netAmount/{merchantTypeCode}`; keys in this order on the wire. */
export interface V1DailyNet {
  merchant_type_code: number;
  net_amount_in_dollars: bigint;
  date: string;
}

export function toV1Transaction(t: StoredTransaction): V1Transaction {
  return {
    user_id: t.userId,
    amount_in_dollars: halfEvenDollars(t.amountCents),
    datetime: formatUtcSecond(t.epochSecond),
    merchant_type_code: t.merchantTypeCode,
  };
}

export function toV1DailyNet(sums: DailyMerchantSums): V1DailyNet {
  return {
    merchant_type_code: sums.merchantTypeCode,
    net_amount_in_dollars: halfEvenDollars(sums.purchaseCents - sums.returnCents),
    date: formatUtcDay(sums.day),
  };
}
