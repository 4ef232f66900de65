// The record of the last ingest run (`_txlake/last-ingest.json`): its outcome and row counts, replaced
// atomically by every ingest whatever its outcome, for servers to expose as metrics. It is not part of any
// snapshot: readers, verify, repair and vacuum ignore it, and losing it loses nothing but that record.

import fs from 'node:fs/promises';
import { writeFileAtomic } from './durable-files.js';
import type { LakeLayout } from './layout.js';

export const LAST_INGEST_FORMAT = 'txlake.last-ingest/1';

/**
 * committed: a new snapshot; unchanged: every source was committed already (nothing to do); rejected: too
 * many rows were rejected, nothing committed; failed: any other error, nothing committed.
 */
export const INGEST_RESULTS = ['committed', 'unchanged', 'rejected', 'failed'] as const;
export type IngestRunResult = (typeof INGEST_RESULTS)[number];

export interface LastIngest {
  format: typeof LAST_INGEST_FORMAT;
  result: IngestRunResult;
  /** ISO 8601 UTC time the run ended. */
  finished: string;
  seconds: number;
  /** Null when the run failed before its rows were counted. */
  rows_read: number | null;
  rows_committed: number;
  rows_rejected: number | null;
  /** The snapshot current after the run (null before a lake's first commit). */
  snapshot: number | null;
  /** Why a failed or rejected run ended, as its one-line error said (null otherwise). */
  error: string | null;
}

/** Write the record of a run, replacing the previous one; only into a lake that has its `_txlake/`. */
export async function recordLastIngest(layout: LakeLayout, run: LastIngest): Promise<boolean> {
  const metadata = await fs.stat(layout.metadataDir).catch(() => null);
  // A failed first ingest of a directory that is no lake must not make it look like one.
  if (metadata === null || !metadata.isDirectory()) return false;
  await writeFileAtomic(layout.lastIngestFile, `${JSON.stringify(run)}\n`);
  return true;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** The record in `text`, or null when it is not one (damaged, or written by another version). */
export function parseLastIngest(text: string): LastIngest | null {
  let value: Partial<LastIngest>;
  try {
    value = JSON.parse(text) as Partial<LastIngest>;
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || value.format !== LAST_INGEST_FORMAT) return null;
  const finished = typeof value.finished === 'string' ? Date.parse(value.finished) : Number.NaN;
  if (
    !(INGEST_RESULTS as readonly unknown[]).includes(value.result) ||
    !Number.isFinite(finished) ||
    typeof value.seconds !== 'number' ||
    !(value.rows_read === null || isCount(value.rows_read)) ||
    !isCount(value.rows_committed) ||
    !(value.rows_rejected === null || isCount(value.rows_rejected)) ||
    !(value.snapshot === null || isCount(value.snapshot))
  )
    return null;
  return value as LastIngest;
}
