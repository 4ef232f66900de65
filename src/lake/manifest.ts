// The snapshot manifest: the complete, immutable description of one version of the lake.
// A reader uses the files listed by the current manifest and nothing else (docs/lake-format.md).

import { PARTITION_SCHEMES, type PartitionScheme } from '../domain/schema.js';

export const MANIFEST_FORMAT = 'txlake.snapshot/1';

export const WRITE_MODES = ['append', 'replace'] as const;
export type WriteMode = (typeof WRITE_MODES)[number];

/** What made a snapshot. A rollback is a new snapshot with an earlier one's content: history only grows. */
export const OPERATIONS = ['ingest', 'rollback', 'delete-user'] as const;
export type Operation = (typeof OPERATIONS)[number];

/** A Parquet file of a snapshot, with what `verify` needs to check it. */
export interface DataFile {
  /** Path relative to the lake root, `/`-separated. */
  path: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/** One input file committed into the lake; kept for lineage and to make re-ingestion a no-op. */
export interface SourceRecord {
  name: string;
  sha256: string;
  /** sha256 of the size and the first and last MiB, to spot a likely re-ingest cheaply. */
  quick_fingerprint: string;
  bytes: number;
  rows_read: number;
  rows_committed: number;
  rows_rejected: number;
  /** The snapshot that committed it. */
  snapshot: number;
}

export interface SnapshotManifest {
  format: typeof MANIFEST_FORMAT;
  id: number;
  parent: number | null;
  /** ISO 8601 UTC time of the commit. */
  created: string;
  operation: Operation;
  /** For an ingest, how its rows joined the parent's; a rollback replaces the content. */
  mode: WriteMode;
  /** For a rollback: the snapshot whose content this one restores. */
  restores?: number;
  /** For a delete-user: the user erased (as decimal digits) and how many rows went. */
  erased_user?: string;
  rows_erased?: number;
  partition_by: PartitionScheme;
  rows: number;
  files: DataFile[];
  /** Per-(merchant_type_code, day) purchase and return sums of every row of this snapshot. */
  daily_sums: DataFile;
  /** Every source whose rows this snapshot holds (cumulative across appends). */
  sources: SourceRecord[];
}

/** A path stored in a manifest: relative, `/`-separated, never leaving the lake. */
function isLakePath(value: unknown): boolean {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    !value.startsWith('/') &&
    !value.includes('\\') &&
    value.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}

function isDataFile(value: unknown): value is DataFile {
  const f = value as Partial<DataFile> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    isLakePath(f.path) &&
    Number.isSafeInteger(f.rows) &&
    Number.isSafeInteger(f.bytes) &&
    typeof f.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(f.sha256)
  );
}

/**
 * Structural check of a parsed manifest, so that a damaged file is reported, not half-used: every field a
 * reader or vacuum relies on has its type, and no file path leaves the lake.
 */
export function assertManifest(value: unknown, where: string): asserts value is SnapshotManifest {
  const m = value as Partial<SnapshotManifest> | null;
  const ok =
    m !== null &&
    typeof m === 'object' &&
    m.format === MANIFEST_FORMAT &&
    Number.isSafeInteger(m.id) &&
    (m.parent === null || Number.isSafeInteger(m.parent)) &&
    typeof m.created === 'string' &&
    !Number.isNaN(Date.parse(m.created)) &&
    (OPERATIONS as readonly string[]).includes(m.operation as string) &&
    (WRITE_MODES as readonly string[]).includes(m.mode as string) &&
    (PARTITION_SCHEMES as readonly string[]).includes(m.partition_by as string) &&
    Array.isArray(m.files) &&
    m.files.every(isDataFile) &&
    // Data files live in partition directories, each once; the daily sums under _txlake/daily_sums/.
    m.files.every((f) => !f.path.startsWith('_txlake/')) &&
    new Set(m.files.map((f) => f.path)).size === m.files.length &&
    isDataFile(m.daily_sums) &&
    m.daily_sums.path.startsWith('_txlake/daily_sums/') &&
    Array.isArray(m.sources) &&
    Number.isSafeInteger(m.rows) &&
    m.rows === m.files.reduce((sum, f) => sum + f.rows, 0);
  if (!ok) throw new Error(`${where} is not a whole txlake snapshot manifest (format ${MANIFEST_FORMAT})`);
}
