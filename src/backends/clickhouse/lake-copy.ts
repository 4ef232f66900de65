// What the lake says its ClickHouse copy should hold (SPEC §7): the snapshots it retains (each manifest
// checked against the commit log), its current one, the ids vacuum removed, and a key per data file. The
// sync brings ClickHouse to it; `clickhouse status` compares what each node holds with it.

import { createHash } from 'node:crypto';
import { inspectLake, type LakeState, lakeProblemError } from '../../lake/lake-state.js';
import type { LakeLayout } from '../../lake/layout.js';
import type { DataFile, SnapshotManifest } from '../../lake/manifest.js';
import { readManifest } from '../../lake/snapshots.js';
import { type IdRanges, readVacuumed } from '../../lake/vacuumed.js';

export interface LakeCopy {
  state: LakeState;
  /** The lake's current snapshot, or null for a lake with none. */
  current: number | null;
  /** The retained snapshots whose manifests match the commit log (only these are copied). */
  retained: SnapshotManifest[];
  /** The manifest sha256 of each of them. */
  shaOf: Map<number, string>;
  /** The snapshots vacuum removed: their copies go from ClickHouse. */
  vacuumed: IdRanges;
  /** Every data file a retained snapshot names, by its key in ClickHouse. */
  needed: Map<bigint, DataFile>;
}

/**
 * A stable key per lake file: its path and its content. A path is never reused for other bytes, but the
 * content is part of the key so that a file restored with other bytes can never pass for the loaded one.
 */
export function fileKeyOf(file: DataFile): bigint {
  const digest = createHash('sha256').update(`${file.path}\0${file.sha256}`).digest();
  return digest.readBigUInt64BE(0) >> 1n; // 63 bits: positive in every engine that reads it as Int64
}

/** Read the lake (refused in one line when it is damaged or mid-commit, as every lake operation does). */
export async function readLakeCopy(layout: LakeLayout): Promise<LakeCopy> {
  const state = await inspectLake(layout);
  if (state.problem) throw lakeProblemError(state);
  const retained: SnapshotManifest[] = [];
  const shaOf = new Map<number, string>();
  for (const record of state.committed.values()) {
    const reading = await readManifest(layout, record.id);
    if (reading.kind === 'ok' && reading.sha256 === record.manifest_sha256) {
      retained.push(reading.manifest);
      shaOf.set(record.id, record.manifest_sha256);
    }
  }
  const needed = new Map<bigint, DataFile>();
  for (const manifest of retained) for (const file of manifest.files) needed.set(fileKeyOf(file), file);
  return {
    state,
    current: state.current?.id ?? null,
    retained,
    shaOf,
    vacuumed: await readVacuumed(layout),
    needed,
  };
}
