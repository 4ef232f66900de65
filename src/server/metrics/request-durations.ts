// The request duration histogram, by route pattern, method and status. It is observed on every request, so
// it keeps its own series instead of prom-client's Histogram: a prom-client child hashes its labels into a
// string and allocates on every observe, where a series here is found by two Map lookups from the route's
// own recorder and costs a few additions. It is exposed to prom-client's registry as a metric whose `get()`
// has the shape of prom-client's histograms, so text output and cluster aggregation treat it as theirs.

import type { Aggregator, Metric, MetricObjectWithValues, MetricValueWithName } from 'prom-client';

/**
 * Upper bounds in seconds. Answers from memory take well under a millisecond, Parquet lookups a few, an
 * export or a ClickHouse query tens to hundreds; ten seconds is beyond any timeout of the server's.
 */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** The route label of a request no route matched (404s, and what the router refused): never the raw path. */
export const UNMATCHED_ROUTE = 'unmatched';

export const REQUEST_DURATION_METRIC = 'txlake_http_request_duration_seconds';

class Series {
  /** Observations per bucket, not cumulative (the last one is above every bound: +Inf). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(
    readonly route: string,
    readonly method: string,
    readonly status: number,
    buckets: number,
  ) {
    this.counts = new Float64Array(buckets + 1);
  }
}

/** Records one answered request of a route: its method, status and duration in milliseconds. */
export type RouteRecorder = (method: string, status: number, milliseconds: number) => void;

export class RequestDurations {
  readonly name = REQUEST_DURATION_METRIC;
  readonly help =
    'Time from receiving a request to its answer being sent, by route pattern, method and status';
  readonly type = 'histogram';
  readonly aggregator: Aggregator = 'sum';
  private readonly bounds: Float64Array;
  private readonly series: Series[] = [];
  private readonly recorders = new Map<string, RouteRecorder>();

  constructor(buckets: readonly number[] = REQUEST_DURATION_BUCKETS) {
    this.bounds = Float64Array.from(buckets);
  }

  /**
   * The recorder of one route pattern (the same one for every call with that pattern). Labels are bounded:
   * patterns are the app's routes, methods those Node parses, statuses three digits.
   */
  recorderFor(route: string): RouteRecorder {
    const existing = this.recorders.get(route);
    if (existing) return existing;
    const byMethod = new Map<string, Map<number, Series>>();
    const bounds = this.bounds;
    const recorder: RouteRecorder = (method, status, milliseconds) => {
      let byStatus = byMethod.get(method);
      if (byStatus === undefined) {
        byStatus = new Map();
        byMethod.set(method, byStatus);
      }
      let series = byStatus.get(status);
      if (series === undefined) {
        series = new Series(route, method, status, bounds.length);
        byStatus.set(status, series);
        this.series.push(series);
      }
      const seconds = milliseconds / 1000;
      let bucket = 0;
      while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++;
      series.counts[bucket] = (series.counts[bucket] as number) + 1;
      series.sum += seconds;
      series.count++;
    };
    this.recorders.set(route, recorder);
    return recorder;
  }

  /** The series in prom-client's histogram shape: cumulative `_bucket`s with `le`, then `_sum` and `_count`. */
  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const s of this.series) {
      const labels = { route: s.route, method: s.method, status: s.status };
      let cumulative = 0;
      for (let i = 0; i <= this.bounds.length; i++) {
        cumulative += s.counts[i] as number;
        const le = i < this.bounds.length ? (this.bounds[i] as number) : '+Inf';
        values.push({ labels: { ...labels, le }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: s.count, metricName: `${this.name}_count` });
    }
    return {
      name: this.name,
      help: this.help,
      type: this.type as unknown as MetricObjectWithValues<MetricValueWithName<string>>['type'],
      aggregator: this.aggregator,
      values,
      collect: () => {},
    };
  }

  /** Registry.resetMetrics() calls this; the series count from the app's start, as a counter does. */
  reset(): void {}

  /** As prom-client's Registry.registerMetric takes it (it reads name, get() and aggregator). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
