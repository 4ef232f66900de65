// The snapshot history: listing it, rolling back (as a new commit, so history is never rewritten), and
// verifying that a snapshot's files are all there, whole.

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { commitSnapshot } from './commit.js';
import { digestFile } from './durable-files.js';
import { type Engine, sqlString } from './engine.js';
import type { LakeLayout } from './layout.js';
import { acquireWriterLock } from './lock.js';
import type { DataFile, SnapshotManifest } from './manifest.js';
import {
  assertExistingLake,
  committedSnapshotIds,
  listSnapshotIds,
  readCurrentSnapshotId,
  readSnapshot,
} from './snapshots.js';

export interface SnapshotSummary {
  id: number;
  parent: number | null;
  created: string;
  operation: SnapshotManifest['operation'];
  mode: SnapshotManifest['mode'];
  restores: number | null;
  erased_user: string | null;
  rows: number;
  files: number;
  current: boolean;
}

/** Every committed snapshot on disk, oldest first, marking the current one. */
export async function listSnapshots(layout: LakeLayout): Promise<SnapshotSummary[]> {
  const current = await readCurrentSnapshotId(layout);
  const committed = await committedSnapshotIds(layout);
  const summaries: SnapshotSummary[] = [];
  for (const id of (await listSnapshotIds(layout)).filter((candidate) => committed.has(candidate))) {
    const m = await readSnapshot(layout, id);
    summaries.push({
      id: m.id,
      parent: m.parent,
      created: m.created,
      operation: m.operation,
      mode: m.mode,
      restores: m.restores ?? null,
      erased_user: m.erased_user ?? null,
      rows: m.rows,
      files: m.files.length,
      current: m.id === current,
    });
  }
  return summaries;
}

export interface VerifyProblem {
  path: string;
  problem: string;
}

/**
 * Check that every file of `manifest` (data files and daily sums) is present, has the recorded size,
 * row count and sha256. Returns the problems found, none when the snapshot is whole.
 */
export async function verifySnapshot(
  layout: LakeLayout,
  manifest: SnapshotManifest,
  engine: Engine,
): Promise<VerifyProblem[]> {
  const problems: VerifyProblem[] = [];
  for (const file of [...manifest.files, manifest.daily_sums]) {
    const problem = await checkFile(layout, file, engine);
    if (problem) problems.push({ path: file.path, problem });
  }
  return problems;
}

async function checkFile(layout: LakeLayout, file: DataFile, engine: Engine): Promise<string | null> {
  const absolute = layout.resolve(file.path);
  try {
    await fs.access(absolute);
  } catch {
    return 'missing';
  }
  const { bytes, sha256 } = await digestFile(absolute);
  if (bytes !== file.bytes) return `size is ${bytes} bytes, the manifest says ${file.bytes}`;
  if (sha256 !== file.sha256) return 'checksum differs from the manifest (the file was changed or damaged)';
  try {
    const [meta] = await engine.rows<{ rows: bigint }>(
      `SELECT num_rows AS rows FROM parquet_file_metadata(${sqlString(absolute)})`,
    );
    if (Number(meta?.rows) !== file.rows) return `holds ${meta?.rows} rows, the manifest says ${file.rows}`;
  } catch (error) {
    return `is not a readable Parquet file (${(error as Error).message.split('\n')[0]})`;
  }
  return null;
}

/**
 * Make snapshot `id`'s content current again, as a new snapshot whose parent is the current one. Refused
 * when a file of that snapshot is gone (vacuumed) or damaged.
 */
export async function rollbackTo(
  layout: LakeLayout,
  id: number,
  engine: Engine,
  notice?: (message: string) => void,
): Promise<SnapshotManifest> {
  await assertExistingLake(layout);
  const lock = await acquireWriterLock(layout, `rollback ${id}`, notice);
  try {
    const target = await readSnapshot(layout, id);
    if (!(await committedSnapshotIds(layout)).has(id)) {
      throw new TxlakeError(
        'usage',
        `snapshot ${id} was never committed (its writer stopped before making it current); it cannot be restored`,
      );
    }
    const current = await readCurrentSnapshotId(layout);
    if (current === id) throw new TxlakeError('usage', `snapshot ${id} is already the current snapshot`);
    const problems = await verifySnapshot(layout, target, engine);
    if (problems.length > 0) {
      const first = problems[0] as VerifyProblem;
      throw new TxlakeError(
        'lake',
        `cannot roll back to snapshot ${id}: ${first.path} ${first.problem}` +
          (problems.length > 1 ? ` (and ${problems.length - 1} more problems)` : ''),
      );
    }
    return await commitSnapshot(
      layout,
      {
        operation: 'rollback',
        mode: 'replace',
        restores: id,
        partition_by: target.partition_by,
        rows: target.rows,
        files: target.files,
        daily_sums: target.daily_sums,
        sources: target.sources,
      },
      current,
    );
  } finally {
    await lock.release();
  }
}
