// Progress of a long engine query on a terminal (rows/s, ETA); silent when stderr is not a TTY.

import type { DuckDBConnection } from '@duckdb/node-api';

export interface ProgressOptions {
  label: string;
  /** Used to turn the engine's percentage into an estimated row count. */
  estimatedRows: number;
  stream?: NodeJS.WriteStream;
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)}k`;
  return String(Math.round(n));
}

/** Run `work` while showing the progress of `connection`'s current query. */
export async function withProgress<T>(
  connection: DuckDBConnection,
  options: ProgressOptions,
  work: () => Promise<T>,
): Promise<T> {
  const stream = options.stream ?? process.stderr;
  if (!stream.isTTY) return work();
  const started = performance.now();
  const timer = setInterval(() => {
    const percent = connection.progress.percentage;
    if (!(percent > 0)) return;
    const seconds = (performance.now() - started) / 1000;
    const rows = (options.estimatedRows * percent) / 100;
    const eta = (seconds * (100 - percent)) / percent;
    stream.write(
      `\r${options.label}: ${percent.toFixed(0)}% · ~${formatCount(rows / seconds)} rows/s · ETA ${eta.toFixed(0)} s   `,
    );
  }, 250);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    stream.write('\r\x1b[K');
  }
}
