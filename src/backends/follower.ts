// Following a store's source: check it now, then on every tick of a poll (and whenever the store's own
// watcher says something changed), telling the listener of a new view, and of a problem once when it
// appears and once when it ends (a snapshot that stays broken is not news every second).

import { isTxlakeError } from '../domain/errors.js';
import type { StoreListener, TransactionStore } from './store.js';

export class SnapshotFollower {
  private timer: NodeJS.Timeout | null = null;
  private lastProblem: string | null = null;
  /** Set by stop(): a check still running then may fail as the store closes, which is not news. */
  private stopped = false;

  constructor(
    private readonly store: TransactionStore,
    private readonly listener: StoreListener,
    private readonly pollIntervalMs: number,
    /** Run on every tick before the check (a watcher that failed is set up again). */
    private readonly onTick: () => void = () => {},
  ) {}

  /** Check now, then keep checking every `pollIntervalMs`. */
  async start(): Promise<void> {
    await this.check();
    if (this.stopped) return;
    this.timer = setInterval(() => {
      this.onTick();
      void this.check();
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
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
    if (swapped && view) this.listener.snapshot(view);
    const problem = this.store.problem();
    if (problem !== this.lastProblem) {
      this.lastProblem = problem;
      this.listener.problem(problem, view, failure !== null && !isTxlakeError(failure) ? failure : null);
    }
  }
}
