import { describe, expect, it } from 'vitest';
import { formatUtcDay, formatUtcSecond, splitEpochMicros } from '../../src/domain/time.js';

const utcDayOf = (epochSecond: number) => Math.floor(epochSecond / 86_400);

const micros = (iso: string, extraMicros = 0) => BigInt(Date.parse(iso)) * 1000n + BigInt(extraMicros);
const second = (epochMicros: bigint) => splitEpochMicros(epochMicros).epochSecond;

describe('formatUtcSecond', () => {
  it('truncates to the second, never rounds', () => {
    expect(formatUtcSecond(second(micros('2023-01-08T06:19:48Z', 730_000)))).toBe(
      '2023-01-08T06:19:48+00:00',
    );
    expect(formatUtcSecond(second(micros('2023-01-08T06:19:48Z', 999_999)))).toBe(
      '2023-01-08T06:19:48+00:00',
    );
    expect(formatUtcSecond(second(micros('2023-03-25T11:31:26Z')))).toBe('2023-03-25T11:31:26+00:00');
  });

  it('floors instants before 1970 too', () => {
    expect(formatUtcSecond(second(-1n))).toBe('1969-12-31T23:59:59+00:00');
    expect(formatUtcSecond(second(micros('1960-06-01T00:00:00Z', 500_000)))).toBe(
      '1960-06-01T00:00:00+00:00',
    );
  });

  it('pads small years to four digits', () => {
    expect(formatUtcSecond(second(micros('0099-01-02T03:04:05Z')))).toBe('0099-01-02T03:04:05+00:00');
  });
});

describe('splitEpochMicros', () => {
  it('is exact at the ends of years 0001–9999, where a double of microseconds is not', () => {
    const last = micros('9999-12-31T23:59:59Z', 999_999);
    expect(splitEpochMicros(last)).toEqual({
      epochSecond: Date.parse('9999-12-31T23:59:59Z') / 1000,
      microsecond: 999_999,
    });
    expect(formatUtcSecond(second(last))).toBe('9999-12-31T23:59:59+00:00');
    const first = micros('0001-01-01T00:00:00Z', 1);
    expect(formatUtcSecond(second(first))).toBe('0001-01-01T00:00:00+00:00');
  });

  it('floors before 1970', () => {
    expect(splitEpochMicros(-1n)).toEqual({ epochSecond: -1, microsecond: 999_999 });
    expect(splitEpochMicros(-1_000_000n)).toEqual({ epochSecond: -1, microsecond: 0 });
  });
});

describe('days', () => {
  it('names the UTC day of an instant', () => {
    expect(formatUtcDay(utcDayOf(second(micros('2023-03-30T23:59:59Z', 999_999))))).toBe('2023-03-30');
    expect(formatUtcDay(utcDayOf(second(micros('2023-03-31T00:00:00Z'))))).toBe('2023-03-31');
    expect(formatUtcDay(utcDayOf(second(-1n)))).toBe('1969-12-31');
    expect(formatUtcDay(0)).toBe('1970-01-01');
  });
});
