// One writer's session on a lake: the writer lock, the lake as found under it (refused when it cannot vouch
// for its current snapshot), a staging directory, the files published so far, and the commit. Ingest,
// delete-user, rollback, vacuum and repair all write through `withLakeWrite`, so that taking the lock,
// bringing the commit log up to date, removing what a failed write published and releasing the lock happen
// in one place, in one order.

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { commitSnapshot, type SnapshotDraft } from './commit.js';
import { appendCommitRecord, type CommitRecord, writeCommitLog } from './commit-log.js';
import { describeDamage, type FileProblem, filesOf, findDamagedFiles } from './integrity.js';
import {
  assertHasCurrent,
  inspectLake,
  type LakeState,
  lakeProblemError,
  newestOtherSnapshot,
} from './lake-state.js';
import { type LakeLayout, newWriteId } from './layout.js';
import { acquireWriterLock } from './lock.js';
import type { DataFile, SnapshotManifest } from './manifest.js';
import { lakeRootExists } from './snapshots.js';

export interface WriteOptions {
  notice?: (message: string) => void;
  /** Refuse a lake without a snapshot (every writer but ingest), before taking the lock. */
  requireSnapshot?: boolean;
  /** Proceed when only the current snapshot's manifest is unusable: rollback is the way out of that. */
  allowDamagedCurrent?: boolean;
  /** Proceed whatever state the lake is in, and change nothing before `work` does: repair. */
  anyState?: boolean;
}

export interface LakeWrite {
  readonly layout: LakeLayout;
  /** The lake as found under the lock, its commit log brought up to date. */
  readonly state: LakeState;
  readonly writeId: string;
  /** Scratch space of this write, removed when it ends. */
  readonly stagingDir: string;
  readonly notice: (message: string) => void;
  /** Record a file moved into the lake: it is removed again if the write ends without a commit. */
  published(file: DataFile): void;
  /** Commit `draft` as the new current snapshot (commit.ts); afterwards nothing of this write is removed. */
  commit(
    draft: SnapshotDraft,
    sourcesFor?: (id: number) => SnapshotManifest['sources'],
  ): Promise<SnapshotManifest>;
}

export async function withLakeWrite<T>(
  layout: LakeLayout,
  command: string,
  options: WriteOptions,
  work: (write: LakeWrite) => Promise<T>,
): Promise<T> {
  const notice = options.notice ?? (() => {});
  await lakeRootExists(layout); // a --lake that names a file is refused in words, before the lock
  if (options.requireSnapshot) {
    // Before the lock, which would create `_txlake/` in a directory that is no lake.
    const found = await inspectLake(layout);
    if (!(options.allowDamagedCurrent && found.problem?.kind === 'manifest')) assertHasCurrent(found);
  }
  const lock = await acquireWriterLock(layout, command, notice);
  const writeId = newWriteId();
  const stagingDir = layout.stagingDir(writeId);
  const published: DataFile[] = [];
  let committed = false;
  try {
    let state = await inspectLake(layout);
    if (!options.anyState) {
      state = await bringLogUpToDate(state, notice);
      const tolerated = options.allowDamagedCurrent && state.problem?.kind === 'manifest';
      if (state.problem && !tolerated) throw lakeProblemError(state);
    }
    const write: LakeWrite = {
      layout,
      state,
      writeId,
      stagingDir,
      notice,
      published: (file) => published.push(file),
      commit: async (draft, sourcesFor) => {
        const manifest = await commitSnapshot(layout, draft, state, sourcesFor, notice);
        committed = true;
        return manifest;
      },
    };
    return await work(write);
  } finally {
    if (!committed)
      await Promise.all(published.map((file) => fs.rm(layout.resolve(file.path), { force: true })));
    await fs.rm(stagingDir, { recursive: true, force: true });
    await lock.release();
  }
}

/**
 * Under the lock, make the commit log say what the lake says: log a snapshot whose writer stopped between
 * its commit and its log append; give a lake without a log (made before the log existed, or whose log was
 * removed) one written from CURRENT's parent chain; give a new lake an empty log, which marks "nothing
 * committed yet". A lake with a problem is left as it is.
 */
async function bringLogUpToDate(state: LakeState, notice: (message: string) => void): Promise<LakeState> {
  const { layout } = state;
  if (state.problem) return state;
  if (state.unlogged.length > 0) {
    for (const record of state.unlogged) await appendCommitRecord(layout, record);
    notice(describeLogged(state.unlogged));
  } else if (state.fromChain) {
    const records = [...state.committed.values()];
    await writeCommitLog(layout, records);
    notice(
      `the lake had no commit log (made by an earlier txlake, or the log was removed); wrote one from the ` +
        `snapshot chain of CURRENT: snapshots ${records.map((r) => r.id).join(', ')}`,
    );
  } else if (state.log === null) {
    await writeCommitLog(layout, []);
  } else {
    return state;
  }
  return inspectLake(layout);
}

/** The note for snapshots committed but not logged, once they are. */
export function describeLogged(records: readonly CommitRecord[]): string {
  const ids = records.map((r) => r.id);
  return records.length === 1
    ? `recorded snapshot ${ids[0]} in the commit log (its writer stopped right after committing it)`
    : `recorded snapshots ${ids.join(', ')} in the commit log (committed, but missing from it)`;
}

/**
 * Refuse to build on `manifest` when a file it would carry into the new snapshot is damaged: the commit
 * would vouch for bytes that are not the ones committed. Names the file and the ways out.
 */
export async function assertCarriedFilesIntact(
  state: LakeState,
  manifest: SnapshotManifest,
  purpose: string,
  problems?: FileProblem[],
): Promise<void> {
  const damaged = problems ?? (await findDamagedFiles(state.layout, manifest));
  if (damaged.length === 0) return;
  const paths = new Set(damaged.map((p) => p.path));
  const alternative = await newestOtherSnapshot(state, (m) => !filesOf(m).some((f) => paths.has(f.path)));
  throw new TxlakeError(
    'lake',
    `cannot ${purpose} snapshot ${manifest.id} of the lake ${state.layout.root}: ${describeDamage(damaged)}; ` +
      'nothing was committed. Restore the file from a backup (then `txlake verify`), or make an intact snapshot ' +
      `current with \`txlake rollback ID\`${alternative === null ? '' : ` (snapshot ${alternative} does not use the damaged files)`}`,
  );
}
