// Fault injection for the crash-safety tests: with TXLAKE_FAULT_INJECTION=<point>, the process kills itself
// (SIGKILL, exactly like `kill -9`) when it reaches that point of a commit or a ClickHouse sync; with
// `enospc:<point>` it fails there as a full disk would; with `stop:<point>` it stops itself (SIGSTOP) so that
// a test can change the world at that exact moment (kill a ClickHouse node) before it sends SIGCONT. Unset
// (always, outside tests) each point is a no-op.

export const FAULT_POINTS = [
  /** Rows read and validated into the engine, nothing written yet. */
  'validated',
  /** The first new data file is in its partition directory; others may follow. */
  'data-file-published',
  /** Every new file is written; the manifest is not. */
  'files-written',
  /** The new manifest exists; CURRENT still names the parent. */
  'manifest-written',
  /** The new CURRENT is written under a temporary name, not yet renamed into place. */
  'current-swap',
  /** CURRENT names the new snapshot (it is committed); the commit log does not list it yet. */
  'committed',
  /** Vacuum has removed its first file. */
  'vacuum-removing',
  // The ClickHouse sync (src/backends/clickhouse/publish.ts), after the lake operation committed:
  /** A file's rows are written as TabSeparated and cleared from every node; the insert has not begun. */
  'clickhouse-file-loading',
  /** A file's rows are in the cluster (counted), recorded as loaded on no node. */
  'clickhouse-file-inserted',
  /** A file is recorded as loaded on the first node, not yet on the others. */
  'clickhouse-file-recorded',
  /** A snapshot's file list and daily sums are on the first node; its row in `snapshots` is not. */
  'clickhouse-sums-written',
  /** A snapshot is copied wholly to the first node, not yet to the others. */
  'clickhouse-snapshot-published',
  /** The first node serves the new snapshot (its `served` row is in); the others still serve the old one. */
  'clickhouse-switching',
  /** The first vacuumed snapshot's row is dropped from the first node; other rows and nodes still hold theirs. */
  'clickhouse-dropping',
  /** Every vacuumed snapshot's row is dropped from every node; their file lists wait out the readers' grace. */
  'clickhouse-grace',
  /** The file lists are dropped; the rows of files no snapshot needs are going (the first one's are gone). */
  'clickhouse-files-dropping',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export function faultPoint(point: FaultPoint): void {
  const wanted = process.env.TXLAKE_FAULT_INJECTION;
  if (!wanted) return;
  if (wanted === point) process.kill(process.pid, 'SIGKILL');
  if (wanted === `stop:${point}`) process.kill(process.pid, 'SIGSTOP');
  if (wanted === `enospc:${point}`) {
    throw Object.assign(new Error(`ENOSPC: no space left on device (injected at ${point})`), {
      code: 'ENOSPC',
    });
  }
}
