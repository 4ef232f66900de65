// v2's integers are exact over all 64 bits (SPEC §4); JSON.parse would round any beyond 2^53 through a
// double. The reviver reads the members that can be that large from their source text instead (TC39's
// "JSON.parse source text access": Chrome 114, Firefox 135, Safari 18.4) and hands them out as bigint.

/** Members of v2 answers that hold counts or cents: the explorer's money and counts come out as bigint. */
const EXACT_MEMBERS: ReadonlySet<string> = new Set([
  'user_id',
  'amount_cents',
  'purchases_cents',
  'returns_cents',
  'net_cents',
  'purchases',
  'returns',
  'rows',
]);

/** What JSON.parse hands a reviver for a primitive value where the browser has source text access. */
export interface ReviverContext {
  source?: string;
}

/** A number the browser could not read exactly: shown as an error, never as a rounded amount. */
export class InexactNumber extends Error {
  constructor(member: string) {
    super(
      `this browser cannot read ${member} exactly (it is beyond 2^53); use a newer browser or the API itself`,
    );
  }
}

/** JSON.parse's reviver: exact members as bigint, everything else as parsed. */
export function exactReviver(key: string, value: unknown, context?: ReviverContext): unknown {
  if (typeof value !== 'number' || !EXACT_MEMBERS.has(key)) return value;
  if (context?.source !== undefined) return BigInt(context.source);
  if (Number.isSafeInteger(value)) return BigInt(value);
  throw new InexactNumber(key);
}

/** Parse a v2 answer with its exact members as bigint. */
export function parseExactJson(text: string): unknown {
  return JSON.parse(text, exactReviver as (key: string, value: unknown) => unknown);
}
