// How the explorer writes v2's values for people: exact money from cents, UTC instants and days, labels.
// No DOM here, so every rule is tested in Node (test/explorer/format.test.ts).

/** Cents as an exact decimal string: -74995n → "-749.95". */
export function centsToDecimal(cents: bigint): string {
  const negative = cents < 0n;
  const magnitude = negative ? -cents : cents;
  const fraction = (magnitude % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${magnitude / 100n}.${fraction}`;
}

export type MoneyFormat = (cents: bigint) => string;

/**
 * Amounts in US dollars (the old design's `amount_in_dollars`) in the reader's locale, exact at any size:
 * Intl formats a decimal string without passing it through a double.
 */
export function moneyFormat(locale?: string): MoneyFormat {
  const format = new Intl.NumberFormat(locale, { style: 'currency', currency: 'USD' });
  return (cents) => format.format(centsToDecimal(cents) as Intl.StringNumericLiteral);
}

/** Whole counts with the locale's grouping, exact at any size. */
export function countFormat(locale?: string): (count: bigint) => string {
  const format = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  return (count) => format.format(count);
}

const INSTANT = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/;

/** v2's `2023-03-25T11:31:26.215181Z` → `2023-03-25 11:31:26` (seconds; the exact instant stays in a title). */
export function instantLabel(instant: string): string {
  const parts = INSTANT.exec(instant);
  return parts ? `${parts[1]} ${parts[2]}` : instant;
}

/** A snapshot's commit time for a menu: minutes are enough to tell them apart at a glance. */
export function commitTimeLabel(instant: string): string {
  const parts = INSTANT.exec(instant);
  return parts ? `${parts[1]} ${parts[2]?.slice(0, 5)} UTC` : instant;
}

export function transactionTypeLabel(type: string): string {
  if (type === 'PurchaseActivity') return 'Purchase';
  if (type === 'ReturnActivity') return 'Return';
  return type;
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A `YYYY-MM-DD` day as Unix seconds at midnight UTC (the chart's x values); NaN for anything else. */
export function dayToUnixSeconds(day: string): number {
  const parts = DAY.exec(day);
  if (!parts) return Number.NaN;
  return Date.UTC(Number(parts[1]), Number(parts[2]) - 1, Number(parts[3])) / 1000;
}

/** Dollars as a double, for drawing only (a chart's pixels need no more than 15 significant digits). */
export function centsForDrawing(cents: bigint): number {
  return Number(cents) / 100;
}

/** "Rows 51–100" for a page of `count` rows after `offset` earlier ones. */
export function rowRangeLabel(offset: number, count: number): string {
  if (count === 0) return 'No rows';
  return count === 1 ? `Row ${offset + 1}` : `Rows ${offset + 1}–${offset + count}`;
}

/** Plural-aware "1 day" / "3 days". */
export function counted(count: number | bigint, one: string, many: string): string {
  return `${count} ${count === 1 || count === 1n ? one : many}`;
}
