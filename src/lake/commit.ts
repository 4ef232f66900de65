// Publishing a snapshot. Order is the crash-safety argument: (1) data files are complete and fsynced in
// place, (2) the new manifest is written under a fresh id (tmp + link), (3) CURRENT is replaced by rename —
// the commit — and (4) the commit is appended to the commit log. A crash before (3) leaves the previous
// snapshot current and the new files unreferenced; a crash between (3) and (4) leaves a committed snapshot
// that the next writer logs (lake-state.ts recognises it).

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { appendCommitRecord, sha256Of } from './commit-log.js';
import { ensureDirectory, writeFileAtomic, writeFileExclusive } from './durable-files.js';
import { faultPoint } from './fault-points.js';
import { commitRecordOf, type LakeState } from './lake-state.js';
import type { LakeLayout } from './layout.js';
import { MANIFEST_FORMAT, type SnapshotManifest } from './manifest.js';
import { listManifestIds, readPointer } from './snapshots.js';

export type SnapshotDraft = Omit<SnapshotManifest, 'format' | 'id' | 'parent' | 'created'>;

async function pointerId(layout: LakeLayout): Promise<number | null> {
  const pointer = await readPointer(layout).catch(() => ({ kind: 'missing' }) as const);
  return pointer.kind === 'id' ? pointer.id : null;
}

/**
 * Publish `draft` as the new current snapshot, built on the snapshot current in `state` (read under the
 * writer lock the caller holds). The checks below are a second line of defence should two writers ever run
 * (a lost lock): the manifest is created exclusively, and CURRENT must still name the snapshot the draft
 * was built on. `sourcesFor` may stamp the draft's sources with the id the snapshot receives; `notice`
 * hears of a commit that stands but could not be logged.
 */
export async function commitSnapshot(
  layout: LakeLayout,
  draft: SnapshotDraft,
  state: LakeState,
  sourcesFor: (id: number) => SnapshotManifest['sources'] = () => draft.sources,
  notice: (message: string) => void = () => {},
): Promise<SnapshotManifest> {
  faultPoint('files-written');
  await ensureDirectory(layout.snapshotsDir);
  const expectedCurrent = state.currentId;
  const parent = await pointerId(layout);
  if (parent !== expectedCurrent) {
    throw new TxlakeError(
      'lake',
      `snapshot ${parent} was committed by another writer while this one ran; nothing was committed, run it again`,
    );
  }
  // Above every id ever used: the log's, and every manifest on disk (one never made current included).
  const id = Math.max(state.highestId, ...(await listManifestIds(layout))) + 1;
  if (!Number.isSafeInteger(id + 1)) {
    throw new TxlakeError(
      'lake',
      `the lake ${layout.root} has run out of snapshot ids (a manifest is named ${id - 1})`,
    );
  }
  const manifest: SnapshotManifest = {
    format: MANIFEST_FORMAT,
    id,
    parent,
    created: new Date().toISOString(),
    ...draft,
    sources: sourcesFor(id),
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFileExclusive(layout.manifestPath(id), text);
  try {
    if ((await pointerId(layout)) !== expectedCurrent) {
      throw new TxlakeError(
        'lake',
        'another writer committed while this one ran; nothing was committed, run it again',
      );
    }
    faultPoint('manifest-written');
    await writeFileAtomic(layout.currentPointer, `${id}\n`, () => faultPoint('current-swap'));
  } catch (error) {
    // Not made current: remove the manifest so that it is never taken for a snapshot. (After a kill there is
    // no chance to; such a manifest is in no commit log, which is what counts.)
    if ((await pointerId(layout)) !== id) await fs.rm(layout.manifestPath(id), { force: true });
    throw error;
  }
  try {
    faultPoint('committed');
    await appendCommitRecord(layout, commitRecordOf(manifest, sha256Of(text)));
  } catch (error) {
    notice(
      `snapshot ${id} is committed, but it could not be recorded in the commit log ` +
        `(${(error as Error).message.split('\n')[0]}); the next txlake writer records it`,
    );
  }
  return manifest;
}
