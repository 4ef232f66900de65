// The request histogram's own bookkeeping: Prometheus's `le` is inclusive, one recorder per pattern, and
// its get() in the shape prom-client's registry renders (cumulative buckets, +Inf, _sum, _count).

import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestDurations } from '../../src/server/metrics/request-durations.js';
import { parseExposition, samplesOf, sampleValue } from '../helpers/prometheus.js';

describe('RequestDurations', () => {
  it('puts a duration on a bound into that bucket, above the last into +Inf, and renders as a histogram', async () => {
    const durations = new RequestDurations([0.001, 0.01]);
    const record = durations.recorderFor('/a/:id');
    expect(durations.recorderFor('/a/:id')).toBe(record);
    record('GET', 200, 1); // 1 ms: exactly on the first bound
    record('GET', 200, 1.0001);
    record('GET', 200, 10_000); // 10 s
    record('HEAD', 200, 0.2);
    record('GET', 404, 0.3);
    const registry = new Registry();
    registry.registerMetric(durations.asMetric());
    const text = await registry.metrics();
    const e = parseExposition(text);
    expect(e.types.get('txlake_http_request_duration_seconds')).toBe('histogram');
    const get200 = { route: '/a/:id', method: 'GET', status: '200' };
    expect(
      samplesOf(e, 'txlake_http_request_duration_seconds_bucket', get200).map((s) => [s.labels.le, s.value]),
    ).toEqual([
      ['0.001', 1],
      ['0.01', 2],
      ['+Inf', 3],
    ]);
    expect(sampleValue(e, 'txlake_http_request_duration_seconds_count', get200)).toBe(3);
    expect(sampleValue(e, 'txlake_http_request_duration_seconds_sum', get200)).toBeCloseTo(10.0020001, 9);
    expect(sampleValue(e, 'txlake_http_request_duration_seconds_count', { ...get200, method: 'HEAD' })).toBe(
      1,
    );
    expect(sampleValue(e, 'txlake_http_request_duration_seconds_count', { ...get200, status: '404' })).toBe(
      1,
    );
    expect(samplesOf(e, 'txlake_http_request_duration_seconds_count')).toHaveLength(3);
  });
});
