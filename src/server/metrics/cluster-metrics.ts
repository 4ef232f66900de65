// /metrics of `serve --workers N`: a scrape reaches one worker through the shared port, yet must describe the
// whole server. That worker asks the primary over the cluster's IPC channel; the primary asks every worker
// that has announced its metrics for their series (prom-client's JSON), adds them up with prom-client's
// AggregatorRegistry (each series by its aggregator: sum, min, max), and answers the worker that asked.
// prom-client's own clusterMetrics() is not used: it waits for every connected worker, so a worker still
// starting (connected, no metrics yet) would hold each scrape for its five-second timeout.

import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, Registry } from 'prom-client';

/** How long the primary waits for the workers' series; a worker that does not answer is left out. */
export const COLLECT_TIMEOUT_MS = 2000;
/** How long a worker waits for the primary's whole answer. */
const SCRAPE_TIMEOUT_MS = COLLECT_TIMEOUT_MS + 1000;

type Message =
  /** worker → primary: this worker answers metrics requests. */
  | { txlake: 'metrics-ready' }
  /** worker → primary: a scrape arrived here; send the whole server's text. */
  | { txlake: 'metrics-scrape'; id: number }
  /** primary → worker: send your series. */
  | { txlake: 'metrics-collect'; id: number }
  /** worker → primary: this worker's series (Registry.getMetricsAsJSON), or why not. */
  | { txlake: 'metrics-collected'; id: number; metrics?: unknown[]; error?: string }
  /** primary → worker: the whole server's text, or why not. */
  | { txlake: 'metrics-scraped'; id: number; text?: string; error?: string };

function isMessage(value: unknown): value is Message {
  return (
    typeof value === 'object' && value !== null && typeof (value as { txlake?: unknown }).txlake === 'string'
  );
}

/** In a worker: answer the primary's requests for this worker's series, and ask it for the whole server's. */
export class WorkerMetrics {
  private next = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (text: string) => void; reject: (e: Error) => void }
  >();
  private readonly onMessage = (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.txlake === 'metrics-collect') {
      this.registry.getMetricsAsJSON().then(
        (metrics) => this.send({ txlake: 'metrics-collected', id: message.id, metrics }),
        (error: unknown) => this.send({ txlake: 'metrics-collected', id: message.id, error: String(error) }),
      );
    } else if (message.txlake === 'metrics-scraped') {
      const waiting = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      if (message.text !== undefined) waiting?.resolve(message.text);
      else waiting?.reject(new Error(message.error ?? 'no answer'));
    }
  };

  constructor(private readonly registry: Registry) {
    process.on('message', this.onMessage);
    this.send({ txlake: 'metrics-ready' });
  }

  private send(message: Message): void {
    // A worker leaving the cluster (stopping) has no channel any more: nothing to answer.
    if (process.connected) process.send?.(message);
  }

  /** The whole server's series in Prometheus text format, from the primary. */
  scrape(): Promise<string> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the primary process did not answer within ${SCRAPE_TIMEOUT_MS} ms`));
      }, SCRAPE_TIMEOUT_MS);
      timer.unref();
      const settle =
        <T>(done: (value: T) => void) =>
        (value: T) => {
          clearTimeout(timer);
          done(value);
        };
      this.waiting.set(id, { resolve: settle(resolve), reject: settle(reject) });
      if (!process.connected) {
        this.waiting.delete(id);
        settle(reject)(new Error('this worker has left the cluster (it is stopping)'));
        return;
      }
      this.send({ txlake: 'metrics-scrape', id });
    });
  }

  close(): void {
    process.off('message', this.onMessage);
    for (const waiting of this.waiting.values()) waiting.reject(new Error('the server is stopping'));
    this.waiting.clear();
  }
}

/**
 * In the primary: answer the workers' scrapes with every worker's series added up, plus how many workers
 * run and how many answered (a scrape that left one out says so).
 */
export function aggregateWorkerMetrics(): void {
  const ready = new Set<Worker>();
  let next = 0;
  const collecting = new Map<number, { pending: Set<Worker>; parts: unknown[][]; finish: () => void }>();

  const own = new Registry();
  const workers = new Gauge({
    name: 'txlake_workers',
    help: 'Worker processes serving (serve --workers)',
    registers: [own],
  });
  const answered = new Gauge({
    name: 'txlake_workers_scraped',
    help: 'Workers whose series this scrape adds up (fewer than txlake_workers: some did not answer in time)',
    registers: [own],
  });

  const collect = (): Promise<string> => {
    const id = next++;
    const pending = new Set([...ready].filter((worker) => worker.isConnected()));
    return new Promise<string>((resolve, reject) => {
      const parts: unknown[][] = [];
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        collecting.delete(id);
        workers.set(Object.keys(cluster.workers ?? {}).length);
        answered.set(parts.length);
        own
          .getMetricsAsJSON()
          .then((mine) => AggregatorRegistry.aggregate([...parts, mine] as never).metrics())
          .then(resolve, reject);
      };
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      collecting.set(id, { pending, parts, finish });
      if (pending.size === 0) finish();
      for (const worker of pending) worker.send({ txlake: 'metrics-collect', id } satisfies Message);
    });
  };

  cluster.on('message', (worker, message: unknown) => {
    if (!isMessage(message)) return;
    if (message.txlake === 'metrics-ready') ready.add(worker);
    else if (message.txlake === 'metrics-collected') {
      const collection = collecting.get(message.id);
      if (collection === undefined || !collection.pending.delete(worker)) return; // late: left out already
      if (message.metrics !== undefined) collection.parts.push(message.metrics);
      if (collection.pending.size === 0) collection.finish();
    } else if (message.txlake === 'metrics-scrape') {
      const reply = (answer: Message) => {
        if (worker.isConnected()) worker.send(answer);
      };
      collect().then(
        (text) => reply({ txlake: 'metrics-scraped', id: message.id, text }),
        (error: unknown) => reply({ txlake: 'metrics-scraped', id: message.id, error: String(error) }),
      );
    }
  });
  cluster.on('exit', (worker) => {
    ready.delete(worker);
    for (const collection of collecting.values())
      if (collection.pending.delete(worker) && collection.pending.size === 0) collection.finish();
  });
}
