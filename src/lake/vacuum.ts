// Vacuum: remove what no retained snapshot needs. Retained are the current snapshot and every snapshot
// committed within the retention window; their files stay, and so they can still be rolled back to. Files
// referenced by no retained snapshot go: those of expired snapshots (whose manifests go too, as they could
// no longer be restored), files of writers that crashed, scratch space and temporary files.

import fs from 'node:fs/promises';
import path from 'node:path';
import { TxlakeError } from '../domain/errors.js';
import { METADATA_DIR, type LakeLayout } from './layout.js';
import { faultPoint } from './fault-points.js';
import { acquireWriterLock } from './lock.js';
import type { SnapshotManifest } from './manifest.js';
import {
  assertExistingLake,
  committedSnapshotIds,
  listSnapshotIds,
  readCurrentSnapshotId,
  readSnapshot,
} from './snapshots.js';

export interface VacuumResult {
  retained: number[];
  removedSnapshots: number[];
  removedFiles: string[];
  removedBytes: number;
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `90s`, `30m`, `12h`, `7d`, `2w` or `0`, in milliseconds. */
export function parseRetention(text: string): number {
  const match = /^([0-9]+)([smhdw]?)$/.exec(text.trim());
  const unit = match?.[2] || (match?.[1] === '0' ? 's' : '');
  if (!match || !unit) {
    throw new TxlakeError('usage', `--retain must be a duration such as 30m, 12h, 7d or 0, got "${text}"`);
  }
  return Number(match[1]) * (UNITS[unit] as number);
}

async function walkFiles(directory: string): Promise<string[]> {
  const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await walkFiles(full)));
    else files.push(full);
  }
  return files;
}

async function removeEmptyDirectories(directory: string, keep: string): Promise<void> {
  const entries = await fs.readdir(directory, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) if (entry.isDirectory()) await removeEmptyDirectories(path.join(directory, entry.name), keep);
  if (directory !== keep && (await fs.readdir(directory).catch(() => ['x'])).length === 0) await fs.rmdir(directory);
}

export async function vacuum(
  layout: LakeLayout,
  retainMs: number,
  notice?: (message: string) => void,
): Promise<VacuumResult> {
  await assertExistingLake(layout);
  const lock = await acquireWriterLock(layout, 'vacuum', notice);
  try {
    return await vacuumHoldingLock(layout, retainMs);
  } finally {
    await lock.release();
  }
}

/** Vacuum, for a caller that holds the writer lock already (`delete-user --purge`). */
export async function vacuumHoldingLock(layout: LakeLayout, retainMs: number, now = Date.now()): Promise<VacuumResult> {
  {
    const current = await readCurrentSnapshotId(layout);
    const committed = await committedSnapshotIds(layout);
    const manifests: SnapshotManifest[] = [];
    for (const id of await listSnapshotIds(layout)) manifests.push(await readSnapshot(layout, id));
    // Never-committed manifests (a writer stopped before the swap) are never retained.
    const retained = manifests.filter(
      (m) => m.id === current || (committed.has(m.id) && now - Date.parse(m.created) <= retainMs),
    );
    const expired = manifests.filter((m) => !retained.includes(m));
    const needed = new Set(retained.flatMap((m) => [...m.files.map((f) => f.path), m.daily_sums.path]));
    needed.add(path.relative(layout.root, layout.lockFile));
    for (const m of retained) needed.add(layout.relative(layout.manifestPath(m.id)));

    // Candidates: data files (partition directories), daily sums, staging, and temporary files of txlake's.
    const partitionDirs = (await fs.readdir(layout.root, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory() && e.name !== METADATA_DIR && e.name.includes('='))
      .map((e) => path.join(layout.root, e.name));
    const candidates = [
      ...(await Promise.all(partitionDirs.map(walkFiles))).flat(),
      ...(await walkFiles(layout.dailySumsDir)),
      ...(await walkFiles(path.dirname(layout.stagingDir('x')))),
      ...(await walkFiles(layout.snapshotsDir)).filter((f) => f.includes('.tmp-')),
      ...(await walkFiles(layout.metadataDir)).filter((f) => path.dirname(f) === layout.metadataDir && f.includes('.tmp-')),
    ];
    const result: VacuumResult = { retained: retained.map((m) => m.id), removedSnapshots: [], removedFiles: [], removedBytes: 0 };
    for (const file of candidates) {
      const relative = layout.relative(file);
      if (needed.has(relative)) continue;
      const { size } = await fs.stat(file);
      await fs.rm(file, { force: true });
      result.removedFiles.push(relative);
      result.removedBytes += size;
      faultPoint('vacuum-removing');
    }
    // Manifests last: a crash before this point leaves manifests whose files are gone, which verify names.
    for (const m of expired) {
      await fs.rm(layout.manifestPath(m.id), { force: true });
      result.removedSnapshots.push(m.id);
    }
    for (const dir of [...partitionDirs, path.dirname(layout.stagingDir('x'))]) await removeEmptyDirectories(dir, layout.root);
    return result;
  }
}
