// Reading the lake's pointer and manifests as they are on disk, without judging them: lake-state.ts decides
// what they mean together with the commit log.

import fs from 'node:fs/promises';
import { TxlakeError } from '../domain/errors.js';
import { sha256Of } from './commit-log.js';
import type { LakeLayout } from './layout.js';
import { assertManifest, type SnapshotManifest } from './manifest.js';

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Whether the lake directory exists; a path that names something other than a directory is refused in
 * words (a lake that does not exist yet is created by its first ingest).
 */
export async function lakeRootExists(layout: LakeLayout): Promise<boolean> {
  try {
    if (!(await fs.stat(layout.root)).isDirectory()) {
      throw new TxlakeError(
        'usage',
        `the lake ${layout.root} is not a directory; name a directory with --lake`,
      );
    }
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** What `_txlake/CURRENT` holds: a snapshot id, nothing (no file), or text that is not an id. */
export type PointerReading =
  | { kind: 'id'; id: number }
  | { kind: 'missing' }
  | { kind: 'invalid'; text: string };

export async function readPointer(layout: LakeLayout): Promise<PointerReading> {
  let text: string;
  try {
    text = await fs.readFile(layout.currentPointer, 'utf8');
  } catch (error) {
    if (isMissing(error)) return { kind: 'missing' };
    throw error;
  }
  const trimmed = text.trim();
  const id = /^[0-9]{1,16}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) {
    // Shown in a one-line message: line breaks and control characters are escaped, and it is cut short.
    const shown = JSON.stringify(trimmed.slice(0, 40)).slice(1, -1);
    return { kind: 'invalid', text: shown };
  }
  return { kind: 'id', id };
}

/** A manifest as read: whole (with the sha256 of its bytes, to compare with the commit log), gone, or damaged. */
export type ManifestReading =
  | { kind: 'ok'; manifest: SnapshotManifest; sha256: string }
  | { kind: 'missing' }
  | { kind: 'damaged'; reason: string };

export async function readManifest(layout: LakeLayout, id: number): Promise<ManifestReading> {
  const file = layout.manifestPath(id);
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if (isMissing(error)) return { kind: 'missing' };
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { kind: 'damaged', reason: 'it is not valid JSON' };
  }
  try {
    assertManifest(parsed, layout.relative(file));
  } catch (error) {
    return { kind: 'damaged', reason: (error as Error).message };
  }
  if (parsed.id !== id) return { kind: 'damaged', reason: `it describes snapshot ${parsed.id}, not ${id}` };
  return { kind: 'ok', manifest: parsed, sha256: sha256Of(bytes) };
}

/** Why a manifest cannot be used, in words that name the file. */
export function describeManifestProblem(layout: LakeLayout, id: number, reading: ManifestReading): string {
  const where = `the manifest of snapshot ${id} (${layout.relative(layout.manifestPath(id))})`;
  if (reading.kind === 'missing') return `${where} is missing`;
  if (reading.kind === 'damaged') return `${where} is damaged: ${reading.reason}`;
  return `${where} is whole`;
}

/** Ids of every manifest in the lake, ascending. */
export async function listManifestIds(layout: LakeLayout): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(layout.snapshotsDir);
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
  return names
    .filter((name) => /^[0-9]{8,16}\.json$/.test(name))
    .map((name) => Number(name.slice(0, -5)))
    .filter((id) => Number.isSafeInteger(id))
    .sort((a, b) => a - b);
}
