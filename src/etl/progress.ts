// Progress on a terminal (percent, rows/s, ETA), redrawn in place at most four times a second; silent when
// stderr is not a TTY. Used by long engine queries (ingest) and by the generator.

import type { DuckDBConnection } from '@duckdb/node-api';

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

/** One line of progress for work of known size, redrawn in place. */
export class ProgressLine {
  private readonly started = performance.now();
  private shownAt = 0;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  /** Show `done` of `total` rows; rows/s and the ETA follow from the time since the line was made. */
  update(done: number, total: number): void {
    const now = performance.now();
    if (!this.enabled || done <= 0 || total <= 0 || now - this.shownAt < 250) return;
    this.shownAt = now;
    const rate = done / ((now - this.started) / 1000);
    const eta = Math.max(0, (total - done) / rate);
    const percent = Math.min(100, (100 * done) / total).toFixed(0);
    this.stream.write(
      `\r${this.label}: ${percent}% · ~${formatCount(rate)} rows/s · ETA ${eta.toFixed(0)} s   `,
    );
  }

  clear(): void {
    if (this.shownAt > 0) this.stream.write('\r\x1b[K');
  }
}

export interface ProgressOptions {
  label: string;
  /** Used to turn the engine's percentage into an estimated row count. */
  estimatedRows: number;
  stream?: NodeJS.WriteStream;
}

/** Run `work` while showing the progress of `connection`'s current query. */
export async function withProgress<T>(
  connection: DuckDBConnection,
  options: ProgressOptions,
  work: () => Promise<T>,
): Promise<T> {
  const line = new ProgressLine(options.label, options.stream);
  if (!line.enabled) return work();
  const timer = setInterval(() => {
    const percent = connection.progress.percentage;
    if (percent > 0) line.update((options.estimatedRows * percent) / 100, options.estimatedRows);
  }, 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    line.clear();
  }
}
