// Every series /metrics exposes, in a registry of the app's own (tests build several apps in one process,
// so prom-client's global registry is not used). Requests are counted on the request path by plain counters
// and the route recorders of RequestDurations; everything else is read from the store, the answer cache and
// the lake's last-ingest record when Prometheus scrapes, so it costs requests nothing.
//
// Aggregators say how a scrape of `serve --workers N` combines the workers' values (cluster-metrics.ts):
// counts add up; of the served snapshot, the aggregate shows the lowest id, the fewest rows and the greatest
// age (every worker serves at least that snapshot), and the index bytes of all workers together.

import fs from 'node:fs/promises';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { SnapshotView, TransactionStore } from '../../backends/store.js';
import { INGEST_RESULTS, type LastIngest, parseLastIngest } from '../../lake/last-ingest.js';
import type { LakeLayout } from '../../lake/layout.js';
import type { AnswerCache } from '../answer-cache.js';
import { ANSWER_RESOURCES, ANSWER_SOURCES } from '../answer-sources.js';
import { RequestDurations } from './request-durations.js';
import { type Samples, ScrapedMetric, type ScrapedMetricOptions, single } from './scraped-metric.js';

/** Snapshot loads: a few milliseconds for a small append, minutes for a large lake's first index. */
const LOAD_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export interface ServerMetricsOptions {
  store: TransactionStore;
  answers: AnswerCache;
  version: string;
  /** The lake whose last-ingest record to expose (the embedded backend's), or null. */
  lake: LakeLayout | null;
  /** prom-client's process metrics (CPU, memory, event loop, GC), prefixed `txlake_` (default true). */
  processMetrics?: boolean;
}

/** The lake's last-ingest record, read again only when the file changed (a stat per scrape). */
class LastIngestReader {
  private seen: string | null = null;
  private record: LastIngest | null = null;
  private pending: Promise<LastIngest | null> | null = null;

  constructor(
    private readonly file: string,
    private readonly warn: (message: string) => void,
  ) {}

  /** One read per scrape, shared by the gauges that ask for it at once. */
  read(): Promise<LastIngest | null> {
    this.pending ??= this.refresh().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async refresh(): Promise<LastIngest | null> {
    const stat = await fs.stat(this.file).catch(() => null);
    const version = stat === null ? null : `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
    if (version === this.seen) return this.record;
    this.seen = version;
    const text = stat === null ? null : await fs.readFile(this.file, 'utf8').catch(() => null);
    this.record = text === null ? null : parseLastIngest(text);
    if (text !== null && this.record === null)
      this.warn(
        'the lake’s _txlake/last-ingest.json is not a record txlake wrote; last-ingest metrics are left out',
      );
    return this.record;
  }
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests = new RequestDurations();
  /** Answers refused with 503 because the backend did not answer in time (BackendUnavailable). */
  backendUnavailable = 0;
  private readonly loads: Histogram;
  private readonly verifies: Histogram;

  constructor(options: ServerMetricsOptions, warn: (message: string) => void = () => {}) {
    const { store, answers } = options;
    this.registry.registerMetric(this.requests.asMetric());
    const scraped = (metric: ScrapedMetricOptions) =>
      this.registry.registerMetric(new ScrapedMetric(metric).asMetric());
    const gauge = (
      name: string,
      help: string,
      aggregator: ScrapedMetricOptions['aggregator'],
      read: ScrapedMetricOptions['read'],
    ) => scraped({ name, help, type: 'gauge', aggregator, read });

    gauge(
      'txlake_build_info',
      'Always 1; its labels name the txlake version and the backend answering',
      'max',
      () => [[{ version: options.version, backend: store.kind }, 1]],
    );

    scraped({
      name: 'txlake_answers_total',
      help:
        'Data answers by what they answer (transactions: a user’s rows; daily_net: a merchant code’s daily sums) ' +
        'and where they came from (cache: the answer cache; memory: the in-memory index or sums; parquet: the ' +
        'snapshot’s Parquet files; clickhouse: a ClickHouse query)',
      type: 'counter',
      read: () =>
        ANSWER_RESOURCES.flatMap((resource) =>
          ANSWER_SOURCES.map(
            (source) => [{ resource, source }, answers.sources.counts[resource][source]] as const,
          ),
        ),
    });
    gauge('txlake_answer_cache_entries', 'Answers held by the answer cache', 'sum', () =>
      single(answers.size.entries),
    );
    gauge('txlake_answer_cache_bytes', 'Bytes of the answers held by the answer cache', 'sum', () =>
      single(answers.size.bytes),
    );

    gauge(
      'txlake_ready',
      '1 when a snapshot is served and can answer (as /readyz 200), else 0',
      'min',
      () => {
        const view = store.current();
        return single(view !== null && view.impaired === null ? 1 : 0);
      },
    );
    // No snapshot, no sample: a made-up 0 would read as a real snapshot on a dashboard.
    const ofView = (
      name: string,
      help: string,
      aggregator: 'min' | 'max' | 'sum',
      value: (view: SnapshotView) => number,
    ) =>
      gauge(name, help, aggregator, () => {
        const view = store.current();
        return single(view === null ? null : value(view));
      });
    ofView('txlake_snapshot_id', 'Id of the snapshot being served', 'min', (view) => view.id);
    ofView(
      'txlake_snapshot_age_seconds',
      'Seconds since the snapshot being served was committed',
      'max',
      (view) => Math.max(0, (Date.now() - Date.parse(view.created)) / 1000),
    );
    ofView('txlake_snapshot_rows', 'Transactions in the snapshot being served', 'min', (view) => view.rows);
    ofView(
      'txlake_snapshot_index_bytes',
      'Memory of the in-memory user index of the snapshot being served (0 without one)',
      'sum',
      (view) => view.lookup.indexBytes,
    );
    gauge(
      'txlake_snapshot_user_lookup',
      '1 for how the snapshot being served looks users up (memory: its in-memory index; parquet: its files, ' +
        'the index did not fit its budget; clickhouse: ClickHouse queries), 0 for the others',
      'sum',
      () => {
        const view = store.current();
        if (view === null) return [];
        return (['memory', 'parquet', 'clickhouse'] as const).map(
          (kind) => [{ kind }, view.lookup.kind === kind ? 1 : 0] as const,
        );
      },
    );
    const registers = [this.registry];
    this.loads = new Histogram({
      name: 'txlake_snapshot_load_duration_seconds',
      help: 'Time to load each snapshot swapped in (index and checksums included)',
      buckets: LOAD_BUCKETS,
      registers,
    });
    this.verifies = new Histogram({
      name: 'txlake_snapshot_verify_duration_seconds',
      help: 'Of each load, the time spent checking checksums of files not verified before (embedded backend)',
      buckets: LOAD_BUCKETS,
      registers,
    });

    scraped({
      name: 'txlake_backend_unavailable_answers_total',
      help: 'Answers refused with 503 because the database behind the server (ClickHouse) did not answer in time',
      type: 'counter',
      read: () => single(this.backendUnavailable),
    });
    if (store.queryErrors) {
      const queryErrors = store.queryErrors.bind(store);
      scraped({
        name: 'txlake_clickhouse_query_errors_total',
        help:
          'Failed ClickHouse queries (lookups, polls of the served snapshot, catalog reads) by node (its place in ' +
          'TXLAKE_CLICKHOUSE_URL, from 1) and kind (unavailable: no answer in time; failed: an error answer)',
        type: 'counter',
        read: () =>
          queryErrors().flatMap((node) => [
            [{ node: node.node, kind: 'unavailable' }, node.unavailable] as const,
            [{ node: node.node, kind: 'failed' }, node.failed] as const,
          ]),
      });
    }

    if (options.lake !== null) {
      const reader = new LastIngestReader(options.lake.lastIngestFile, warn);
      // Every worker reads the same file: any one's value is the server's.
      const ofRun = (name: string, help: string, value: (run: LastIngest) => Samples) =>
        gauge(name, help, 'max', async () => {
          const run = await reader.read();
          return run === null ? [] : value(run);
        });
      ofRun('txlake_last_ingest_timestamp_seconds', 'When the last ingest run ended (Unix time)', (run) =>
        single(Date.parse(run.finished) / 1000),
      );
      ofRun('txlake_last_ingest_duration_seconds', 'How long the last ingest run took', (run) =>
        single(run.seconds),
      );
      ofRun(
        'txlake_last_ingest_read_rows',
        'Rows the last ingest run read (absent when it failed before counting them)',
        (run) => single(run.rows_read),
      );
      ofRun(
        'txlake_last_ingest_committed_rows',
        'Rows the last ingest run committed (0 unless its result is committed)',
        (run) => single(run.rows_committed),
      );
      ofRun(
        'txlake_last_ingest_rejected_rows',
        'Rows the last ingest run rejected (absent when it failed before counting them)',
        (run) => single(run.rows_rejected),
      );
      ofRun(
        'txlake_last_ingest_result',
        '1 for the result of the last ingest run, 0 for the others (committed; unchanged: nothing new to ' +
          'commit; rejected: too many rows rejected, nothing committed; failed: an error, nothing committed)',
        (run) => INGEST_RESULTS.map((result) => [{ result }, run.result === result ? 1 : 0] as const),
      );
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'txlake_' });
  }

  /** A new snapshot view is served: its load time. */
  snapshotLoaded(view: SnapshotView): void {
    this.loads.observe(view.lookup.loadMs / 1000);
    if (view.lookup.verifyMs !== undefined) this.verifies.observe(view.lookup.verifyMs / 1000);
  }

  /** This process's series in Prometheus text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
