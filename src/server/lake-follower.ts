// Following the lake: a running server notices a new snapshot (by watching `_txlake/` for the CURRENT
// pointer's rename, with polling as the fallback where watching is unavailable or misses an event), loads
// it in the background and lets the store swap it in. A snapshot that fails to load is logged and the one
// being served stays.

import { type FSWatcher, watch } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { TransactionStore } from '../backends/store.js';
import type { LakeLayout } from '../lake/layout.js';

export class LakeFollower {
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  /** The last load failure logged, so a snapshot that stays broken is logged once, not every second. */
  private lastFailure: string | null = null;
  /** Set by stop(): a check still running then may fail as the store closes, which is not news. */
  private stopped = false;

  constructor(
    private readonly store: TransactionStore,
    private readonly layout: LakeLayout,
    private readonly log: FastifyBaseLogger,
    private readonly pollIntervalMs: number,
  ) {}

  /** Load the current snapshot now, then keep following. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => {
      this.ensureWatching();
      void this.check();
    }, this.pollIntervalMs);
    this.timer.unref();
    this.ensureWatching();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    this.timer = null;
    this.watcher = null;
  }

  /** Look for a new snapshot; the store shares a load already under way. */
  async check(): Promise<void> {
    try {
      if (await this.store.refresh()) {
        const view = this.store.current();
        this.log.info(
          {
            snapshot: view?.id,
            rows: view?.rows,
            user_lookup: view?.lookup.kind,
            index_bytes: view?.lookup.indexBytes,
            load_ms: view?.lookup.loadMs,
          },
          'serving snapshot',
        );
        if (view?.lookup.fallback) {
          this.log.warn(
            { snapshot: view.id, reason: view.lookup.fallback },
            'user lookups query Parquet files',
          );
        }
      }
      this.lastFailure = null;
    } catch (error) {
      if (this.stopped) return;
      const message = String((error as Error)?.message ?? error);
      if (message !== this.lastFailure) {
        this.log.error({ err: error }, 'could not load the current snapshot; still serving the previous one');
      }
      this.lastFailure = message;
    }
  }

  /** Watch `_txlake/` once it exists (a new lake gets it with its first commit). */
  private ensureWatching(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.layout.metadataDir, { persistent: false }, (_event, name) => {
        if (name === null || String(name) === 'CURRENT') void this.check();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null; // polling goes on; the next tick tries to watch again
      });
    } catch {
      this.watcher = null;
    }
  }
}
