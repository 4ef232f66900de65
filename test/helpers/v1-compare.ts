// Compare every v1 answer of a running server with the oracle, byte for byte on the raw body.

import type { V1Oracle } from './oracle.js';
import { mapLimit, type RunningServer } from './server.js';

export interface V1Mismatch {
  path: string;
  expected: string;
  got: string;
}

function clip(text: string): string {
  return text.length > 600 ? `${text.slice(0, 600)}… (${text.length} chars)` : text;
}

/**
 * GET every user and merchant code the oracle knows, plus `absentUsers`/`absentCodes` (expected `[]`),
 * and list each answer that is not 200 with exactly the oracle's body.
 */
export async function v1Mismatches(
  server: RunningServer,
  oracle: V1Oracle,
  absentUsers: readonly bigint[] = [],
  absentCodes: readonly (number | bigint)[] = [],
): Promise<V1Mismatch[]> {
  const checks: { path: string; expected: string }[] = [];
  for (const id of [...oracle.userIds(), ...absentUsers]) {
    checks.push({ path: `/api/v1/data/transactions/${id}`, expected: oracle.transactionsBody(id) });
  }
  for (const code of [...oracle.codes(), ...absentCodes]) {
    checks.push({ path: `/api/v1/data/netAmount/${code}`, expected: oracle.netAmountBody(code) });
  }
  const results = await mapLimit(checks, 8, async (check) => {
    const response = await server.get(check.path);
    const got = `${response.status} ${response.body}`;
    const expected = `200 ${check.expected}`;
    return got === expected ? null : { path: check.path, expected: clip(expected), got: clip(got) };
  });
  return results.filter((r): r is V1Mismatch => r !== null);
}

/** A readable summary of mismatches for an assertion message. */
export function describeMismatches(mismatches: readonly V1Mismatch[], limit = 5): string {
  const shown = mismatches
    .slice(0, limit)
    .map((m) => `GET ${m.path}\n  expected: ${m.expected}\n  got:      ${m.got}`)
    .join('\n');
  return `${mismatches.length} v1 answer(s) differ from the oracle:\n${shown}`;
}
