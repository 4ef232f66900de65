import { describe, expect, it } from 'vitest';
import { formatUtcDay, formatUtcSecond, utcDayOf } from '../../src/domain/time.js';

const micros = (iso: string, extraMicros = 0) => Date.parse(iso) * 1000 + extraMicros;

describe('formatUtcSecond', () => {
  it('truncates to the second, never rounds', () => {
    expect(formatUtcSecond(micros('2023-01-08T06:19:48Z', 730_000))).toBe('2023-01-08T06:19:48+00:00');
    expect(formatUtcSecond(micros('2023-01-08T06:19:48Z', 999_999))).toBe('2023-01-08T06:19:48+00:00');
    expect(formatUtcSecond(micros('2023-03-25T11:31:26Z'))).toBe('2023-03-25T11:31:26+00:00');
  });

  it('floors instants before 1970 too', () => {
    expect(formatUtcSecond(-1)).toBe('1969-12-31T23:59:59+00:00');
    expect(formatUtcSecond(micros('1960-06-01T00:00:00Z', 500_000))).toBe('1960-06-01T00:00:00+00:00');
  });

  it('pads small years to four digits', () => {
    expect(formatUtcSecond(micros('0099-01-02T03:04:05Z'))).toBe('0099-01-02T03:04:05+00:00');
  });
});

describe('days', () => {
  it('names the UTC day of an instant', () => {
    expect(formatUtcDay(utcDayOf(micros('2023-03-30T23:59:59Z', 999_999)))).toBe('2023-03-30');
    expect(formatUtcDay(utcDayOf(micros('2023-03-31T00:00:00Z')))).toBe('2023-03-31');
    expect(formatUtcDay(utcDayOf(-1))).toBe('1969-12-31');
    expect(formatUtcDay(0)).toBe('1970-01-01');
  });
});
