// Time: the lake keeps microseconds since the Unix epoch in UTC; v1 shows seconds (truncated) and days.
// Instants travel as whole epoch seconds plus a microsecond part: a double holds every second of years
// 0001–9999 exactly, which epoch microseconds would not (2^53 µs is only ±285 years around 1970).

const MICROS_PER_SECOND = 1_000_000n;

/** An instant split into floored epoch seconds and the microseconds within that second (0–999999). */
export interface EpochInstant {
  epochSecond: number;
  microsecond: number;
}

/** Split epoch microseconds exactly, flooring towards the past for instants before 1970. */
export function splitEpochMicros(epochMicros: bigint): EpochInstant {
  let seconds = epochMicros / MICROS_PER_SECOND;
  let micros = epochMicros % MICROS_PER_SECOND;
  if (micros < 0n) {
    seconds -= 1n;
    micros += MICROS_PER_SECOND;
  }
  return { epochSecond: Number(seconds), microsecond: Number(micros) };
}

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

/**
 * `YYYY-MM-DDTHH:MM:SS+00:00` of an epoch second. Callers pass the floored second, so `06:19:48.73`
 * shows `06:19:48`, never `06:19:49`.
 */
export function formatUtcSecond(epochSecond: number): string {
  const date = new Date(epochSecond * 1000);
  return (
    `${formatYear(date.getUTCFullYear())}-${pad2(date.getUTCMonth() + 1)}-${pad2(date.getUTCDate())}` +
    `T${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())}+00:00`
  );
}
