// Publishing a snapshot. Order is the crash-safety argument: (1) data files are complete and fsynced in
// place, (2) the new manifest is written under a fresh id (tmp + rename), (3) CURRENT is replaced by rename.
// A crash before (3) leaves the previous snapshot current and the new files unreferenced.

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { ensureDirectory, writeFileAtomic, writeFileExclusive } from './durable-files.js';
import { faultPoint } from './fault-points.js';
import type { LakeLayout } from './layout.js';
import { MANIFEST_FORMAT, type SnapshotManifest } from './manifest.js';
import { listSnapshotIds, readCurrentSnapshotId } from './snapshots.js';

export type SnapshotDraft = Omit<SnapshotManifest, 'format' | 'id' | 'parent' | 'created'>;

/**
 * Publish `draft` as the new current snapshot, built on `expectedCurrent`. The caller holds the writer
 * lock; the checks below are a second line of defence should two writers ever run (a lost lock): the
 * manifest is created exclusively, and CURRENT must still name the snapshot the draft was built on.
 * `sourcesFor` may stamp the draft's sources with the id the snapshot receives.
 */
export async function commitSnapshot(
  layout: LakeLayout,
  draft: SnapshotDraft,
  expectedCurrent: number | null,
  sourcesFor: (id: number) => SnapshotManifest['sources'] = () => draft.sources,
): Promise<SnapshotManifest> {
  faultPoint('files-written');
  await ensureDirectory(layout.snapshotsDir);
  const parent = await readCurrentSnapshotId(layout);
  if (parent !== expectedCurrent) {
    throw new TxlakeError(
      'lake',
      `snapshot ${parent} was committed by another writer while this one ran; nothing was committed, run it again`,
    );
  }
  // Above every manifest on disk, not just CURRENT: a crashed writer may have left a manifest never made current.
  const id = Math.max(0, ...(await listSnapshotIds(layout))) + 1;
  const manifest: SnapshotManifest = {
    format: MANIFEST_FORMAT,
    id,
    parent,
    created: new Date().toISOString(),
    ...draft,
    sources: sourcesFor(id),
  };
  await writeFileExclusive(layout.manifestPath(id), `${JSON.stringify(manifest, null, 2)}\n`);
  try {
    if ((await readCurrentSnapshotId(layout)) !== expectedCurrent) {
      throw new TxlakeError('lake', 'another writer committed while this one ran; nothing was committed, run it again');
    }
    faultPoint('manifest-written');
    await writeFileAtomic(layout.currentPointer, `${id}\n`, () => faultPoint('current-swap'));
  } catch (error) {
    // Not made current: remove the manifest so that it is never taken for a snapshot. (After a kill there is
    // no chance to; such a manifest is outside CURRENT's parent chain, which is what counts.)
    if ((await readCurrentSnapshotId(layout).catch(() => null)) !== id) {
      await fs.rm(layout.manifestPath(id), { force: true });
    }
    throw error;
  }
  return manifest;
}
