// Right to erasure: a new snapshot without any row of one user. Only the files that hold the user are
// rewritten (the others are shared with the parent), and the daily sums lose that user's amounts. The erased
// rows stay in older snapshots' files until they are vacuumed (`--purge` does that at once).

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { INT64_MAX } from '../domain/schema.js';
import { rewriteDataFile, writeDailySums } from './data-writer.js';
import { type Engine, sqlString } from './engine.js';
import type { LakeLayout } from './layout.js';
import type { DataFile, SnapshotManifest } from './manifest.js';
import { type VacuumResult, vacuumHoldingLock } from './vacuum.js';
import { assertCarriedFilesIntact, withLakeWrite } from './writer.js';

export interface ErasureResult {
  userId: bigint;
  rowsErased: number;
  filesRewritten: number;
  /** The new snapshot, or null when the user had no rows (nothing to commit). */
  snapshot: SnapshotManifest | null;
  /** What `purge` removed, when asked. */
  purged: VacuumResult | null;
}

/** A user id as the CLI takes it: decimal digits within INT64. */
export function parseUserId(text: string): bigint {
  if (!/^[0-9]+$/.test(text) || BigInt(text) > INT64_MAX) {
    throw new TxlakeError('usage', `the user id must be an integer from 0 to ${INT64_MAX}, got "${text}"`);
  }
  return BigInt(text);
}

export interface ErasureOptions {
  /** Also remove every older snapshot under the same lock, so the rows leave the disk before anyone acts. */
  purge?: boolean;
  notice?: (message: string) => void;
}

export async function deleteUser(
  layout: LakeLayout,
  userId: bigint,
  engine: Engine,
  options: ErasureOptions = {},
): Promise<ErasureResult> {
  const session = { requireSnapshot: true, ...(options.notice ? { notice: options.notice } : {}) };
  return withLakeWrite(layout, `delete-user ${userId}`, session, async (write) => {
    const parent = write.state.current as SnapshotManifest;
    // Every file is read (to find the user) or carried into the new snapshot: all must be the ones committed.
    await assertCarriedFilesIntact(write.state, parent, 'erase a user from');
    const holding: Array<{ file: DataFile; rows: number }> = [];
    for (const file of parent.files) {
      // Row-group statistics let DuckDB skip every group whose user range excludes the id.
      const [hit] = await engine.rows<{ n: bigint }>(
        `SELECT count(*) AS n FROM read_parquet(${sqlString(layout.resolve(file.path))}) WHERE user_id = ${userId}`,
      );
      if (Number(hit?.n) > 0) holding.push({ file, rows: Number(hit?.n) });
    }
    const rowsErased = holding.reduce((sum, h) => sum + h.rows, 0);
    const purge = () => (options.purge ? vacuumHoldingLock(layout, 0, write.notice) : Promise.resolve(null));
    if (holding.length === 0)
      return { userId, rowsErased: 0, filesRewritten: 0, snapshot: null, purged: await purge() };

    await fs.mkdir(write.stagingDir, { recursive: true });
    const request = { writeId: write.writeId, stagingDir: write.stagingDir, onPublished: write.published };
    const erased = holding.map((h) => sqlString(layout.resolve(h.file.path))).join(', ');
    const dailySums = await writeDailySums(engine, layout, {
      ...request,
      rows: `(SELECT * FROM read_parquet([${erased}], hive_partitioning = true, hive_types = {'transaction_type': VARCHAR}) WHERE user_id = ${userId})`,
      previous: parent,
      direction: 'subtract',
    });
    const replacements = new Map<string, DataFile | null>();
    for (const [index, { file }] of holding.entries()) {
      replacements.set(
        file.path,
        await rewriteDataFile(engine, layout, file, `user_id <> ${userId}`, request, index),
      );
    }
    const files = parent.files.flatMap((f) => {
      if (!replacements.has(f.path)) return [f];
      const replacement = replacements.get(f.path);
      return replacement ? [replacement] : [];
    });
    const snapshot = await write.commit({
      operation: 'delete-user',
      mode: 'replace',
      erased_user: String(userId),
      rows_erased: rowsErased,
      partition_by: parent.partition_by,
      rows: parent.rows - rowsErased,
      files,
      daily_sums: dailySums,
      sources: parent.sources,
    });
    return { userId, rowsErased, filesRewritten: holding.length, snapshot, purged: await purge() };
  });
}
