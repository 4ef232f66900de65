// The snapshot history: listing it, and rolling back (as a new commit, so history is never rewritten).

import { TxlakeError } from '../domain/errors.js';
import type { Engine } from './engine.js';
import { describeDamage, verifySnapshot } from './integrity.js';
import { inspectLake, type LakeProblem } from './lake-state.js';
import type { LakeLayout } from './layout.js';
import type { SnapshotManifest } from './manifest.js';
import { describeManifestProblem, readManifest } from './snapshots.js';
import { readVacuumed } from './vacuumed.js';
import { withLakeWrite } from './writer.js';

export interface SnapshotSummary {
  id: number;
  parent: number | null;
  created: string;
  operation: SnapshotManifest['operation'];
  mode: SnapshotManifest['mode'];
  restores: number | null;
  erased_user: string | null;
  rows: number;
  /** Data files; null when the manifest cannot be read. */
  files: number | null;
  current: boolean;
  /** Why the manifest cannot be used (damaged, or not the one committed); null when it is whole. */
  damaged: string | null;
}

export interface SnapshotHistory {
  snapshots: SnapshotSummary[];
  /** What is wrong with the lake's pointer or log, if anything (the list is still the committed history). */
  problem: LakeProblem | null;
  /** The highest snapshot id the lake has used (committed or not, vacuumed or not); 0 for a new lake. */
  highestId: number;
}

/**
 * Every committed snapshot that vacuum has not removed, oldest first, marking the current one and those
 * whose manifest is damaged or missing.
 */
export async function listSnapshots(layout: LakeLayout): Promise<SnapshotHistory> {
  const state = await inspectLake(layout);
  if (!state.exists) {
    throw new TxlakeError(
      'lake',
      `there is no lake at ${layout.root} (no such directory); check --lake or TXLAKE_LAKE`,
    );
  }
  const snapshots: SnapshotSummary[] = [];
  const vacuumed = await readVacuumed(layout);
  for (const record of state.committed.values()) {
    if (vacuumed.has(record.id)) continue;
    const reading = await readManifest(layout, record.id);
    const whole = reading.kind === 'ok' && reading.sha256 === record.manifest_sha256;
    const m = whole ? reading.manifest : null;
    snapshots.push({
      id: record.id,
      parent: record.parent,
      created: record.created,
      operation: record.operation,
      mode: record.mode,
      restores: m?.restores ?? null,
      erased_user: m?.erased_user ?? null,
      rows: record.rows,
      files: m?.files.length ?? null,
      current: record.id === state.currentId,
      damaged: whole
        ? null
        : reading.kind === 'ok'
          ? 'its manifest is not the one committed'
          : describeManifestProblem(layout, record.id, reading).replace(
              /^the manifest of snapshot [0-9]+ /,
              'its manifest ',
            ),
    });
  }
  return { snapshots, problem: state.problem, highestId: state.highestId };
}

/**
 * Make snapshot `id`'s content current again, as a new snapshot whose parent is the current one. Refused
 * when that snapshot was never committed, is gone (vacuumed), or has a damaged file. It works when the
 * current snapshot's own manifest is damaged: that is what it is for.
 */
export async function rollbackTo(
  layout: LakeLayout,
  id: number,
  engine: Engine,
  notice?: (message: string) => void,
): Promise<SnapshotManifest> {
  const options = { requireSnapshot: true, allowDamagedCurrent: true, ...(notice ? { notice } : {}) };
  return withLakeWrite(layout, `rollback ${id}`, options, async (write) => {
    const { state } = write;
    if (state.currentId === id)
      throw new TxlakeError('usage', `snapshot ${id} is already the current snapshot`);
    const record = state.committed.get(id);
    if (record === undefined) {
      if (id > state.highestId) {
        throw new TxlakeError(
          'usage',
          `snapshot ${id} does not exist (the newest snapshot is ${state.highestId})`,
        );
      }
      throw new TxlakeError(
        'usage',
        state.manifestIds.includes(id)
          ? `snapshot ${id} was never committed (its writer stopped before making it current); it cannot be restored`
          : `snapshot ${id} is not in the lake's history (it was never committed, or was removed long ago)`,
      );
    }
    const reading = await readManifest(layout, id);
    if ((await readVacuumed(layout)).has(id)) {
      throw new TxlakeError(
        'usage',
        `snapshot ${id} was removed by vacuum (it had expired); it cannot be restored`,
      );
    }
    if (reading.kind === 'missing') {
      throw new TxlakeError(
        'lake',
        `cannot roll back to snapshot ${id}: its manifest (${layout.relative(layout.manifestPath(id))}) is missing, ` +
          'and vacuum did not remove it; restore it from a backup',
      );
    }
    if (reading.kind === 'damaged' || reading.sha256 !== record.manifest_sha256) {
      const why =
        reading.kind === 'damaged'
          ? describeManifestProblem(layout, id, reading)
          : `the manifest of snapshot ${id} is not the one committed (its sha256 differs from the commit log)`;
      throw new TxlakeError('lake', `cannot roll back to snapshot ${id}: ${why}`);
    }
    const target = reading.manifest;
    const problems = await verifySnapshot(layout, target, engine);
    if (problems.length > 0) {
      throw new TxlakeError('lake', `cannot roll back to snapshot ${id}: ${describeDamage(problems)}`);
    }
    return write.commit({
      operation: 'rollback',
      mode: 'replace',
      restores: id,
      partition_by: target.partition_by,
      rows: target.rows,
      files: target.files,
      daily_sums: target.daily_sums,
      sources: target.sources,
    });
  });
}
