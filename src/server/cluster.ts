// `serve --workers N`: N server processes sharing one port (node:cluster), so every core answers requests.
// The primary only supervises: it forks the workers (each runs the same `serve` command, loads and follows
// the lake on its own, and holds its own index), restarts one that dies, and on SIGTERM/SIGINT passes the
// signal on and waits for every worker to finish its in-flight requests.

import cluster, { type Worker } from 'node:cluster';
import net from 'node:net';
import pino from 'pino';
import { aggregateWorkerMetrics } from './metrics/cluster-metrics.js';

export interface ClusterOptions {
  workers: number;
  logLevel?: string;
}

/** A worker that dies sooner than this after its start counts as failing to start, not as a crash. */
const HEALTHY_AFTER_MS = 10_000;
/** Restarts back off up to this delay while workers keep dying young. */
const MAX_RESTART_DELAY_MS = 30_000;

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: close the channel to the primary, the last thing keeping a stopped worker alive. */
export function leaveCluster(): void {
  if (cluster.isWorker && process.connected) process.disconnect();
}

/**
 * Fail now, with the error `listen` would give, when the address is taken: otherwise every worker would
 * load the whole lake before finding out. (Another process may still take the port in between; the
 * workers then fail as they would have.)
 */
export function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** Run the primary until SIGTERM/SIGINT and every worker has exited; resolves to the exit code. */
export function runClusterPrimary(options: ClusterOptions): Promise<number> {
  const log = pino({ level: options.logLevel ?? 'info' }).child({ role: 'primary' });
  let stopping = false;
  let youngDeaths = 0;
  const startedAt = new Map<Worker, number>();

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
  };

  return new Promise((resolve) => {
    let exitCode = 0;
    const listening = new Set<Worker>();
    cluster.on('listening', (worker) => listening.add(worker));
    cluster.on('exit', (worker, code, signal) => {
      const lived = Date.now() - (startedAt.get(worker) ?? 0);
      startedAt.delete(worker);
      const served = listening.delete(worker);
      if (!stopping && !served) {
        // It never got to listen (a taken port, an unreadable lake): a restart would fail the same way.
        log.error({ worker_pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
        exitCode = code || 1;
        shutdown('SIGTERM');
      }
      if (stopping) {
        if (startedAt.size === 0) {
          log.info('every worker has stopped');
          resolve(exitCode);
        }
        return;
      }
      youngDeaths = lived < HEALTHY_AFTER_MS ? youngDeaths + 1 : 0;
      const delay = Math.min(MAX_RESTART_DELAY_MS, youngDeaths === 0 ? 0 : 250 * 2 ** (youngDeaths - 1));
      log.error(
        { worker_pid: worker.process.pid, code, signal, restart_in_ms: delay },
        'a worker exited; starting a new one',
      );
      setTimeout(() => {
        if (!stopping) fork();
      }, delay).unref();
    });
    cluster.on('online', (worker) => log.info({ worker_pid: worker.process.pid }, 'worker started'));

    function shutdown(signal: NodeJS.Signals): void {
      if (stopping) return;
      stopping = true;
      log.info({ signal, workers: startedAt.size }, 'shutting down: workers finish their in-flight requests');
      if (startedAt.size === 0) resolve(exitCode);
      for (const worker of startedAt.keys()) worker.process.kill(signal);
    }
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));

    aggregateWorkerMetrics(); // a scrape of any worker answers for all of them
    log.info({ workers: options.workers }, 'starting workers');
    for (let i = 0; i < options.workers; i++) fork();
  });
}
