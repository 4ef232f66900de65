// Time: the lake keeps microseconds since the Unix epoch in UTC; v1 shows seconds (truncated) and days.

const MICROS_PER_SECOND = 1_000_000;
const MICROS_PER_DAY = 86_400 * MICROS_PER_SECOND;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function formatYear(year: number): string {
  return String(year).padStart(4, '0');
}

/** `YYYY-MM-DD` of a UTC day number (days since 1970-01-01). */
export function formatUtcDay(dayNumber: number): string {
  const date = new Date(dayNumber * 86_400_000);
  return `${formatYear(date.getUTCFullYear())}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}`;
}

/** The UTC day number holding an instant given in epoch microseconds. */
export function utcDayOf(epochMicros: number): number {
  return Math.floor(epochMicros / MICROS_PER_DAY);
}

/**
 * `YYYY-MM-DDTHH:MM:SS+00:00` of an instant in epoch microseconds, truncated (floored) to the second:
 * `06:19:48.73` shows `06:19:48`, never `06:19:49`.
 */
export function formatUtcSecond(epochMicros: number): string {
  const seconds = Math.floor(epochMicros / MICROS_PER_SECOND);
  const date = new Date(seconds * 1000);
  return (
    `${formatYear(date.getUTCFullYear())}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
    `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}+00:00`
  );
}
