// Following the lake: a running server notices a new snapshot (by watching `_txlake/` for the CURRENT
// pointer's rename, with polling as the fallback where watching is unavailable or misses an event), loads
// it in the background and lets the store swap it in. A snapshot that cannot be served (the lake cannot
// vouch for it, a file is damaged) is logged once, and the one being served stays.

import { type FSWatcher, watch } from 'node:fs';
import type { FastifyBaseLogger } from 'fastify';
import type { TransactionStore } from '../backends/store.js';
import { isTxlakeError } from '../domain/errors.js';
import type { LakeLayout } from '../lake/layout.js';

export class LakeFollower {
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  /** The last problem logged, so a snapshot that stays broken is logged once, not every second. */
  private lastProblem: string | null = null;
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
    let swapped = false;
    let failure: unknown = null;
    try {
      swapped = await this.store.refresh();
    } catch (error) {
      failure = error;
    }
    if (this.stopped) return;
    const view = this.store.current();
    if (swapped && view) {
      this.log.info(
        {
          snapshot: view.id,
          rows: view.rows,
          user_lookup: view.lookup.kind,
          index_bytes: view.lookup.indexBytes,
          load_ms: view.lookup.loadMs,
          verify_ms: view.lookup.verifyMs,
        },
        'serving snapshot',
      );
      if (view.lookup.fallback) {
        this.log.warn(
          { snapshot: view.id, reason: view.lookup.fallback },
          'user lookups query Parquet files',
        );
      }
    }
    // A lasting problem is logged once, when it appears, and its end once too.
    const problem = this.store.problem();
    if (problem !== this.lastProblem) {
      if (problem === null) {
        this.log.info({ snapshot: view?.id ?? null }, 'the lake can be served again');
      } else {
        const unexpected = failure !== null && !isTxlakeError(failure) ? { err: failure } : {};
        this.log.error(
          { problem, serving: view?.id ?? null, ...unexpected },
          view
            ? `not serving the lake's current snapshot; still serving snapshot ${view.id}`
            : 'no snapshot can be served; /readyz answers 503 until the lake is repaired',
        );
      }
      this.lastProblem = problem;
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
