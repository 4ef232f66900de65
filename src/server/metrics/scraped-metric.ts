// A gauge or counter whose samples are read when Prometheus scrapes (from the store, the answer cache, the
// lake's last-ingest record), registered in a prom-client Registry as one of its own metrics. Unlike a
// prom-client Gauge, it can have no sample at all: a value that does not exist (no snapshot served yet, no
// ingest recorded) is left out instead of shown as a made-up 0.

import type { Aggregator, Metric, MetricObjectWithValues, MetricValue } from 'prom-client';

export type Labels = Record<string, string | number>;
export type Samples = readonly (readonly [Labels, number])[];

export interface ScrapedMetricOptions {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  /** How `serve --workers N` combines the workers' samples (default sum). */
  aggregator?: Aggregator;
  read: () => Samples | Promise<Samples>;
}

export class ScrapedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'gauge' | 'counter';
  readonly aggregator: Aggregator;
  private readonly read: ScrapedMetricOptions['read'];

  constructor(options: ScrapedMetricOptions) {
    this.name = options.name;
    this.help = options.help;
    this.type = options.type;
    this.aggregator = options.aggregator ?? 'sum';
    this.read = options.read;
  }

  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    const samples = await this.read();
    return {
      name: this.name,
      help: this.help,
      type: this.type as unknown as MetricObjectWithValues<MetricValue<string>>['type'],
      aggregator: this.aggregator,
      values: samples.map(([labels, value]) => ({ labels, value })),
      collect: () => {},
    };
  }

  /** Registry.resetMetrics() calls this; the values are not this object's to reset. */
  reset(): void {}

  /** As prom-client's Registry.registerMetric takes it (it reads name, get() and aggregator). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}

/** The one unlabelled sample `value`, or none when it is null. */
export function single(value: number | null): Samples {
  return value === null ? [] : [[{}, value]];
}
