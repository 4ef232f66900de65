// Reading snapshots: the current pointer, one manifest, or all of them.

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import type { LakeLayout } from './layout.js';
import { assertManifest, type SnapshotManifest } from './manifest.js';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Refuse a lake path that names something other than a directory, in words. */
export async function assertLakeRoot(layout: LakeLayout): Promise<void> {
  try {
    if (!(await fs.stat(layout.root)).isDirectory()) {
      throw new TxlakeError('usage', `the lake ${layout.root} is not a directory; name a directory with --lake`);
    }
  } catch (error) {
    if (!isMissing(error)) throw error; // a lake that does not exist yet is created by its first ingest
  }
}

/** The id of the current snapshot, or null for a lake that has none yet (or does not exist). */
export async function readCurrentSnapshotId(layout: LakeLayout): Promise<number | null> {
  await assertLakeRoot(layout);
  let text: string;
  try {
    text = await fs.readFile(layout.currentPointer, 'utf8');
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  const id = Number(text.trim());
  if (!Number.isInteger(id) || id < 1) {
    throw new TxlakeError('lake', `${layout.currentPointer} does not hold a snapshot id (found "${text.trim()}")`);
  }
  return id;
}

export async function readSnapshot(layout: LakeLayout, id: number): Promise<SnapshotManifest> {
  const file = layout.manifestPath(id);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) throw new TxlakeError('lake', `snapshot ${id} does not exist in ${layout.root}`);
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new TxlakeError('lake', `the manifest of snapshot ${id} (${file}) is not valid JSON`);
  }
  try {
    assertManifest(parsed, file);
  } catch (error) {
    throw new TxlakeError('lake', (error as Error).message);
  }
  return parsed;
}

/** The current snapshot, or null when nothing has been committed yet. */
export async function readCurrentSnapshot(layout: LakeLayout): Promise<SnapshotManifest | null> {
  const id = await readCurrentSnapshotId(layout);
  return id === null ? null : readSnapshot(layout, id);
}

/** Ids of every manifest in the lake, ascending. */
export async function listSnapshotIds(layout: LakeLayout): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.snapshotsDir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
  return names
    .filter((name) => /^[0-9]{8,}\.json$/.test(name))
    .map((name) => Number(name.slice(0, -5)))
    .sort((a, b) => a - b);
}

/**
 * The ids of committed snapshots: those CURRENT reaches through `parent` links. A manifest outside that
 * chain was written by a writer that stopped before making it current (a crash, a full disk): it was never
 * committed, is not listed or restorable, and vacuum removes it.
 */
export async function committedSnapshotIds(layout: LakeLayout): Promise<Set<number>> {
  const committed = new Set<number>();
  let id = await readCurrentSnapshotId(layout);
  while (id !== null && !committed.has(id)) {
    committed.add(id);
    try {
      id = (await readSnapshot(layout, id)).parent;
    } catch {
      id = null; // an older manifest already vacuumed: the chain ends here
    }
  }
  return committed;
}

/** For commands that change an existing lake: the lake must be a directory with a snapshot. */
export async function assertExistingLake(layout: LakeLayout): Promise<number> {
  const current = await readCurrentSnapshotId(layout);
  if (current === null) {
    throw new TxlakeError('lake', `there is no lake with a snapshot at ${layout.root}; check --lake`);
  }
  return current;
}
